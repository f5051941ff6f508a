// ctest-labels: uring tls
// tls_context and tls_stream over a socketpair: the server side on an
// io_context, a blocking OpenSSL client on a thread (a real TLS peer, no
// mock). Certificates are made here with OpenSSL's API.
#include <fastrt/tcp_stream.hpp>
#include <fastrt/tls/context.hpp>
#include <fastrt/tls/stream.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "support/io.hpp"

using fastrt::coro_task;
using fastrt::result;
using fastrt::tls_alpn;
using fastrt::tls_context;
using fastrt::tls_stream;
using fastrt::test::make_context;
using fastrt::test::run_on;

namespace {

// The blocking client writes with write(2): a server that closed first
// must give it EPIPE, not end the test binary.
const bool sigpipe_ignored = std::signal(SIGPIPE, SIG_IGN) != SIG_ERR;

// A temporary directory with a self-signed P-256 certificate for localhost
// (cert.pem, key.pem) and a second key (other.pem) that does not match it.
struct certificate_files {
  std::filesystem::path dir;
  std::string cert, key, other_key;

  certificate_files() {
    char pattern[] = "/tmp/fastrt-tls-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir = pattern;
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    other_key = (dir / "other.pem").string();
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    REQUIRE(pkey);
    REQUIRE(other);
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    REQUIRE(X509_sign(x, pkey, EVP_sha256()) > 0);
    write(cert, [&](FILE* f) { return PEM_write_X509(f, x); });
    write(key, [&](FILE* f) { return PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr); });
    write(other_key, [&](FILE* f) { return PEM_write_PrivateKey(f, other, nullptr, nullptr, 0, nullptr, nullptr); });
    X509_free(x);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
  }
  ~certificate_files() { std::filesystem::remove_all(dir); }

  template <class F>
  static void write(const std::string& path, F f) {
    FILE* file = std::fopen(path.c_str(), "w");
    REQUIRE(file);
    REQUIRE(f(file) == 1);
    std::fclose(file);
  }
};

// A blocking TLS client on fd (no certificate check: the server's is
// self-signed), offering `alpn` (wire format; empty: no ALPN).
struct client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd;

  client(int socket, std::string_view alpn) : fd(socket) {
    if (!alpn.empty())
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()), static_cast<unsigned>(alpn.size()));
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
  }
  bool handshake() { return SSL_connect(ssl) == 1; }
  bool write_all(std::string_view bytes) {
    std::size_t n = 0;
    return SSL_write_ex(ssl, bytes.data(), bytes.size(), &n) == 1 && n == bytes.size();
  }
  // Reads until `n` bytes came, or EOF (close_notify) / an error.
  std::string read(std::size_t n) {
    std::string out;
    char buffer[16384];
    while (out.size() < n) {
      std::size_t got = 0;
      if (SSL_read_ex(ssl, buffer, sizeof buffer, &got) != 1) break;
      out.append(buffer, got);
    }
    return out;
  }
};

struct socket_pair {
  int server = -1, peer = -1;
  socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    server = fds[0];
    peer = fds[1];
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return s;
}

}  // namespace

TEST_CASE("tls_context: bad files are errors that carry OpenSSL's reason") {
  REQUIRE(sigpipe_ignored);
  certificate_files files;
  auto good = tls_context::load(files.cert, files.key);
  REQUIRE(good);
  auto missing = tls_context::load((files.dir / "missing.pem").string(), files.key);
  REQUIRE_FALSE(missing);
  CHECK_THAT(std::string(missing.error().message()), Catch::Contains("missing.pem") && Catch::Contains("No such file"));
  auto mismatched = tls_context::load(files.cert, files.other_key);
  REQUIRE_FALSE(mismatched);
  CHECK_THAT(std::string(mismatched.error().message()), Catch::Contains("mismatch"));
  auto swapped = tls_context::load(files.key, files.key);
  REQUIRE_FALSE(swapped);
  CHECK_THAT(std::string(swapped.error().message()), Catch::Contains("PEM"));
}

TEST_CASE("tls_stream: handshake with ALPN h2, a 1 MiB echo in large writes, close_notify is EOF") {
  certificate_files files;
  auto context = tls_context::load(files.cert, files.key);
  REQUIRE(context);
  auto ctx = make_context();
  socket_pair fds;
  const std::string payload = pattern(1 << 20);
  std::string echoed;
  bool client_ok = false;
  std::string shutdown_detail;
  std::thread peer([&] {
    client c(fds.peer, std::string_view("\x08http/1.1\x02h2", 12));
    if (!c.handshake()) return;
    // Writes and reads alternate in 128 KiB pieces (a socketpair's buffer is small).
    for (std::size_t at = 0; at < payload.size(); at += 128 * 1024) {
      const std::string_view piece = std::string_view(payload).substr(at, 128 * 1024);
      if (!c.write_all(piece)) return;
      echoed += c.read(piece.size());
    }
    // Our close_notify is answered by the server's (shutdown(SHUT_WR)).
    const int first = SSL_shutdown(c.ssl);
    const int second = first == 0 ? SSL_shutdown(c.ssl) : first;
    shutdown_detail = "SSL_shutdown: " + std::to_string(first) + " then " + std::to_string(second) + ", error " +
                      std::to_string(SSL_get_error(c.ssl, second)) + " " + fastrt::detail::openssl_reasons("");
    client_ok = second == 1;
  });
  auto served = run_on(*ctx, [](const tls_context& tls, fastrt::io_context& io, int fd) -> coro_task<std::string> {
    tls_stream s(tls, fastrt::tcp_stream(io, fd));
    auto shaken = co_await s.handshake();
    if (!shaken) co_return "handshake: " + std::string(shaken.error().message());
    if (s.protocol() != tls_alpn::h2) co_return "ALPN did not choose h2";
    std::string pending;
    std::size_t total = 0;
    for (;;) {
      auto in = co_await s.recv();
      if (!in) co_return "recv: " + std::string(in.error().message());
      if (in->empty()) break;  // close_notify
      pending += in->text();
      // Echo in 128 KiB writes: one send of many records.
      if (pending.size() >= 128 * 1024 || total + pending.size() == (1u << 20)) {
        total += pending.size();
        auto sent = co_await s.send(pending);
        if (!sent || *sent != pending.size()) co_return "send failed";
        pending.clear();
      }
    }
    if (!s.shutdown(SHUT_WR)) co_return "shutdown failed";
    auto after = co_await s.recv();  // the TCP FIN follows the close_notify; the peer closes
    (void)after;
    co_return "ok " + std::to_string(total);
  }(*context, *ctx, fds.server));
  peer.join();
  CHECK(served == "ok " + std::to_string(1 << 20));
  CHECK(echoed == payload);
  INFO(shutdown_detail);
  CHECK(client_ok);
}

TEST_CASE("tls_stream: no ALPN is tls_alpn::none; an ALPN without h2 or http/1.1 fails the handshake") {
  certificate_files files;
  auto context = tls_context::load(files.cert, files.key);
  REQUIRE(context);
  auto ctx = make_context();
  const auto serve = [](const tls_context& tls, fastrt::io_context& io, int fd) -> coro_task<std::string> {
    tls_stream s(tls, fastrt::tcp_stream(io, fd));
    auto shaken = co_await s.handshake();
    if (!shaken) co_return std::string(shaken.error().message());
    co_return s.protocol() == tls_alpn::none ? "none" : "some";
  };
  {
    socket_pair fds;
    std::thread peer([&] {
      client c(fds.peer, "");
      (void)c.handshake();
      (void)c.read(1);  // until the server closes
    });
    const std::string outcome = run_on(*ctx, serve(*context, *ctx, fds.server));
    peer.join();
    CHECK(outcome == "none");
  }
  {
    socket_pair fds;
    bool refused = false;
    std::thread peer([&] {
      client c(fds.peer, std::string_view("\x03" "foo", 4));
      refused = !c.handshake();
    });
    const std::string outcome = run_on(*ctx, serve(*context, *ctx, fds.server));
    peer.join();
    CHECK(refused);
    CHECK_THAT(outcome, Catch::Contains("TLS handshake") && Catch::Contains("no application protocol"));
  }
}

TEST_CASE("tls_stream: a plaintext client and a peer that leaves fail the handshake with a reason") {
  certificate_files files;
  auto context = tls_context::load(files.cert, files.key);
  REQUIRE(context);
  auto ctx = make_context();
  const auto serve = [](const tls_context& tls, fastrt::io_context& io, int fd) -> coro_task<result<void>> {
    tls_stream s(tls, fastrt::tcp_stream(io, fd));
    co_return co_await s.handshake();
  };
  {
    socket_pair fds;
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::write(fds.peer, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    auto outcome = run_on(*ctx, serve(*context, *ctx, fds.server));
    REQUIRE_FALSE(outcome);
    CHECK_THAT(std::string(outcome.error().message()), Catch::Contains("http request"));
    ::close(fds.peer);
  }
  {
    socket_pair fds;
    ::close(fds.peer);
    auto outcome = run_on(*ctx, serve(*context, *ctx, fds.server));
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == std::errc::connection_reset);
  }
}
