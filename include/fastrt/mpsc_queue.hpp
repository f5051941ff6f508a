// fastrt/mpsc_queue.hpp — bounded multi-producer single-consumer FIFO.
//
// A ring of capacity() slots (the requested size rounded up to a power of
// two) allocated once by the constructor: pushing and popping never allocate.
// A push constructs the element in its slot, a pop moves it out and destroys
// it, so T may be move-only and need not be default-constructible. Elements
// still queued when the queue is destroyed are destroyed then, once each.
//
// Order: elements pushed by one producer are popped in that producer's order;
// pushes from different producers interleave in the order they claimed slots.
//
// Thread-safety: any number of threads may call try_push/try_emplace at once;
// one consumer thread calls try_pop/drain (the role may pass to another thread
// if the hand-over synchronises). size_approx, empty_approx and capacity may
// be called from any thread. Destruction needs every push to have returned.
//
// Cost: a push is lock-free: one compare-exchange on the shared tail to claim
// a position (repeated only when another producer claimed it first), then a
// release store into the slot's sequence word. Producers keep a shared copy of
// the consumer's head and re-read the real one only when that copy says full.
// The consumer never reads tail: the slot's sequence word says whether the
// next element is there, so a pop reads and writes only the slot and the
// consumer's own line; drain() publishes the head once per 64 elements.
//
// drain(fn, limit, drain_pace::gather) trades latency for throughput (see
// drain_pace.hpp): when the previous drain stopped at an unpublished slot and
// the next slot is published but the one a cache line further is not, it
// first waits drain_gather_wait, reading nothing the producers write.
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
class mpsc_queue {
  static_assert(std::is_nothrow_destructible_v<T>);

 public:
  using value_type = T;

  // Room for at least min_capacity elements (0 counts as 1).
  explicit mpsc_queue(std::size_t min_capacity) : ring_(min_capacity) {}
  mpsc_queue(const mpsc_queue&) = delete;
  mpsc_queue& operator=(const mpsc_queue&) = delete;
  ~mpsc_queue() {
    const std::uint64_t tail = producers_.tail.load(std::memory_order_acquire);
    for (std::uint64_t pos = consumer_.head.load(std::memory_order_relaxed); pos != tail; ++pos) {
      ring_[pos].value.destroy();
    }
  }

  // Any producer. Constructs T(args...) in a claimed slot; false when full,
  // and then nothing is constructed and the arguments are left untouched.
  template <class... Args>
    requires std::constructible_from<T, Args...>
  bool try_emplace(Args&&... args) {
    const std::uint64_t capacity = ring_.capacity();
    // head_cache before tail: the tail read then cannot be older than the
    // head it is compared with, so `pos - head` never underflows.
    std::uint64_t head = producers_.head_cache.load(std::memory_order_acquire);
    std::uint64_t pos = producers_.tail.load(std::memory_order_relaxed);
    for (;;) {
      if (pos - head >= capacity) {
        // acquire: the consumer destroyed every element below head before
        // publishing it, so the slot we are about to claim is free.
        head = consumer_.head.load(std::memory_order_acquire);
        pos = producers_.tail.load(std::memory_order_relaxed);
        if (pos - head >= capacity) return false;
        // release: passes that guarantee on to producers reading the cache.
        producers_.head_cache.store(head, std::memory_order_release);
      }
      // relaxed: the claim only has to be unique; the element is published
      // by the slot's sequence word, not by tail. On failure pos is reloaded.
      if (producers_.tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed,
                                                std::memory_order_relaxed)) {
        break;
      }
    }
    slot& s = ring_[pos];
    s.value.construct(std::forward<Args>(args)...);
    // release: the element is complete before the consumer sees pos + 1.
    s.sequence.store(pos + 1, std::memory_order_release);
    return true;
  }
  // Any producer. An rvalue is moved from only when the push succeeds.
  bool try_push(T&& value) { return try_emplace(std::move(value)); }
  bool try_push(const T& value)
    requires std::copy_constructible<T>
  {
    return try_emplace(value);
  }

  // Consumer. The oldest published element, or nullopt. A slot that a
  // producer has claimed but not yet filled stops the consumer there, even if
  // later slots are already published: nothing is skipped or read early.
  std::optional<T> try_pop() {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    slot& s = ring_[head];
    if (!published(s, head)) return std::nullopt;
    std::optional<T> out(std::in_place, std::move(s.value.get()));
    s.value.destroy();
    // release: the slot is destroyed before a producer may claim it again.
    consumer_.head.store(head + 1, std::memory_order_release);
    return out;
  }

  // Consumer. Calls fn(T&&) on up to `limit` published elements, oldest
  // first, stopping at the first unpublished slot; returns how many. The slots
  // are handed back to the producers every drain_publish_batch elements and
  // at the end of the call, so a slow fn can make producers see "full" for up
  // to a batch. With drain_pace::gather the call may first wait
  // drain_gather_wait (see drain_pace.hpp). fn must not pop from this queue.
  template <class Fn>
    requires std::invocable<Fn&, T&&>
  std::size_t drain(Fn&& fn, std::size_t limit = std::numeric_limits<std::size_t>::max(),
                    drain_pace pace = drain_pace::prompt) {
    const std::uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    const std::uint64_t max = std::min<std::uint64_t>(limit, ring_.capacity());
    if (pace == drain_pace::gather && consumer_.chase == chase_state::caught_up && max != 0 &&
        published(ring_[head], head) && !published(ring_[head + last_on_line], head + last_on_line)) {
      detail::pause_for(drain_gather_wait);  // reads nothing the producers write
    }
    std::uint64_t pos = head;
    for (; pos != head + max; ++pos) {
      slot& s = ring_[pos];
      if (!published(s, pos)) break;
      fn(std::move(s.value.get()));
      s.value.destroy();
      // A long run hands slots back every drain_publish_batch elements:
      // releasing only at the end lets the producers refill the whole ring at
      // once, and then everybody works on the same lines (the costly regime).
      // release: the slots are destroyed before a producer may claim them.
      if (((pos + 1) & (drain_publish_batch - 1)) == 0) {
        consumer_.head.store(pos + 1, std::memory_order_release);
      }
    }
    if (pos != head) consumer_.head.store(pos, std::memory_order_release);
    // Caught up: elements were taken and the run ended at an unpublished slot.
    consumer_.chase = pos != head && pos != head + max ? chase_state::caught_up : chase_state::behind;
    return static_cast<std::size_t>(pos - head);
  }

  // Any thread; counts claimed slots too, exact only when nobody is active.
  // Head is read first (acquire), so the tail read after it is at least as
  // new: never negative.
  std::size_t size_approx() const noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = producers_.tail.load(std::memory_order_relaxed);
    return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, ring_.capacity()));
  }
  // Any thread. True when the next element to pop is not yet published. On
  // the consumer thread `false` means try_pop will succeed.
  bool empty_approx() const noexcept {
    const std::uint64_t head = consumer_.head.load(std::memory_order_acquire);
    return !published(ring_[head], head);
  }
  std::size_t capacity() const noexcept { return ring_.capacity(); }
  static constexpr std::uint64_t drain_publish_batch = 64;  // a power of two

 private:
  // sequence == pos + 1 once the element for position pos is constructed.
  // Every other value (0 initially, or the previous lap's pos + 1 - capacity)
  // means "not yet": slot reuse is gated by head, not by this word, so the
  // consumer never has to write it.
  struct slot {
    std::atomic<std::uint64_t> sequence{0};
    detail::uninitialized<T> value;
  };

  // acquire: pairs with the producer's release store after construction.
  static bool published(const slot& s, std::uint64_t pos) noexcept {
    return s.sequence.load(std::memory_order_acquire) == pos + 1;
  }

  // Written by producers: tail by every push, head_cache only when a push
  // found the queue apparently full. Together, so a push touches one line.
  struct alignas(detail::cache_line) producer_state {
    std::atomic<std::uint64_t> tail{0};
    std::atomic<std::uint64_t> head_cache{0};
  };
  // Whether the last drain took every published element (the consumer is
  // right behind the producers) or returned with elements left / none found.
  enum class chase_state : std::uint8_t { behind, caught_up };
  // Written by the consumer only; producers read head when their cache says
  // full. chase is the consumer's private record of its pace.
  struct alignas(detail::cache_line) consumer_state {
    std::atomic<std::uint64_t> head{0};
    chase_state chase = chase_state::behind;
  };
  // Distance from a slot to the last slot of a cache line's worth (0 when a
  // slot fills a line).
  static constexpr std::uint64_t last_on_line =
      std::max<std::size_t>(1, detail::cache_line / sizeof(slot)) - 1;

  // Read-only after construction: shared by all threads without traffic.
  alignas(detail::cache_line) detail::ring_storage<slot> ring_;
  producer_state producers_;
  consumer_state consumer_;
};

}  // namespace fastrt
