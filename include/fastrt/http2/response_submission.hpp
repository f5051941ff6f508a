// response_submission.hpp — hands a stream's response to nghttp2: its header
// fields (connection-specific ones dropped, content-length added for a
// plain body) and a data provider nghttp2 pulls the body through as the
// client's flow-control windows allow.
//
// A plain body is copied out of response::body. A streamed body
// (response::stream) is copied out of the current piece; when a piece is
// used up the provider asks the Receiver for the next one and answers
// DEFERRED until it comes (the Receiver resumes the stream), so a body of
// any size costs about two pieces of server memory. A streamed body longer
// or shorter than its content-length resets the stream (INTERNAL_ERROR)
// rather than ending it: the client would reject it (RFC 9113 §8.1.1).
//
// The Receiver provides, called from inside nghttp2's mem_send:
//   bool next_piece_wanted(stream&);   false: the connection is closing
//   void streamed_length_mismatch(const stream&, std::string_view why);
//
// Thread-safety: the connection's io thread. Cost: the header fields are
// gathered in a per-thread vector (nghttp2 copies them); the body is
// copied once, into nghttp2's frame buffer.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <fastrt/http2/response.hpp>
#include <fastrt/http2/session.hpp>
#include <fastrt/http2/stream.hpp>

namespace fastrt::http2 {

// Fields HTTP/2 forbids in a response (RFC 9113 §8.2.2) or that we set.
inline bool connection_specific(std::string_view name) noexcept {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
         name == "upgrade" || name.starts_with(':');
}

namespace detail {

inline ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                         std::uint32_t* flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<stream*>(source->ptr);
  const std::size_t n = std::min(length, s->resp.body.size() - s->offset);
  std::memcpy(buffer, s->resp.body.data() + s->offset, n);
  s->offset += n;
  s->bytes_sent += n;
  if (s->offset == s->resp.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

template <class Receiver>
ssize_t read_stream(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length, std::uint32_t* flags,
                    nghttp2_data_source* source, void* user_data) {
  auto* s = static_cast<stream*>(source->ptr);
  Receiver& r = *static_cast<Receiver*>(user_data);
  const std::size_t n = std::min(length, s->piece.size() - s->offset);
  if (s->bytes_sent + n > s->declared_length) {
    r.streamed_length_mismatch(*s, "more");
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream with INTERNAL_ERROR
  }
  std::memcpy(buffer, s->piece.data() + s->offset, n);
  s->offset += n;
  s->bytes_sent += n;
  if (s->offset == s->piece.size()) {
    if (s->pieces == piece_state::last) {
      if (s->declared_length != unknown_length && s->bytes_sent != s->declared_length) {
        r.streamed_length_mismatch(*s, "fewer");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    }
    if (s->pieces == piece_state::ready) {
      if (!r.next_piece_wanted(*s)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      s->pieces = piece_state::fetching;
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;  // resumed when the piece arrives
  }
  return static_cast<ssize_t>(n);
}

}  // namespace detail

// Submits `s.resp` (checked by response_rules.hpp) on `h2`; `s` must outlive
// the stream in nghttp2 (the provider points at it). nghttp2's error code, 0
// on success.
template <class Receiver>
int submit_response(session& h2, stream& s) {
  // Digits on the stack: a std::to_string per response cost two calls.
  char status_text[12];
  const std::string_view status(status_text,
                                std::to_chars(std::begin(status_text), std::end(status_text), s.resp.status).ptr);
  char length_text[24];
  static thread_local std::vector<nghttp2_nv> fields;  // reused: one allocation per thread, not per response
  fields.clear();
  auto add = [](std::string_view name, std::string_view value) {
    fields.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                      NGHTTP2_NV_FLAG_NONE});
  };
  add(":status", status);
  bool has_length = false;
  for (const auto& [name, value] : s.resp.headers) {
    if (connection_specific(name)) continue;
    has_length = has_length || name == "content-length";
    add(name, value);
  }
  const bool no_body = s.resp.status == 204 || s.resp.status == 304;
  const bool streamed = static_cast<bool>(s.resp.stream);
  if (!has_length && !no_body && !streamed) {
    add("content-length",
        {length_text, std::to_chars(std::begin(length_text), std::end(length_text), s.resp.body.size()).ptr});
  }
  const bool with_body = !no_body && !s.head_request;
  if (!with_body) s.resp.stream = nullptr;
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = streamed ? &detail::read_stream<Receiver> : &detail::read_body;
  return h2.submit_response(s.id, fields, with_body ? &provider : nullptr);  // nghttp2 copies the fields
}

}  // namespace fastrt::http2
