// h2_connection_fuzzer.cpp — libFuzzer target: arbitrary bytes into one
// fastrt-h2 connection (fastrt/http2/connection.hpp), the way a
// client's bytes reach it: preface sniffing, the HTTP/1.1 upgrade head, the
// nghttp2 session with the server's callbacks, request assembly, the C++
// handlers' answers (plain, streamed, failing, awaiting) and the close.
//
// Transport: a socketpair(AF_UNIX, SOCK_STREAM) per input (kernel memory, no
// network). The server end is a fastrt::tcp_stream running fastrt::http2::connection on
// one io_context; the client end, on the same loop, writes the input in up to
// four chunks (a short pause between them, so the server reads them apart:
// partial frames and heads), half-closes (unless bit 4 below), reads
// everything the server writes until EOF, then closes. Each input ends when
// both sides have.
//
// Input layout (the seed generator, make_seed_corpus.py, writes the same):
//   byte 0      bits 0-1: number of split points k (0-3)
//               bit 2:    begin the graceful shutdown once everything is written
//               bit 3:    the connection is over --max-connections (GOAWAY at once)
//               bit 4:    keep the client's side open: the server's deadlines
//                         (5 ms here) end the connection, not the client's EOF
//   k × u16 LE  split offsets into the payload (taken modulo its size + 1)
//   the rest    the bytes the client sends
//
// Every request goes to a C++ route (the catch-all prefix "" included), so no
// path reaches the Python executor: Python is linked (the server's headers
// need it) but never started. Timeouts are 20 ms (5 ms with bit 4) so that no
// input waits long; a usual input takes well under a millisecond of loop time.
#include <fastrt/async_scope.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/tcp_stream.hpp>
#include <fastrt/timer.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fastrt/http2/connection.hpp>

namespace {

using namespace std::chrono_literals;
using fastrt::coro_task;
using fastrt::http2::request;
using fastrt::http2::response;

// Wants access records (so that the connection builds them) and reads
// every field of each, and of each log line; prints nothing.
struct fuzz_observer : fastrt::http2::observer {
  void log(fastrt::http2::log_level, std::string_view line) override { seen += line.size(); }
  bool wants_access_records() const noexcept override { return true; }
  void access(const fastrt::http2::access_record& r) override {
    seen += r.method.size() + r.path.size() + r.query.size() + r.protocol.size() + r.body_bytes +
            static_cast<std::size_t>(r.status) + static_cast<std::size_t>(r.duration.count() > 0);
  }
  void count(fastrt::http2::metric m, std::uint64_t n) override { seen += static_cast<std::size_t>(m) + n; }
  std::size_t seen = 0;
};

struct harness {
  std::unique_ptr<fastrt::io_context> ctx;
  fuzz_observer events;
  fastrt::http2::server_context app;           // every request goes to a C++ route
  fastrt::http2::server_context impatient;     // 5 ms timeouts, for clients that keep their side open
  fastrt::http2::server_context over_capacity; // max_connections 0: the GOAWAY-at-once path
  fastrt::http2::connection_list live;
};
harness* the = nullptr;

// `name=N` from a query string, at most `cap`; `fallback` when absent.
std::uint64_t query_number(std::string_view query, std::string_view name, std::uint64_t fallback, std::uint64_t cap) {
  const std::string key = std::string(name) + "=";
  const auto at = query.find(key);
  if (at == std::string_view::npos) return fallback;
  std::uint64_t n = 0;
  for (const char c : query.substr(at + key.size())) {
    if (c < '0' || c > '9') break;
    n = std::min<std::uint64_t>(n * 10 + static_cast<std::uint64_t>(c - '0'), cap);
  }
  return n;
}

// A streamed body: `pieces` pieces of `size` bytes; with `fail`, an error
// instead of the last one (the server resets the stream).
coro_task<fastrt::result<std::string>> next_piece(std::shared_ptr<std::uint64_t> left, std::size_t size, bool fail) {
  if (*left == 0) co_return std::string();
  if (--*left == 0 && fail) co_return fastrt::error(std::errc::io_error, "the fuzzer's body failed");
  co_return std::string(size, 'p');
}

fastrt::http2::router fuzz_routes(fastrt::io_context& ctx) {
  using fastrt::http2::router;
  router routes;
  // Everything: echo what was assembled. ?status=N picks the status (204 and
  // 304 take the no-body path), ?header=1 adds app headers the server must
  // filter (connection-specific ones) or pass.
  auto all = routes.add(router::any_method, "", [](const request& req, std::stop_token) -> coro_task<response> {
    std::string body = req.method + " " + req.path + "?" + req.query + " @" + req.authority + " fields=" +
                       std::to_string(req.headers.size()) + " body=" + std::to_string(req.body.size()) + "\n";
    for (const auto& [name, value] : req.headers) body += name + ": " + value + "\n";
    response r = fastrt::http2::text_response(static_cast<int>(query_number(req.query, "status", 200, 599)), std::move(body));
    if (r.status < 200) r.status = 200;
    if (query_number(req.query, "header", 0, 1) == 1) {
      r.headers.emplace_back("connection", "close");
      r.headers.emplace_back("x-echo", req.path);
    }
    co_return r;
  });
  // Streamed: ?pieces=N (≤ 8) of ?size=S bytes (≤ 32 KiB); ?fail=1 makes the
  // last piece an error.
  auto stream = routes.add(router::any_method, "/stream", [](const request& req, std::stop_token) -> coro_task<response> {
    const auto pieces = query_number(req.query, "pieces", 3, 8);
    const auto size = static_cast<std::size_t>(query_number(req.query, "size", 1000, 32 * 1024));
    const bool fail = query_number(req.query, "fail", 0, 1) == 1;
    response r{200, {{"content-type", "application/octet-stream"}}, {}, {}};
    r.stream = [left = std::make_shared<std::uint64_t>(pieces), size, fail] { return next_piece(left, size, fail); };
    co_return r;
  });
  // Answers after a short sleep: the client may reset the stream or the
  // connection may end meanwhile.
  auto slow = routes.add(router::any_method, "/slow", [&ctx](const request& req, std::stop_token) -> coro_task<response> {
    (void)co_await fastrt::sleep_for(ctx, 1ms);
    co_return fastrt::http2::text_response(200, "slow " + req.path + "\n");
  });
  all.value();  // three distinct prefixes with handlers: none can fail
  stream.value();
  slow.value();
  return routes;
}

// Timeouts that only some versions of server_config have (a newer server may
// add more: each one it waits on must be short here, or an input can take as
// long as its default and hit libFuzzer's -timeout).
template <class Config>
void shorten_newer_timeouts(Config& config, std::chrono::milliseconds timeouts) {
  if constexpr (requires { config.send_timeout = timeouts; }) config.send_timeout = timeouts;
  if constexpr (requires { config.body_timeout = timeouts; }) config.body_timeout = timeouts;
}

fastrt::http2::server_config fuzz_config(std::chrono::milliseconds timeouts) {
  fastrt::http2::server_config config;
  config.max_concurrent_streams = 8;
  config.max_header_list_size = 4096;  // reachable: 431
  config.max_body_size = 2048;         // reachable: 413
  config.handler_timeout = timeouts;
  config.idle_timeout = timeouts;
  config.header_timeout = timeouts;
  config.settings_ack_timeout = timeouts;
  config.shutdown_timeout = timeouts;
  shorten_newer_timeouts(config, timeouts);
  return config;
}

struct layout {
  std::vector<std::string_view> chunks;
  bool shutdown = false;
  bool over_capacity = false;
  bool keep_open = false;
};

layout split(const std::uint8_t* data, std::size_t size) {
  layout out;
  if (size == 0) return out;
  const std::uint8_t control = data[0];
  const std::size_t splits = control & 3u;
  out.shutdown = (control & 4u) != 0;
  out.over_capacity = (control & 8u) != 0;
  out.keep_open = (control & 16u) != 0;
  std::size_t header = 1 + 2 * splits;
  if (size < header) header = size;
  const std::string_view payload(reinterpret_cast<const char*>(data + header), size - header);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0; i < splits && 2 + 2 * i < header; ++i) {
    const std::size_t offset = data[1 + 2 * i] | (static_cast<std::size_t>(data[2 + 2 * i]) << 8);
    cuts.push_back(offset % (payload.size() + 1));
  }
  std::sort(cuts.begin(), cuts.end());
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    if (cut > from) out.chunks.push_back(payload.substr(from, cut - from));
    from = std::max(from, cut);
  }
  if (from < payload.size()) out.chunks.push_back(payload.substr(from));
  return out;
}

struct session {
  fastrt::http2::connection* connection = nullptr;  // while the server runs
};

coro_task<> serve(fastrt::io_context& ctx, int fd, const fastrt::http2::server_context& app, session& s) {
  fastrt::tcp_stream stream(ctx, fd);
  fastrt::http2::connection connection(ctx, stream, app, the->live);
  s.connection = &connection;
  co_await connection.run();
  s.connection = nullptr;
}

// What the server wrote, kept only when FASTRT_FUZZ_SHOW is set (to look at
// one input's exchange: FASTRT_FUZZ_SHOW=1 h2_connection_fuzzer FILE).
bool show_replies = false;

coro_task<std::string> read_all(fastrt::tcp_stream& client) {
  std::string reply;
  for (;;) {
    auto chunk = co_await client.recv();
    if (!chunk || chunk->empty()) co_return reply;
    if (show_replies) reply += chunk->text();
  }
}

void show(const layout& input, std::string_view reply) {
  std::fprintf(stderr, "h2_connection_fuzzer: %zu chunk(s)%s%s%s; the server wrote %zu bytes:\n",
               input.chunks.size(), input.shutdown ? ", graceful shutdown" : "",
               input.over_capacity ? ", over --max-connections" : "", input.keep_open ? ", kept open" : "",
               reply.size());
  std::string line;
  for (const char c : reply.substr(0, 4096)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') line += c;
    else if (c == '\n') line += "\\n\n";
    else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      line += hex;
    }
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

coro_task<> write_all(fastrt::io_context& ctx, fastrt::tcp_stream& client, const layout& input, session& s) {
  for (std::size_t i = 0; i < input.chunks.size(); ++i) {
    if (i > 0) (void)co_await fastrt::sleep_for(ctx, 20us);  // the server reads the chunks apart
    if (!co_await client.send(input.chunks[i])) break;  // the server closed
  }
  if (input.shutdown && s.connection) s.connection->begin_shutdown();
  if (!input.keep_open) (void)client.shutdown(SHUT_WR);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);  // the server may close while the client writes
  show_replies = std::getenv("FASTRT_FUZZ_SHOW") != nullptr;
  auto ctx = fastrt::io_context::create();
  if (!ctx) {
    std::fprintf(stderr, "h2_connection_fuzzer: io_context::create: %s\n", ctx.error().message().data());
    std::abort();
  }
  the = new harness;
  the->ctx = std::move(ctx).value();
  the->app.config = fuzz_config(20ms);
  the->app.routes = fuzz_routes(*the->ctx);
  the->impatient.config = fuzz_config(5ms);
  the->impatient.routes = fuzz_routes(*the->ctx);
  the->over_capacity.config = fuzz_config(20ms);
  the->over_capacity.config.max_connections = 0;
  the->over_capacity.routes = fuzz_routes(*the->ctx);
  the->app.events = the->impatient.events = the->over_capacity.events = &the->events;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const layout input = split(data, size);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    std::perror("h2_connection_fuzzer: socketpair");
    std::abort();
  }
  fastrt::io_context& ctx = *the->ctx;
  bool finished = false;
  auto driver = [](fastrt::io_context& c, int server_fd, int client_fd, const layout& in, bool& done) -> coro_task<> {
    fastrt::tcp_stream client(c, client_fd);
    session s;
    fastrt::async_scope server, writer;
    server.spawn(serve(c, server_fd, in.over_capacity ? the->over_capacity : in.keep_open ? the->impatient : the->app, s));
    writer.spawn(write_all(c, client, in, s));
    const std::string reply = co_await read_all(client);  // until the server closes its side
    co_await writer.join();
    client.close();  // the server lingers until it sees our end close
    co_await server.join();
    if (show_replies) show(in, reply);
    done = true;
    c.stop();
  }(ctx, fds[0], fds[1], input, finished);
  ctx.post(driver.handle());
  ctx.restart();
  ctx.run();
  if (!finished) {
    std::fprintf(stderr, "h2_connection_fuzzer: the loop stopped before the connection ended\n");
    std::abort();
  }
  return 0;
}
