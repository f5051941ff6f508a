// http1_parser_fuzzer.cpp — libFuzzer target: arbitrary bytes into the
// HTTP/1.1 request parser (fastrt/http2/http1_request_parser.hpp: the head
// reader, Content-Length and chunked bodies, pipelining) and the first-bytes
// reader (read_head), with no I/O. Besides the sanitizers' findings, it
// aborts when the parser's answer depends on how the bytes were split: the
// requests and the final verdict fed whole must equal those fed in reads of
// `step` bytes and (for inputs up to 4 KiB) one byte at a time — a parser
// that a split can fool is a smuggling hazard.
//
// Input layout (make_http1_seed_corpus.py writes the same):
//   byte 0   the read size `step` for the second feeding (0: 7)
//   byte 1   bit 0: small limits (request line 64, head 256, body 64,
//            chunk line 16, trailers 32) so that 413/414/431 are reached
//   the rest the bytes the client sends
#include <fastrt/http2/http1_head.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../support/http1_feed.hpp"

namespace {

[[noreturn]] void differ(std::string_view what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "http1_parser_fuzzer: %.*s\n--- whole:\n%s--- split:\n%s", static_cast<int>(what.size()),
               what.data(), a.c_str(), b.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  namespace http1 = fastrt::http2::http1;
  const std::size_t step = data[0] == 0 ? 7 : data[0];
  http1::head_limits heads;
  http1::body_limits bodies;
  if (data[1] & 1) {
    heads = {64, 256};
    bodies = {64, 16, 32};
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  (void)http1::read_head(input);  // the sniffer's view of the same bytes
  const std::string whole = fastrt_test::feed(input, 0, heads, bodies);
  // (feed() otherwise always ends with "need more" or "failed": a body cannot forge this.)
  if (whole.ends_with("BUG: consumed past the input\n")) differ("an invariant broke", whole, whole);
  const std::string split = fastrt_test::feed(input, step, heads, bodies);
  if (split != whole) differ("fed in reads of " + std::to_string(step) + " bytes", whole, split);
  if (input.size() <= 4096) {
    const std::string bytes = fastrt_test::feed(input, 1, heads, bodies);
    if (bytes != whole) differ("fed one byte at a time", whole, bytes);
  }
  return 0;
}
