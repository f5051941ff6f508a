// detail::worker_load (fastrt/python/worker_load.hpp): what dispatch reads
// to choose a worker. No CPython needed.
#include <fastrt/python/worker_load.hpp>

#include <catch2/catch.hpp>
#include <cstdint>

using fastrt::python::detail::lazy_now;
using fastrt::python::detail::steady_now_ns;
using fastrt::python::detail::worker_load;

TEST_CASE("a worker is idle with nothing queued or running") {
  worker_load load;
  lazy_now now;
  CHECK(load.idle());
  CHECK(load.score(now) == 0);
  load.add_queued();
  CHECK_FALSE(load.idle());
  load.remove_queued();  // the push failed after all
  CHECK(load.idle());
}

TEST_CASE("score = jobs in flight + milliseconds the current job has run") {
  worker_load load;
  load.add_queued();
  load.add_queued();
  load.add_queued();
  const std::int64_t start = steady_now_ns();
  load.job_begins(start - 250'000'000);  // began 250 ms ago
  lazy_now now;
  const std::int64_t score = load.score(now);
  CHECK(score >= 3 + 250);
  CHECK(score < 3 + 250 + 1000);  // bounded by how long this test takes, not 1 s
  load.job_done();
  lazy_now later;
  CHECK(load.in_flight() == 2);
  CHECK(load.score(later) == 2);  // between jobs: no running time
}

TEST_CASE("a clock that has not moved counts nothing negative") {
  worker_load load;
  load.add_queued();
  load.job_begins(steady_now_ns() + 1'000'000'000);  // a start "in the future" (clock read before)
  lazy_now now;
  CHECK(load.score(now) == 1);
}
