// bench/python_executor_bench — the subinterpreter executor against Python's
// own executors (issue 5, item 6). A plain program (not Google Benchmark): the
// measurements are whole runs over several threads and processes.
//
//   build/release/bench/python_executor_bench            # fastrt side, then the Python peers
//
// (a) CPU-bound spin(n) x tasks over 1 and 2 pinned workers and 2 main
//     workers (shared GIL); speed-up against 1 pinned worker. The peers
//     (bench/python/executor_peers.py, run with the same CPython) report
//     ThreadPoolExecutor(2) and ProcessPoolExecutor(2) against sequential.
// (b) a trivial handler through one pinned worker: calls/s with windows of
//     submissions in flight (the worker drains them in batches under one GIL
//     acquisition), and the round trip submit -> sync_wait from a C++ thread,
//     back to back and with the worker idle (asleep on its futex).
// (c) interpreter creation time and RSS per interpreter.
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace py = fastrt::python;
using clock_type = std::chrono::steady_clock;
using py::worker_kind;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

long rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

std::unique_ptr<py::subinterpreter_executor> start(std::size_t pinned, std::size_t main_workers) {
  py::executor_options options;
  options.pinned_workers = pinned;
  options.main_workers = main_workers;
  options.queue_capacity = 8192;
  options.handlers = {"fastrt_bench_handlers:spin", "fastrt_bench_handlers:noop"};
  auto exec = py::subinterpreter_executor::start(std::move(options));
  if (!exec) {
    exec.error().print(stderr, "python_executor_bench");
    std::exit(1);
  }
  return std::move(exec).value();
}

// Best of three: tasks spin(n) calls spread over the workers of `kind`.
double cpu_bound(py::subinterpreter_executor& exec, worker_kind kind, long long n, int tasks) {
  const py::handler spin = exec.handler_of("fastrt_bench_handlers:spin").value();
  double best = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clock_type::now();
    std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
    for (int i = 0; i < tasks; ++i) {
      futures.push_back(exec.submit_to(kind, [&](py::call_context& c) { return c.call_int(spin, n); }));
    }
    for (auto& f : futures) (void)fastrt::sync_wait(std::move(f)).value();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = argc > 1 ? std::atoll(argv[1]) : 200'000;
  const int tasks = argc > 2 ? std::atoi(argv[2]) : 16;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 1'000'000;

  py::runtime_options options;
  options.path = {FASTRT_BENCH_PYTHON_DIR};
  auto runtime = py::runtime::start(std::move(options));
  if (!runtime) {
    runtime.error().print(stderr, "python_executor_bench");
    return 1;
  }
  std::printf("CPython %s, %u CPUs, spin(%lld) x %d tasks, %d trivial calls\n", PY_VERSION,
              std::thread::hardware_concurrency(), n, tasks, calls);

  // (c) first, on a fresh process.
  {
    std::vector<std::unique_ptr<py::interpreter>> made;
    const long rss0 = rss_kib();
    const auto t0 = clock_type::now();
    for (int i = 0; i < 8; ++i) made.push_back(py::interpreter::create().value());
    const double per = seconds_since(t0) / 8;
    const long rss_per = (rss_kib() - rss0) / 8;
    for (auto& i : made) (void)i->end();
    std::printf("(c) interpreter creation: %.2f ms each, RSS +%ld KiB each (8 created)\n", per * 1e3, rss_per);
  }

  // (a)
  {
    auto one = start(1, 0);
    const double t1 = cpu_bound(*one, worker_kind::pinned, n, tasks);
    (void)one->shutdown();
    one.reset();
    auto two = start(2, 2);
    const double t2 = cpu_bound(*two, worker_kind::pinned, n, tasks);
    const double tm = cpu_bound(*two, worker_kind::main, n, tasks);
    (void)two->shutdown();
    std::printf("(a) 1 pinned worker              %9.1f ms  speed-up 1.00x\n", t1 * 1e3);
    std::printf("(a) 2 pinned workers             %9.1f ms  speed-up %.2fx (target >= 1.8x)\n", t2 * 1e3, t1 / t2);
    std::printf("(a) 2 main workers (shared GIL)  %9.1f ms  speed-up %.2fx\n", tm * 1e3, t1 / tm);
  }

  // (b)
  {
    auto exec = start(1, 0);
    const py::handler noop = exec->handler_of("fastrt_bench_handlers:noop").value();
    auto call = [noop](py::call_context& c) { return c.call_int(noop, 1); };
    constexpr int window = 4096;
    std::vector<fastrt::awaitable_future<fastrt::result<long long>>> futures;
    futures.reserve(window);
    const auto t0 = clock_type::now();
    for (int done = 0; done < calls; done += window) {
      for (int i = 0; i < window; ++i) futures.push_back(exec->submit(call));
      for (auto& f : futures) (void)fastrt::sync_wait(std::move(f)).value();
      futures.clear();
    }
    const double rate = calls / seconds_since(t0);
    std::printf("(b) 1 pinned worker, windows of %d: %12.0f calls/s (target >= 1,000,000)\n", window, rate);

    std::vector<double> busy, idle;
    for (int i = 0; i < 20000; ++i) {
      const auto s = clock_type::now();
      (void)fastrt::sync_wait(exec->submit(call)).value();
      busy.push_back(seconds_since(s));
    }
    for (int i = 0; i < 2000; ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // the worker falls asleep
      const auto s = clock_type::now();
      (void)fastrt::sync_wait(exec->submit(call)).value();
      idle.push_back(seconds_since(s));
    }
    std::printf("(b) round trip back to back: p50 %.1f us  p99 %.1f us\n", quantile(busy, 0.5) * 1e6,
                quantile(busy, 0.99) * 1e6);
    std::printf("(b) round trip, worker idle: p50 %.1f us  p99 %.1f us (target p50 <= 10 us)\n",
                quantile(idle, 0.5) * 1e6, quantile(idle, 0.99) * 1e6);
    (void)exec->shutdown();
  }
  if (!runtime.value()->reset()) return 1;

  // The peers, with the same CPython.
  std::fflush(stdout);
  const std::string peers = std::string(FASTRT_BENCH_PYTHON_EXECUTABLE) + " " FASTRT_BENCH_PYTHON_DIR "/executor_peers.py " +
                            std::to_string(n) + " " + std::to_string(tasks) + " " + std::to_string(calls / 10);
  return std::system(peers.c_str()) == 0 ? 0 : 1;
}
