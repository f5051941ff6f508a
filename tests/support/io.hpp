// tests/support/io.hpp — running coroutines on an io_context in tests.
#pragma once

#include <fastrt/detail/awaitable_traits.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/task.hpp>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <optional>

namespace fastrt::test {

inline std::unique_ptr<io_context> make_context(io_context_options options = {}) {
  auto created = io_context::create(options);
  if (!created) FAIL("io_context::create: " << created.error().message());
  return std::move(created).value();
}

// Runs `body` on `ctx`'s loop, on this thread, until it finishes; returns its value.
template <class T>
T run_on(io_context& ctx, coro_task<T> body) {
  std::optional<detail::non_void_t<T>> out;
  auto driver = [](io_context& c, coro_task<T> t, std::optional<detail::non_void_t<T>>& slot) -> coro_task<> {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      slot.emplace();
    } else {
      slot.emplace(co_await std::move(t));
    }
    c.stop();
  };
  auto task = driver(ctx, std::move(body), out);
  ctx.post(task.handle());
  ctx.restart();
  ctx.run();
  REQUIRE(task.done());
  if constexpr (!std::is_void_v<T>) return std::move(*out);
}

// Open file descriptors of this process.
inline std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace fastrt::test
