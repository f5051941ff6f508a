// fastrt/python/loop_wakeup.hpp — wakes a worker's asyncio loop that sleeps
// in its selector: an eventfd the loop watches (loop.add_reader), written by
// a producer only when the loop said it sleeps, so once per batch of jobs
// and never once per job.
//
//   detail::loop_wakeup wake;
//   wake.open();                          // the loop's thread, before it sleeps first
//   // producer, after a push:            wake.notify();
//   // loop, when its inbox looks empty:  if (!wake.sleep_unless(has_work)) run again;
//   // loop, in its reader callback:      wake.consume();
//   // the fd is closed by the destructor, once no producer is left
//
// Why no wake-up is lost (the protocol of wait_strategy.hpp, with an
// eventfd for the futex): the loop does
//     L1 RMW sleeping = true (acq_rel)   L2 has_work()?   L3 epoll_wait
// and a producer, after its push S, does
//     P1 RMW sleeping = false (acq_rel), reading s   P2 if s: write(fd).
// L1 and P1 are read-modify-writes of one word. If P1 comes first, L1 reads
// its value (or a later one in its release sequence), so S happens-before
// L2 and has_work() sees the push. If L1 comes first, P1 reads true and
// writes the fd, which L3 sees (an eventfd stays readable until read). Only
// the first producer after L1 reads true: one write per sleep. A producer
// that finds the flag false writes nothing, and the fd may not even be open
// yet: the flag only becomes true after open() (L1 releases it).
//
// Thread-safety: notify() from any thread; open/sleep_unless/consume on the
// loop's thread. Cost: notify() = one RMW on this object's line,
// plus a write(2) only when the loop sleeps.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "../error.hpp"
#include "../result.hpp"

namespace fastrt::python::detail {

class loop_wakeup {
 public:
  loop_wakeup() noexcept = default;
  loop_wakeup(const loop_wakeup&) = delete;
  loop_wakeup& operator=(const loop_wakeup&) = delete;
  // After every producer is done (the worker's thread is joined): a
  // producer that read `sleeping` may still be about to write.
  ~loop_wakeup() {
    if (fd_ >= 0) ::close(fd_);
  }

  result<void> open() {
    if (fd_ >= 0) return {};
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return error(std::errc(errno), "eventfd for a worker's event loop");
    fd_ = fd;
    return {};
  }
  int fd() const noexcept { return fd_; }

  // A producer, after making has_work() true.
  void notify() noexcept {
    // An RMW, not a load: see the protocol above.
    if (sleeping_.exchange(false, std::memory_order_acq_rel)) {
      writes_.fetch_add(1, std::memory_order_relaxed);  // before the write: counted once the loop runs
      const std::uint64_t one = 1;
      ssize_t written;
      do written = ::write(fd_, &one, sizeof one);  // EAGAIN only at a counter near 2^64: it is readable then
      while (written < 0 && errno == EINTR);
    }
  }

  // The loop, with nothing left to do: announces that it sleeps, unless
  // has_work() says otherwise after the announcement (false: run again).
  template <class HasWork>
  bool sleep_unless(HasWork&& has_work) noexcept {
    sleeping_.exchange(true, std::memory_order_acq_rel);
    if (!has_work()) return true;
    // Awake after all. A producer may have cleared the flag and written the
    // fd meanwhile: the reader then runs once more for nothing.
    sleeping_.exchange(false, std::memory_order_acq_rel);
    return false;
  }

  // The loop's reader callback: makes the fd unreadable again.
  void consume() noexcept {
    std::uint64_t count;
    while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
  }

  // How many times notify() wrote the fd (for tests: once per batch).
  std::uint64_t writes() const noexcept { return writes_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<bool> sleeping_{false};
  std::atomic<std::uint64_t> writes_{0};
  int fd_ = -1;
};

}  // namespace fastrt::python::detail
