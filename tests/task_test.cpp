#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/with_stop_token.hpp>
#include <pthread.h>

#include <catch2/catch.hpp>
#include <memory>
#include <stop_token>
#include <string>

using fastrt::coro_task;
using fastrt::detail::frame_allocator;

namespace {

coro_task<int> value_of(int v) { co_return v; }
coro_task<> nothing() { co_return; }

coro_task<long> sum_sequential(long count) {
  long total = 0;
  for (long i = 0; i < count; ++i) total += co_await value_of(1);
  co_return total;
}

// Runs `f` on a thread whose whole stack is `bytes` long.
template <class F>
void run_on_small_stack(std::size_t bytes, F f) {
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, bytes) == 0);
  pthread_t thread;
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<F*>(arg))();
    return nullptr;
  };
  REQUIRE(pthread_create(&thread, &attr, trampoline, &f) == 0);
  REQUIRE(pthread_join(thread, nullptr) == 0);
  pthread_attr_destroy(&attr);
}

// A task that suspends and is never resumed: it waits for a continuation
// that nobody provides, like a read on a connection that never answers.
struct never_resumes {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

struct destruction_counter {
  int* count;
  explicit destruction_counter(int* c) : count(c) {}
  destruction_counter(const destruction_counter&) = delete;
  ~destruction_counter() { ++*count; }
};

coro_task<int> leaf_that_hangs(int* destroyed) {
  destruction_counter guard(destroyed);
  co_await never_resumes{};
  co_return 1;
}
coro_task<int> middle(int* destroyed, int depth) {
  destruction_counter guard(destroyed);
  if (depth == 0) co_return co_await leaf_that_hangs(destroyed);
  co_return co_await middle(destroyed, depth - 1);
}

// Starts `task` from a plain (non-coroutine) context without awaiting it to
// the end, as a scheduler would.
template <class T>
void start(coro_task<T>& task) {
  task.handle().resume();
}

}  // namespace

TEST_CASE("a task is lazy: nothing runs until it is awaited") {
  bool ran = false;
  auto make = [&]() -> coro_task<int> {
    ran = true;
    co_return 3;
  };
  auto task = make();
  REQUIRE_FALSE(ran);
  REQUIRE(fastrt::sync_wait(std::move(task)) == 3);
  REQUIRE(ran);
}

TEST_CASE("tasks return values, move-only values and void") {
  REQUIRE(fastrt::sync_wait(value_of(42)) == 42);
  auto make_ptr = []() -> coro_task<std::unique_ptr<std::string>> {
    co_return std::make_unique<std::string>("moved");
  };
  REQUIRE(*fastrt::sync_wait(make_ptr()) == "moved");
  fastrt::sync_wait(nothing());
  auto nested = []() -> coro_task<int> { co_return co_await value_of(1) + co_await value_of(2); };
  REQUIRE(fastrt::sync_wait(nested()) == 3);
}

TEST_CASE("tasks are move-only and moving keeps the frame") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<coro_task<int>>);
  auto a = value_of(5);
  auto b = std::move(a);
  REQUIRE_FALSE(a.valid());
  REQUIRE(b.valid());
  REQUIRE(fastrt::sync_wait(std::move(b)) == 5);
}

TEST_CASE("10 million sequential awaits run on a 256 KiB stack") {
  long total = 0;
  run_on_small_stack(256 * 1024, [&] { total = fastrt::sync_wait(sum_sequential(10'000'000)); });
  REQUIRE(total == 10'000'000);
}

TEST_CASE("destroying a never-started task frees its frame") {
  const auto live_before = frame_allocator::live_blocks_on_this_thread();
  int destroyed = 0;
  {
    auto task = middle(&destroyed, 3);
    REQUIRE(task.valid());
  }
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live_before);
  REQUIRE(destroyed == 0);  // the body never ran, so no local was constructed
}

TEST_CASE("destroying a suspended task frees its whole chain") {
  const auto live_before = frame_allocator::live_blocks_on_this_thread();
  int destroyed = 0;
  {
    auto task = middle(&destroyed, 10);
    start(task);
    // 11 middles and one leaf are alive, suspended at the leaf. (Clang may
    // place some frames inside their parent's frame, so frames are counted
    // through their locals' destructors rather than allocations.)
    REQUIRE(frame_allocator::live_blocks_on_this_thread() > live_before);
    REQUIRE(destroyed == 0);
    REQUIRE_FALSE(task.done());
  }
  REQUIRE(destroyed == 12);
  REQUIRE(frame_allocator::live_blocks_on_this_thread() == live_before);
}

TEST_CASE("a task sees the stop token of whoever started it") {
  std::stop_source source;
  auto inner = []() -> coro_task<bool> {
    auto token = co_await fastrt::this_task::stop_token();
    co_return token.stop_requested();
  };
  auto outer = [&]() -> coro_task<bool> { co_return co_await inner(); };

  source.request_stop();
  REQUIRE(fastrt::sync_wait(fastrt::with_stop_token(outer(), source.get_token())));

  REQUIRE_FALSE(fastrt::sync_wait(inner()));  // no token: never stopped
}
