// queue_bench — fastrt::spsc_queue and fastrt::mpsc_queue against their peers,
// in one binary and one run, with a ratio table printed from the same run.
//
//   spsc_tput/<impl>/<pop>      1 producer -> 1 consumer, items/s
//   spsc_rtt/<impl>             ping-pong over two queues, round trips/s (and ns)
//   mpsc_tput_<P>p1c/<impl>/<pop>  P producers -> 1 consumer, items/s (P = 1, 2)
//
// Peers: boost::lockfree::spsc_queue, moodycamel::ReaderWriterQueue (SPSC);
// boost::lockfree::queue, moodycamel::ConcurrentQueue (MPSC). Every queue holds
// uint64_t, is sized for kCapacity items up front and is used through calls
// that do not allocate (see bench/README.md for the exact calls).
//
// Threads: producers are pinned to the first allowed CPU, the consumer (the
// benchmark's own thread) to the second; with two producers both share the
// first CPU. Every iteration moves kItems items (or kRoundTrips round trips)
// and checks that the consumer saw each one (count and sum, or exact echo).
// Time is measured by hand from "go" to "last item consumed" (UseManualTime).
//
// After all benchmarks ran, main() prints the median of every benchmark over
// its repetitions and the fastrt / peer ratios. Run with e.g.
//   queue_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <concurrentqueue.h>
#include <readerwriterqueue.h>

#include "cpu_pinning.hpp"
#include "fastrt/mpsc_queue.hpp"
#include "fastrt/spsc_queue.hpp"

namespace {

constexpr std::size_t kCapacity = 65536;        // slots, for every queue
constexpr std::uint64_t kItems = 1u << 20;      // items per throughput iteration
constexpr std::uint64_t kRoundTrips = 1u << 13; // round trips per ping-pong iteration
constexpr std::size_t kBulk = 256;              // buffer for peers' array-based bulk pops

using bench::cpu_relax;

// ---- CPU pinning ------------------------------------------------------------

// The first two CPUs this process may run on; -1 when there is only one.
std::pair<int, int> pick_cpus() {
  const std::vector<int> cpus = bench::allowed_cpus();
  if (cpus.size() < 2) return {-1, -1};
  return {cpus[0], cpus[1]};
}
const std::pair<int, int> g_cpus = pick_cpus();
int producer_cpu() { return g_cpus.first; }
int consumer_cpu() { return g_cpus.second; }
bool pin_self(int cpu) { return bench::pin_this_thread(cpu); }

// Pins the benchmark thread for one benchmark run and restores its mask after.
class scoped_pin {
 public:
  explicit scoped_pin(int cpu) {
    CPU_ZERO(&saved_);
    saved_ok_ = pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0;
    pin_self(cpu);
  }
  scoped_pin(const scoped_pin&) = delete;
  scoped_pin& operator=(const scoped_pin&) = delete;
  ~scoped_pin() {
    if (saved_ok_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }

 private:
  cpu_set_t saved_;
  bool saved_ok_ = false;
};

using bench_clock = std::chrono::steady_clock;

// ---- Adapters: one producer handle and one consumer handle per queue --------
//
// producer::push(v) -> bool     one non-allocating push attempt
// consumer::pop(v)  -> bool     one pop attempt
// consumer::pop_bulk(fn) -> n   the queue's batch pop, where it has one

// fastrt's queues share one adapter: Queue is spsc_queue or mpsc_queue.
template <template <class> class Queue, fastrt::drain_pace Pace>
struct fastrt_adapter {
  using queue = Queue<std::uint64_t>;
  struct producer {
    explicit producer(queue& q) : q_(q) {}
    bool push(std::uint64_t v) { return q_.try_push(v); }
    queue& q_;
  };
  struct consumer {
    explicit consumer(queue& q) : q_(q) {}
    bool pop(std::uint64_t& v) {
      std::optional<std::uint64_t> item = q_.try_pop();
      if (!item) return false;
      v = *item;
      return true;
    }
    template <class Fn>
    std::size_t pop_bulk(Fn& fn) {
      return q_.drain([&fn](std::uint64_t&& v) { fn(v); }, std::numeric_limits<std::size_t>::max(),
                      Pace);
    }
    queue& q_;
  };
};
// try_pop and drain as a latency-first consumer uses them (the default pace);
// drain_gather: a throughput consumer that lets a streaming producer move on.
using fastrt_spsc = fastrt_adapter<fastrt::spsc_queue, fastrt::drain_pace::prompt>;
using fastrt_spsc_gather = fastrt_adapter<fastrt::spsc_queue, fastrt::drain_pace::gather>;
using fastrt_mpsc = fastrt_adapter<fastrt::mpsc_queue, fastrt::drain_pace::prompt>;
using fastrt_mpsc_gather = fastrt_adapter<fastrt::mpsc_queue, fastrt::drain_pace::gather>;

struct boost_spsc {
  using queue = boost::lockfree::spsc_queue<std::uint64_t>;  // run-time sized
  struct producer {
    explicit producer(queue& q) : q_(q) {}
    bool push(std::uint64_t v) { return q_.push(v); }
    queue& q_;
  };
  struct consumer {
    explicit consumer(queue& q) : q_(q) {}
    bool pop(std::uint64_t& v) { return q_.pop(v); }
    template <class Fn>
    std::size_t pop_bulk(Fn& fn) {
      return q_.consume_all([&fn](std::uint64_t v) { fn(v); });
    }
    queue& q_;
  };
};

struct moodycamel_rwq {
  using queue = moodycamel::ReaderWriterQueue<std::uint64_t>;
  struct producer {
    explicit producer(queue& q) : q_(q) {}
    bool push(std::uint64_t v) { return q_.try_enqueue(v); }
    queue& q_;
  };
  struct consumer {
    explicit consumer(queue& q) : q_(q) {}
    bool pop(std::uint64_t& v) { return q_.try_dequeue(v); }
    queue& q_;
  };
};

struct boost_queue {
  // Run-time sized: the constructor puts kCapacity nodes on the free list and
  // bounded_push only takes nodes from there, never from the allocator.
  using queue = boost::lockfree::queue<std::uint64_t>;
  struct producer {
    explicit producer(queue& q) : q_(q) {}
    bool push(std::uint64_t v) { return q_.bounded_push(v); }
    queue& q_;
  };
  struct consumer {
    explicit consumer(queue& q) : q_(q) {}
    bool pop(std::uint64_t& v) { return q_.pop(v); }
    queue& q_;
  };
};

// Total capacity kCapacity split evenly over P explicit producers (tokens):
// MAX_SUBQUEUE_SIZE caps each producer's sub-queue at kCapacity / P, and the
// constructor pre-allocates enough 32-item blocks for every producer to fill
// its sub-queue (+2 spare blocks each, for a sub-queue whose head is mid-block).
// Without the cap one producer running ahead can take every pre-allocated
// block, and the other producer's try_enqueue (which never allocates) then
// fails for good: blocks are never handed back to the shared pool.
template <int P>
struct cq_traits : moodycamel::ConcurrentQueueDefaultTraits {
  static const std::size_t MAX_SUBQUEUE_SIZE = kCapacity / P;
};

template <int P>
struct moodycamel_cq {
  using queue = moodycamel::ConcurrentQueue<std::uint64_t, cq_traits<P>>;
  static constexpr std::size_t constructor_size = kCapacity + 2 * P * queue::BLOCK_SIZE;
  struct producer {
    explicit producer(queue& q) : q_(q), token_(q) {}
    bool push(std::uint64_t v) { return q_.try_enqueue(token_, v); }
    queue& q_;
    moodycamel::ProducerToken token_;
  };
  struct consumer {
    explicit consumer(queue& q) : q_(q), token_(q) {}
    bool pop(std::uint64_t& v) { return q_.try_dequeue(token_, v); }
    template <class Fn>
    std::size_t pop_bulk(Fn& fn) {
      std::uint64_t buffer[kBulk];
      const std::size_t n = q_.try_dequeue_bulk(token_, buffer, kBulk);
      for (std::size_t i = 0; i < n; ++i) fn(buffer[i]);
      return n;
    }
    queue& q_;
    moodycamel::ConsumerToken token_;
  };
};

// ---- Throughput: P producers -> 1 consumer -----------------------------------

// Each queue gets heap memory of its own, 128-byte aligned and padded, so that
// no stack variable or other object (the benchmark's own counters, a
// std::thread's state) shares a cache line, or the 128-byte pair of lines
// that x86 prefetches together, with the queue's control words.
template <class Q>
struct isolated {
  explicit isolated(std::size_t n) : q(n) {}
  alignas(128) Q q;
  char pad[128];
};

// What to pass to the queue's constructor for kCapacity items in all.
template <class A>
constexpr std::size_t constructor_size() {
  if constexpr (requires { A::constructor_size; }) {
    return A::constructor_size;
  } else {
    return kCapacity;
  }
}

// Shared by the benchmark thread and its producers for one benchmark run.
struct alignas(128) run_control {
  // Bumped by the consumer to start an iteration; producers push their share
  // once per new value.
  alignas(128) std::atomic<std::uint64_t> go{0};
  alignas(128) std::atomic<bool> stop{false};
  // Failed push attempts (queue full), summed over producers and iterations.
  std::atomic<std::uint64_t> full{0};
};

template <class A>
void producer_main(typename A::queue& q, run_control& ctl, std::uint64_t first,
                   std::uint64_t count) {
  pin_self(producer_cpu());
  typename A::producer prod(q);
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t go;
    while ((go = ctl.go.load(std::memory_order_acquire)) == seen) {
      if (ctl.stop.load(std::memory_order_acquire)) return;
      std::this_thread::yield();  // lets a second producer on the same CPU run
    }
    seen = go;
    std::uint64_t full = 0;
    for (std::uint64_t v = first; v != first + count; ++v) {
      while (!prod.push(v)) {
        ++full;
        cpu_relax();
      }
    }
    ctl.full.fetch_add(full, std::memory_order_relaxed);
  }
}

enum class pop_kind { single, bulk };

template <class A, pop_kind Pop>
void throughput(benchmark::State& state, int producers) {
  scoped_pin pin(consumer_cpu());
  const auto holder = std::make_unique<isolated<typename A::queue>>(constructor_size<A>());
  typename A::queue& q = holder->q;
  const auto ctl_holder = std::make_unique<run_control>();
  run_control& ctl = *ctl_holder;
  const std::uint64_t per_producer = kItems / static_cast<std::uint64_t>(producers);
  const std::uint64_t total = per_producer * static_cast<std::uint64_t>(producers);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back(producer_main<A>, std::ref(q), std::ref(ctl),
                         1 + static_cast<std::uint64_t>(p) * per_producer, per_producer);
  }
  typename A::consumer cons(q);

  // Producers push 1..total between them: every item must arrive exactly once.
  const std::uint64_t expected_sum = total * (total + 1) / 2;
  std::uint64_t empty = 0;  // failed pop attempts (queue empty)
  auto pass = [&]() -> bool {
    ctl.go.fetch_add(1, std::memory_order_release);
    std::uint64_t n = 0;
    std::uint64_t sum = 0;
    if constexpr (Pop == pop_kind::bulk) {
      auto add = [&sum](std::uint64_t v) { sum += v; };
      while (n < total) {
        const std::size_t k = cons.pop_bulk(add);
        n += k;
        if (k == 0) {
          ++empty;
          cpu_relax();
        }
      }
    } else {
      while (n < total) {
        std::uint64_t v;
        if (cons.pop(v)) {
          sum += v;
          ++n;
        } else {
          ++empty;
          cpu_relax();
        }
      }
    }
    return n == total && sum == expected_sum;
  };

  // Untimed warm-up: faults in the ring / blocks / free list for every queue.
  bool ok = pass();
  empty = 0;
  ctl.full.store(0, std::memory_order_relaxed);
  for (auto _ : state) {
    if (!ok) break;
    const auto start = bench_clock::now();
    ok = pass();
    const auto stop = bench_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
  }
  ctl.stop.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  if (!ok) state.SkipWithError("items lost or duplicated");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * total));
  // How often a side found the queue full / empty, per item moved: tells
  // which side was the bottleneck (near 0 = that side never had to wait).
  const double items = static_cast<double>(state.iterations() * total);
  state.counters["full/item"] = static_cast<double>(ctl.full.load()) / items;
  state.counters["empty/item"] = static_cast<double>(empty) / items;
}

// ---- Round trip: ping-pong over two queues -----------------------------------

template <class A>
void round_trip(benchmark::State& state) {
  scoped_pin pin(consumer_cpu());
  const auto ping_holder = std::make_unique<isolated<typename A::queue>>(kCapacity);
  const auto pong_holder = std::make_unique<isolated<typename A::queue>>(kCapacity);
  typename A::queue& ping = ping_holder->q;
  typename A::queue& pong = pong_holder->q;
  // Echo: returns v + 1 for every v > 0; 0 stops it.
  std::thread echo([&ping, &pong] {
    pin_self(producer_cpu());
    typename A::consumer in(ping);
    typename A::producer out(pong);
    for (;;) {
      std::uint64_t v;
      while (!in.pop(v)) cpu_relax();
      if (v == 0) return;
      while (!out.push(v + 1)) cpu_relax();
    }
  });
  typename A::producer out(ping);
  typename A::consumer in(pong);
  auto pass = [&]() -> bool {
    bool ok = true;
    for (std::uint64_t i = 1; i <= kRoundTrips; ++i) {
      while (!out.push(i)) cpu_relax();
      std::uint64_t r;
      while (!in.pop(r)) cpu_relax();
      ok &= r == i + 1;
    }
    return ok;
  };

  bool ok = pass();  // untimed warm-up
  for (auto _ : state) {
    if (!ok) break;
    const auto start = bench_clock::now();
    ok = pass();
    const auto stop = bench_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
  }
  while (!out.push(0)) cpu_relax();
  echo.join();
  if (!ok) state.SkipWithError("wrong echo");
  // items/s here = round trips/s.
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRoundTrips));
}

// ---- Registration -------------------------------------------------------------

void add(const std::string& name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

template <class A, pop_kind Pop, int P>
void tput(benchmark::State& state) {
  throughput<A, Pop>(state, P);
}

void register_all() {
  add("spsc_tput/fastrt/try_pop", tput<fastrt_spsc, pop_kind::single, 1>);
  add("spsc_tput/fastrt/drain", tput<fastrt_spsc, pop_kind::bulk, 1>);
  add("spsc_tput/fastrt/drain_gather", tput<fastrt_spsc_gather, pop_kind::bulk, 1>);
  add("spsc_tput/boost_spsc/pop", tput<boost_spsc, pop_kind::single, 1>);
  add("spsc_tput/boost_spsc/consume_all", tput<boost_spsc, pop_kind::bulk, 1>);
  add("spsc_tput/rwq/try_dequeue", tput<moodycamel_rwq, pop_kind::single, 1>);

  add("spsc_rtt/fastrt", round_trip<fastrt_spsc>);
  add("spsc_rtt/boost_spsc", round_trip<boost_spsc>);
  add("spsc_rtt/rwq", round_trip<moodycamel_rwq>);

  add("mpsc_tput_2p1c/fastrt/try_pop", tput<fastrt_mpsc, pop_kind::single, 2>);
  add("mpsc_tput_2p1c/fastrt/drain", tput<fastrt_mpsc, pop_kind::bulk, 2>);
  add("mpsc_tput_2p1c/fastrt/drain_gather", tput<fastrt_mpsc_gather, pop_kind::bulk, 2>);
  add("mpsc_tput_2p1c/boost_queue/pop", tput<boost_queue, pop_kind::single, 2>);
  add("mpsc_tput_2p1c/cq/try_dequeue", tput<moodycamel_cq<2>, pop_kind::single, 2>);
  add("mpsc_tput_2p1c/cq/try_dequeue_bulk", tput<moodycamel_cq<2>, pop_kind::bulk, 2>);

  add("mpsc_tput_1p1c/fastrt/try_pop", tput<fastrt_mpsc, pop_kind::single, 1>);
  add("mpsc_tput_1p1c/fastrt/drain", tput<fastrt_mpsc, pop_kind::bulk, 1>);
  add("mpsc_tput_1p1c/fastrt/drain_gather", tput<fastrt_mpsc_gather, pop_kind::bulk, 1>);
  add("mpsc_tput_1p1c/boost_queue/pop", tput<boost_queue, pop_kind::single, 1>);
  add("mpsc_tput_1p1c/cq/try_dequeue", tput<moodycamel_cq<1>, pop_kind::single, 1>);
  add("mpsc_tput_1p1c/cq/try_dequeue_bulk", tput<moodycamel_cq<1>, pop_kind::bulk, 1>);
}

// ---- Summary: medians and fastrt / peer ratios from this very run -------------

// Console output as usual, plus every repetition's items/s kept per benchmark.
class collecting_reporter : public benchmark::ConsoleReporter {
 public:
  collecting_reporter() : benchmark::ConsoleReporter(OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      const auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates[run.run_name.function_name].push_back(it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, std::vector<double>> rates;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
}

class summary {
 public:
  explicit summary(const collecting_reporter& r) : r_(r) {}

  double rate(const std::string& name) const {
    const auto it = r_.rates.find(name);
    return it == r_.rates.end() ? 0 : median(it->second);
  }
  bool has(const std::string& name) const { return rate(name) > 0; }

  void throughput_table(const char* title, const std::string& prefix,
                        const std::vector<std::string>& impls) const {
    std::printf("\n%s (items/s, median of repetitions; min..max)\n\n", title);
    std::printf("| benchmark | Mitems/s | min..max |\n|---|---:|---:|\n");
    for (const auto& impl : impls) row(prefix + impl, 1e-6);
  }
  void rtt_table() const {
    std::printf("\nSPSC ping-pong round trip (ns per round trip, median; min..max)\n\n");
    std::printf("| benchmark | ns/round trip | min..max |\n|---|---:|---:|\n");
    for (const char* impl : {"fastrt", "boost_spsc", "rwq"}) {
      const std::string name = std::string("spsc_rtt/") + impl;
      const auto it = r_.rates.find(name);
      if (it == r_.rates.end()) continue;
      const auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
      std::printf("| %s | %.0f | %.0f..%.0f |\n", name.c_str(), 1e9 / median(it->second), 1e9 / *hi,
                  1e9 / *lo);
    }
  }

  // fastrt / peer of the median rates (items/s or round trips/s): > 1 = fastrt faster.
  double ratio(const std::string& fastrt, const std::string& peer) const {
    return has(fastrt) && has(peer) ? rate(fastrt) / rate(peer) : 0;
  }
  void ratio_header(const char* title) const {
    std::printf("\n%s — ratio of rates, fastrt / peer (> 1.00 = fastrt faster)\n\n", title);
    std::printf("| fastrt | peer | ratio |\n|---|---|---:|\n");
  }
  void ratio_row(const std::string& fastrt, const std::string& peer) const {
    if (!has(fastrt) || !has(peer)) return;
    std::printf("| %s | %s | %.2f |\n", fastrt.c_str(), peer.c_str(), ratio(fastrt, peer));
  }
  void target(const char* text, const std::string& fastrt, const std::string& peer,
              double at_least) const {
    if (!has(fastrt) || !has(peer)) return;
    const double x = ratio(fastrt, peer);
    std::printf("| %s | %.2f | %s |\n", text, x, x >= at_least ? "met" : "MISSED");
  }

 private:
  void row(const std::string& name, double scale) const {
    const auto it = r_.rates.find(name);
    if (it == r_.rates.end()) return;
    const auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
    std::printf("| %s | %.1f | %.1f..%.1f |\n", name.c_str(), median(it->second) * scale, *lo * scale,
                *hi * scale);
  }
  const collecting_reporter& r_;
};

void print_summary(const collecting_reporter& rep) {
  const summary s(rep);
  std::printf("\n==== queue_bench summary ====\n");
  if (consumer_cpu() >= 0) {
    std::printf("producer thread(s) pinned to CPU %d, consumer / ping side to CPU %d\n",
                producer_cpu(), consumer_cpu());
  } else {
    std::printf("fewer than 2 CPUs allowed: threads not pinned\n");
  }

  const std::string st = "spsc_tput/";
  s.throughput_table("SPSC throughput, 1 producer -> 1 consumer", st,
                     {"fastrt/try_pop", "fastrt/drain", "fastrt/drain_gather", "boost_spsc/pop",
                      "boost_spsc/consume_all", "rwq/try_dequeue"});
  s.rtt_table();
  for (const char* shape : {"2p1c", "1p1c"}) {
    const std::string mt = std::string("mpsc_tput_") + shape + "/";
    const std::string title = std::string("MPSC throughput, ") + shape;
    s.throughput_table(title.c_str(), mt,
                       {"fastrt/try_pop", "fastrt/drain", "fastrt/drain_gather", "boost_queue/pop",
                        "cq/try_dequeue", "cq/try_dequeue_bulk"});
  }

  s.ratio_header("SPSC throughput");
  for (const char* f : {"fastrt/try_pop", "fastrt/drain", "fastrt/drain_gather"}) {
    for (const char* p : {"rwq/try_dequeue", "boost_spsc/pop", "boost_spsc/consume_all"}) {
      s.ratio_row(st + f, st + p);
    }
  }
  s.ratio_header("SPSC round trip (round trips/s)");
  s.ratio_row("spsc_rtt/fastrt", "spsc_rtt/rwq");
  s.ratio_row("spsc_rtt/fastrt", "spsc_rtt/boost_spsc");
  for (const char* shape : {"2p1c", "1p1c"}) {
    const std::string mt = std::string("mpsc_tput_") + shape + "/";
    const std::string title = std::string("MPSC throughput ") + shape;
    s.ratio_header(title.c_str());
    for (const char* f : {"fastrt/try_pop", "fastrt/drain", "fastrt/drain_gather"}) {
      for (const char* p : {"cq/try_dequeue", "cq/try_dequeue_bulk", "boost_queue/pop"}) {
        s.ratio_row(mt + f, mt + p);
      }
    }
  }

  std::printf("\nTargets\n\n| target | ratio | status |\n|---|---:|---|\n");
  s.target("SPSC tput try_pop >= 1.0x rwq", st + "fastrt/try_pop", st + "rwq/try_dequeue", 1.0);
  s.target("SPSC tput drain >= 1.0x rwq", st + "fastrt/drain", st + "rwq/try_dequeue", 1.0);
  s.target("SPSC tput try_pop >= 2x boost pop", st + "fastrt/try_pop", st + "boost_spsc/pop", 2.0);
  s.target("SPSC tput drain >= 2x boost consume_all", st + "fastrt/drain",
           st + "boost_spsc/consume_all", 2.0);
  s.target("SPSC tput drain (gather) >= 1.0x rwq", st + "fastrt/drain_gather",
           st + "rwq/try_dequeue", 1.0);
  // "No slower than the fastest peer": fastrt's round-trip rate / the best peer's.
  const std::string best_rtt =
      s.rate("spsc_rtt/rwq") >= s.rate("spsc_rtt/boost_spsc") ? "spsc_rtt/rwq" : "spsc_rtt/boost_spsc";
  s.target("SPSC round trip >= fastest peer", "spsc_rtt/fastrt", best_rtt, 1.0);
  s.target("MPSC 2p1c try_pop >= 1.0x cq try_dequeue", "mpsc_tput_2p1c/fastrt/try_pop",
           "mpsc_tput_2p1c/cq/try_dequeue", 1.0);
  s.target("MPSC 2p1c drain >= 1.0x cq try_dequeue_bulk", "mpsc_tput_2p1c/fastrt/drain",
           "mpsc_tput_2p1c/cq/try_dequeue_bulk", 1.0);
  s.target("MPSC 2p1c drain (gather) >= 1.0x cq try_dequeue_bulk",
           "mpsc_tput_2p1c/fastrt/drain_gather", "mpsc_tput_2p1c/cq/try_dequeue_bulk", 1.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  collecting_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter);
  benchmark::Shutdown();
  return 0;
}
