// ctest-labels: http2 uring
// Streamed request bodies (<fastrt/http2/request_body.hpp>) on a real
// fastrt::http2::server: a streamed route checksums a 3 MiB curl upload
// piece by piece; a handler that does not read holds the client to one
// stream window while the connection's other streams go on, then reads and
// gets everything (python-h2, tests/http2/streamed_body_client.py); a client
// reset or a connection error makes a waiting read fail and the handler
// finish; a body over
// --max-body-size without a content-length gets 413 mid-stream; buffered
// routes keep their whole request.body.
#include <fastrt/async_event.hpp>
#include <fastrt/http2/request_body.hpp>
#include <fastrt/http2/server.hpp>
#include <fastrt/http2/server_context.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

namespace h2 = fastrt::http2;
using namespace std::chrono_literals;

namespace {

// zlib's adler32 (the Python client checks with zlib.adler32), fed piece by piece.
struct adler32 {
  std::uint32_t a = 1, b = 0;
  void update(std::string_view bytes) {
    for (const char c : bytes) {
      a = (a + static_cast<unsigned char>(c)) % 65521;
      b = (b + a) % 65521;
    }
  }
  std::uint32_t value() const { return (b << 16) | a; }
};

// What the handlers saw, for the test's checks.
struct seen {
  std::atomic<int> pieces{0};
  std::atomic<bool> body_was_empty{false};
  std::atomic<int> watch_failed{0};  // 1: a read failed (the reset); 2: the handler then finished
  fastrt::async_event released;
};

// Reads `pieces` to the end: "LENGTH CHECKSUM", or the error.
fastrt::coro_task<h2::response> checksum_of(h2::body_piece_source pieces, seen* counts) {
  adler32 sum;
  std::size_t length = 0;
  for (;;) {
    auto piece = co_await pieces();
    if (!piece) co_return h2::text_response(400, "read failed: " + std::string(piece.error().message()));
    if (!*piece) break;
    if (counts) counts->pieces.fetch_add(1);
    length += (*piece)->size();
    sum.update(**piece);
  }
  co_return h2::text_response(200, std::to_string(length) + " " + std::to_string(sum.value()));
}

void fill(h2::server_context& context, seen& s) {
  context.config.max_body_size = 8 << 20;
  const h2::route_options streamed{.body = h2::request_body::streamed};
  auto hash = context.routes.add(
      "PUT", "/hash",
      [&s](const h2::request& req, std::stop_token) -> fastrt::coro_task<h2::response> {
        if (req.body_pieces) s.body_was_empty = req.body.empty();
        co_return co_await checksum_of(h2::body_pieces_of(req.shared_from_this()), &s);
      },
      streamed);
  // Reads nothing until GET /release.
  auto hold = context.routes.add(
      "PUT", "/hold",
      [&s](const h2::request& req, std::stop_token) -> fastrt::coro_task<h2::response> {
        co_await s.released;
        co_return co_await checksum_of(h2::piece_source_of(req.body_pieces), nullptr);
      },
      streamed);
  auto release = context.routes.add("GET", "/release", [&s](const h2::request&, std::stop_token) -> fastrt::coro_task<h2::response> {
    s.released.set();
    co_return h2::text_response(200, "released");
  });
  auto watch = context.routes.add(
      "PUT", "/watch",
      [&s](const h2::request& req, std::stop_token) -> fastrt::coro_task<h2::response> {
        for (;;) {
          auto piece = co_await req.body_pieces->next();
          if (!piece) {
            s.watch_failed = 1;
            break;
          }
          if (!*piece) break;
        }
        if (s.watch_failed.load() == 1) s.watch_failed = 2;
        co_return h2::text_response(500, "not for the client");
      },
      streamed);
  auto buffered = context.routes.add("POST", "/buffered", [](const h2::request& req, std::stop_token) -> fastrt::coro_task<h2::response> {
    adler32 sum;
    sum.update(req.body);
    co_return h2::text_response(req.body_pieces ? 500 : 200, std::to_string(req.body.size()) + " " + std::to_string(sum.value()));
  });
  REQUIRE(hash);
  REQUIRE(hold);
  REQUIRE(release);
  REQUIRE(watch);
  REQUIRE(buffered);
}

// A server on a free port in 20000..31999 (below the ephemeral range).
std::unique_ptr<h2::server> bind_free() {
  static std::atomic<unsigned> next{20000 + static_cast<unsigned>(::getpid() * 3) % 12000};
  for (int attempt = 0; attempt < 100; ++attempt) {
    const auto port = static_cast<std::uint16_t>(20000 + next.fetch_add(11) % 12000);
    auto s = h2::server::bind({.host = "127.0.0.1", .port = port, .io_threads = 1, .reuse_port = false});
    if (s) return std::move(s).value();
  }
  FAIL("no free port in 20000..31999");
  return nullptr;
}

// A command's standard output and exit status.
std::pair<std::string, int> run(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) out += buffer.data();
  const int status = ::pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string random_file(std::size_t size, adler32& sum) {
  const std::string path = "/tmp/fastrt_request_body_" + std::to_string(::getpid()) + "_" + std::to_string(size);
  std::string bytes(size, '\0');
  std::mt19937 random(42);
  for (char& c : bytes) c = static_cast<char>(random());
  sum.update(bytes);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The test server: fill()'s routes, --body-timeout `body_timeout`.
struct serving {
  explicit serving(std::chrono::milliseconds body_timeout = 30s) {
    fill(context, s);
    context.config.body_timeout = body_timeout;
    server = bind_free();
    REQUIRE(server->start(context));
  }
  ~serving() { server->stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  // tests/http2/streamed_body_client.py MODE against this server: its output and status.
  std::pair<std::string, int> client(const std::string& mode) const {
    return run("timeout 60 /usr/bin/python3 " + std::string(FASTRT_TEST_SOURCE_DIR) + "/http2/streamed_body_client.py " +
               std::to_string(server->port()) + " " + mode + " 2>&1");
  }

  seen s;
  h2::server_context context;
  std::unique_ptr<h2::server> server;
};

}  // namespace

TEST_CASE("streamed request body: a 3 MiB upload checksummed piece by piece") {
  serving at;
  adler32 expected;
  const std::string file = random_file(3 << 20, expected);
  const std::string url = at.url();
  auto [out, rc] = run("curl -s --max-time 20 --http2-prior-knowledge -X PUT --data-binary @" + file + " -w ' %{http_code}' " +
                       url + "/hash");
  CHECK(out == std::to_string(3 << 20) + " " + std::to_string(expected.value()) + " 200");
  CHECK(at.s.body_was_empty.load());
  CHECK(at.s.pieces.load() > 1);  // it came in pieces, not whole

  // A request complete when its handler starts (no body) comes whole.
  auto [empty, rc4] = run("curl -s --max-time 20 --http2-prior-knowledge -X PUT -w ' %{http_code}' " + url + "/hash");
  CHECK(empty == "0 1 200");

  // The same body on a buffered route: whole in request.body, as before.
  auto [buffered, rc2] = run("curl -s --max-time 20 --http2-prior-knowledge --data-binary @" + file + " -w ' %{http_code}' " +
                             url + "/buffered");
  CHECK(buffered == std::to_string(3 << 20) + " " + std::to_string(expected.value()) + " 200");

  // Over --max-body-size with no content-length (read from a pipe): 413
  // while the handler reads, its reads fail.
  auto [over, rc3] = run("head -c 9437184 /dev/zero | curl -s --max-time 20 --http2-prior-knowledge -T - -o /dev/null -w '%{http_code}' " +
                         url + "/hash");
  CHECK(over == "413");
  std::remove(file.c_str());
}

TEST_CASE("streamed request body: a handler that does not read holds the client to one window") {
  // The handler holds the body back for over a second: that is not the
  // client stalling (no 408).
  serving at(500ms);
  auto [out, rc] = at.client("window");
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("FAIL") == std::string::npos);
}

TEST_CASE("streamed request body: a reset mid-body, a connection error or a stall fails the waiting read") {
  // reset: RST_STREAM; broken: a DATA frame over the size limit (nghttp2
  // ends the session with GOAWAY and leaves its streams open); stall: no
  // DATA for --body-timeout (408).
  const char* mode = GENERATE("reset", "broken", "stall");
  INFO(mode);
  serving at(500ms);
  auto [out, rc] = at.client(mode);
  INFO(out);
  CHECK(rc == 0);
  for (int i = 0; i < 200 && at.s.watch_failed.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  CHECK(at.s.watch_failed.load() == 2);  // the read failed, then the handler finished
}
