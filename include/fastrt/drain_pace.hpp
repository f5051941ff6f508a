// fastrt/drain_pace.hpp — how a queue's drain() meets a producer it has
// caught up with: at once (latency first) or after a short wait (throughput).
//
// Why a wait helps: a consumer that keeps up with a streaming producer reads
// the cache line the producer is writing every few elements, and every such
// read costs the producer a line transfer on its next push. On the 2-vCPU
// machine of bench/README.md a draining consumer that chases the producer
// moves 5x fewer elements per second than one that stays a few hundred
// elements behind. drain_pace::gather lets the producer move on: when the
// previous drain took everything and little has been published since, the
// call first waits drain_gather_wait without reading anything the producer
// writes (no polling: polling is the cost), then takes all it finds.
//
// Thread-safety: constants only. Cost of gather: up to drain_gather_wait of
// the consumer's time per call while it chases a producer, none otherwise
// (the first drain after one that found the queue empty never waits, so a
// lone element after a quiet spell is taken at once).
#pragma once

#include <chrono>
#include <cstdint>

namespace fastrt {

enum class drain_pace : std::uint8_t {
  prompt,  // take what is published now: lowest latency (the default)
  gather,  // while chasing a streaming producer, wait drain_gather_wait first
};

// About the time a producer needs to fill a few hundred slots; short next to
// any work an element stands for, long next to a cache-line transfer (~0.2 us).
inline constexpr std::chrono::nanoseconds drain_gather_wait{1000};

}  // namespace fastrt
