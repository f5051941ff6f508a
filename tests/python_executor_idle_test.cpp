// ctest-labels: python concurrency
// Idle workers sleep (about 0 % CPU) and still answer when work comes: the
// executor's waits spin for a bounded time only (issue 15, item 4).
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "support/python.hpp"
#include "support/threads.hpp"

namespace py = fastrt::python;
using fastrt::test::start_executor;
using fastrt::test::wait;
using namespace std::chrono_literals;

TEST_CASE("idle workers use about 0 % CPU for a second, then answer") {
  py::executor_options options;
  options.pinned_workers = 2;
  options.main_workers = 1;
  options.handlers = {"fastrt_test_handlers:add"};
  auto exec = start_executor(std::move(options));
  const py::handler add = exec->handler_of("fastrt_test_handlers:add").value();
  auto call_each = [&](long long x) {
    for (std::size_t w = 0; w < 2; ++w) {
      auto sum = wait(exec->submit_to(py::worker_kind::pinned, w, [&](py::call_context& c) { return c.call_int(add, x, 1); }));
      CHECK(sum.value() == x + 1);
    }
    auto sum = wait(exec->submit_to(py::worker_kind::main, [&](py::call_context& c) { return c.call_int(add, x, 2); }));
    CHECK(sum.value() == x + 2);
  };
  call_each(1);  // every worker has run, so each has been through its spin phase at least once

  std::this_thread::sleep_for(100ms);  // the spin phases end well before this
  const auto before = fastrt::test::threads_cpu_time("py-");
  std::this_thread::sleep_for(1s);
  const auto after = fastrt::test::threads_cpu_time("py-");
  REQUIRE(before.size() == 3);  // py-pinned-0, py-pinned-1, py-main-0
  for (const auto& [tid, cpu] : after) {
    const auto used = cpu - before.at(tid);
    UNSCOPED_INFO("thread " << tid << " used " << used.count() << " ms of CPU while idle for 1 s");
    CHECK(used <= 20ms);  // at most 2 ticks: ~0 %, not a spinning core (1000 ms)
  }

  call_each(41);  // and the sleeping workers wake up for new work
  REQUIRE(exec->shutdown().has_value());
}
