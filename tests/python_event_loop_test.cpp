// ctest-labels: python concurrency
// A worker's asyncio event loop (fastrt/python/event_loop.hpp): awaitable
// results run as Tasks, many at once per worker; synchronous jobs keep
// working on the same worker; a stop token cancels the task; the per-worker
// cap; shutdown waits for the tasks within its grace and cancels them after.
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using fastrt::test::start_executor;
using fastrt::test::wait;
using py::worker_kind;
using clock_type = std::chrono::steady_clock;

namespace {

// start: handler(n), the result as it is (maybe a coroutine).
auto call_with(py::handler h, long n) {
  return [h, n](py::call_context& ctx) -> fastrt::result<PyObject*> {
    PyObject* fn = ctx.object(h);
    if (!fn) return fastrt::error(std::errc::invalid_argument, "handler not loaded");
    PyObject* arg = PyLong_FromLong(n);
    if (!arg) return py::take_exception();
    PyObject* out = PyObject_CallOneArg(fn, arg);
    Py_DECREF(arg);
    if (!out) return py::take_exception();
    return out;
  };
}

// finish: the value as an int.
fastrt::result<long long> as_int(py::call_context&, PyObject* value) {
  const long long n = PyLong_AsLongLong(value);
  if (n == -1 && PyErr_Occurred()) return py::take_exception("not an int");
  return n;
}

// The workers these tests run event loops on: pinned ones, but main-
// interpreter ones on CPython 3.12, which refuses loops in subinterpreters
// (event_loop.hpp).
#if PY_VERSION_HEX >= 0x030D0000
constexpr worker_kind loop_kind = worker_kind::pinned;
#else
constexpr worker_kind loop_kind = worker_kind::main;
#endif

py::executor_options async_options(std::size_t workers) {
  py::executor_options options;
  options.pinned_workers = loop_kind == worker_kind::pinned ? workers : 0;
  options.main_workers = loop_kind == worker_kind::main ? workers : 0;
  options.handlers = {"fastrt_test_async:nap",         "fastrt_test_async:plain",
                      "fastrt_test_async:fail",        "fastrt_test_async:wait_forever",
                      "fastrt_test_async:cancelled_tags", "fastrt_test_async:plain_asyncio",
                      "fastrt_test_async:loop_thread", "fastrt_test_async:loop_thread_async",
                      "fastrt_test_async:quick",       "fastrt_test_handlers:add"};
  return options;
}

struct handlers {
  explicit handlers(py::subinterpreter_executor& exec)
      : nap(exec.handler_of("fastrt_test_async:nap").value()),
        plain(exec.handler_of("fastrt_test_async:plain").value()),
        fail(exec.handler_of("fastrt_test_async:fail").value()),
        wait_forever(exec.handler_of("fastrt_test_async:wait_forever").value()),
        cancelled_tags(exec.handler_of("fastrt_test_async:cancelled_tags").value()),
        plain_asyncio(exec.handler_of("fastrt_test_async:plain_asyncio").value()),
        loop_thread(exec.handler_of("fastrt_test_async:loop_thread").value()),
        loop_thread_async(exec.handler_of("fastrt_test_async:loop_thread_async").value()),
        quick(exec.handler_of("fastrt_test_async:quick").value()),
        add(exec.handler_of("fastrt_test_handlers:add").value()) {}
  py::handler nap, plain, fail, wait_forever, cancelled_tags, plain_asyncio, loop_thread, loop_thread_async, quick,
      add;
};

double seconds_since(clock_type::time_point begin) {
  return std::chrono::duration<double>(clock_type::now() - begin).count();
}

}  // namespace

TEST_CASE("an async handler is awaited in the worker's event loop; sync jobs keep working there") {
  auto exec = start_executor(async_options(1));
  const handlers h(*exec);
  auto on0 = [&](py::handler fn, long n, std::stop_token token = {}) {
    return exec->submit_awaitable_to(loop_kind, 0, std::move(token), call_with(fn, n), as_int);
  };
  CHECK(wait(on0(h.plain, 1)).value() == 2);  // not awaitable: finished at once, no loop yet
  CHECK(wait(on0(h.nap, 10)).value() == 10);  // the first coroutine makes the loop
  auto failed = wait(on0(h.fail, 3));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error() == py::exception_code);
  CHECK(std::string(failed.error().message()).find("async failure 3") != std::string::npos);
  CHECK(wait(on0(h.plain_asyncio, 5)).value() == 1 + 2 + (0 + 1 + 4 + 9 + 16));
  // Coroutines that return (or raise) without suspending: eager tasks, done as they start.
  for (long n = 0; n < 20; ++n) CHECK(wait(on0(h.quick, n)).value() == 2 * n);
  auto raised = wait(on0(h.quick, -1));
  REQUIRE_FALSE(raised.has_value());
  CHECK(std::string(raised.error().message()).find("KeyError") != std::string::npos);
  // The loop runs on the worker's own thread, where synchronous jobs run too.
  CHECK(wait(on0(h.loop_thread, 0)).value() == wait(on0(h.loop_thread_async, 0)).value());
  for (int i = 0; i < 50; ++i) {
    auto sum = wait(exec->submit([&](py::call_context& ctx) { return ctx.call_int(h.add, 40, i); }));
    REQUIRE(sum.has_value());
    CHECK(sum.value() == 40 + i);
  }
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("100 concurrent asyncio.sleep(0.2) on one pinned worker overlap") {
  auto exec = start_executor(async_options(1));
  const handlers h(*exec);
  const auto begin = clock_type::now();
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
  for (int i = 0; i < 100; ++i) {
    futures.push_back(exec->submit_awaitable_to(loop_kind, 0, {}, call_with(h.nap, 200), as_int));
  }
  int done = 0;
  for (auto& f : futures) done += wait(std::move(f)).value() == 200 ? 1 : 0;
  const double elapsed = seconds_since(begin);
  CHECK(done == 100);
  CHECK(elapsed >= 0.2);
  CHECK(elapsed < 3.0);  // serially: 20 s
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("pooled and main workers run their own event loops too") {
  py::executor_options options = async_options(0);
  options.pinned_workers = 0;
  options.pooled_threads = 2;
  options.pooled_interpreters = 1;
  options.main_workers = 1;
  auto exec = start_executor(std::move(options));
  const handlers h(*exec);
  const bool pooled_loops = PY_VERSION_HEX >= 0x030D0000;
  const auto begin = clock_type::now();
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
  for (int i = 0; i < 20; ++i) {
    if (pooled_loops) {
      futures.push_back(
          exec->submit_awaitable_to(worker_kind::pooled, std::size_t(i % 2), {}, call_with(h.nap, 200), as_int));
    }
    futures.push_back(exec->submit_awaitable_to(worker_kind::main, 0, {}, call_with(h.nap, 200), as_int));
  }
  int done = 0;
  for (auto& f : futures) done += wait(std::move(f)).value() == 200 ? 1 : 0;
  CHECK(done == (pooled_loops ? 40 : 20));
  CHECK(seconds_since(begin) < 3.0);
  REQUIRE(exec->shutdown().has_value());
}

#if PY_VERSION_HEX < 0x030D0000
TEST_CASE("CPython 3.12: an awaitable on a subinterpreter worker fails with a clear error, the worker goes on") {
  py::executor_options options = async_options(0);
  options.pinned_workers = 1;
  auto exec = start_executor(std::move(options));
  const handlers h(*exec);
  auto refused = wait(exec->submit_awaitable_to(worker_kind::pinned, 0, {}, call_with(h.nap, 1), as_int));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == std::errc::operation_not_supported);
  CHECK(std::string(refused.error().message()).find("3.13") != std::string::npos);
  CHECK(wait(exec->submit_awaitable_to(worker_kind::pinned, 0, {}, call_with(h.plain, 1), as_int)).value() == 2);
  REQUIRE(exec->shutdown().has_value());
}
#endif

TEST_CASE("a stopped token cancels the task: the app sees CancelledError, the job fails with canceled") {
  auto exec = start_executor(async_options(1));
  const handlers h(*exec);
  std::stop_source first, second;
  auto a = exec->submit_awaitable_to(loop_kind, 0, first.get_token(), call_with(h.wait_forever, 3), as_int);
  auto b = exec->submit_awaitable_to(loop_kind, 0, second.get_token(), call_with(h.wait_forever, 4), as_int);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both are tasks, sleeping
  const auto begin = clock_type::now();
  first.request_stop();
  auto a_out = wait(std::move(a));
  REQUIRE_FALSE(a_out.has_value());
  CHECK(a_out.error() == fastrt::errc::canceled);
  CHECK(seconds_since(begin) < 1.0);
  auto tags = exec->submit_awaitable_to(loop_kind, 0, {}, call_with(h.cancelled_tags, 0), as_int);
  CHECK(wait(std::move(tags)).value() == 3);  // only the first
  second.request_stop();
  CHECK(wait(std::move(b)).error() == fastrt::errc::canceled);
  // A token already stopped when the job starts: cancelled before it ever runs.
  std::stop_source early;
  early.request_stop();
  auto c = exec->submit_awaitable_to(loop_kind, 0, early.get_token(), call_with(h.wait_forever, 100), as_int);
  CHECK(wait(std::move(c)).error() == fastrt::errc::canceled);
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("max_in_flight_per_worker: a worker full of tasks refuses try_submit; another worker takes it") {
  py::executor_options options = async_options(1);
  options.max_in_flight_per_worker = 5;
  auto exec = start_executor(std::move(options));
  const handlers h(*exec);
  std::stop_source stop;
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(exec->try_submit_awaitable(stop.get_token(), call_with(h.wait_forever, 1), as_int));
  }
  // Queued behind them (FIFO): when it has answered, the 5 are tasks.
  CHECK(wait(exec->submit_awaitable_to(loop_kind, 0, {}, call_with(h.plain, 1), as_int)).value() == 2);
  auto refused = wait(exec->try_submit_awaitable({}, call_with(h.plain, 1), as_int));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == std::errc::resource_unavailable_try_again);
  stop.request_stop();
  for (auto& f : held) CHECK(wait(std::move(f)).error() == fastrt::errc::canceled);
  CHECK(wait(exec->try_submit_awaitable({}, call_with(h.plain, 1), as_int)).value() == 2);
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("shutdown lets tasks in flight finish within the grace") {
  auto exec = start_executor(async_options(2));
  const handlers h(*exec);
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
  for (int i = 0; i < 40; ++i) {
    futures.push_back(exec->submit_awaitable_to(loop_kind, std::size_t(i % 2), {}, call_with(h.nap, 300), as_int));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto begin = clock_type::now();
  REQUIRE(exec->shutdown(std::chrono::seconds(10)).has_value());
  CHECK(seconds_since(begin) < 3.0);
  for (auto& f : futures) CHECK(wait(std::move(f)).value() == 300);
}

TEST_CASE("shutdown cancels the tasks still running at the deadline: they fail with timed_out") {
  auto exec = start_executor(async_options(1));
  const handlers h(*exec);
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(exec->submit_awaitable_to(loop_kind, 0, {}, call_with(h.wait_forever, 1), as_int));
  }
  futures.push_back(exec->submit_awaitable_to(loop_kind, 0, {}, call_with(h.nap, 50), as_int));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto begin = clock_type::now();
  auto down = exec->shutdown(std::chrono::milliseconds(300));
  const double elapsed = seconds_since(begin);
  REQUIRE_FALSE(down.has_value());
  CHECK(down.error() == fastrt::errc::timed_out);
  CHECK(std::string(down.error().message()).find("3 job(s)") != std::string::npos);
  CHECK(elapsed >= 0.25);
  CHECK(elapsed < 3.0);
  for (int i = 0; i < 3; ++i) CHECK(wait(std::move(futures[std::size_t(i)])).error() == fastrt::errc::timed_out);
  CHECK(wait(std::move(futures[3])).value() == 50);
}

namespace {

// A started worker of loop_kind (a pinned one has its own interpreter), without an executor.
struct loop_worker {
  explicit loop_worker(std::size_t batch) : crew(batch), w(nullptr, loop_kind, 0, &slot, py::producers::many, 1024) {
    fastrt::test::python_runtime();
    if (loop_kind == worker_kind::main) {
      slot.kind = worker_kind::main;
      slot.interp = &py::interpreter::main();
    }
    w.start(crew);
    started = crew.wait_started(1).has_value();
  }
  ~loop_worker() {
    w.close();
    w.join();
  }
  py::detail::interpreter_slot slot;
  py::detail::worker_crew crew;
  py::detail::worker w;
  bool started = false;
};

template <class F>
auto push(py::detail::worker& w, F&& fn) {
  auto [j, future] = py::detail::make_job<py::job_result_t<F>>(std::forward<F>(fn));
  w.push(j);
  return std::move(future);
}

// asyncio.sleep(seconds): a coroutine, made in the worker's interpreter.
fastrt::result<PyObject*> asyncio_sleep(double seconds) {
  PyObject* asyncio = PyImport_ImportModule("asyncio");
  if (!asyncio) return py::take_exception();
  PyObject* coro = PyObject_CallMethod(asyncio, "sleep", "d", seconds);
  Py_DECREF(asyncio);
  if (!coro) return py::take_exception();
  return coro;
}

}  // namespace

TEST_CASE("producers wake a sleeping event loop once per batch, not once per job") {
  loop_worker p(512);
  REQUIRE(p.started);
  auto& w = p.w;
  auto [j, first] = py::detail::make_awaitable_job<fastrt::result<int>>(
      [](py::call_context&) { return asyncio_sleep(0.01); }, [](py::call_context&, PyObject*) { return 1; },
      std::stop_token{});
  w.push(j);
  REQUIRE(fastrt::sync_wait(std::move(first)).value() == 1);  // the loop runs the worker now
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // and sleeps in its selector
  const std::uint64_t before = w.loop_wakeups();

  std::atomic<bool> running{false}, release{false};
  auto blocker = push(w, [&](py::call_context&) {
    running.store(true, std::memory_order_release);
    const auto give_up = clock_type::now() + std::chrono::seconds(5);
    while (!release.load(std::memory_order_acquire) && clock_type::now() < give_up) std::this_thread::yield();
    return 0;
  });
  while (!running.load(std::memory_order_acquire)) std::this_thread::yield();
  CHECK(w.loop_wakeups() == before + 1);  // the loop was asleep: one write
  std::vector<fastrt::awaitable_future<fastrt::result<int>>> burst;
  for (int i = 0; i < 300; ++i) burst.push_back(push(w, [i](py::call_context&) { return i; }));
  release.store(true, std::memory_order_release);
  CHECK(fastrt::sync_wait(std::move(blocker)).value() == 0);
  int sum = 0;
  for (auto& f : burst) sum += fastrt::sync_wait(std::move(f)).value();
  CHECK(sum == 299 * 300 / 2);
  CHECK(w.loop_wakeups() == before + 1);  // the loop was awake for the whole burst: no write
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(fastrt::sync_wait(push(w, [](py::call_context&) { return 7; })).value() == 7);
  CHECK(w.loop_wakeups() == before + 2);  // asleep again: one write for the next job
}
