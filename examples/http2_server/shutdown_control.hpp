// shutdown_control.hpp — how fastrt-h2 stops: the stop signals and a
// watchdog that bounds the graceful shutdown.
//
// Signals: SIGINT, SIGTERM and SIGHUP (no reload: a hang-up of the terminal
// or service manager means stop) ask for a graceful shutdown; SIGHUP is left
// ignored when it was ignored at start (nohup). The handler only counts
// (a lock-free atomic: async-signal-safe); the main loop polls the count. A
// second signal does not wait for anything: the handler writes one line
// with write(2) and calls _exit(128 + signal), both async-signal-safe.
//
// Watchdog: once a shutdown starts, a thread waits until
// --shutdown-timeout + 1 s. If the process is still there then (a handler
// that never returns, a thread the app started that never ends), it writes
// one line naming the shutdown step and the app calls still running, and
// calls _exit(1). stdout and the access log are line-buffered, so no
// complete line is lost by not flushing them.
//
// Thread-safety: install() and the watchdog's start/step/finish on the main
// thread; the handler on whichever thread the kernel picks.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <fastrt/http2/python/in_flight_calls.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace fastrt_h2 {

using fastrt::http2::python::in_flight_calls;

namespace detail {

inline std::atomic<int> stop_signal_count{0};
inline std::atomic<int> first_stop_signal{0};

inline const char* signal_name(int signal) noexcept {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
  }
  return "signal";
}

extern "C" inline void on_stop_signal(int signal) {
  if (stop_signal_count.fetch_add(1, std::memory_order_acq_rel) == 0) {
    first_stop_signal.store(signal, std::memory_order_release);
    return;
  }
  // Already shutting down: the operator insists. Only async-signal-safe calls.
  static constexpr char prefix[] = "fastrt-h2: second stop signal (";
  static constexpr char suffix[] = "): exiting at once, without finishing the shutdown\n";
  const char* name = signal_name(signal);
  std::size_t length = 0;
  while (name[length] != '\0') ++length;
  (void)!::write(STDERR_FILENO, prefix, sizeof prefix - 1);
  (void)!::write(STDERR_FILENO, name, length);
  (void)!::write(STDERR_FILENO, suffix, sizeof suffix - 1);
  ::_exit(128 + signal);
}

}  // namespace detail

// Installs the stop-signal handler for SIGINT, SIGTERM and SIGHUP.
inline void install_stop_signals() {
  struct sigaction action{};
  action.sa_handler = &detail::on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction before{};
    if (signal == SIGHUP && ::sigaction(SIGHUP, nullptr, &before) == 0 && before.sa_handler == SIG_IGN) continue;
    (void)::sigaction(signal, &action, nullptr);
  }
}

// The first stop signal received (SIGINT, SIGTERM, SIGHUP), or 0.
inline int stop_signal() noexcept {
  return detail::stop_signal_count.load(std::memory_order_acquire) == 0
             ? 0
             : detail::first_stop_signal.load(std::memory_order_acquire);
}

inline const char* stop_signal_name(int signal) noexcept { return detail::signal_name(signal); }

// What the shutdown is doing, for the watchdog's line.
enum class shutdown_step { closing_connections, lifespan_shutdown, stopping_python_workers, finalizing_python };

inline const char* to_string(shutdown_step step) noexcept {
  switch (step) {
    case shutdown_step::closing_connections: return "closing the connections";
    case shutdown_step::lifespan_shutdown: return "running the ASGI app's lifespan shutdown";
    case shutdown_step::stopping_python_workers: return "stopping the Python workers";
    case shutdown_step::finalizing_python: return "finalizing Python";
  }
  return "?";
}

class shutdown_watchdog {
 public:
  // Starts the watch: the process exits (status 1) if finish() is not called
  // within shutdown_timeout + grace.
  shutdown_watchdog(std::chrono::milliseconds shutdown_timeout, std::chrono::milliseconds grace,
                    const in_flight_calls& calls)
      : shutdown_timeout_(shutdown_timeout),
        grace_(grace),
        calls_(calls),
        thread_([this, deadline = std::chrono::steady_clock::now() + shutdown_timeout + grace] { watch(deadline); }) {}
  shutdown_watchdog(const shutdown_watchdog&) = delete;
  shutdown_watchdog& operator=(const shutdown_watchdog&) = delete;
  ~shutdown_watchdog() { finish(); }

  void step(shutdown_step now) noexcept { step_.store(now, std::memory_order_release); }

  // The shutdown completed in time: stop watching.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    woken_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void watch(std::chrono::steady_clock::time_point deadline) {
    {
      std::unique_lock lock(mutex_);
      if (woken_.wait_until(lock, deadline, [this] { return finished_; })) return;
    }
    std::string running = calls_.describe();
    if (running.empty()) {
      running = step_.load(std::memory_order_acquire) == shutdown_step::closing_connections
                    ? "connections still closing"
                    : "no app call (a thread the app started, or a streamed body's generator, that has not ended?)";
    }
    char head[200];
    std::snprintf(head, sizeof head, "fastrt-h2: shutdown timed out after %g s (--shutdown-timeout) + %g s while %s; still running: ",
                  std::chrono::duration<double>(shutdown_timeout_).count(), std::chrono::duration<double>(grace_).count(),
                  to_string(step_.load(std::memory_order_acquire)));
    const std::string line = head + running + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    ::_exit(1);  // not exit(): static destructors would wait for the same stuck threads
  }

  std::chrono::milliseconds shutdown_timeout_;
  std::chrono::milliseconds grace_;
  const in_flight_calls& calls_;
  std::atomic<shutdown_step> step_{shutdown_step::closing_connections};
  std::mutex mutex_;
  std::condition_variable woken_;
  bool finished_ = false;
  std::thread thread_;  // last: starts once everything above is initialized
};

}  // namespace fastrt_h2
