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
//     acquisition), and the round trip submit -> wait from a C++ thread,
//     back to back and with the worker idle (asleep on its futex), for
//     sync_wait with its default and other spin budgets and for the mutex +
//     condition-variable wait that sync_wait was before issue 15.
// (c) interpreter creation time and RSS per interpreter.
#include <fastrt/python/interpreter.hpp>
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
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

// The sync_wait of before issue 15, kept here to compare in the same run: a
// mutex + condition-variable run loop that sleeps at once, on which a
// coroutine awaits the future.
class condvar_loop {
 public:
  void post(std::coroutine_handle<> h) {
    std::lock_guard lock(mutex_);
    queue_.push_back(h);
    ready_.notify_one();
  }
  void run_until(const bool& done) {
    std::unique_lock lock(mutex_);
    while (!done) {
      ready_.wait(lock, [&] { return !queue_.empty(); });
      const auto h = queue_.front();
      queue_.pop_front();
      lock.unlock();
      h.resume();
      lock.lock();
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::coroutine_handle<>> queue_;
};

struct detached_coroutine {
  struct promise_type {
    detached_coroutine get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::abort(); }
  };
};

template <class T>
detached_coroutine await_into(fastrt::awaitable_future<T> f, std::optional<fastrt::future_result_t<T>>& out, bool& done) {
  out.emplace(co_await std::move(f));
  done = true;  // on the run_until thread, which reads it after this resumption returns
}

template <class T>
fastrt::future_result_t<T> condvar_wait(fastrt::awaitable_future<T> f) {
  condvar_loop loop;
  std::optional<fastrt::future_result_t<T>> out;
  bool done = false;
  {
    fastrt::executor_scope scope(loop);  // the await captures it and posts its resumption there
    await_into(std::move(f), out, done);
  }
  loop.run_until(done);
  return std::move(*out);
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

    // The round trips, one row per way of waiting, interleaved call by call
    // so that a noisy moment of the machine hits every row alike.
    using future_type = fastrt::awaitable_future<fastrt::result<long long>>;
    using micros = std::chrono::microseconds;
    struct way_of_waiting {
      const char* name;
      std::function<long long(future_type)> wait;
      std::vector<double> back_to_back, idle;
    };
    auto with = [](fastrt::spin_budget spin) {
      return [spin](future_type f) { return fastrt::sync_wait(std::move(f), {spin}).value(); };
    };
    std::vector<way_of_waiting> ways;
    ways.push_back({"sync_wait default (yield 20 us)", [](future_type f) { return fastrt::sync_wait(std::move(f)).value(); }, {}, {}});
    ways.push_back({"sync_wait, futex at once (no spin)", with({}), {}, {}});
    ways.push_back({"sync_wait, pause 20 us", with({.pause = micros(20)}), {}, {}});
    ways.push_back({"sync_wait, pause 2 us + yield 20 us", with({.pause = micros(2), .yield = micros(20)}), {}, {}});
    ways.push_back({"mutex + condvar (sync_wait before issue 15)", [](future_type f) { return condvar_wait(std::move(f)).value(); }, {}, {}});
    for (int block = 0; block < 200; ++block) {
      for (auto& way : ways) {
        for (int i = 0; i < 100; ++i) {  // back to back: the worker has not gone to sleep yet
          const auto s = clock_type::now();
          (void)way.wait(exec->submit(call));
          way.back_to_back.push_back(seconds_since(s));
        }
      }
    }
    for (int i = 0; i < 2000; ++i) {
      for (auto& way : ways) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));  // the worker falls asleep
        const auto s = clock_type::now();
        (void)way.wait(exec->submit(call));
        way.idle.push_back(seconds_since(s));
      }
    }
    std::printf("(b) round trip (p50 / p99, us)             back to back      worker idle (target p50 <= 10 us)\n");
    for (const auto& way : ways) {
      std::printf("(b)   %-45s %6.1f / %6.1f     %6.1f / %6.1f\n", way.name, quantile(way.back_to_back, 0.5) * 1e6,
                  quantile(way.back_to_back, 0.99) * 1e6, quantile(way.idle, 0.5) * 1e6, quantile(way.idle, 0.99) * 1e6);
    }
    (void)exec->shutdown();
  }
  if (!runtime.value()->reset()) return 1;

  // The peers, with the same CPython.
  std::fflush(stdout);
  const std::string peers = std::string(FASTRT_BENCH_PYTHON_EXECUTABLE) + " " FASTRT_BENCH_PYTHON_DIR "/executor_peers.py " +
                            std::to_string(n) + " " + std::to_string(tasks) + " " + std::to_string(calls / 10);
  return std::system(peers.c_str()) == 0 ? 0 : 1;
}
