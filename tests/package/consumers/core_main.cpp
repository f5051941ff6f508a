// fastrt::core from an install tree: result, coro_task, sync_wait, version.
#include <fastrt/result.hpp>
#include <fastrt/sync_wait.hpp>
#include <fastrt/task.hpp>
#include <fastrt/version.hpp>

#include <cstdio>
#include <string_view>

namespace {

fastrt::coro_task<fastrt::result<int>> half(int n) {
  if (n % 2 != 0) co_return fastrt::error(std::errc::invalid_argument, "odd");
  co_return n / 2;
}

}  // namespace

int main() {
  const fastrt::result<int> ok = fastrt::sync_wait(half(84));
  const fastrt::result<int> odd = fastrt::sync_wait(half(3));
  std::printf("fastrt %s core: %d\n", fastrt::version.string, ok.value());
  return ok.value() == 42 && !odd.has_value() && std::string_view(fastrt::version.string) == FASTRT_VERSION_STRING
             ? 0
             : 1;
}
