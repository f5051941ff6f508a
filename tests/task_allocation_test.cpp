// Proves that coroutine frames come from the recycling allocator: this
// binary replaces the global operator new and counts every call.
// Sanitizers replace operator new themselves, so this runs without them.
// ctest-labels: no-sanitizer
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<long> global_news{0};
}

void* operator new(std::size_t size) {
  global_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  std::abort();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }


namespace {

fastrt::coro_task<int> leaf(int v) { co_return v; }
fastrt::coro_task<int> chain(int depth) {
  if (depth == 0) co_return co_await leaf(1);
  co_return 1 + co_await chain(depth - 1);
}
fastrt::coro_task<long> workload(int rounds) {
  long total = 0;
  for (int i = 0; i < rounds; ++i) total += co_await chain(50);
  co_return total;
}

// Hides the task from the optimiser so that clang cannot place the frame on
// our stack (heap allocation elision): warm-up and measurement must take the
// same allocation path.
template <class T>
void escape(T& object) {
  asm volatile("" : : "g"(&object) : "memory");
}

[[gnu::noinline]] bool run_workload(int rounds) {
  auto task = workload(rounds);
  escape(task);
  task.handle().resume();  // completes synchronously: every await is ready
  return task.done();
}

}  // namespace

TEST_CASE("steady-state coroutine frames never call global operator new") {
  // Warm-up fills the thread's free lists with every frame size used.
  REQUIRE(run_workload(10));

  // No Catch2 assertion inside the measured region: Catch allocates.
  bool all_done = true;
  const long before = global_news.load();
  for (int i = 0; i < 100; ++i) all_done = run_workload(100) && all_done;
  const long after = global_news.load();
  REQUIRE(all_done);
  REQUIRE(after == before);
}

TEST_CASE("the counter does see frames that bypass the allocator (the test can fail)") {
  // Frames above the largest size class go to operator new every time.
  auto big = []() -> fastrt::coro_task<int> {
    char buffer[8192];
    std::memset(buffer, 1, sizeof buffer);
    co_await std::suspend_never{};
    co_return buffer[100];
  };
  for (int i = 0; i < 2; ++i) {
    const long before = global_news.load();
    auto task = big();
    escape(task);
    task.handle().resume();
    const long after = global_news.load();
    REQUIRE(task.done());
    REQUIRE(after == before + 1);
  }
}
