// fastrt::http2 router (<fastrt/http2/router.hpp>): longest raw prefix,
// method precedence, HEAD answered by GET routes, the fallback, duplicates
// refused, many routes; a handler sees the stop token it is given.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/router.hpp>
#include <fastrt/sync_wait.hpp>

#include <stop_token>
#include <string>

using fastrt::coro_task;
using fastrt::http2::request;
using fastrt::http2::response;
using fastrt::http2::router;

namespace {

// A handler that answers with `name`, so a test can tell which one find() chose.
router::handler named(std::string name) {
  return [name](const request&, std::stop_token) -> coro_task<response> {
    co_return fastrt::http2::text_response(200, name);
  };
}

// The name of the handler find() returns, or "null".
std::string chosen(const router& routes, std::string_view method, std::string_view path) {
  const router::handler* h = routes.find(method, path);
  if (!h) return "null";
  return fastrt::sync_wait((*h)(request{}, std::stop_token{})).body;
}

// `text` then `i` (appended, not `"m" + std::to_string(i)`: g++-12 -O2 warns
// falsely on that, -Wrestrict).
std::string label(const char* text, int i) {
  std::string s = text;
  s += std::to_string(i);
  return s;
}

}  // namespace

TEST_CASE("router: the longest matching prefix wins, whatever the registration order") {
  router routes;
  REQUIRE(routes.add(router::any_method, "/a/b", named("ab")));
  REQUIRE(routes.add(router::any_method, "/a", named("a")));
  REQUIRE(routes.add(router::any_method, "/a/b/c", named("abc")));
  CHECK(chosen(routes, "GET", "/a") == "a");
  CHECK(chosen(routes, "GET", "/a/x") == "a");
  CHECK(chosen(routes, "GET", "/a/b") == "ab");
  CHECK(chosen(routes, "GET", "/a/b/d") == "ab");
  CHECK(chosen(routes, "GET", "/a/b/c/d") == "abc");
}

TEST_CASE("router: prefixes match raw, not on segment boundaries") {
  router routes;
  REQUIRE(routes.add(router::any_method, "/cpp/hello", named("hello")));
  REQUIRE(routes.add(router::any_method, "/api/", named("api")));
  CHECK(chosen(routes, "GET", "/cpp/hello") == "hello");
  CHECK(chosen(routes, "GET", "/cpp/hello/x") == "hello");
  CHECK(chosen(routes, "GET", "/cpp/hellox") == "hello");  // raw prefix, as h2o/nginx locations
  CHECK(chosen(routes, "GET", "/cpp/hell") == "null");
  CHECK(chosen(routes, "GET", "/api/v1") == "api");
  CHECK(chosen(routes, "GET", "/api") == "null");  // with the slash: segment boundary only
  CHECK(chosen(routes, "GET", "/apix") == "null");
}

TEST_CASE("router: the empty prefix matches every path, but longer ones win") {
  router routes;
  REQUIRE(routes.add(router::any_method, "", named("all")));
  REQUIRE(routes.add(router::any_method, "/x", named("x")));
  CHECK(chosen(routes, "GET", "/") == "all");
  CHECK(chosen(routes, "POST", "/anything") == "all");
  CHECK(chosen(routes, "GET", "") == "all");
  CHECK(chosen(routes, "GET", "/x/y") == "x");
}

TEST_CASE("router: the exact method beats any method, for the same prefix") {
  router routes;
  REQUIRE(routes.add(router::any_method, "/r", named("any")));
  REQUIRE(routes.add("POST", "/r", named("post")));
  REQUIRE(routes.add("GET", "/r", named("get")));
  CHECK(chosen(routes, "GET", "/r") == "get");
  CHECK(chosen(routes, "POST", "/r/1") == "post");
  CHECK(chosen(routes, "PUT", "/r") == "any");
  CHECK(chosen(routes, "DELETE", "/r") == "any");
}

TEST_CASE("router: a route for another method does not match; methods are case-sensitive") {
  router routes;
  REQUIRE(routes.add("POST", "/p", named("post")));
  CHECK(chosen(routes, "GET", "/p") == "null");
  CHECK(chosen(routes, "post", "/p") == "null");
  CHECK(chosen(routes, "POST", "/p") == "post");
}

TEST_CASE("router: a longer prefix beats a better method") {
  router routes;
  REQUIRE(routes.add("GET", "/a", named("get a")));
  REQUIRE(routes.add(router::any_method, "/a/b", named("any ab")));
  CHECK(chosen(routes, "GET", "/a/b") == "any ab");
  CHECK(chosen(routes, "GET", "/a/c") == "get a");
}

TEST_CASE("router: HEAD is answered by GET routes, after HEAD routes and before any-method ones") {
  router routes;
  REQUIRE(routes.add("GET", "/g", named("get")));
  CHECK(chosen(routes, "HEAD", "/g") == "get");
  CHECK(chosen(routes, "HEAD", "/g/x") == "get");

  // For the same prefix: HEAD route, then GET route, then any method.
  REQUIRE(routes.add(router::any_method, "/g", named("any")));
  CHECK(chosen(routes, "HEAD", "/g") == "get");
  REQUIRE(routes.add("HEAD", "/g", named("head")));
  CHECK(chosen(routes, "HEAD", "/g") == "head");
  CHECK(chosen(routes, "GET", "/g") == "get");

  // GET does not fall back to HEAD routes, nor other methods to GET.
  router head_only;
  REQUIRE(head_only.add("HEAD", "/h", named("head")));
  CHECK(chosen(head_only, "GET", "/h") == "null");
  CHECK(chosen(routes, "POST", "/g") == "any");
}

TEST_CASE("router: the fallback answers what no route matches") {
  router routes;
  REQUIRE(routes.add("GET", "/known", named("known")));
  CHECK(chosen(routes, "GET", "/unknown") == "null");
  CHECK(chosen(routes, "POST", "/known") == "null");
  routes.fallback(named("fallback"));
  CHECK(chosen(routes, "GET", "/unknown") == "fallback");
  CHECK(chosen(routes, "POST", "/known") == "fallback");
  CHECK(chosen(routes, "GET", "/known") == "known");
  routes.fallback({});  // cleared
  CHECK(chosen(routes, "GET", "/unknown") == "null");
}

TEST_CASE("router: an empty router finds nothing, or its fallback") {
  router routes;
  CHECK(routes.find("GET", "/") == nullptr);
  CHECK(routes.find("", "") == nullptr);
  routes.fallback(named("fallback"));
  CHECK(chosen(routes, "GET", "/") == "fallback");
}

TEST_CASE("router: a duplicate route or an empty handler is refused, and changes nothing") {
  router routes;
  REQUIRE(routes.add("GET", "/d", named("first")));
  const auto dup = routes.add("GET", "/d", named("second"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error() == std::errc::invalid_argument);
  CHECK(std::string(dup.error().message()).find("already exists") != std::string::npos);
  const auto empty = routes.add("POST", "/d", router::handler{});
  REQUIRE_FALSE(empty);
  CHECK(empty.error() == std::errc::invalid_argument);
  CHECK(routes.size() == 1);
  CHECK(chosen(routes, "GET", "/d") == "first");
  CHECK(chosen(routes, "POST", "/d") == "null");
  // The same prefix for another method, or for any method, is a different route.
  CHECK(routes.add("POST", "/d", named("post")));
  CHECK(routes.add(router::any_method, "/d", named("any")));
  CHECK(routes.size() == 3);
}

TEST_CASE("router: many routes, each found by its own paths") {
  router routes;
  constexpr int n = 1000;
  for (int i = 0; i < n; ++i) {
    const std::string prefix = label("/r", i) + "/";
    REQUIRE(routes.add(i % 2 ? "POST" : "GET", prefix, named(label("m", i))));
    REQUIRE(routes.add(router::any_method, prefix, named(label("a", i))));
    REQUIRE(routes.add("GET", prefix + "deep/", named(label("d", i))));
  }
  CHECK(routes.size() == 3 * n);
  for (int i = 0; i < n; i += 37) {
    const std::string base = label("/r", i) + "/";
    const std::string own = i % 2 ? "POST" : "GET";
    CHECK(chosen(routes, own, base + "x") == label("m", i));
    CHECK(chosen(routes, "PUT", base + "x") == label("a", i));
    CHECK(chosen(routes, "GET", base + "deep/x") == label("d", i));
    CHECK(chosen(routes, "HEAD", base + "deep/") == label("d", i));
    CHECK(chosen(routes, "POST", base + "deep/x") == label(i % 2 ? "m" : "a", i));
  }
  CHECK(chosen(routes, "GET", "/r") == "null");
  CHECK(chosen(routes, "GET", "/r1000/") == "null");
}

TEST_CASE("router: a handler gets the stop token it is called with, and sees it stopped") {
  router routes;
  REQUIRE(routes.add("GET", "/s", [](const request& req, std::stop_token stop) -> coro_task<response> {
    co_return fastrt::http2::text_response(stop.stop_requested() ? 503 : 200, req.path);
  }));
  const router::handler* h = routes.find("GET", "/s");
  REQUIRE(h);
  request req;
  req.method = "GET";
  req.path = "/s/1";
  std::stop_source cut;
  const response before = fastrt::sync_wait((*h)(req, cut.get_token()));
  CHECK(before.status == 200);
  CHECK(before.body == "/s/1");
  cut.request_stop();
  const response after = fastrt::sync_wait((*h)(req, cut.get_token()));
  CHECK(after.status == 503);
}
