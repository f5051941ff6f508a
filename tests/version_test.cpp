#include <fastrt/version.hpp>

#include <catch2/catch.hpp>
#include <string>

// FASTRT_TEST_PROJECT_VERSION is project(VERSION) as CMake sees it: the
// generated header must agree with it in every form it offers.
TEST_CASE("version.hpp matches the project version") {
  const std::string expected = FASTRT_TEST_PROJECT_VERSION;
  CHECK(std::string(FASTRT_VERSION_STRING) == expected);
  CHECK(std::string(fastrt::version.string) == expected);
  const std::string assembled = std::to_string(fastrt::version.major) + "." + std::to_string(fastrt::version.minor) +
                                "." + std::to_string(fastrt::version.patch);
  CHECK(assembled == expected);
  STATIC_REQUIRE(fastrt::version.major == FASTRT_VERSION_MAJOR);
  STATIC_REQUIRE(fastrt::version.minor == FASTRT_VERSION_MINOR);
  STATIC_REQUIRE(fastrt::version.patch == FASTRT_VERSION_PATCH);
}
