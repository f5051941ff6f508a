// tests/support/death.hpp — run a callable in a child process and report how
// it ended, so tests can assert that misuse terminates with a clear message.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fastrt::test {

struct death_report {
  bool aborted = false;  // killed by SIGABRT (std::abort / std::terminate)
  std::string stderr_text;
};

template <class F>
death_report run_in_child(F&& f) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) std::abort();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The test framework's SIGABRT handler (Catch2 installs one) must not run
    // in the child: it is not async-signal-safe, which ThreadSanitizer reports
    // and turns into a normal exit, hiding the abort we are checking for.
    std::signal(SIGABRT, SIG_DFL);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    f();
    std::_Exit(0);
  }
  ::close(pipe_fds[1]);
  death_report report;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) report.stderr_text.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  report.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return report;
}

}  // namespace fastrt::test
