// ctest-labels: http2 uring
// fastrt::http2::server (<fastrt/http2/server.hpp>) as a downstream program
// uses it, without Python and without the example: C++ routes, no fallback
// (404), an observer hearing metrics and access records, a graceful stop
// that lets an answer in flight finish, and a port in use refused at bind.
// The client is curl (HTTP/2 prior knowledge) over real loopback sockets.
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/server.hpp>
#include <fastrt/http2/server_context.hpp>
#include <fastrt/io_context.hpp>
#include <fastrt/timer.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace h2 = fastrt::http2;
using namespace std::chrono_literals;

namespace {

struct recording_observer : h2::observer {
  bool wants_access_records() const noexcept override { return true; }
  void access(const h2::access_record& r) override {
    std::lock_guard lock(mutex);
    records.push_back(std::string(r.method) + " " + std::string(r.path) + " " + std::to_string(r.status) + " " +
                      std::to_string(r.body_bytes));
  }
  void count(h2::metric m, std::uint64_t n) override { counts[static_cast<std::size_t>(m)] += n; }
  std::uint64_t total(h2::metric m) const { return counts[static_cast<std::size_t>(m)].load(); }
  std::vector<std::string> taken() {
    std::lock_guard lock(mutex);
    return records;
  }
  std::mutex mutex;
  std::vector<std::string> records;
  std::array<std::atomic<std::uint64_t>, h2::metric_count> counts{};
};

// curl's output for `path` (prior-knowledge h2c), "status body".
struct curl_call {
  explicit curl_call(std::uint16_t port, const std::string& path) {
    const std::string command = "curl -s --max-time 10 --http2-prior-knowledge -w ' %{http_code}' http://127.0.0.1:" +
                                std::to_string(port) + path;
    pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
  }
  std::string result() {
    std::string out;
    std::array<char, 256> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
    ::pclose(pipe);
    return out;
  }
  std::FILE* pipe = nullptr;
};

std::string get(std::uint16_t port, const std::string& path) { return curl_call(port, path).result(); }

// A server on a free port in 20000..31999 (below the ephemeral range, where
// clients' ports could take it meanwhile).
std::unique_ptr<h2::server> bind_free(std::size_t io_threads) {
  static std::atomic<unsigned> next{20000 + static_cast<unsigned>(::getpid()) % 12000};
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port = static_cast<std::uint16_t>(20000 + next.fetch_add(7) % 12000);
    auto s = h2::server::bind({.host = "127.0.0.1", .port = port, .io_threads = io_threads, .reuse_port = false});
    if (s) return std::move(s).value();
  }
  FAIL("no free port in 20000..31999");
  return nullptr;
}

// The routes and observer of the tests' server (a server_context does not
// move: it holds the live counters).
void fill(h2::server_context& context, recording_observer& events) {
  context.events = &events;
  auto hello = context.routes.add("GET", "/hello", [](const h2::request& req, std::stop_token) -> fastrt::coro_task<h2::response> {
    co_return h2::text_response(200, "hello " + req.query);
  });
  // Answers after 300 ms on the io thread's own timer (io_context::current()).
  auto slow = context.routes.add("GET", "/slow", [](const h2::request&, std::stop_token) -> fastrt::coro_task<h2::response> {
    (void)co_await fastrt::sleep_for(*fastrt::io_context::current(), 300ms);
    co_return h2::text_response(200, "slow done");
  });
  REQUIRE(hello);
  REQUIRE(slow);
}

}  // namespace

TEST_CASE("http2::server: C++ routes, 404 without a fallback, and what the observer hears") {
  recording_observer events;
  h2::server_context context;
  fill(context, events);
  auto server = bind_free(2);
  REQUIRE(server->start(context));
  const std::uint16_t port = server->port();

  CHECK(get(port, "/hello?x=1") == "hello x=1 200");
  CHECK(get(port, "/nowhere") == "Not Found\n 404");
  CHECK(get(port, "/hello?y=2") == "hello y=2 200");
  server->stop();

  CHECK(events.total(h2::metric::connections_opened) == 3);
  CHECK(events.total(h2::metric::connections_closed) == 3);
  CHECK(events.total(h2::metric::requests_dispatched) == 3);
  CHECK(events.taken() == std::vector<std::string>{"GET /hello 200 9", "GET /nowhere 404 10", "GET /hello 200 9"});
}

TEST_CASE("http2::server: a graceful stop lets the answer in flight finish") {
  recording_observer events;
  h2::server_context context;
  fill(context, events);
  auto server = bind_free(1);
  REQUIRE(server->start(context));
  curl_call in_flight(server->port(), "/slow");
  // Wait until the request is being handled, then stop.
  for (int i = 0; i < 500 && events.total(h2::metric::requests_dispatched) == 0; ++i) std::this_thread::sleep_for(2ms);
  REQUIRE(events.total(h2::metric::requests_dispatched) == 1);
  const auto before = std::chrono::steady_clock::now();
  server->stop();  // GOAWAY; the stream already open completes
  CHECK(std::chrono::steady_clock::now() - before < 5s);
  CHECK(in_flight.result() == "slow done 200");
}

TEST_CASE("http2::server: a port in use is refused at bind, naming it; port 0 picks one") {
  auto first = bind_free(1);
  auto second = h2::server::bind({.host = "127.0.0.1", .port = first->port(), .io_threads = 1, .reuse_port = false});
  REQUIRE_FALSE(second);
  CHECK(second.error().value() == EADDRINUSE);
  CHECK(std::string(second.error().message()).find(std::to_string(first->port())) != std::string::npos);
  auto picked = h2::server::bind({.host = "127.0.0.1", .port = 0, .io_threads = 1, .reuse_port = false});
  REQUIRE(picked);
  CHECK((*picked)->port() != 0);  // the kernel's choice, told (never served here)
  auto unpicked = h2::server::bind({.host = "127.0.0.1", .port = 0, .io_threads = 1, .reuse_port = true});
  CHECK_FALSE(unpicked);  // reuse_port needs a fixed port
}
