// fastrt::http2 field rules (<fastrt/http2/field_rules.hpp>): the RFC 9110
// grammar on plain bytes, and the access log's escaping.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/field_rules.hpp>

#include <string>
#include <string_view>

namespace fields = fastrt::http2::fields;
using namespace std::string_view_literals;

TEST_CASE("field rules: tokens, values, content-length") {
  CHECK(fields::is_token("x-custom_1.~"));
  CHECK_FALSE(fields::is_token(""));
  CHECK_FALSE(fields::is_token("x y"));
  CHECK_FALSE(fields::is_token("G\0ET"sv));
  CHECK(fields::value_problem("a\tb c") == nullptr);
  CHECK(fields::value_problem("caf\xc3\xa9") == nullptr);  // obs-text
  CHECK(std::string(fields::value_problem("a\x01")) == "the header value contains a control character");
  CHECK(std::string(fields::value_problem("a\x7f")) == "the header value contains a control character");
  CHECK(std::string(fields::value_problem("\x01\n")) == "the header value contains NUL, CR or LF");
  CHECK(fields::sent_value_problem(" a") != nullptr);
  CHECK(fields::sent_value_problem("a\t") != nullptr);
  CHECK(fields::sent_value_problem("") == nullptr);
  CHECK(fields::sent_name_problem("X-A") != nullptr);
  CHECK(fields::sent_name_problem(":status") != nullptr);
  CHECK(fields::content_length("0") == 0u);
  CHECK(fields::content_length("123456789012345") == 123456789012345u);
  CHECK_FALSE(fields::content_length("1234567890123456"));
  CHECK_FALSE(fields::content_length("3, 3"));
  CHECK_FALSE(fields::content_length("+3"));
  CHECK_FALSE(fields::content_length(""));
}

TEST_CASE("field rules: the access log escapes what could forge a line") {
  std::string out;
  fields::escape_for_log("/a\nb\"c\\d\x7f\x01 \xc3\xa9", out);
  CHECK(out == "/a\\x0ab\\x22c\\x5cd\\x7f\\x01 \xc3\xa9");
}
