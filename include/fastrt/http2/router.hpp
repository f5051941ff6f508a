// router.hpp — which handler answers a request: handlers registered by
// method and path prefix, plus an optional fallback, chosen without editing
// fastrt.
//
//   fastrt::http2::router routes;
//   FASTRT_TRY(routes.add("GET", "/api/", get_api));               // GET (and HEAD) under /api/
//   FASTRT_TRY(routes.add(router::any_method, "/files", files));   // every method
//   FASTRT_TRY(routes.add("PUT", "/upload", hash_upload, {.body = request_body::streamed}));
//   routes.fallback(not_found);
//   const router::handler* h = routes.find(req.method, req.path);  // null: no route, no fallback
//
// Request bodies (route_options::body): a `buffered` route's handler starts
// once the whole request has arrived, its body in request.body; a
// `streamed` route's handler starts as soon as the request's header fields
// are complete, with request.body empty and the body readable piece by piece
// under flow control from request.body_pieces — unless the request was
// already complete then: it comes whole, as on a buffered route
// (request_body.hpp's body_pieces_of reads both).
//
// Matching: a prefix matches the raw start of the path (no query), as h2o
// and nginx location prefixes do: "/cpp/hello" matches "/cpp/hello" and
// "/cpp/hello/x", and also "/cpp/hellox". Register "/api/" (with the
// slash) to match a segment boundary only. The empty prefix matches every
// path. Methods compare case-sensitively (RFC 9110 §9.1).
// Precedence: the longest matching prefix wins; among routes of that same
// prefix the exact method wins, then — for a HEAD request — a GET route (a
// HEAD is a GET without the body, which the server drops), then a route for
// any method. No route matches: the fallback, if one is set, else null.
//
// Thread-safety: add() and fallback() are for set-up, before serving (not
// synchronised); once serving, the router is read-only and find() may run on
// every io thread at once.
// Cost: add() copies the method, prefix and handler (allocation happens
// here only); find() is one pass over the routes, O(routes) comparisons, and
// never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../result.hpp"
#include "../task.hpp"
#include "request.hpp"
#include "response.hpp"

namespace fastrt::http2 {

// How a route's handler receives the request body (see the top of this file).
enum class request_body : std::uint8_t { buffered, streamed };

struct route_options {
  request_body body = request_body::buffered;
};

class router {
 public:
  // A handler runs on the connection's io thread: it must await, not block.
  // The stop token is stopped when the server gives up on the request (the
  // connection is cut); every cancellable await inside sees it too.
  using handler = std::function<fastrt::coro_task<response>(const request&, std::stop_token)>;

  // The method of a route that answers every method.
  static constexpr std::string_view any_method{};

  // What find_target() finds: the handler and how it takes the body.
  struct target {
    handler call;
    route_options options;
  };

  // Registers `h` for `method` (any_method: every method) and `prefix`.
  // Errors: an empty handler, or a second route for the same method and
  // prefix (invalid_argument; the router is unchanged).
  [[nodiscard]] fastrt::result<void> add(std::string_view method, std::string_view prefix, handler h,
                                         route_options options = {}) {
    if (!h) return fastrt::error(std::errc::invalid_argument, "router::add: empty handler for '" + std::string(prefix) + "'");
    for (const route& r : routes_) {
      if (r.method == method && r.prefix == prefix)
        return fastrt::error(std::errc::invalid_argument, "router::add: a route for " +
                                                              (method.empty() ? std::string("any method") : std::string(method)) +
                                                              " '" + std::string(prefix) + "' already exists");
    }
    routes_.push_back({std::string(method), std::string(prefix), {std::move(h), options}});
    return {};
  }

  // The handler of requests no route matches (an empty one clears it).
  void fallback(handler h, route_options options = {}) { fallback_ = {std::move(h), options}; }

  // The handler for `method` and `path` (see Precedence above): a route's,
  // else the fallback, else null. Valid until the router is changed.
  const handler* find(std::string_view method, std::string_view path) const noexcept {
    const target* t = find_target(method, path);
    return t ? &t->call : nullptr;
  }

  // The same, with the route's options.
  const target* find_target(std::string_view method, std::string_view path) const noexcept {
    const route* best = nullptr;
    method_match best_match = method_match::none;
    for (const route& r : routes_) {
      if (!path.starts_with(r.prefix)) continue;
      const method_match m = match(r.method, method);
      if (m == method_match::none) continue;
      if (!best || r.prefix.size() > best->prefix.size() || (r.prefix.size() == best->prefix.size() && m > best_match)) {
        best = &r;
        best_match = m;
      }
    }
    if (best) return &best->to;
    return fallback_.call ? &fallback_ : nullptr;
  }

  std::size_t size() const noexcept { return routes_.size(); }

 private:
  // How well a route's method fits a request's, worst to best.
  enum class method_match { none, any, head_as_get, exact };

  static method_match match(std::string_view route_method, std::string_view request_method) noexcept {
    if (route_method.empty()) return method_match::any;
    if (route_method == request_method) return method_match::exact;
    if (request_method == "HEAD" && route_method == "GET") return method_match::head_as_get;
    return method_match::none;
  }

  struct route {
    std::string method;  // empty: any method
    std::string prefix;
    target to;
  };

  std::vector<route> routes_;
  target fallback_;
};

}  // namespace fastrt::http2
