// ctest-labels: python concurrency
//
// Dispatch: a worker stuck in a long job gets no new work while another
// worker is free (pinned, pooled, and across kinds: submit and try_submit
// pick among every kind), nor while the free one has a few quick jobs
// queued. Round-robin dispatch gave every second quick job to the stuck
// worker, where it waited for the long job to end.
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using fastrt::test::start_executor;
using fastrt::test::wait;
using clock_type = std::chrono::steady_clock;
using py::worker_kind;

namespace {

struct where {
  worker_kind kind;
  std::size_t index;
};

// Holds one worker busy until release() (or 3 s, so that a test of a broken
// dispatch ends), with its GIL released: a long request in time.sleep.
class blocker {
 public:
  blocker(py::subinterpreter_executor& exec, worker_kind kind, std::size_t index) {
    done_ = exec.submit_to(kind, index, [this](py::call_context&) {
      running_.store(true, std::memory_order_release);
      PyThreadState* state = PyEval_SaveThread();  // like time.sleep: other pooled threads may run
      const auto give_up = clock_type::now() + std::chrono::seconds(3);
      while (!released_.load(std::memory_order_acquire) && clock_type::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      PyEval_RestoreThread(state);
    });
    while (!running_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  blocker(const blocker&) = delete;
  blocker& operator=(const blocker&) = delete;
  ~blocker() { release(); }
  void release() {
    released_.store(true, std::memory_order_release);
    if (done_) (void)wait(std::move(*done_));
    done_.reset();
  }

 private:
  std::atomic<bool> running_{false};
  std::atomic<bool> released_{false};
  std::optional<fastrt::awaitable_future<fastrt::result<void>>> done_;
};

// Submits `count` quick jobs one after the other (each awaited before the
// next, like a client's sequential requests); returns where each ran and
// the p99 of their latencies.
template <class Submit>
std::pair<std::vector<where>, std::chrono::microseconds> quick_jobs(int count, Submit submit) {
  std::vector<where> ran;
  std::vector<std::chrono::microseconds> took;
  for (int i = 0; i < count; ++i) {
    const auto start = clock_type::now();
    auto r = wait(submit([](py::call_context& c) { return where{c.kind(), c.worker_index()}; }));
    took.push_back(std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start));
    REQUIRE(r.has_value());
    ran.push_back(*r);
  }
  std::sort(took.begin(), took.end());
  return {ran, took[static_cast<std::size_t>(count * 99 / 100) - 1]};
}

// A quick job that waited behind the blocker would take about a second or
// more (the blocker gives up after 3 s). The bound is a behaviour check, not
// a speed target: it must hold under TSan on a loaded machine too (the 10 ms
// p99 the issue asks for is checked on the real server, dispatch_test.sh).
constexpr std::chrono::milliseconds not_held_up{500};

bool ran_on(const std::vector<where>& ran, worker_kind kind, std::size_t index) {
  return std::any_of(ran.begin(), ran.end(), [&](const where& w) { return w.kind == kind && w.index == index; });
}

}  // namespace

TEST_CASE("quick jobs go to a free worker, not to one stuck in a long job") {
  SECTION("pinned") {
    py::executor_options options;
    options.pinned_workers = 3;
    auto exec = start_executor(std::move(options));
    blocker stuck(*exec, worker_kind::pinned, 1);
    auto [ran, p99] = quick_jobs(100, [&](auto fn) { return exec->submit(std::move(fn)); });
    CHECK_FALSE(ran_on(ran, worker_kind::pinned, 1));
    CHECK(ran_on(ran, worker_kind::pinned, 0));  // the free ones share the work
    CHECK(ran_on(ran, worker_kind::pinned, 2));
    CHECK(p99 <= not_held_up);
    auto [tried, try_p99] = quick_jobs(100, [&](auto fn) { return exec->try_submit(std::move(fn)); });
    CHECK_FALSE(ran_on(tried, worker_kind::pinned, 1));
    CHECK(try_p99 <= not_held_up);
    stuck.release();
    REQUIRE(exec->shutdown().has_value());
  }
  SECTION("pooled, through submit_to(kind)") {
    py::executor_options options;
    options.pinned_workers = 0;
    options.pooled_threads = 2;
    auto exec = start_executor(std::move(options));
    blocker stuck(*exec, worker_kind::pooled, 0);
    auto [ran, p99] = quick_jobs(100, [&](auto fn) { return exec->submit_to(worker_kind::pooled, std::move(fn)); });
    CHECK_FALSE(ran_on(ran, worker_kind::pooled, 0));
    CHECK(p99 <= not_held_up);
    stuck.release();
    REQUIRE(exec->shutdown().has_value());
  }
  SECTION("across kinds: submit and try_submit use every kind, pinned first") {
    py::executor_options options;
    options.pinned_workers = 1;
    options.pooled_threads = 1;
    options.main_workers = 1;
    auto exec = start_executor(std::move(options));
    {
      auto [ran, p99] = quick_jobs(20, [&](auto fn) { return exec->submit(std::move(fn)); });
      CHECK(std::all_of(ran.begin(), ran.end(), [](const where& w) { return w.kind == worker_kind::pinned; }));
    }
    blocker stuck_pinned(*exec, worker_kind::pinned, 0);
    {
      auto [ran, p99] = quick_jobs(50, [&](auto fn) { return exec->submit(std::move(fn)); });
      CHECK(std::all_of(ran.begin(), ran.end(), [](const where& w) { return w.kind == worker_kind::pooled; }));
      CHECK(p99 <= not_held_up);
    }
    blocker stuck_pooled(*exec, worker_kind::pooled, 0);
    {
      auto [ran, p99] = quick_jobs(50, [&](auto fn) { return exec->try_submit(std::move(fn)); });
      CHECK(std::all_of(ran.begin(), ran.end(), [](const where& w) { return w.kind == worker_kind::main; }));
      CHECK(p99 <= not_held_up);
    }
    stuck_pinned.release();
    stuck_pooled.release();
    REQUIRE(exec->shutdown().has_value());
  }
}

TEST_CASE("bursts of quick jobs stay off a stuck worker while the free one has a few queued") {
  py::executor_options options;
  options.pinned_workers = 2;
  auto exec = start_executor(std::move(options));
  blocker stuck(*exec, worker_kind::pinned, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // it has been stuck a while
  std::vector<where> ran;
  for (int burst = 0; burst < 25; ++burst) {
    std::vector<fastrt::awaitable_future<fastrt::result<where>>> jobs;
    for (int i = 0; i < 4; ++i) {  // like 4 clients at once: the free worker has several in flight
      jobs.push_back(exec->submit([](py::call_context& c) { return where{c.kind(), c.worker_index()}; }));
    }
    for (auto& f : jobs) ran.push_back(wait(std::move(f)).value());
  }
  CHECK_FALSE(ran_on(ran, worker_kind::pinned, 1));
  stuck.release();
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("with every worker busy, a job goes to the one with the fewest jobs in flight") {
  py::executor_options options;
  options.pinned_workers = 2;
  auto exec = start_executor(std::move(options));
  blocker stuck0(*exec, worker_kind::pinned, 0);
  blocker stuck1(*exec, worker_kind::pinned, 1);
  // Two more queued behind worker 0: worker 1 has fewer in flight.
  std::vector<fastrt::awaitable_future<fastrt::result<void>>> queued;
  for (int i = 0; i < 2; ++i) queued.push_back(exec->submit_to(worker_kind::pinned, 0, [](py::call_context&) {}));
  auto next = exec->submit([](py::call_context& c) { return c.worker_index(); });
  stuck0.release();
  stuck1.release();
  CHECK(wait(std::move(next)).value() == 1);
  for (auto& f : queued) CHECK(wait(std::move(f)).has_value());
  REQUIRE(exec->shutdown().has_value());
}
