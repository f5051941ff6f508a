// ctest-labels: python concurrency
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <sys/resource.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/python.hpp"

namespace py = fastrt::python;
using fastrt::test::start_executor;
using fastrt::test::wait;

using clock_type = std::chrono::steady_clock;
using py::worker_kind;

namespace {


}  // namespace

TEST_CASE("handlers run on pinned workers and answer through futures") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.handlers = {"fastrt_test_handlers:upper", "fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler upper = exec->handler_of("fastrt_test_handlers:upper").value();
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();

  const std::string body = "hello";
  auto text = wait(exec->submit([&](py::call_context& ctx) { return ctx.call(upper, body); }));
  REQUIRE(text.has_value());
  CHECK(*text == "HELLO");

  for (std::size_t w = 0; w < 2; ++w) {
    // Catch's CHECK is not thread-safe: workers report, the test thread checks.
    auto sum = wait(exec->submit_to(worker_kind::pinned, w, [&](py::call_context& ctx) -> fastrt::result<long long> {
      if (ctx.kind() != worker_kind::pinned || ctx.worker_index() != w) return -1;
      return ctx.call_int(add, 40, 2);
    }));
    CHECK(sum.value() == 42);
  }
  // A plain value R becomes result<R>; void works too.
  auto id = wait(exec->submit([](py::call_context& ctx) { return ctx.interp().id(); }));
  CHECK(id.value() > 0);
  auto nothing = wait(exec->submit([](py::call_context&) {}));
  CHECK(nothing.has_value());
  auto missing = wait(exec->submit_to(worker_kind::main, [](py::call_context&) { return 1; }));
  CHECK(missing.error() == std::errc::invalid_argument);
  REQUIRE(exec->shutdown().has_value());
}

namespace {

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Times this thread blocked (futex waits, sleeps) so far.
long voluntary_switches() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nvcsw;
}

struct run_interval {
  clock_type::time_point begin, end;
  std::chrono::nanoseconds cpu;  // CPU time of the worker thread during the call
  long waits;                    // times the worker thread blocked during the call
  double busy() const { return double(cpu.count()) / double((end - begin).count()); }
};

// Runs one CPU-bound call on workers 0 and 1 of `kind` at once, `attempts`
// times, and reports whether in one attempt both calls were running together
// for at least half of the shorter call without waiting for each other.
// "Without waiting" is measured, not assumed: a thread that waits for a GIL
// held by the other blocks on CPython's GIL condition variable every switch
// interval (5 ms), i.e. dozens of voluntary context switches per call; a
// thread with its own GIL blocks (almost) never. Being preempted by other
// processes on a loaded machine counts as involuntary and does not matter.
bool calls_overlap(py::subinterpreter_executor& exec, worker_kind kind, py::handler spin, long long n, int attempts) {
  auto timed = [&](py::call_context& ctx) {
    const auto cpu0 = thread_cpu_time();
    const long waits0 = voluntary_switches();
    run_interval i{clock_type::now(), {}, {}, 0};
    (void)ctx.call_int(spin, n).value();
    i.end = clock_type::now();
    i.cpu = thread_cpu_time() - cpu0;
    i.waits = voluntary_switches() - waits0;
    return i;
  };
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto a = exec.submit_to(kind, 0, timed);
    auto b = exec.submit_to(kind, 1, timed);
    const run_interval ia = wait(a).value();
    const run_interval ib = wait(b).value();
    const auto overlap = std::min(ia.end, ib.end) - std::max(ia.begin, ib.begin);
    const auto shorter = std::min(ia.end - ia.begin, ib.end - ib.begin);
    UNSCOPED_INFO(py::to_string(kind) << " attempt " << attempt << ": overlap "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(overlap).count() << " ms of "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(shorter).count() << " ms, busy "
                  << ia.busy() << " / " << ib.busy() << ", blocked " << ia.waits << " / " << ib.waits << " times");
    if (overlap > shorter / 2 && ia.waits <= 3 && ib.waits <= 3) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("two pinned workers run CPU-bound Python at the same time") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.main_workers = 2;
  options.handlers = {"fastrt_test_handlers:spin"};
  auto exec = start_executor(std::move(options));
  const py::handler spin = exec->handler_of("fastrt_test_handlers:spin").value();

  // Calibrate: one call of >= 100 ms.
  long long n = 200'000;
  for (;;) {
    auto t0 = clock_type::now();
    (void)wait(exec->submit([&](py::call_context& ctx) { return ctx.call_int(spin, n); })).value();
    if (clock_type::now() - t0 > std::chrono::milliseconds(100) || n > 100'000'000) break;
    n *= 2;
  }
  // Several attempts: on a loaded 2-core machine one may miss by chance.
  CHECK(calls_overlap(*exec, worker_kind::pinned, spin, n, 5));
  // The control: main workers share the main GIL, so their calls take turns.
  CHECK_FALSE(calls_overlap(*exec, worker_kind::main, spin, n, 1));
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("module globals are per interpreter") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.main_workers = 1;
  options.handlers = {"fastrt_test_handlers:set_state", "fastrt_test_handlers:get_state"};
  auto exec = start_executor(std::move(options));
  const py::handler set = exec->handler_of("fastrt_test_handlers:set_state").value();
  const py::handler get = exec->handler_of("fastrt_test_handlers:get_state").value();

  CHECK(wait(exec->submit_to(worker_kind::pinned, 0, [&](py::call_context& c) { return c.call_int(set, 7); })).value() == 0);
  auto state_of = [&](worker_kind kind, std::size_t i) {
    return wait(exec->submit_to(kind, i, [&](py::call_context& c) { return c.call(get, ""); })).value();
  };
  CHECK(state_of(worker_kind::pinned, 0) == "7");
  CHECK(state_of(worker_kind::pinned, 1) == "initial");
  CHECK(state_of(worker_kind::main, 0) == "initial");
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("a Python exception becomes an error with type, message and traceback") {
  py::executor_options options;
  options.pinned_workers = 1;
  options.handlers = {"fastrt_test_handlers:fail", "fastrt_test_handlers:echo"};
  auto exec = start_executor(std::move(options));
  const py::handler fail = exec->handler_of("fastrt_test_handlers:fail").value();
  const py::handler echo = exec->handler_of("fastrt_test_handlers:echo").value();

  auto failed = wait(exec->submit([&](py::call_context& c) { return c.call(fail, "xyz"); }));
  REQUIRE_FALSE(failed.has_value());
  const std::string text(failed.error().message());
  CHECK(failed.error() == py::exception_code);
  CHECK(text.rfind("ValueError: bad request: xyz\n", 0) == 0);
  CHECK(text.find("Traceback (most recent call last):") != std::string::npos);
  CHECK(text.find("fastrt_test_handlers.py") != std::string::npos);
  CHECK(text.find("in _inner") != std::string::npos);
  // The worker keeps serving, and the interpreter has no pending exception.
  CHECK(wait(exec->submit([&](py::call_context& c) { return c.call(echo, "still here"); })).value() == "still here");
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("a request body is a bytes copy the handler may keep") {
  py::executor_options options;
  options.pinned_workers = 1;
  options.handlers = {"fastrt_test_handlers:echo", "fastrt_test_handlers:keep_view",
                      "fastrt_test_handlers:read_kept"};
  auto exec = start_executor(std::move(options));
  const py::handler echo = exec->handler_of("fastrt_test_handlers:echo").value();
  const py::handler keep = exec->handler_of("fastrt_test_handlers:keep_view").value();
  const py::handler read = exec->handler_of("fastrt_test_handlers:read_kept").value();
  std::string big(1 << 20, 'x');
  CHECK(wait(exec->submit([&](py::call_context& c) { return c.call(echo, big); })).value() == big);
  {
    std::string body = "short-lived";
    CHECK(wait(exec->submit([&](py::call_context& c) { return c.call(keep, body); })).value() == "kept");
  }
  // The C++ string is gone; Python kept its own copy.
  CHECK(wait(exec->submit([&](py::call_context& c) { return c.call(read, ""); })).value() == "short-lived");
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("start fails with the Python error text when a handler cannot be loaded") {
  fastrt::test::python_runtime();
  SECTION("import error") {
    py::executor_options options;
    options.pinned_workers = 2;
    options.handlers = {"fastrt_test_broken:handler"};
    auto exec = py::subinterpreter_executor::start(std::move(options));
    REQUIRE_FALSE(exec.has_value());
    const std::string text(exec.error().message());
    CHECK(text.find("loading handler 'fastrt_test_broken:handler'") != std::string::npos);
    CHECK(text.find("ModuleNotFoundError: No module named 'fastrt_module_that_does_not_exist'") != std::string::npos);
  }
  SECTION("missing attribute, not callable, bad spec") {
    for (const char* spec : {"fastrt_test_handlers:nope", "fastrt_test_handlers:not_callable", "no_colon"}) {
      py::executor_options options;
      options.pinned_workers = 1;
      options.handlers = {spec};
      auto exec = py::subinterpreter_executor::start(std::move(options));
      REQUIRE_FALSE(exec.has_value());
      INFO(exec.error().message());
      CHECK(exec.error().message().find(spec) != std::string_view::npos);
    }
  }
  SECTION("an extension refusing subinterpreters: the error says to use main workers") {
    py::executor_options options;
    options.pinned_workers = 1;
    options.handlers = {"fastrt_test_legacy_handler:answer"};
    auto exec = py::subinterpreter_executor::start(std::move(options));
    REQUIRE_FALSE(exec.has_value());
    const std::string text(exec.error().message());
    CHECK(text.find("does not support loading in subinterpreters") != std::string::npos);
    CHECK(text.find("main_handlers") != std::string::npos);
  }
}

TEST_CASE("an extension refusing subinterpreters runs on main workers") {
  py::executor_options options;
  options.pinned_workers = 1;
  options.main_workers = 2;
  options.main_handlers = {"fastrt_test_legacy_handler:answer"};
  auto exec = start_executor(std::move(options));
  const py::handler answer = exec->handler_of("fastrt_test_legacy_handler:answer").value();
  for (std::size_t m = 0; m < 2; ++m) {
    auto r = wait(exec->submit_to(worker_kind::main, m, [&](py::call_context& c) -> fastrt::result<std::string> {
      if (!c.interp().is_main()) return std::string("not main");
      return c.call(answer, "");
    }));
    CHECK(r.value() == "42");
  }
  // Not loaded in the pinned interpreter: a clear error, not a crash.
  auto pinned = wait(exec->submit_to(worker_kind::pinned, [&](py::call_context& c) { return c.call(answer, ""); }));
  CHECK(pinned.error().message().find("not loaded in pinned interpreter 0") != std::string_view::npos);
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("pooled workers share interpreters and overlap while handlers sleep") {
  py::executor_options options;
  options.pinned_workers = 0;
  options.pooled_threads = 4;
  options.pooled_interpreters = 2;
  options.handlers = {"fastrt_test_handlers:sleep_ms", "fastrt_test_handlers:set_state",
                      "fastrt_test_handlers:get_state"};
  auto exec = start_executor(std::move(options));
  const py::handler sleep = exec->handler_of("fastrt_test_handlers:sleep_ms").value();
  const py::handler set = exec->handler_of("fastrt_test_handlers:set_state").value();
  const py::handler get = exec->handler_of("fastrt_test_handlers:get_state").value();
  CHECK(exec->workers(worker_kind::pooled) == 4);

  const auto t0 = clock_type::now();
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> sleeping;
  for (std::size_t t = 0; t < 4; ++t) {
    sleeping.push_back(exec->submit_to(worker_kind::pooled, t, [&](py::call_context& c) -> fastrt::result<long long> {
      if (c.interpreter_index() != c.worker_index() % 2) return -1;
      return c.call_int(sleep, 200);
    }));
  }
  for (auto& f : sleeping) CHECK(wait(f).value() == 200);
  // Four 200 ms sleeps on two interpreters: the GIL is released while sleeping.
  CHECK(clock_type::now() - t0 < std::chrono::milliseconds(700));

  // Threads 0 and 2 share interpreter 0.
  (void)wait(exec->submit_to(worker_kind::pooled, 0, [&](py::call_context& c) { return c.call_int(set, 5); })).value();
  auto from = [&](std::size_t t) {
    return wait(exec->submit_to(worker_kind::pooled, t, [&](py::call_context& c) { return c.call(get, ""); })).value();
  };
  CHECK(from(2) == "5");
  CHECK(from(1) == "initial");
  REQUIRE(exec->shutdown().has_value());
}

TEST_CASE("shutdown finishes work in flight, then rejects new work") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.main_workers = 1;
  options.handlers = {"fastrt_test_handlers:sleep_ms", "fastrt_test_handlers:import_stdlib"};
  auto exec = start_executor(std::move(options));
  const py::handler sleep = exec->handler_of("fastrt_test_handlers:sleep_ms").value();
  const py::handler imports = exec->handler_of("fastrt_test_handlers:import_stdlib").value();
  // Handlers that imported json, asyncio, ssl and threading (and ran a thread).
  for (auto kind : {worker_kind::pinned, worker_kind::main}) {
    CHECK(wait(exec->submit_to(kind, [&](py::call_context& c) { return c.call(imports, ""); })).value() == "{\"ok\": 1}");
  }
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> in_flight;
  for (int i = 0; i < 20; ++i) {
    in_flight.push_back(exec->submit([&](py::call_context& c) { return c.call_int(sleep, 5); }));
  }
  REQUIRE(exec->shutdown().has_value());
  for (auto& f : in_flight) CHECK(wait(f).value() == 5);
  auto late = wait(exec->submit([](py::call_context&) { return 1; }));
  CHECK(late.error() == fastrt::errc::canceled);
  REQUIRE(exec->shutdown().has_value());  // idempotent
}

TEST_CASE("shutdown with a deadline fails what has not started") {
  py::executor_options options;
  options.pinned_workers = 1;
  options.handlers = {"fastrt_test_handlers:sleep_ms"};
  auto exec = start_executor(std::move(options));
  const py::handler sleep = exec->handler_of("fastrt_test_handlers:sleep_ms").value();
  std::vector<fastrt::awaitable_future<fastrt::result<long long>>> queued;
  for (int i = 0; i < 10; ++i) {
    queued.push_back(exec->submit([&](py::call_context& c) { return c.call_int(sleep, 50); }));
  }
  auto stopped = exec->shutdown(std::chrono::milliseconds(20));
  REQUIRE_FALSE(stopped.has_value());
  CHECK(stopped.error() == fastrt::errc::timed_out);
  int done = 0, timed_out = 0;
  for (auto& f : queued) {
    auto r = wait(f);
    if (r.has_value()) ++done;
    else if (r.error() == fastrt::errc::timed_out) ++timed_out;
  }
  CHECK(done >= 1);
  CHECK(timed_out >= 1);
  CHECK(done + timed_out == 10);
}

TEST_CASE("try_submit fails with resource_unavailable_try_again instead of waiting when every inbox is full") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.queue_capacity = 4;
  auto exec = start_executor(std::move(options));

  // Both workers are stuck in a job, so nothing drains their inboxes.
  std::atomic<int> blocked{0};
  std::atomic<bool> release{false};
  std::vector<fastrt::awaitable_future<fastrt::result<void>>> blockers;
  for (std::size_t w = 0; w < 2; ++w) {
    blockers.push_back(exec->submit_to(worker_kind::pinned, w, [&](py::call_context&) {
      blocked.fetch_add(1, std::memory_order_acq_rel);
      while (!release.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }));
  }
  while (blocked.load(std::memory_order_acquire) != 2) std::this_thread::yield();

  constexpr int attempts = 20;
  std::vector<std::atomic<int>> runs(attempts);
  std::vector<std::pair<int, fastrt::awaitable_future<fastrt::result<std::size_t>>>> accepted;
  int rejected = 0;
  const auto start = clock_type::now();
  for (int i = 0; i < attempts; ++i) {
    auto f = exec->try_submit([&, i](py::call_context& c) {
      runs[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
      return c.worker_index();
    });
    if (!f.is_ready()) {  // queued: nothing can have run it yet
      accepted.emplace_back(i, std::move(f));
      continue;
    }
    auto r = wait(f);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == std::errc::resource_unavailable_try_again);
    CHECK(r.error().message().find("all 2 pinned workers' queues are full") != std::string_view::npos);
    ++rejected;
  }
  const auto took = clock_type::now() - start;
  // Up to 4 per inbox (a slot may still hold the running blocker's batch);
  // the rest were refused at once, without waiting for room.
  CHECK(accepted.size() >= 2 * 3);
  CHECK(accepted.size() <= 2 * 4);
  CHECK(rejected == attempts - static_cast<int>(accepted.size()));
  CHECK(took < std::chrono::seconds(2));

  release.store(true, std::memory_order_release);
  for (auto& b : blockers) CHECK(wait(b).has_value());
  bool used[2] = {false, false};
  for (auto& [i, f] : accepted) {
    auto r = wait(f);
    REQUIRE(r.has_value());
    used[r.value()] = true;
  }
  CHECK(used[0]);  // when one inbox was full the other was tried
  CHECK(used[1]);
  std::set<int> accepted_ids;
  for (auto& entry : accepted) accepted_ids.insert(entry.first);
  for (int i = 0; i < attempts; ++i) {
    CHECK(runs[static_cast<std::size_t>(i)].load() == (accepted_ids.count(i) ? 1 : 0));  // exactly once, or never
  }

  // With room again it accepts; after shutdown it reports canceled.
  CHECK(wait(exec->try_submit([](py::call_context&) { return 1; })).value() == 1);
  REQUIRE(exec->shutdown().has_value());
  auto late = wait(exec->try_submit([](py::call_context&) { return 1; }));
  CHECK(late.error() == fastrt::errc::canceled);
  auto missing = wait(exec->try_submit_to(worker_kind::main, [](py::call_context&) { return 1; }));
  CHECK(missing.error() == std::errc::invalid_argument);
}
