// cpp_handlers.hpp — C++ handlers, registered by path prefix. They run on the
// connection's io thread (no Python, no hop to a worker): keep them short or
// make them await.
#pragma once

#include <fastrt/task.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "request.hpp"

namespace fastrt_h2 {

using cpp_handler = std::function<fastrt::coro_task<response>(const request&)>;

class cpp_routes {
 public:
  void add(std::string prefix, cpp_handler handler) { routes_.push_back({std::move(prefix), std::move(handler)}); }

  // The handler of the longest matching prefix, or null.
  const cpp_handler* find(std::string_view path) const noexcept {
    const route* best = nullptr;
    for (const route& r : routes_) {
      if (path.starts_with(r.prefix) && (!best || r.prefix.size() > best->prefix.size())) best = &r;
    }
    return best ? &best->handler : nullptr;
  }

 private:
  struct route {
    std::string prefix;
    cpp_handler handler;
  };
  std::vector<route> routes_;
};

// The example handlers: /cpp/hello answers from C++.
inline cpp_routes example_routes() {
  cpp_routes routes;
  routes.add("/cpp/hello", [](const request&) -> fastrt::coro_task<response> {
    co_return text_response(200, "Hello from fastrt-h2 (C++)\n");
  });
  return routes;
}

}  // namespace fastrt_h2
