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

TEST_CASE("field rules: the character table agrees with RFC 9110's classes at every byte") {
  static constexpr std::string_view punctuation = "!#$%&'*+-.^_`|~";
  for (unsigned c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    const bool tchar = alnum || punctuation.find(static_cast<char>(c)) != std::string_view::npos;
    INFO("byte " << c);
    CHECK(fields::is_tchar(static_cast<unsigned char>(c)) == tchar);
    const char one[1] = {static_cast<char>(c)};
    const bool ctl = (c < 0x20 && c != '\t') || c == 0x7f;
    CHECK((fields::value_problem(std::string_view(one, 1)) != nullptr) == ctl);
  }
}

TEST_CASE("field rules: lower_case_sent_name lower-cases in place and checks in one pass") {
  std::string name = "Content-Type";
  CHECK(fields::lower_case_sent_name(name) == nullptr);
  CHECK(name == "content-type");
  std::string bad = "X Y";
  CHECK(std::string(fields::lower_case_sent_name(bad)) ==
        "the header name has a character that is not allowed in a field name");
  CHECK(bad == "x y");
  std::string pseudo = ":Status";
  CHECK(fields::lower_case_sent_name(pseudo) != nullptr);
  std::string empty;
  CHECK(std::string(fields::lower_case_sent_name(empty)) == "the header name is empty");
  for (const char* text : {"x-custom_1.~", "ABC", "a\x80", "a\x01"}) {
    std::string lowered = text;
    const char* problem = fields::lower_case_sent_name(lowered);
    CHECK((problem == nullptr) == (fields::sent_name_problem(lowered) == nullptr));
  }
}

TEST_CASE("field rules: the access log escapes what could forge a line") {
  std::string out;
  fields::escape_for_log("/a\nb\"c\\d\x7f\x01 \xc3\xa9", out);
  CHECK(out == "/a\\x0ab\\x22c\\x5cd\\x7f\\x01 \xc3\xa9");
}
