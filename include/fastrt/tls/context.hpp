// fastrt/tls/context.hpp — a server's TLS configuration (OpenSSL 3): its
// certificate chain and key, the protocol versions, ALPN and session
// resumption, shared by every connection (fastrt/tls/stream.hpp).
//
//   auto ctx = fastrt::tls_context::load("cert.pem", "key.pem");   // result<tls_context>
//   if (!ctx) ...;    // the message carries OpenSSL's reason ("No such file", "key values mismatch")
//
// What it sets: TLS 1.2 and 1.3 only; ALPN picks `h2`, else `http/1.1`; a
// client offering neither fails its handshake (no_application_protocol), a
// client offering no ALPN at all gets HTTP/1.1 (tls_alpn::none);
// resumption both ways: session tickets (TLS 1.3 and 1.2, keys per
// context) and a server-side session cache; renegotiation off;
// SSL_MODE_RELEASE_BUFFERS, so an idle connection holds no record buffers.
//
// Thread-safety: load on one thread, then read-only: many io threads create
// their connections from one context (OpenSSL locks its session cache).
// Cost: one SSL_CTX; the session cache holds at most `session_cache_size`
// sessions (a few hundred bytes each).
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <fastrt/result.hpp>

namespace fastrt {

// The protocol a handshake agreed on through ALPN.
enum class tls_alpn : std::uint8_t { none, http1_1, h2 };

namespace detail {

// "what: reason; reason" from OpenSSL's error queue (which it empties).
inline std::string openssl_reasons(std::string_view what) {
  std::string text(what);
  bool first = true;
  while (const unsigned long code = ERR_get_error()) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    text += first ? ": " : "; ";
    text += reason;
    first = false;
  }
  return text;
}

inline error openssl_error(std::errc code, std::string_view what) { return error(code, openssl_reasons(what)); }

}  // namespace detail

class tls_context {
 public:
  struct options {
    std::size_t session_cache_size = 20'000;  // sessions kept server-side (SSL_CTX_sess_set_cache_size)
  };

  // Loads a PEM certificate chain (the leaf first) and its PEM private key.
  static result<tls_context> load(const std::string& cert_chain_file, const std::string& key_file) {
    return load(cert_chain_file, key_file, options{});
  }
  static result<tls_context> load(const std::string& cert_chain_file, const std::string& key_file,
                                  options opts) {
    ERR_clear_error();
    tls_context c(SSL_CTX_new(TLS_server_method()));
    if (!c.ctx_) return detail::openssl_error(std::errc::not_enough_memory, "SSL_CTX_new");
    SSL_CTX* ctx = c.ctx_.get();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
      return detail::openssl_error(std::errc::invalid_argument, "TLS versions");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain_file.c_str()) != 1)
      return detail::openssl_error(std::errc::invalid_argument, "TLS certificate " + cert_chain_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return detail::openssl_error(std::errc::invalid_argument, "TLS key " + key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
      return detail::openssl_error(std::errc::invalid_argument,
                                   "TLS key " + key_file + " does not match the certificate " + cert_chain_file);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    // Idle connections give their record buffers back; the stream's own
    // buffers are released too (stream.hpp). (No partial writes: SSL_write
    // encrypts everything it is given, the BIO never refuses bytes.)
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // Resumption: tickets are on by default (their keys live in this
    // context, shared by every io thread); the cache serves session ids.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(opts.session_cache_size));
    static constexpr unsigned char id_context[] = "fastrt";
    if (SSL_CTX_set_session_id_context(ctx, id_context, sizeof id_context - 1) != 1)
      return detail::openssl_error(std::errc::invalid_argument, "TLS session id context");
    SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, nullptr);
    return c;
  }

  tls_context(tls_context&&) noexcept = default;
  tls_context& operator=(tls_context&&) noexcept = default;

  SSL_CTX* native_handle() const noexcept { return ctx_.get(); }

  // What a finished handshake agreed on.
  static tls_alpn negotiated(const SSL* ssl) noexcept {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &name, &length);
    const std::string_view chosen(reinterpret_cast<const char*>(name), name ? length : 0);
    if (chosen == "h2") return tls_alpn::h2;
    if (chosen == "http/1.1") return tls_alpn::http1_1;
    return tls_alpn::none;
  }

 private:
  struct free_ctx {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
  };
  explicit tls_context(SSL_CTX* ctx) noexcept : ctx_(ctx) {}

  // Our preference, in the wire format: h2, then http/1.1.
  static constexpr unsigned char server_protocols[] = "\x02h2\x08http/1.1";

  static int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                         unsigned int offered_length, void*) {
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length, server_protocols, sizeof server_protocols - 1, offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301 §3.2: no_application_protocol
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }

  std::unique_ptr<SSL_CTX, free_ctx> ctx_;
};

}  // namespace fastrt
