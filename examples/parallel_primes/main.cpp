// parallel_primes — the core layer at work: a coroutine fans a CPU-bound job
// out over a thread_pool with when_all, checks the answer against one thread,
// and reports the speed-up. Built with -fno-exceptions -fno-rtti in the
// noexcept preset; bad arguments give a one-line error and exit code 2.
//
//   parallel_primes [--limit N] [--chunks K] [--threads T]
#include <fastrt/result.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/thread_pool.hpp>
#include <fastrt/when_all.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct options {
  long limit = 5'000'000;
  long chunks = 64;
  long threads = static_cast<long>(std::thread::hardware_concurrency());
};

fastrt::result<long> parse_positive(std::string_view flag, const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0)
    return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a positive integer, got '" + text + "'");
  return value;
}

fastrt::result<options> parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help") {
      std::puts("usage: parallel_primes [--limit N] [--chunks K] [--threads T]");
      std::exit(0);
    }
    long* target = flag == "--limit" ? &o.limit : flag == "--chunks" ? &o.chunks : flag == "--threads" ? &o.threads : nullptr;
    if (!target) return fastrt::error(std::errc::invalid_argument, "unknown option " + std::string(flag));
    if (i + 1 == argc) return fastrt::error(std::errc::invalid_argument, std::string(flag) + " needs a value");
    *target = FASTRT_TRY(parse_positive(flag, argv[++i]));
  }
  return o;
}

bool is_prime(long n) {
  if (n < 2) return false;
  for (long d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

long count_primes(long from, long to) {
  long count = 0;
  for (long n = from; n < to; ++n) count += is_prime(n);
  return count;
}

fastrt::coro_task<long> count_on_pool(fastrt::thread_pool& pool, long from, long to) {
  co_await pool.schedule();
  co_return count_primes(from, to);
}

fastrt::coro_task<long> count_parallel(fastrt::thread_pool& pool, const options& o) {
  std::vector<fastrt::coro_task<long>> parts;
  const long step = (o.limit + o.chunks - 1) / o.chunks;
  for (long from = 0; from < o.limit; from += step) parts.push_back(count_on_pool(pool, from, std::min(o.limit, from + step)));
  std::vector<long> counts = co_await fastrt::when_all(std::move(parts));
  co_return std::accumulate(counts.begin(), counts.end(), 0L);
}

template <class F>
double seconds(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "parallel_primes: %s (try --help)\n", parsed.error().message().data());
    return 2;
  }
  const options o = *parsed;

  long serial = 0, parallel = 0;
  const double serial_s = seconds([&] { serial = count_primes(0, o.limit); });
  fastrt::thread_pool pool(static_cast<std::size_t>(o.threads));
  const double parallel_s = seconds([&] { parallel = fastrt::sync_wait(count_parallel(pool, o)); });

  std::printf("primes below %ld: %ld\n", o.limit, parallel);
  std::printf("1 thread: %.3f s, %ld threads x %ld chunks: %.3f s, speed-up %.2fx\n", serial_s, o.threads, o.chunks,
              parallel_s, serial_s / parallel_s);
  if (serial != parallel) {
    std::fprintf(stderr, "parallel_primes: mismatch: serial %ld, parallel %ld\n", serial, parallel);
    return 1;
  }
  return 0;
}
