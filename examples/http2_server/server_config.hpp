// server_config.hpp — what every connection of fastrt-h2 shares: the limits
// and timeouts from the command line (fastrt::http2::server_config, free of
// Python), the C++ routes, the Python app, the connection count and the body
// budget.
#pragma once

#include <fastrt/http2/python/app.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>

#include <atomic>
#include <cstddef>

#include "cpp_handlers.hpp"
#include "http2_names.hpp"

namespace fastrt_h2 {

using fastrt::http2::python::python_app;  // the library's Python handler

// Shared by every connection of every io thread. Read-only while serving,
// except the connection counter and the body budget.
struct app_context {
  server_config config;
  router routes;  // C++ handlers; what none matches goes to the Python app
  fastrt::python::subinterpreter_executor* executor = nullptr;
  python_app app{{}, {}};
  mutable std::atomic<std::size_t> connections{0};
  mutable server_body_budget buffered;  // bytes of bodies held, all connections
};

}  // namespace fastrt_h2
