// fastrt::python from an install tree: a runtime and one pinned
// subinterpreter worker evaluate something trivial.
#include <fastrt/python/runtime.hpp>
#include <fastrt/python/subinterpreter_executor.hpp>
#include <fastrt/sync_wait.hpp>

#include <cstdio>

namespace py = fastrt::python;

int main() {
  auto runtime = py::runtime::start({});
  if (!runtime) {
    std::fprintf(stderr, "runtime::start: %s\n", runtime.error().message().data());
    return 1;
  }
  py::executor_options options;
  options.pinned_workers = 1;
  options.handlers = {"operator:mul"};
  auto exec = py::subinterpreter_executor::start(std::move(options));
  if (!exec) {
    std::fprintf(stderr, "subinterpreter_executor::start: %s\n", exec.error().message().data());
    return 1;
  }
  const py::handler mul = (*exec)->handler_of("operator:mul").value();
  const fastrt::result<long long> product =
      fastrt::sync_wait((*exec)->submit([&](py::call_context& py) { return py.call_int(mul, 6, 7); }));
  std::printf("python: 6 * 7 = %lld\n", product.value());
  (void)(*exec)->shutdown();
  exec->reset();
  return product.value() == 42 && (*runtime)->reset().has_value() ? 0 : 1;
}
