// fastrt/io_threads.hpp — N io threads, each running its own io_context.
//
//   auto threads = fastrt::io_threads::start(2, [&](fastrt::io_context& ctx, std::size_t i)
//                                            -> fastrt::coro_task<> { ... serve ... });
//   ...
//   threads->stop();   // or destroy it
//
// Each thread creates its io_context (so the ring's single issuer is the
// thread that uses it), then runs `main(ctx, index)` on it until that task
// finishes. stop() requests stop on the token every main task sees
// (this_task::stop_token(); accept/recv/sleep awaits end with errc::canceled)
// and joins the threads once their main tasks have returned. start() fails
// with the first thread's error if an io_context cannot be created.
//
// Thread-safety: start, stop and the destructor from one controlling thread.
#pragma once

#include <cstddef>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "io_context.hpp"
#include "result.hpp"
#include "task.hpp"

namespace fastrt {

class io_threads {
 public:
  using main_function = std::function<coro_task<>(io_context&, std::size_t index)>;

  static result<std::unique_ptr<io_threads>> start(std::size_t count, main_function main,
                                                   io_context_options options = {}) {
    std::unique_ptr<io_threads> self(new io_threads());
    self->main_ = std::move(main);
    std::vector<std::optional<error>> failures(count);
    std::latch started(static_cast<std::ptrdiff_t>(count));
    for (std::size_t i = 0; i < count; ++i) {
      self->threads_.emplace_back(
          [s = self.get(), i, options, &failures, &started] { s->thread_main(i, options, failures[i], started); });
    }
    started.wait();
    std::optional<error> first_error;
    for (auto& f : failures)
      if (f && !first_error) first_error = std::move(f);
    if (first_error) {
      self->stop();
      return std::move(*first_error);
    }
    return self;
  }

  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;
  ~io_threads() { stop(); }

  // Asks every main task to stop and waits for the threads to end.
  void stop() {
    stop_.request_stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  std::size_t size() const noexcept { return threads_.size(); }

 private:
  io_threads() : token_(stop_.get_token()) {}

  void thread_main(std::size_t index, io_context_options options, std::optional<error>& failure,
                   std::latch& started) {
    auto created = io_context::create(options);
    if (!created) {
      failure = std::move(created).error();
      started.count_down();
      return;
    }
    std::unique_ptr<io_context> ctx = std::move(created).value();
    started.count_down();  // `failure` and `started` may be gone after this line

    auto driver = [](io_context& c, coro_task<> body) -> coro_task<> {
      co_await std::move(body);
      c.stop();
    };
    coro_task<> task = driver(*ctx, main_(*ctx, index));
    detail::install_stop_token(task.handle().promise(), &token_);
    // Start it on the loop, so that its first io happens on the issuer thread.
    ctx->post(task.handle());
    ctx->run();
  }

  std::stop_source stop_;
  std::stop_token token_;
  main_function main_;
  std::vector<std::thread> threads_;
};

}  // namespace fastrt
