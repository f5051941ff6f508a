// fastrt::tls from an install tree: the headers compile against the
// consumer's OpenSSL 3 and link libssl. A certificate that does not exist
// must be refused with OpenSSL's reason (the call reaches libssl); serving
// HTTPS with a real certificate is consumers/server_main.cpp's part.
#include <fastrt/tls/context.hpp>
#include <fastrt/tls/stream.hpp>

#include <openssl/opensslv.h>

#include <cstdio>
#include <string_view>

static_assert(OPENSSL_VERSION_MAJOR >= 3, "fastrt::tls needs OpenSSL 3");

int main() {
  auto loaded = fastrt::tls_context::load("/nonexistent/fastrt-cert.pem", "/nonexistent/fastrt-key.pem");
  if (loaded) {
    std::fprintf(stderr, "tls: a missing certificate was accepted\n");
    return 1;
  }
  const std::string_view message = loaded.error().message();
  if (message.find("/nonexistent/fastrt-cert.pem") == std::string_view::npos) {
    std::fprintf(stderr, "tls: the error does not name the certificate: %.*s\n", static_cast<int>(message.size()),
                 message.data());
    return 1;
  }
  std::printf("tls: %s refuses a missing certificate: %.*s\n", OpenSSL_version(OPENSSL_VERSION),
              static_cast<int>(message.size()), message.data());
  return 0;
}
