// fastrt::uring from an install tree: one io_context and a timer on it.
// io_uring is required here: an unavailable ring is a failure, not a skip.
#include <fastrt/io_context.hpp>
#include <fastrt/timer.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
  auto created = fastrt::io_context::create();
  if (!created) {
    std::fprintf(stderr, "io_context::create: %s\n", created.error().message().data());
    return 1;
  }
  fastrt::io_context& ctx = **created;
  bool slept = false;
  auto nap = [&]() -> fastrt::coro_task<> {
    slept = (co_await fastrt::sleep_for(ctx, 1ms)).has_value();
    ctx.stop();
  };
  auto task = nap();
  ctx.post(task.handle());
  ctx.run();
  std::printf("uring: ring %s, slept %d\n", ctx.setup_mode(), slept);
  return slept ? 0 : 1;
}
