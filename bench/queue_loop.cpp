// queue_loop — the SPSC comparison outside Google Benchmark: a plain
// two-thread loop, producer and consumer pinned to different CPUs, N uint64_t
// items through a ring of S slots, every queue in the same run, best of R runs
// (and the median), then the fastrt / peer ratios.
//
//   queue_loop [--items N] [--slots S] [--runs R]     defaults 10000000 65536 3
//
// Queues: fastrt::spsc_queue (try_pop, drain, and drain with
// drain_pace::gather), moodycamel::ReaderWriterQueue
// (try_dequeue), boost::lockfree::spsc_queue (pop). Runs are interleaved
// (queue A run 1, queue B run 1, ..., queue A run 2, ...) so a noisy moment
// hits every queue alike. Each run checks count and sum of 0..N-1 (every item
// exactly once) and order (each item equals the previous + 1); a wrong run
// exits 1. A failed push or pop spins with one `pause`, the same for all.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue.h>

#include "cpu_pinning.hpp"
#include "fastrt/spsc_queue.hpp"

namespace {

using bench::allowed_cpus;
using bench::cpu_relax;
using bench::pin_this_thread;

struct config {
  std::uint64_t items = 10'000'000;
  std::size_t slots = 65536;
  int runs = 3;
  int producer_cpu = -1;
  int consumer_cpu = -1;
};

// One run: a fresh queue, a pinned producer thread, the consumer on this
// thread (pinned too). Returns seconds from "go" to the last item consumed.
// Push(queue&, v) -> bool; Consume(queue&, on_item) -> items consumed.
template <class Queue, class Push, class Consume>
double run_once(const config& cfg, Push push, Consume consume) {
  auto queue = std::make_unique<Queue>(cfg.slots);
  std::atomic<bool> go{false};
  std::thread producer([&] {
    pin_this_thread(cfg.producer_cpu);
    while (!go.load(std::memory_order_acquire)) cpu_relax();
    for (std::uint64_t i = 0; i < cfg.items; ++i) {
      while (!push(*queue, i)) cpu_relax();
    }
  });
  pin_this_thread(cfg.consumer_cpu);
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  std::uint64_t disorder = 0;
  std::uint64_t expected = 0;
  auto on_item = [&](std::uint64_t v) {
    disorder += v != expected;
    expected = v + 1;
    sum += v;
    ++count;
  };
  const auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  while (count < cfg.items) {
    if (consume(*queue, on_item) == 0) cpu_relax();
  }
  const auto stop = std::chrono::steady_clock::now();
  producer.join();
  const std::uint64_t n = cfg.items;
  if (count != n || disorder != 0 || sum != n * (n - 1) / 2) {
    std::fprintf(stderr, "queue_loop: wrong result: count %llu, out of order %llu\n",
                 static_cast<unsigned long long>(count), static_cast<unsigned long long>(disorder));
    std::exit(1);
  }
  return std::chrono::duration<double>(stop - start).count();
}

struct contender {
  std::string name;
  std::function<double(const config&)> run;
  std::vector<double> mitems_per_s;
  double best() const { return *std::max_element(mitems_per_s.begin(), mitems_per_s.end()); }
  double median() const {
    std::vector<double> v = mitems_per_s;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
};

using fastrt_queue = fastrt::spsc_queue<std::uint64_t>;
using rwq_queue = moodycamel::ReaderWriterQueue<std::uint64_t>;
using boost_queue = boost::lockfree::spsc_queue<std::uint64_t>;

std::vector<contender> contenders() {
  auto fastrt_push = [](fastrt_queue& q, std::uint64_t v) { return q.try_push(v); };
  std::vector<contender> all;
  all.push_back({"fastrt try_pop", [=](const config& c) {
                   return run_once<fastrt_queue>(c, fastrt_push, [](fastrt_queue& q, auto& on_item) {
                     std::optional<std::uint64_t> item = q.try_pop();
                     if (!item) return std::size_t{0};
                     on_item(*item);
                     return std::size_t{1};
                   });
                 }, {}});
  auto drain_at = [=](fastrt::drain_pace pace) {
    return [=](const config& c) {
      return run_once<fastrt_queue>(c, fastrt_push, [pace](fastrt_queue& q, auto& on_item) {
        return q.drain([&](std::uint64_t&& v) { on_item(v); }, std::numeric_limits<std::size_t>::max(), pace);
      });
    };
  };
  all.push_back({"fastrt drain", drain_at(fastrt::drain_pace::prompt), {}});
  all.push_back({"fastrt drain gather", drain_at(fastrt::drain_pace::gather), {}});
  // Peers pop into a reference and return bool; one adapter for both.
  auto one_by_one = [](auto pop) {
    return [pop](auto& q, auto& on_item) {
      std::uint64_t v;
      if (!pop(q, v)) return std::size_t{0};
      on_item(v);
      return std::size_t{1};
    };
  };
  all.push_back({"RWQ try_dequeue", [=](const config& c) {
                   return run_once<rwq_queue>(
                       c, [](rwq_queue& q, std::uint64_t v) { return q.try_enqueue(v); },
                       one_by_one([](rwq_queue& q, std::uint64_t& v) { return q.try_dequeue(v); }));
                 }, {}});
  all.push_back({"boost pop", [=](const config& c) {
                   return run_once<boost_queue>(
                       c, [](boost_queue& q, std::uint64_t v) { return q.push(v); },
                       one_by_one([](boost_queue& q, std::uint64_t& v) { return q.pop(v); }));
                 }, {}});
  return all;
}

bool parse(int argc, char** argv, config& cfg) {
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--items") == 0 && has_value) {
      cfg.items = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--slots") == 0 && has_value) {
      cfg.slots = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--runs") == 0 && has_value) {
      cfg.runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: queue_loop [--items N] [--slots S] [--runs R]\n");
      return false;
    }
  }
  return cfg.items > 0 && cfg.slots > 0 && cfg.runs > 0;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg;
  if (!parse(argc, argv, cfg)) return 2;
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.size() >= 2) {
    cfg.producer_cpu = cpus[0];
    cfg.consumer_cpu = cpus[1];
  }
  std::printf("queue_loop: %llu items, %zu slots, best of %d runs; producer on CPU %d, consumer on CPU %d\n",
              static_cast<unsigned long long>(cfg.items), cfg.slots, cfg.runs, cfg.producer_cpu,
              cfg.consumer_cpu);

  std::vector<contender> all = contenders();
  for (int run = 0; run < cfg.runs; ++run) {
    for (contender& c : all) {
      const double seconds = c.run(cfg);
      c.mitems_per_s.push_back(static_cast<double>(cfg.items) / seconds / 1e6);
    }
  }

  std::printf("\n%-20s %10s %10s   runs (Mitems/s)\n", "queue", "best", "median");
  for (const contender& c : all) {
    std::printf("%-20s %10.1f %10.1f  ", c.name.c_str(), c.best(), c.median());
    for (double r : c.mitems_per_s) std::printf(" %.1f", r);
    std::printf("\n");
  }
  const contender& pop = all[0];
  const contender& drain = all[1];
  const contender& gather = all[2];
  const contender& rwq = all[3];
  const contender& boost = all[4];
  std::printf("\nratios fastrt / peer (best of %d; median in parentheses)\n", cfg.runs);
  auto ratio = [](const char* what, const contender& a, const contender& b) {
    std::printf("  %-34s %5.2f (%5.2f)\n", what, a.best() / b.best(), a.median() / b.median());
  };
  ratio("try_pop / RWQ try_dequeue", pop, rwq);
  ratio("try_pop / boost pop", pop, boost);
  ratio("drain / RWQ try_dequeue", drain, rwq);
  ratio("drain / boost pop", drain, boost);
  ratio("drain gather / RWQ try_dequeue", gather, rwq);
  ratio("drain gather / boost pop", gather, boost);
  return 0;
}
