// server_context.hpp — what every connection of one server shares: its
// configuration, its routes (C++ handlers and the fallback, e.g. the Python
// bridge), the observer it reports to, the live connection count and the
// server-wide body budget.
//
// Thread-safety: filled by the embedding program before serving, then
// read-only on every io thread, except `connections` and `buffered`
// (atomics). Must outlive every connection. Cost: a plain struct.
#pragma once

#include <atomic>
#include <cstddef>

#include <fastrt/http2/body_budget.hpp>
#include <fastrt/http2/observer.hpp>
#include <fastrt/http2/router.hpp>
#include <fastrt/http2/server_config.hpp>

namespace fastrt::http2 {

struct server_context {
  server_config config;
  router routes;  // what no route matches goes to the fallback; without one, 404
  observer* events = &silent;
  mutable std::atomic<std::size_t> connections{0};
  mutable server_body_budget buffered;  // bytes of bodies held, all connections

  static inline observer silent;  // the default: hears nothing
};

}  // namespace fastrt::http2
