// ctest-labels: python concurrency
// Many submissions from several C++ threads: each answered exactly once.
// Under ThreadSanitizer only the C++ side is instrumented (libpython is not);
// see tests/tsan_python.supp for what is suppressed and why.
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/thread_pool.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using fastrt::test::start_executor;
using py::worker_kind;

namespace {

constexpr long long per_producer = 50'000;

// Producer p submits ids [p * per_producer, (p + 1) * per_producer) and checks
// every answer; hits[id] counts how often a worker ran id.
void produce(py::subinterpreter_executor& exec, py::handler add, int p, std::atomic<std::uint8_t>* hits,
             std::atomic<long long>& wrong) {
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
  futures.reserve(per_producer);
  const long long first = p * per_producer;
  for (long long id = first; id < first + per_producer; ++id) {
    futures.push_back(exec.submit([add, id, hits](py::call_context& c) {
      hits[id].fetch_add(1, std::memory_order_relaxed);
      return c.call_int(add, id, 1);
    }));
  }
  for (long long i = 0; i < per_producer; ++i) {
    auto r = fastrt::sync_wait(std::move(futures[static_cast<std::size_t>(i)]));
    if (!r.has_value() || *r != first + i + 1) wrong.fetch_add(1);
  }
}

}  // namespace

TEST_CASE("100,000 submissions from two threads are each answered exactly once") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.main_workers = 1;
  options.queue_capacity = 1024;  // small: producers meet back-pressure too
  options.handlers = {"fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();

  auto hits = std::make_unique<std::atomic<std::uint8_t>[]>(2 * per_producer);
  std::atomic<long long> wrong{0};
  std::thread a([&] { produce(*exec, add, 0, hits.get(), wrong); });
  std::thread b([&] { produce(*exec, add, 1, hits.get(), wrong); });
  a.join();
  b.join();
  REQUIRE(exec->shutdown().has_value());
  CHECK(wrong.load() == 0);
  long long not_once = 0;
  for (long long id = 0; id < 2 * per_producer; ++id) not_once += hits[id].load() != 1;
  CHECK(not_once == 0);
}

TEST_CASE("one producer with spsc inboxes") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.pinned_producers = py::producers::one;
  options.queue_capacity = 256;
  options.handlers = {"fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();
  auto hits = std::make_unique<std::atomic<std::uint8_t>[]>(per_producer);
  std::atomic<long long> wrong{0};
  std::thread producer([&] { produce(*exec, add, 0, hits.get(), wrong); });  // start_executor() happened-before
  producer.join();
  REQUIRE(exec->shutdown().has_value());
  CHECK(wrong.load() == 0);
  long long not_once = 0;
  for (long long id = 0; id < per_producer; ++id) not_once += hits[id].load() != 1;
  CHECK(not_once == 0);
}

namespace {
fastrt::coro_task<long long> sum_on_pool(fastrt::thread_pool& pool, py::subinterpreter_executor& exec,
                                         py::handler add, int calls, std::atomic<int>& off_pool) {
  co_await pool.schedule();
  long long total = 0;
  for (int i = 0; i < calls; ++i) {
    auto r = co_await exec.submit([&, i](py::call_context& c) { return c.call_int(add, i, i); });
    if (!pool.running_in_this_thread()) off_pool.fetch_add(1);
    total += r.value();
  }
  co_return total;
}
}  // namespace

TEST_CASE("coroutines on a thread_pool await Python calls and resume on the pool") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.handlers = {"fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();
  fastrt::thread_pool pool(2);
  std::atomic<int> off_pool{0};
  const long long total = fastrt::sync_wait(sum_on_pool(pool, *exec, add, 2000, off_pool));
  CHECK(total == 2 * (1999LL * 2000 / 2));
  CHECK(off_pool.load() == 0);
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("shutdown while producers are still submitting: every future completes") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.pooled_threads = 2;
  options.pooled_interpreters = 1;
  options.handlers = {"fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();
  std::atomic<bool> go{false};
  std::atomic<long long> answered{0}, rejected{0}, other{0};
  auto producer = [&](worker_kind kind) {
    while (!go.load()) std::this_thread::yield();
    std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
    for (int i = 0; i < 20'000; ++i) {
      futures.push_back(exec->submit_to(kind, [&, i](py::call_context& c) { return c.call_int(add, i, 0); }));
    }
    for (auto& f : futures) {
      auto r = fastrt::sync_wait(std::move(f));
      if (r.has_value()) answered.fetch_add(1);
      else if (r.error() == fastrt::errc::canceled) rejected.fetch_add(1);
      else other.fetch_add(1);
    }
  };
  std::thread a(producer, worker_kind::pinned);
  std::thread b(producer, worker_kind::pooled);
  go.store(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(exec->shutdown().has_value());
  a.join();
  b.join();
  CHECK(answered.load() + rejected.load() == 40'000);
  CHECK(other.load() == 0);
}
