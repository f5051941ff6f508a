#include <fastrt/result.hpp>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "support/death.hpp"

using fastrt::error;
using fastrt::result;

namespace {

result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return error(std::errc::invalid_argument, "not a digit");
  return c - '0';
}

result<int> sum_of_digits(char a, char b) {
  int x = FASTRT_TRY(parse_digit(a));
  int y = FASTRT_TRY(parse_digit(b));
  return x + y;
}

result<void> check_positive(int v) {
  if (v <= 0) return error(std::errc::result_out_of_range, "not positive");
  return {};
}

result<int> try_void_then_value(int v) {
  FASTRT_TRY(check_positive(v));
  return v * 2;
}

}  // namespace

TEST_CASE("result is small and holds a value or an error") {
  STATIC_REQUIRE(sizeof(result<int>) <= 24);
  STATIC_REQUIRE(sizeof(error) <= 16);

  result<int> ok = 7;
  REQUIRE(ok.has_value());
  REQUIRE(ok.value() == 7);
  REQUIRE(*ok == 7);

  result<int> bad = error(std::errc::timed_out, "too slow");
  REQUIRE_FALSE(bad);
  REQUIRE(bad.error() == std::errc::timed_out);
  REQUIRE(bad.error().message() == "too slow");
  REQUIRE(bad.error().value() == ETIMEDOUT);
  REQUIRE(bad.error().error_code() == std::make_error_code(std::errc::timed_out));
}

TEST_CASE("a literal message is not copied, runtime text is") {
  static const char* const literal_text = "static text";
  error literal(std::errc::io_error, "static text");
  REQUIRE_FALSE(literal.owns_message());

  std::string dynamic = "built at run time";
  error owned(std::errc::io_error, dynamic);
  REQUIRE(owned.owns_message());
  dynamic.assign("changed");
  REQUIRE(owned.message() == "built at run time");

  error copy = owned;
  REQUIRE(copy.message() == owned.message());
  REQUIRE(copy.message().data() != owned.message().data());
  error moved = std::move(copy);
  REQUIRE(moved.message() == "built at run time");
  (void)literal_text;
}

TEST_CASE("error::from_errno keeps errno and the context") {
  errno = ENOENT;
  error e = error::from_errno("open /nope");
  REQUIRE(e.code() == std::errc::no_such_file_or_directory);
  REQUIRE(e.message() == "open /nope");
}

TEST_CASE("result works with move-only values and result<void>") {
  result<std::unique_ptr<int>> p = std::make_unique<int>(5);
  std::unique_ptr<int> taken = std::move(p).value();
  REQUIRE(*taken == 5);

  result<void> fine;
  REQUIRE(fine.has_value());
  result<void> failed = error(fastrt::errc::canceled);
  REQUIRE_FALSE(failed.has_value());
  REQUIRE(failed.error() == fastrt::errc::canceled);
}

TEST_CASE("monadic helpers") {
  auto twice = [](int v) { return v * 2; };
  REQUIRE(result<int>(4).transform(twice).value() == 8);
  REQUIRE(result<int>(error(std::errc::io_error, "x")).transform(twice).error() == std::errc::io_error);

  auto halve = [](int v) -> result<int> {
    if (v % 2) return error(std::errc::invalid_argument, "odd");
    return v / 2;
  };
  REQUIRE(result<int>(8).and_then(halve).value() == 4);
  REQUIRE(result<int>(7).and_then(halve).error().message() == "odd");

  auto recover = [](const error&) -> result<int> { return 0; };
  REQUIRE(result<int>(error(std::errc::io_error, "x")).or_else(recover).value() == 0);
  REQUIRE(result<int>(3).or_else(recover).value() == 3);

  auto to_int = [](const error& e) { return e.value(); };
  result<int, int> mapped = result<int>(error(std::errc::io_error, "x")).transform_error(to_int);
  REQUIRE(mapped.error() == EIO);

  REQUIRE(result<int>(error(std::errc::io_error, "x")).value_or(-1) == -1);
  REQUIRE(result<int>(2).value_or(-1) == 2);

  result<std::string> s = std::string("abc");
  auto length = std::move(s).transform([](std::string v) { return v.size(); });
  REQUIRE(length.value() == 3);

  result<void> v;
  REQUIRE(v.transform([] { return 1; }).value() == 1);
  REQUIRE(v.and_then([]() -> result<int> { return 2; }).value() == 2);
}

TEST_CASE("FASTRT_TRY unwraps or returns the error") {
  REQUIRE(sum_of_digits('3', '4').value() == 7);
  auto failed = sum_of_digits('3', 'x');
  REQUIRE(failed.error() == std::errc::invalid_argument);
  REQUIRE(try_void_then_value(3).value() == 6);
  REQUIRE(try_void_then_value(-1).error() == std::errc::result_out_of_range);
}

TEST_CASE("value() on an error terminates naming the error") {
  auto report = fastrt::test::run_in_child([] {
    result<int> r = error(std::errc::connection_refused, "backend down");
    (void)r.value();
  });
  REQUIRE(report.aborted);
  REQUIRE_THAT(report.stderr_text, Catch::Contains("backend down"));
  REQUIRE_THAT(report.stderr_text, Catch::Contains("value() called on an error"));

  auto report2 = fastrt::test::run_in_child([] {
    result<int> r = 1;
    (void)r.error();
  });
  REQUIRE(report2.aborted);
  REQUIRE_THAT(report2.stderr_text, Catch::Contains("error() called on a value"));
}

// --- FASTRT_CO_TRY -----------------------------------------------------------
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>

namespace {

struct count_destruction {
  int* count;
  ~count_destruction() { ++*count; }
};

fastrt::coro_task<result<int>> co_digit(char c) { co_return parse_digit(c); }

fastrt::coro_task<result<int>> co_sum(char a, char b, int* destroyed, bool* reached_end) {
  count_destruction guard{destroyed};
  int x = FASTRT_CO_TRY(co_await co_digit(a));
  int y = FASTRT_CO_TRY(parse_digit(b));
  FASTRT_CO_TRY(check_positive(x + y));
  *reached_end = true;
  co_return x + y;
}

}  // namespace

TEST_CASE("FASTRT_CO_TRY unwraps or co_returns the error, and the frame is cleaned up") {
  int destroyed = 0;
  bool reached_end = false;
  REQUIRE(fastrt::sync_wait(co_sum('2', '5', &destroyed, &reached_end)).value() == 7);
  REQUIRE(reached_end);
  REQUIRE(destroyed == 1);

  reached_end = false;
  auto first_fails = fastrt::sync_wait(co_sum('x', '5', &destroyed, &reached_end));
  REQUIRE(first_fails.error() == std::errc::invalid_argument);
  REQUIRE_FALSE(reached_end);
  REQUIRE(destroyed == 2);  // locals of the abandoned frame were destroyed

  auto void_fails = fastrt::sync_wait(co_sum('0', '0', &destroyed, &reached_end));
  REQUIRE(void_fails.error().message() == "not positive");
  REQUIRE_FALSE(reached_end);
  REQUIRE(destroyed == 3);
}
