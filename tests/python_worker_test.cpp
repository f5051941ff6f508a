// ctest-labels: python concurrency
//
// detail::worker (fastrt/python/worker.hpp): a worker's lifecycle (its
// thread, its interpreter, the start-up report, the end), the jobs in
// flight it reports, the shutdown deadline, and a push into its own full
// inbox.
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/job.hpp>
#include <fastrt/python/worker.hpp>
#include <fastrt/sync_wait.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using py::worker_kind;
using py::detail::make_job;

namespace {

struct seen {
  worker_kind kind = worker_kind::pinned;
  std::size_t worker = 99;
  std::size_t interpreter = 99;
  std::int64_t interpreter_id = -1;
};

template <class F>
auto submit(py::detail::worker& w, F&& fn) {
  auto [j, future] = make_job<py::job_result_t<F>>(std::forward<F>(fn));
  w.push(j);
  return std::move(future);
}

fastrt::result<seen> where(py::call_context& ctx) {
  return seen{ctx.kind(), ctx.worker_index(), ctx.interpreter_index(), ctx.interp().id()};
}

// A started worker on the main interpreter.
struct main_worker {
  main_worker(std::size_t batch, py::producers who, std::size_t capacity)
      : crew(batch), w(nullptr, worker_kind::main, 0, &slot, who, capacity) {
    fastrt::test::python_runtime();
    slot.kind = worker_kind::main;
    slot.interp = &py::interpreter::main();
    w.start(crew);
    started = crew.wait_started(1).has_value();
  }
  py::detail::interpreter_slot slot;
  py::detail::worker_crew crew;
  py::detail::worker w;
  bool started = false;
};

}  // namespace

TEST_CASE("a pinned worker creates its interpreter, runs jobs in it and ends it") {
  fastrt::test::python_runtime();
  py::detail::interpreter_slot slot;
  slot.kind = worker_kind::pinned;
  slot.index = 2;
  py::detail::worker_crew crew(8);
  const int owner = 0;
  py::detail::worker w(&owner, worker_kind::pinned, 2, &slot, py::producers::many, 16);
  CHECK(w.owner() == &owner);
  w.start(crew);
  REQUIRE(crew.wait_started(1).has_value());
  REQUIRE(slot.interp != nullptr);

  auto got = fastrt::sync_wait(submit(w, where));
  REQUIRE(got.has_value());
  CHECK(got->kind == worker_kind::pinned);
  CHECK(got->worker == 2);
  CHECK(got->interpreter == 2);
  CHECK(got->interpreter_id == slot.interp->id());
  CHECK(got->interpreter_id != py::interpreter::main().id());
  CHECK(w.load().idle());  // counted done before its future completed

  w.close();
  w.join();
  CHECK(slot.interp == nullptr);  // ended by its own thread
  CHECK_FALSE(slot.owned);
  CHECK(crew.late() == 0);
}

TEST_CASE("a main worker runs jobs in order on the main interpreter") {
  main_worker m(2, py::producers::one, 8);  // several batches
  REQUIRE(m.started);
  auto& w = m.w;
  auto& slot = m.slot;
  std::vector<int> order;  // written by the worker only
  std::vector<fastrt::awaitable_future<fastrt::result<void>>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(submit(w, [&order, i](py::call_context&) { order.push_back(i); }));
  auto got = fastrt::sync_wait(submit(w, where));
  for (auto& f : futures) CHECK(fastrt::sync_wait(std::move(f)).has_value());
  REQUIRE(got.has_value());
  CHECK(got->kind == worker_kind::main);
  CHECK(got->interpreter_id == py::interpreter::main().id());
  w.close();
  w.join();
  REQUIRE(order.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
  CHECK(slot.interp == &py::interpreter::main());  // never ended
}

TEST_CASE("jobs not started by the shutdown deadline fail with timed_out") {
  main_worker m(64, py::producers::many, 16);
  REQUIRE(m.started);
  auto& w = m.w;
  auto& crew = m.crew;
  std::atomic<bool> running{false}, release{false};
  auto busy = submit(w, [&](py::call_context&) {
    running.store(true, std::memory_order_release);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!release.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
    return 1;
  });
  while (!running.load(std::memory_order_acquire)) std::this_thread::yield();
  auto late1 = submit(w, [](py::call_context&) { return 2; });
  auto late2 = submit(w, [](py::call_context&) { return 3; });
  CHECK(w.load().in_flight() == 3);
  crew.set_deadline(std::chrono::nanoseconds(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  release.store(true, std::memory_order_release);
  w.close();
  w.join();
  CHECK(fastrt::sync_wait(std::move(busy)).value() == 1);  // already running: not interrupted
  CHECK(fastrt::sync_wait(std::move(late1)).error() == fastrt::errc::timed_out);
  CHECK(fastrt::sync_wait(std::move(late2)).error() == fastrt::errc::timed_out);
  CHECK(crew.late() == 2);
  CHECK(w.load().idle());
}

TEST_CASE("a worker pushing into its own full inbox fails that job instead of waiting") {
  main_worker m(64, py::producers::many, 2);
  REQUIRE(m.started);
  auto& w = m.w;
  using future_type = fastrt::awaitable_future<fastrt::result<int>>;
  std::vector<future_type> queued;  // filled by the worker, read after join
  auto filler = submit(w, [&](py::call_context&) {
    for (int i = 0; i < 64; ++i) {
      auto [j, future] = make_job<fastrt::result<int>>([](py::call_context&) { return 7; });
      w.push(j);  // from the worker itself: never waits
      queued.push_back(std::move(future));
    }
  });
  REQUIRE(fastrt::sync_wait(std::move(filler)).has_value());
  w.close();
  w.join();
  std::size_t ran = 0, failed = 0;
  for (auto& f : queued) {
    auto r = fastrt::sync_wait(std::move(f));
    if (r.has_value()) {
      CHECK(*r == 7);
      ++ran;
    } else {
      CHECK(r.error() == std::errc::resource_unavailable_try_again);
      ++failed;
    }
  }
  CHECK(ran >= 1);
  CHECK(ran <= 4);  // about the inbox's capacity: the rest was refused at once
  CHECK(failed == 64 - ran);
}
