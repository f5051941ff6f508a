// fastrt/spsc_queue.hpp — bounded single-producer single-consumer FIFO.
//
// A ring of capacity() slots (the requested size rounded up to a power of
// two) allocated once by the constructor: pushing and popping never allocate.
// A push constructs the element in its slot, a pop moves it out and destroys
// it, so T may be move-only and need not be default-constructible. Elements
// still queued when the queue is destroyed are destroyed then, once each.
//
// Thread-safety: one producer thread calls try_push/try_emplace, one consumer
// thread calls try_pop/drain (a role may pass to another thread if the
// hand-over synchronises, e.g. join or a mutex). size_approx, empty_approx and
// capacity may be called from any thread. Destruction needs both sides done.
//
// Capacity: capacity() elements fit, and try_push never overwrites one. A
// slot freed by try_pop is handed back to the producer lazily: try_pop
// publishes the freed slots once its position reaches a multiple of
// release_batch() (capacity()/4 clamped to [1, 64]) and whenever it takes the
// last element it knew of; drain publishes likewise and at the end of every
// call. So try_push may fail while up to release_batch() - 1 slots freed by
// try_pop are not yet published; once try_pop has returned nullopt or drain has returned,
// every slot freed so far is available. Queues of capacity <= 7 publish every
// slot at once. size_approx and empty_approx count freed slots as free.
//
// Visibility: an element is visible to the consumer as soon as try_push
// returns (the producer publishes its index per push): try_pop after that,
// ordered by any synchronisation, finds it.
//
// Cost: producer and consumer state sit on separate cache lines and each side
// keeps a private copy of the other side's index, re-reading the shared one
// only when its copy says full (push) or empty (pop). A push or pop is then a
// slot access plus one release store to its own line: no read-modify-write.
// Handing slots back per batch means a producer that runs into a full queue
// gets release_batch() slots at a time, far from the ones the consumer is
// reading, instead of one slot next to it (cache lines then change hands once
// per batch, not per element). drain() reads tail once per call and
// publishes once per release_batch() elements.
//
// drain(fn, limit, drain_pace::gather) trades latency for throughput (see
// drain_pace.hpp): when the previous drain took everything and fewer than a
// cache line of elements are published since, it first waits
// drain_gather_wait without reading the producer's lines.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "detail/ring_storage.hpp"
#include "detail/spin_wait.hpp"
#include "drain_pace.hpp"

namespace fastrt {

template <class T>
class spsc_queue {
  static_assert(std::is_nothrow_destructible_v<T>);

 public:
  using value_type = T;

  // Room for at least min_capacity elements (0 counts as 1).
  explicit spsc_queue(std::size_t min_capacity)
      : ring_(min_capacity),
        release_mask_(std::clamp<std::uint64_t>(ring_.capacity() / 4, 1, max_release_batch) - 1) {}
  spsc_queue(const spsc_queue&) = delete;
  spsc_queue& operator=(const spsc_queue&) = delete;
  ~spsc_queue() {
    const std::uint64_t tail = producer_.tail.load(std::memory_order_acquire);
    for (std::uint64_t pos = consumer_.head.load(std::memory_order_relaxed); pos != tail; ++pos) {
      ring_[pos].destroy();
    }
  }

  // Producer. Constructs T(args...) in the next slot; false when full, and
  // then nothing is constructed and the arguments are left untouched.
  template <class... Args>
    requires std::constructible_from<T, Args...>
  bool try_emplace(Args&&... args) {
    const std::uint64_t tail = producer_.tail.load(std::memory_order_relaxed);
    if (tail - producer_.head_cache == ring_.capacity()) {
      // acquire: the consumer destroyed the slot's previous element before it
      // published the `released` that frees the slot; we see that first.
      producer_.head_cache = consumer_.released.load(std::memory_order_acquire);
      if (tail - producer_.head_cache == ring_.capacity()) return false;
    }
    ring_[tail].construct(std::forward<Args>(args)...);
    // release: the element is complete before the consumer can see the slot.
    producer_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }
  // Producer. An rvalue is moved from only when the push succeeds, so a
  // failed push of a move-only value loses nothing.
  bool try_push(T&& value) { return try_emplace(std::move(value)); }
  bool try_push(const T& value)
    requires std::copy_constructible<T>
  {
    return try_emplace(value);
  }

  // Consumer. The oldest element, or nullopt when empty.
  std::optional<T> try_pop() {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    if (head == consumer_.tail_cache && !reload_tail(head)) return std::nullopt;
    auto& slot = ring_[head];
    std::optional<T> out(std::in_place, std::move(slot.get()));
    slot.destroy();
    // release: pairs with size_approx/empty_approx on other threads. The
    // producer does not read head: it reuses slots by `released`.
    consumer_.head.store(head + 1, std::memory_order_release);
    if (((head + 1) & release_mask_) == 0 || head + 1 == consumer_.tail_cache) release(head + 1);
    return out;
  }

  // Consumer. Calls fn(T&&) on up to `limit` elements, oldest first, and
  // returns how many: every element published when it last read the tail,
  // so 0 only when the queue was empty (or limit is 0). The slots are handed
  // back to the producer every release_batch() elements and at the end of
  // the call (so a slow fn can make the producer see "full" for up to a
  // batch). With drain_pace::gather the call may first wait
  // drain_gather_wait (see drain_pace.hpp). fn must not pop from this queue.
  template <class Fn>
    requires std::invocable<Fn&, T&&>
  std::size_t drain(Fn&& fn, std::size_t limit = std::numeric_limits<std::size_t>::max(),
                    drain_pace pace = drain_pace::prompt) {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    if (consumer_.tail_cache - head < limit) {
      reload_tail(head);
      if (pace == drain_pace::gather && consumer_.chase == chase_state::caught_up &&
          consumer_.tail_cache != head && consumer_.tail_cache - head < elements_per_line) {
        detail::pause_for(drain_gather_wait);  // reads nothing the producer writes
        reload_tail(head);
      }
    }
    const std::uint64_t count = std::min<std::uint64_t>(consumer_.tail_cache - head, limit);
    consumer_.chase = count != 0 && head + count == consumer_.tail_cache ? chase_state::caught_up
                                                                         : chase_state::behind;
    for (std::uint64_t pos = head; pos != head + count;) {
      auto& slot = ring_[pos];
      fn(std::move(slot.get()));
      slot.destroy();
      // A long run hands slots back per release_batch() too: releasing only
      // at the end would let the producer refill the whole ring at once and
      // then both sides would work on the same lines (the costly regime).
      if ((++pos & release_mask_) == 0 || pos == head + count) {
        consumer_.head.store(pos, std::memory_order_release);
        release(pos);
      }
    }
    return static_cast<std::size_t>(count);
  }

  // Any thread; exact only when neither side is active. Head is read first
  // (acquire), so the tail read after it is at least as new: never negative.
  std::size_t size_approx() const noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = producer_.tail.load(std::memory_order_acquire);
    return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, ring_.capacity()));
  }
  // Any thread. On the consumer thread `false` means try_pop will succeed.
  bool empty_approx() const noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_acquire);
    return producer_.tail.load(std::memory_order_acquire) == head;
  }
  std::size_t capacity() const noexcept { return ring_.capacity(); }
  // How many slots freed by try_pop the producer may not see yet, plus one:
  // capacity()/4 clamped to [1, max_release_batch] (a power of two).
  std::size_t release_batch() const noexcept { return static_cast<std::size_t>(release_mask_ + 1); }
  static constexpr std::size_t max_release_batch = 64;

 private:
  // Written by the producer only; head_cache is its private copy of released.
  struct alignas(detail::cache_line) producer_state {
    std::atomic<std::uint64_t> tail{0};
    std::uint64_t head_cache = 0;
  };
  // Whether the last drain took every element published (the consumer is
  // right behind the producer) or returned with elements left / none found.
  enum class chase_state : std::uint8_t { behind, caught_up };
  // Written by the consumer only. head is the exact next position (for
  // size_approx, empty_approx, the destructor); released is what the producer
  // reads, at most release_batch() - 1 behind head; tail_cache and chase are
  // the consumer's private copy of tail and its pace.
  struct alignas(detail::cache_line) consumer_state {
    std::atomic<std::uint64_t> head{0};
    std::atomic<std::uint64_t> released{0};
    std::uint64_t tail_cache = 0;
    chase_state chase = chase_state::behind;
  };
  // Elements sharing one cache line of the ring (at least 1).
  static constexpr std::uint64_t elements_per_line =
      std::max<std::size_t>(1, detail::cache_line / sizeof(detail::uninitialized<T>));

  // Consumer, when its copy of tail runs short: re-reads tail; false if the
  // queue is really empty.
  bool reload_tail(std::uint64_t head) {
    // acquire: pairs with the producer's release of tail: the elements
    // below it are fully constructed.
    consumer_.tail_cache = producer_.tail.load(std::memory_order_acquire);
    return head != consumer_.tail_cache;
  }
  void release(std::uint64_t head) {
    // release: the slots below head are destroyed before the producer may reuse them.
    consumer_.released.store(head, std::memory_order_release);
  }

  // Read-only after construction: shared by both sides without traffic.
  alignas(detail::cache_line) detail::ring_storage<detail::uninitialized<T>> ring_;
  std::uint64_t release_mask_;  // release_batch() - 1, on the ring's line
  producer_state producer_;
  consumer_state consumer_;
};

}  // namespace fastrt
