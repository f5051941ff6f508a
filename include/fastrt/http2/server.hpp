// server.hpp — serving a server_context on a TCP port with N io threads:
// accepting, handing each connection to an io thread, running it
// (connection.hpp) and, at stop, shutting every connection down gracefully.
//
//   fastrt::http2::server_context context;           // config, routes, observer
//   auto s = fastrt::http2::server::bind({.host = "127.0.0.1", .port = 8080, .io_threads = 2});
//   if (!s) ...;                                      // e.g. the port is in use
//   (*s)->start(context);                             // serving until stop()
//   ...
//   (*s)->stop();                                     // GOAWAY, answers finish, connections close
//
//   fastrt::http2::serve(context, options, stop_token);   // all of it, blocking
//
// Listening: without reuse_port one socket owns the port (no SO_REUSEPORT:
// another process cannot take a share of its connections, and a port in
// use is an error at bind()); io thread 0 accepts and deals connections
// round-robin to every io thread. (Each thread accepting on its own dup of
// the socket was measured to starve: with --io-threads 2 and h2load -c 20,
// one thread got every connection, since a running loop re-arms its accept
// and drains the backlog before a sleeping one wakes.) With reuse_port each
// io thread binds its own SO_REUSEPORT socket and the kernel spreads the
// connections, also over other processes on that port.
//
// Accept failing for lack of descriptors or memory backs off
// (accept_backoff.hpp) instead of spinning. stop() asks every io thread to
// stop accepting; each then begins the graceful shutdown of its own
// connections (connection.hpp) and ends when they have all closed —
// bounded by the config's shutdown_timeout.
//
// Thread-safety: bind, start and stop from one controlling thread; the
// server_context must outlive the server. Cost: one listening socket (or
// one per io thread), one io_context and thread per io thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fastrt/async_scope.hpp>
#include <fastrt/http2/accept_backoff.hpp>
#include <fastrt/http2/connection.hpp>
#include <fastrt/http2/connection_info.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/io_threads.hpp>
#include <fastrt/result.hpp>
#include <fastrt/task.hpp>
#include <fastrt/tcp_listener.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>

namespace fastrt::http2 {

// How an accepted socket is served (server::bind's second argument). Empty:
// cleartext, HTTP/2 or HTTP/1.1 told apart by the first bytes. TLS
// (tls_connection.hpp) brings its own: one indirect call per connection,
// nothing per request.
struct connection_starter {
  using start_fn = coro_task<> (*)(const void* self, io_context& ctx, tcp_stream stream, const server_context& context,
                                   connection_list& live, connection_info info);
  start_fn start = nullptr;
  const void* self = nullptr;  // must outlive the server
};

struct listen_options {
  std::string host = "127.0.0.1";  // a numeric address
  std::uint16_t port = 8080;      // 0: the kernel picks one (server::port() tells which; not with reuse_port)
  std::size_t io_threads = 1;
  bool reuse_port = false;  // see the top of this file
};

class server {
 public:
  // Binds the port now when it is owned (no reuse_port), so that a port in
  // use is an error before anything else starts. `starter`: how accepted
  // sockets are served (empty: cleartext; TLS: tls_connection.hpp's tls_starter()).
  static result<std::unique_ptr<server>> bind(listen_options options, connection_starter starter = {}) {
    if (options.io_threads == 0) return error(std::errc::invalid_argument, "server: io_threads must be at least 1");
    std::unique_ptr<server> s(new server(std::move(options)));
    s->starter_ = starter;
    if (!s->options_.reuse_port) {
      auto fd = tcp_listener::listen_socket(s->options_.host, s->options_.port, {.reuse_port = false});
      if (!fd && fd.error().value() == EADDRINUSE) {
        return error(EADDRINUSE, s->options_.host + ":" + std::to_string(s->options_.port) +
                                     " is already in use (another server? reuse_port shares it on purpose)");
      }
      if (!fd) return std::move(fd).error();
      s->owned_socket_ = *fd;
      // Port 0 asks the kernel for one: port() tells which.
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0)
        s->options_.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                             : reinterpret_cast<sockaddr_in&>(bound).sin_port);
    } else if (s->options_.port == 0) {
      return error(std::errc::invalid_argument, "server: reuse_port needs a fixed port (each io thread binds it)");
    }
    return s;
  }

  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server() {
    stop();
    if (owned_socket_ >= 0) ::close(owned_socket_);
  }

  // Starts the io threads serving `context`; returns once each listens (or
  // the first error: then nothing serves).
  result<void> start(const server_context& context) {
    if (threads_) return error(std::errc::operation_in_progress, "server: already started");
    context_ = &context;
    listeners_.resize(options_.io_threads);
    slots_ = std::vector<io_thread_slot>(options_.io_threads);
    auto threads = io_threads::start(options_.io_threads, [this](io_context& ctx, std::size_t index) {
      return run_thread(ctx, index);
    });
    if (!threads) return std::move(threads).error();
    threads_ = std::move(threads).value();
    while (bound_.load(std::memory_order_acquire) + failed_.load(std::memory_order_acquire) < options_.io_threads)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (failed_.load(std::memory_order_acquire) != 0) {
      stop();
      return error(bind_error_.load(std::memory_order_acquire), "server: an io thread could not listen on " +
                                                                     options_.host + ":" + std::to_string(options_.port));
    }
    return {};
  }

  // Graceful stop (see the top of this file); returns when every io thread
  // has ended. Idempotent.
  void stop() {
    if (threads_) threads_->stop();
    threads_.reset();
  }

  const listen_options& options() const noexcept { return options_; }
  // The port served (the kernel's choice when 0 was asked).
  std::uint16_t port() const noexcept { return options_.port; }

 private:
  // One io thread, as the others see it: where to hand it a connection.
  struct io_thread_slot {
    std::mutex mutex;  // ctx: published when serving, cleared before the loop ends
    io_context* ctx = nullptr;
    async_scope* connections = nullptr;  // these two: on that thread only; null once it stops serving
    connection_list* live = nullptr;
  };

  // An accepted socket on its way to another io thread: closed unless taken.
  struct owned_socket_fd {
    int fd;
    explicit owned_socket_fd(int f) noexcept : fd(f) {}
    owned_socket_fd(owned_socket_fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
    owned_socket_fd& operator=(owned_socket_fd&&) = delete;
    ~owned_socket_fd() {
      if (fd >= 0) ::close(fd);
    }
    int release() noexcept { return std::exchange(fd, -1); }
  };

  explicit server(listen_options options) : options_(std::move(options)) {}

  coro_task<> run_thread(io_context& ctx, std::size_t index) {
    // reuse_port: a listener per thread; else thread 0 takes the owned socket.
    if (options_.reuse_port || index == 0) {
      auto listener = options_.reuse_port ? tcp_listener::bind(ctx, options_.host, options_.port)
                                          : tcp_listener::adopt(ctx, std::exchange(owned_socket_, -1));
      if (!listener) {
        context_->events->log(log_level::error, std::string(listener.error().message()) + ": " +
                                                    std::strerror(listener.error().value()));
        bind_error_.store(listener.error().value(), std::memory_order_release);
        failed_.fetch_add(1, std::memory_order_acq_rel);
        co_return;
      }
      listeners_[index].emplace(std::move(listener).value());
    }
    bound_.fetch_add(1, std::memory_order_acq_rel);
    co_await accept_and_serve(ctx, listeners_[index] ? &*listeners_[index] : nullptr, index);
    listeners_[index].reset();
  }

  // With a listener this thread accepts (dealing round-robin unless
  // reuse_port); without one it serves what is dealt to it. When asked to
  // stop (accept or the wait fails with canceled), every connection of this
  // thread begins its graceful shutdown here, on its own thread.
  coro_task<> accept_and_serve(io_context& ctx, tcp_listener* listener, std::size_t self) {
    async_scope connections;
    connection_list live;
    io_thread_slot& mine = slots_[self];
    mine.connections = &connections;
    mine.live = &live;
    {
      std::lock_guard lock(mine.mutex);
      mine.ctx = &ctx;
    }
    const bool dealing = !options_.reuse_port;
    accept_backoff backoff;
    std::size_t next = self;
    while (!listener) {  // connections are dealt to this thread; wait for the stop
      auto slept = co_await sleep_for(ctx, std::chrono::hours(1));
      if (!slept && slept.error() == errc::canceled) break;
    }
    while (listener) {
      auto accepted = co_await listener->accept_descriptor();
      if (!accepted) {
        if (accepted.error() == errc::canceled) break;  // shutting down
        const int code = accepted.error().value();
        if (!accept_backoff::is_resource_shortage(code)) {
          context_->events->log(log_level::error, std::string("accept: ") + std::strerror(code));
          continue;
        }
        // Out of descriptors (or memory): retrying at once would spin and
        // log in a loop; closing connections give them back meanwhile.
        auto slept = co_await sleep_for(ctx, backoff.failed(code, std::strerror(code), *context_->events));
        if (!slept && slept.error() == errc::canceled) break;  // shutting down
        continue;
      }
      backoff.succeeded();
      io_thread_slot& to = dealing ? slots_[next++ % slots_.size()] : mine;
      deal(to, mine, ctx, *accepted);
    }
    {
      std::lock_guard lock(mine.mutex);
      mine.ctx = nullptr;  // nothing is dealt to this thread any more
    }
    mine.connections = nullptr;
    if (listener) listener->close();
    live.begin_shutdown();
    co_await connections.join();
  }

  // Hands connection `fd` to the io thread of `to` (a post to its loop), or
  // serves it here (`mine`) when that thread is not serving.
  void deal(io_thread_slot& to, io_thread_slot& mine, io_context& here, int fd) {
    if (&to != &mine) {
      std::lock_guard lock(to.mutex);
      if (io_context* there = to.ctx) {
        there->post([this, &to, there, socket = owned_socket_fd(fd)]() mutable {
          serve_here(to, *there, socket.release());
        });
        return;
      }
    }
    serve_here(mine, here, fd);
  }

  // On `slot`'s own thread: serve connection `fd` there, or close it when
  // that thread no longer serves (shutting down).
  void serve_here(io_thread_slot& slot, io_context& ctx, int fd) {
    if (!slot.connections) {
      ::close(fd);
      return;
    }
    // The endpoints are read once here and stamped on each of its requests.
    connection_info info = connection_info::of_socket(fd);
    if (const connection_starter& custom = starter_; custom.start) {
      slot.connections->spawn(custom.start(custom.self, ctx, tcp_stream(ctx, fd), *context_, *slot.live, std::move(info)));
      return;
    }
    slot.connections->spawn(serve_connection(ctx, tcp_stream(ctx, fd), *context_, *slot.live, std::move(info)));
  }

  static coro_task<> serve_connection(io_context& ctx, tcp_stream stream, const server_context& context,
                                      connection_list& live, connection_info info) {
    connection c(ctx, stream, context, live, std::move(info));
    co_await c.run();
  }

  listen_options options_;
  connection_starter starter_;  // empty: serve_connection (cleartext)
  int owned_socket_ = -1;  // the listening socket, unless reuse_port (io thread 0 takes it over)
  const server_context* context_ = nullptr;
  std::vector<std::optional<tcp_listener>> listeners_;
  std::vector<io_thread_slot> slots_;
  std::atomic<std::size_t> bound_{0};
  std::atomic<std::size_t> failed_{0};
  std::atomic<int> bind_error_{0};
  std::unique_ptr<io_threads> threads_;
};

// Serves `context` until `until` is stopped, then shuts down gracefully and
// returns (an error if the port could not be bound or listened on).
inline result<void> serve(const server_context& context, listen_options options, std::stop_token until) {
  auto s = server::bind(std::move(options));
  if (!s) return std::move(s).error();
  if (auto started = (*s)->start(context); !started) return started;
  std::mutex mutex;
  std::condition_variable_any stopped;
  {
    std::unique_lock lock(mutex);
    stopped.wait(lock, until, [] { return false; });  // returns when `until` is stopped
  }
  (*s)->stop();
  return {};
}

}  // namespace fastrt::http2
