// Conan's smoke test: the packaged headers compile and run.
#include <fastrt/result.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/version.hpp>

#include <cstdio>

namespace {

fastrt::coro_task<fastrt::result<int>> answer() { co_return 42; }

}  // namespace

int main() {
  const fastrt::result<int> value = fastrt::sync_wait(answer());
  std::printf("fastrt %s: %d\n", fastrt::version.string, value.value());
  return value.value() == 42 ? 0 : 1;
}
