// http1_head.hpp — reading the head (request line and fields) of an HTTP/1.x
// request: for the HTTP/1.1 codec (read_request_head, request_head_reader:
// any request, its body framing, Connection and Expect), and for the
// connection's first bytes (read_head: is it HTTP/1.x at all, an h2c
// upgrade?). Pure parsing, no I/O; thread-safe (no shared state); cost
// O(head size) per call — request_head_reader, fed a growing buffer, looks
// at each byte a bounded number of times however it arrives.
//
// Why our own parser: Debian 12 packages no llhttp, and libhttp-parser-dev
// (its archived predecessor, unmaintained since 2020) is lax exactly where
// the request-smuggling defences must be strict; this reader is small, strict
// and fuzzed (tests/fuzz/http1_parser_fuzzer.cpp).
//
// A head is refused (RFC 9110/9112), each answer closing the connection:
// - 414: a request line over head_limits::request_line;
// - 431: a head over head_limits::head;
// - 400: a method that is not a token, a target with a space or control
//   character, a field name that is not a token or whitespace before the
//   colon, a field value with CR, LF, NUL or another control character,
//   obs-fold, a bare LF or CR, a missing (HTTP/1.1) or repeated Host, a
//   Content-Length that is not one decimal number or two different ones (the
//   same value repeated is accepted, RFC 9110 §8.6), Transfer-Encoding
//   together with Content-Length or in an HTTP/1.0 request, chunked not the
//   final transfer coding or applied twice (RFC 9112 §6.1, §6.3);
// - 501: a transfer coding other than chunked (gzip, chunked).
// What the first bytes of a connection can be (read_head; empty lines before
// the request line are skipped, RFC 9112 §2.2):
// - not an HTTP/1.x request line (`method SP target SP HTTP/1.x CRLF`, e.g.
//   "INVALID CONNECTION PREFACE" or TLS): the connection is closed without a
//   byte written (RFC 9113 §3.4: an invalid preface is a connection error);
// - a refused head (above);
// - a well-formed request that is not an h2c upgrade (RFC 9113 §3.2: `Upgrade:
//   h2c`, exactly one `HTTP2-Settings`, `Connection: Upgrade, HTTP2-Settings`)
//   gets 426; an upgrade with Transfer-Encoding, a repeated HTTP2-Settings or
//   one that is not base64url of whole 6-byte settings gets 400;
// - an h2c upgrade: its request becomes stream 1 (the caller checks the
//   settings with nghttp2 before answering 101).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "field_rules.hpp"
#include "request.hpp"

namespace fastrt::http2::http1 {

// The default limits: a request line longer than this gets 414, a head
// (request line, fields, blank line) longer than this 431.
inline constexpr std::size_t max_request_line = 8192;
inline constexpr std::size_t max_head_size = 8192;

struct head_limits {
  std::size_t request_line = max_request_line;
  std::size_t head = max_head_size;
};

// How the request's body is delimited (RFC 9112 §6.3).
enum class body_framing : std::uint8_t { none, content_length, chunked };

// What an Expect field asks (RFC 9110 §10.1.1): a 100-continue the server
// answers, or something else it cannot meet (417).
enum class expectation : std::uint8_t { none, continue_100, unsupported };

// The tokens of the Connection field this server acts on, as bits.
enum class connection_token : std::uint8_t { close = 1, keep_alive = 2, upgrade = 4, http2_settings = 8 };

// A well-formed request head.
struct request_head {
  request req;  // method, path, query, authority, regular fields (content-length included), http_version
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;  // framing == content_length
  std::uint8_t connection = 0;       // connection_token bits
  expectation expect = expectation::none;
  // What an h2c upgrade needs (views into the parsed bytes: valid while they are).
  std::string_view target;
  bool upgrade_h2c = false;  // Upgrade lists h2c
  int settings_fields = 0;
  std::string_view settings;

  bool has(connection_token t) const noexcept { return (connection & static_cast<std::uint8_t>(t)) != 0; }
};

// Whether the connection stays open after this request (RFC 9112 §9.3):
// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `keep-alive`.
inline bool keeps_alive(const request_head& h) noexcept {
  if (h.has(connection_token::close)) return false;
  return h.req.http_version != protocol_version::http1_0 || h.has(connection_token::keep_alive);
}

// Whether the server answers 100 Continue before reading the body: a
// 100-continue expectation from an HTTP/1.1 client (an HTTP/1.0 one's is
// ignored, RFC 9110 §10.1.1) on a request that has a body.
inline bool wants_continue(const request_head& h) noexcept {
  return h.expect == expectation::continue_100 && h.req.http_version == protocol_version::http1_1 &&
         (h.framing == body_framing::chunked || h.content_length > 0);
}

struct upgrade_request {
  request req;
  std::string settings;            // the decoded HTTP2-Settings payload
  std::size_t content_length = 0;  // the body that follows the head (stream 1's request body)
};

enum class head_verdict {
  incomplete,          // more bytes are needed to tell
  not_http1,           // not an HTTP/1.x request line: close without answering (in the codec: 400)
  line_too_long,       // a request line over head_limits::request_line: 414
  too_large,           // an HTTP/1.x head over head_limits::head: 431
  malformed,           // an HTTP/1.x head breaking RFC 9110/9112: 400 (`problem` says why)
  unsupported_coding,  // a transfer coding other than chunked: 501
  request,             // a well-formed request (`parsed`, `size`): read_request_head's answer
  not_upgrade,         // read_head: a well-formed HTTP/1.x request, not an h2c upgrade: 426
  upgrade,             // read_head: an h2c upgrade (`upgrade`, `size`)
};

struct head {
  head_verdict verdict = head_verdict::incomplete;
  std::string_view problem;  // static text, for malformed and unsupported_coding
  std::size_t size = 0;      // request, upgrade: bytes of the head, blank line (and skipped empty lines) included
  request_head parsed;       // request
  upgrade_request upgrade;   // upgrade
};

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
inline std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;  // b is lower-case
  }
  return true;
}
// Calls `each` with every element of a comma-separated field value, trimmed;
// empty elements are skipped (RFC 9110 §5.6.1). Stops early when it returns false.
template <class Each>
bool for_each_element(std::string_view value, Each each) {
  while (true) {
    const auto comma = value.find(',');
    const std::string_view element = trim(value.substr(0, comma));
    if (!element.empty() && !each(element)) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}
// Whether a comma-separated field value holds `token` (case-insensitive; `token` lower-case).
inline bool has_token(std::string_view value, std::string_view token) {
  return !for_each_element(value, [&](std::string_view e) { return !iequals(e, token); });
}

// base64url (RFC 4648 §5) as HTTP2-Settings carries it: no padding, though
// trailing '=' is tolerated; nullopt for anything else.
inline std::optional<std::string> base64url_decode(std::string_view text) {
  while (text.ends_with('=')) text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

inline bool is_http1_version(std::string_view v) noexcept {
  return v.size() == 8 && v.starts_with("HTTP/1.") && v[7] >= '0' && v[7] <= '9';
}

namespace detail {

inline head verdict(head_verdict v, std::string_view problem = {}) {
  head h;
  h.verdict = v;
  h.problem = problem;
  return h;
}

// The offset just past the empty line that ends a head, looking at the LFs
// from `from` on, or npos. A bare-LF blank line counts too, so that the
// reader can refuse it instead of waiting.
inline std::size_t head_end(std::string_view in, std::size_t from) noexcept {
  for (std::size_t lf = in.find('\n', from); lf != std::string_view::npos; lf = in.find('\n', lf + 1)) {
    if (lf + 1 < in.size() && in[lf + 1] == '\n') return lf + 2;
    if (lf + 2 < in.size() && in[lf + 1] == '\r' && in[lf + 2] == '\n') return lf + 3;
  }
  return std::string_view::npos;
}

// Whether `in` (no LF yet) starts as a request line does: a method, a space.
inline bool starts_like_request_line(std::string_view in) noexcept {
  const auto sp = in.find(' ');
  return sp != std::string_view::npos && fields::is_token(in.substr(0, sp));
}

// The target's path (and query) into `h.req`: origin form as it is; absolute
// form (`http://host/p`) gives the authority too (RFC 9112 §3.2.2: it wins
// over Host). False for an absolute form without a host.
inline bool set_target(request_head& h, std::string_view target) {
  std::size_t skip = 0;
  if (target.size() > 7 && iequals(target.substr(0, 7), "http://")) skip = 7;
  else if (target.size() > 8 && iequals(target.substr(0, 8), "https://")) skip = 8;
  if (skip == 0) {
    add_field(h.req, ":path", target);
    return true;
  }
  const std::string_view rest = target.substr(skip);
  const auto end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end);
  if (authority.empty()) return false;
  h.req.authority = authority;
  const std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.starts_with('/')) add_field(h.req, ":path", path);
  else add_field(h.req, ":path", "/" + std::string(path));
  return true;
}

// The transfer codings of the Transfer-Encoding fields, as they are read.
struct coding_list {
  int fields = 0;
  int chunked = 0;                // how many times chunked appears
  bool other_before_last = false; // a coding other than chunked, not the final one
  std::string_view last;

  void add(std::string_view value) {
    ++fields;
    for_each_element(value, [this](std::string_view coding) {
      if (!last.empty() && !iequals(last, "chunked")) other_before_last = true;
      chunked += iequals(coding, "chunked") ? 1 : 0;
      last = coding;
      return true;
    });
  }
};

// The framing the Transfer-Encoding and Content-Length fields give (RFC 9112 §6.3).
inline head framing(request_head& h, const coding_list& te, int lengths) {
  if (te.fields == 0) {
    h.framing = lengths > 0 ? body_framing::content_length : body_framing::none;
    return verdict(head_verdict::request);
  }
  if (lengths > 0) return verdict(head_verdict::malformed, "Transfer-Encoding together with Content-Length");
  if (h.req.http_version == protocol_version::http1_0)
    return verdict(head_verdict::malformed, "Transfer-Encoding in an HTTP/1.0 request");
  if (!iequals(te.last, "chunked"))
    return verdict(head_verdict::malformed, "chunked is not the final transfer coding");
  if (te.chunked > 1) return verdict(head_verdict::malformed, "chunked is applied more than once");
  if (te.other_before_last)
    return verdict(head_verdict::unsupported_coding, "only the chunked transfer coding is supported");
  h.framing = body_framing::chunked;
  return verdict(head_verdict::request);
}

// The head of `in`, a request line first; the blank line is looked for from
// `scan_from` on (an earlier call on the same first bytes found none before
// it, and checked the request line).
inline head read_request(std::string_view in, const head_limits& limits, std::size_t scan_from = 0) {
  if (in.empty()) return verdict(head_verdict::incomplete);
  // A request line starts with a method (a token): binary input, TLS and
  // the like are told apart at once.
  if (!fields::is_tchar(static_cast<unsigned char>(in.front()))) return verdict(head_verdict::not_http1);
  const std::size_t line_end = in.find('\n');
  if (line_end == std::string_view::npos && in.size() < limits.request_line) return verdict(head_verdict::incomplete);
  if (line_end == std::string_view::npos || line_end + 1 > limits.request_line) {
    // Over the limit, only the first request_line bytes decide (414, or not
    // HTTP at all), whatever the end says: had the bytes come in pieces, the
    // reader would have given up there, before the end arrived.
    const bool request_like = starts_like_request_line(in.substr(0, limits.request_line));
    return verdict(request_like ? head_verdict::line_too_long : head_verdict::not_http1);
  }
  std::string_view line = in.substr(0, line_end);
  const bool crlf = line.ends_with('\r');
  if (crlf) line.remove_suffix(1);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || !is_http1_version(line.substr(sp2 + 1)))
    return verdict(head_verdict::not_http1);

  // An HTTP/1.x request: from here on, a mistake gets an answer.
  if (!crlf) return verdict(head_verdict::malformed, "the request line ends with a bare LF");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  // (A scan resumed past the line: an earlier call checked these bytes.)
  if (scan_from <= line_end && !fields::is_token(method))
    return verdict(head_verdict::malformed, "the method is not a token");
  if (scan_from <= line_end && !fields::is_request_target(target))
    return verdict(head_verdict::malformed, "the request target has a space or a control character");
  const std::size_t end = detail::head_end(in, std::max(line_end, scan_from));
  if (end == std::string_view::npos) {
    head h = verdict(in.size() >= limits.head ? head_verdict::too_large : head_verdict::incomplete);
    h.size = in.size() < 2 ? 0 : in.size() - 2;  // incomplete: where the next look for the blank line starts
    return h;
  }
  if (end > limits.head) return verdict(head_verdict::too_large);

  head h;
  request_head& r = h.parsed;
  r.req.method = method;
  r.req.http_version = version == "HTTP/1.0" ? protocol_version::http1_0 : protocol_version::http1_1;
  r.target = target;
  int hosts = 0, lengths = 0;
  coding_list te;
  std::string_view host;
  std::string_view lines = in.substr(line_end + 1, end - line_end - 1);  // each ends in LF
  for (;;) {
    const auto lf = lines.find('\n');
    std::string_view field = lines.substr(0, lf);
    lines.remove_prefix(lf + 1);
    if (!field.ends_with('\r')) return verdict(head_verdict::malformed, "a header line ends with a bare LF");
    field.remove_suffix(1);
    if (field.empty()) break;  // the blank line
    if (field.front() == ' ' || field.front() == '\t')
      return verdict(head_verdict::malformed, "obs-fold (a header line starting with whitespace) is not accepted");
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return verdict(head_verdict::malformed, "a header line has no colon");
    if (!fields::is_token(field.substr(0, colon)))
      return verdict(head_verdict::malformed, "a header name is not a token (or has whitespace before the colon)");
    const std::string_view value = trim(field.substr(colon + 1));
    if (const char* problem = fields::value_problem(value)) return verdict(head_verdict::malformed, problem);
    const std::string name = lower(field.substr(0, colon));
    if (name == "host") {
      if (++hosts > 1) return verdict(head_verdict::malformed, "more than one Host field");
      host = value;
    } else if (name == "content-length") {
      const auto length = fields::content_length(value);
      if (!length) return verdict(head_verdict::malformed, "Content-Length is not a decimal number");
      if (lengths++ > 0) {
        if (*length != r.content_length) return verdict(head_verdict::malformed, "two different Content-Length values");
        continue;  // the same value again: kept once
      }
      r.content_length = *length;
      add_field(r.req, name, value);
    } else if (name == "transfer-encoding") {
      te.add(value);
    } else if (name == "upgrade") {
      r.upgrade_h2c = r.upgrade_h2c || has_token(value, "h2c");
    } else if (name == "connection") {
      for_each_element(value, [&r](std::string_view token) {
        if (iequals(token, "close")) r.connection |= static_cast<std::uint8_t>(connection_token::close);
        else if (iequals(token, "keep-alive")) r.connection |= static_cast<std::uint8_t>(connection_token::keep_alive);
        else if (iequals(token, "upgrade")) r.connection |= static_cast<std::uint8_t>(connection_token::upgrade);
        else if (iequals(token, "http2-settings"))
          r.connection |= static_cast<std::uint8_t>(connection_token::http2_settings);
        return true;
      });
    } else if (name == "http2-settings") {
      ++r.settings_fields;
      r.settings = value;
    } else if (name != "keep-alive" && name != "proxy-connection" && name != "te") {
      if (name == "expect" && r.expect != expectation::unsupported)
        r.expect = iequals(value, "100-continue") ? expectation::continue_100 : expectation::unsupported;
      add_field(r.req, name, value);
    }
  }
  if (r.req.http_version == protocol_version::http1_1 && hosts == 0)
    return verdict(head_verdict::malformed, "an HTTP/1.1 request without Host");
  r.req.authority = host;
  if (!set_target(r, target)) return verdict(head_verdict::malformed, "the absolute-form target has no host");
  head framed = framing(r, te, lengths);
  if (framed.verdict != head_verdict::request) return framed;
  h.verdict = head_verdict::request;
  h.size = end;
  return h;
}

// How many empty lines (CRLF) start `in`, in bytes, within `limit`.
inline std::size_t leading_empty_lines(std::string_view in, std::size_t limit) noexcept {
  std::size_t skipped = 0;
  while (skipped < limit && in.substr(skipped).starts_with("\r\n")) skipped += 2;
  return skipped;
}

}  // namespace detail

// The head of the request that starts `in` (empty lines before it are
// skipped, RFC 9112 §2.2): `request` with `parsed` and `size`, incomplete,
// or a refusal (see the top of the file). One call looks at the whole
// head so far: request_head_reader is the incremental form.
inline head read_request_head(std::string_view in, const head_limits& limits = {}) {
  const std::size_t skipped = detail::leading_empty_lines(in, limits.head);
  if (in.substr(skipped) == "\r") return detail::verdict(head_verdict::incomplete);
  head h = detail::read_request(in.substr(skipped), limits);
  if (h.verdict == head_verdict::request) h.size += skipped;
  return h;
}

// read_request_head over a buffer that grows between calls (a connection's
// unread bytes, from the start of a request): each call looks for the blank
// line only in what is new, so a head that trickles in byte by byte costs
// O(head) in all, not O(head²). reset() before the next request.
//
// Thread-safety: one connection's. Cost: two words.
class request_head_reader {
 public:
  explicit request_head_reader(head_limits limits = {}) noexcept : limits_(limits) {}

  head read(std::string_view in) {
    const std::size_t skipped = detail::leading_empty_lines(in, limits_.head);
    if (in.substr(skipped) == "\r") return detail::verdict(head_verdict::incomplete);
    if (skipped != skipped_) scanned_ = 0;  // the request line moved: look again from it
    skipped_ = skipped;
    head h = detail::read_request(in.substr(skipped), limits_, scanned_);
    if (h.verdict == head_verdict::incomplete) scanned_ = h.size;
    else if (h.verdict == head_verdict::request) h.size += skipped;
    return h;
  }
  void reset() noexcept { scanned_ = skipped_ = 0; }
  const head_limits& limits() const noexcept { return limits_; }

 private:
  head_limits limits_;
  std::size_t scanned_ = 0;  // no blank line ends the head before this offset (past the skipped empty lines)
  std::size_t skipped_ = 0;
};

// What the first bytes received on a connection are (see the top of the
// file). `in` starts at the connection's first byte.
inline head read_head(std::string_view in) {
  head h = read_request_head(in);
  if (h.verdict != head_verdict::request) return h;
  using detail::verdict;
  const request_head& r = h.parsed;
  // Only an origin-form HTTP/1.1 request asking for h2c is upgraded.
  if (!r.upgrade_h2c || !r.has(connection_token::upgrade) || !r.has(connection_token::http2_settings) ||
      r.settings_fields == 0 || r.req.http_version != protocol_version::http1_1 || !r.target.starts_with('/'))
    return verdict(head_verdict::not_upgrade);
  if (r.settings_fields > 1) return verdict(head_verdict::malformed, "more than one HTTP2-Settings field");
  if (r.framing == body_framing::chunked)
    return verdict(head_verdict::malformed, "Transfer-Encoding is not accepted in an h2c upgrade request");
  auto settings = base64url_decode(r.settings);
  if (!settings) return verdict(head_verdict::malformed, "HTTP2-Settings is not base64url");
  if (settings->size() % 6 != 0)
    return verdict(head_verdict::malformed, "HTTP2-Settings is not a whole number of settings (6 bytes each)");
  head out = verdict(head_verdict::upgrade);
  out.size = h.size;
  out.upgrade.req = std::move(h.parsed.req);
  out.upgrade.req.http_version = protocol_version::http2;  // answered on stream 1
  out.upgrade.settings = std::move(*settings);
  out.upgrade.content_length = static_cast<std::size_t>(r.content_length);
  return out;
}

// A complete HTTP/1.1 answer that closes the connection. `status_line`:
// e.g. "400 Bad Request".
inline std::string closing_response(std::string_view status_line, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status_line;
  out += "\r\n";
  if (status_line.starts_with("426")) out += "Upgrade: h2c\r\nConnection: Upgrade, close\r\n";  // RFC 9110 §15.5.22
  else out += "Connection: close\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

// The answer to an HTTP/1.x request that is not an h2c upgrade.
inline std::string upgrade_required_response() {
  return closing_response("426 Upgrade Required",
                          "This server speaks HTTP/2 only: use h2c with prior knowledge (curl --http2-prior-knowledge) "
                          "or an h2c upgrade (curl --http2).\n");
}

// The answer to a malformed head: the reason goes to the client.
inline std::string bad_request_response(std::string_view problem) {
  std::string body(problem);
  body += '\n';
  return closing_response("400 Bad Request", body);
}

// The status a refused head gets (line_too_long, too_large, malformed,
// unsupported_coding, not_http1 where an answer is due), 0 for the others.
constexpr int refusal_status(head_verdict v) noexcept {
  switch (v) {
    case head_verdict::line_too_long: return 414;
    case head_verdict::too_large: return 431;
    case head_verdict::malformed:
    case head_verdict::not_http1: return 400;
    case head_verdict::unsupported_coding: return 501;
    case head_verdict::incomplete:
    case head_verdict::request:
    case head_verdict::not_upgrade:
    case head_verdict::upgrade: break;
  }
  return 0;
}

// The closing answer to a refused head (refusal_status), its reason in the body.
inline std::string refusal_response(const head& h) {
  switch (refusal_status(h.verdict)) {
    case 414: return closing_response("414 URI Too Long", "the request line is longer than the server accepts\n");
    case 431: return closing_response("431 Request Header Fields Too Large", "the request head is larger than the server accepts\n");
    case 501: return closing_response("501 Not Implemented", std::string(h.problem) + "\n");
    default: break;
  }
  return bad_request_response(h.verdict == head_verdict::not_http1 ? "not an HTTP/1.x request line" : h.problem);
}

inline constexpr std::string_view switching_protocols =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

}  // namespace fastrt::http2::http1
