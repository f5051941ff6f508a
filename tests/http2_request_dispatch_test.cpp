// fastrt::http2's request dispatch (<fastrt/http2/request_dispatch.hpp>):
// requests completed inside receive() wait for start_ready(); the handlers
// that answer there without suspending are flushed once, after the last
// (one send for one read's answers), while an answer made elsewhere is
// flushed by its own coroutine; a refused stream's handler never runs.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/async_scope.hpp>
#include <fastrt/http2/request_dispatch.hpp>
#include <fastrt/sync_wait.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

using fastrt::coro_task;
using fastrt::http2::request;
using fastrt::http2::request_dispatch;
using fastrt::http2::response;
using fastrt::http2::router;
using fastrt::http2::stream;
using fastrt::http2::stream_key;

namespace {

// The Receiver request_dispatch calls: records answers and flushes.
struct fake_connection {
  request_dispatch* dispatch = nullptr;
  std::map<std::int32_t, std::unique_ptr<stream>> streams;
  std::vector<std::int32_t> refused;
  fastrt::async_scope scope;
  std::vector<std::string> answered;  // the bodies, in the order answered
  int flushes = 0;
  int answers_at_first_flush = -1;

  stream* find(stream_key key) {
    const auto it = streams.find(key.id);
    return it == streams.end() ? nullptr : it->second.get();
  }
  bool may_start(const stream& s) const {
    return std::find(refused.begin(), refused.end(), s.id) == refused.end();
  }
  fastrt::async_scope& request_scope() { return scope; }
  bool answer(stream_key, response&& resp, const std::stop_token&) {
    answered.push_back(resp.body);
    return !dispatch->defer_flush();
  }
  coro_task<> flush() {
    if (flushes++ == 0) answers_at_first_flush = static_cast<int>(answered.size());
    co_return;
  }

  // A complete request for `path` on stream `id`, as the connection hands it over.
  stream& complete(std::int32_t id, std::string path) {
    auto s = std::make_unique<stream>();
    s->id = id;
    s->req->method = "GET";
    s->req->path = std::move(path);
    s->dispatched_req = std::move(s->req);
    return *(streams[id] = std::move(s));
  }
};

router echo_routes() {
  router routes;
  (void)routes.add(router::any_method, "/", [](const request& r, std::stop_token) -> coro_task<response> {
    co_return fastrt::http2::text_response(200, r.path);
  });
  return routes;
}

// A dispatch over `routes` and its connection; the handlers' scope is
// joined at the end, as the connection does.
struct dispatch_setup {
  explicit dispatch_setup(router r) : routes(std::move(r)) { c.dispatch = &dispatch; }
  ~dispatch_setup() { fastrt::sync_wait(c.scope.join()); }
  const router routes;
  request_dispatch dispatch{routes};
  fake_connection c;
};

}  // namespace

TEST_CASE("request dispatch: one read's answers are flushed once, after the last handler") {
  dispatch_setup setup(echo_routes());
  auto& [routes, dispatch, c] = setup;
  {
    const request_dispatch::receiving span(dispatch);
    dispatch.dispatch(c, c.complete(1, "/1"));
    dispatch.dispatch(c, c.complete(3, "/3"));
    dispatch.dispatch(c, c.complete(5, "/5"));
    CHECK(c.answered.empty());  // inside receive(): queued, not started
  }
  dispatch.start_ready(c);
  CHECK(c.answered == std::vector<std::string>{"/1", "/3", "/5"});  // in arrival order
  CHECK(c.flushes == 1);
  CHECK(c.answers_at_first_flush == 3);  // not the first answer alone
}

TEST_CASE("request dispatch: an answer made outside start_ready is flushed by its own coroutine") {
  dispatch_setup setup(echo_routes());
  auto& [routes, dispatch, c] = setup;
  dispatch.dispatch(c, c.complete(1, "/upgraded"));  // (the h2c upgrade's stream 1: not inside receive())
  CHECK(c.answered == std::vector<std::string>{"/upgraded"});
  CHECK(c.flushes == 1);
  CHECK_FALSE(dispatch.defer_flush());  // outside start_ready nothing is deferred
}

TEST_CASE("request dispatch: a refused or closed stream's handler never runs, and no flush is started for it") {
  dispatch_setup setup(echo_routes());
  auto& [routes, dispatch, c] = setup;
  {
    const request_dispatch::receiving span(dispatch);
    dispatch.dispatch(c, c.complete(1, "/refused"));
    dispatch.dispatch(c, c.complete(3, "/closed"));
  }
  c.refused.push_back(1);
  c.streams.erase(3);
  dispatch.start_ready(c);
  CHECK(c.answered.empty());
  CHECK(c.flushes == 0);
}

TEST_CASE("request dispatch: a path no route takes is answered 404") {
  dispatch_setup setup{router{}};  // no route at all
  auto& [routes, dispatch, c] = setup;
  dispatch.dispatch(c, c.complete(1, "/nowhere"));
  CHECK(c.answered == std::vector<std::string>{"Not Found\n"});
}
