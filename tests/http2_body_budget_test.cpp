// fastrt::http2 body budgets (<fastrt/http2/body_budget.hpp>): bytes of
// bodies held per connection and server-wide; a refused charge changes
// nothing, release gives bytes back, a closing connection returns the rest.
// ctest-labels: http2
#include <catch2/catch.hpp>
#include <fastrt/http2/body_budget.hpp>

using fastrt::http2::connection_body_budget;
using fastrt::http2::server_body_budget;

TEST_CASE("body budget: server-wide limit, and a refused charge changes nothing") {
  server_body_budget server;
  CHECK(server.try_charge(60, 100));
  CHECK(server.try_charge(40, 100));  // exactly at the limit
  CHECK_FALSE(server.try_charge(1, 100));
  CHECK(server.used() == 100);
  server.release(50);
  CHECK(server.try_charge(50, 100));
  CHECK(server.used() == 100);
  CHECK(server.try_charge(1'000'000, 0));  // 0: no limit
}

TEST_CASE("body budget: per connection, then server-wide") {
  server_body_budget server;
  connection_body_budget a(server, 100, 150);
  connection_body_budget b(server, 100, 150);
  CHECK(a.try_charge(100));
  CHECK_FALSE(a.try_charge(1));  // a's own limit
  CHECK(a.used() == 100);
  CHECK(b.try_charge(50));
  CHECK_FALSE(b.try_charge(1));  // the server's limit, although b holds only 50
  CHECK(b.used() == 50);
  CHECK(server.used() == 150);
  a.release(30);
  CHECK(server.used() == 120);
  CHECK(b.try_charge(30));
  CHECK(b.used() == 80);
  CHECK(a.try_charge(0));  // nothing to hold: always allowed
}

TEST_CASE("body budget: a connection that closes gives back what it held") {
  server_body_budget server;
  {
    connection_body_budget c(server, 0, 0);  // 0: unlimited
    CHECK(c.try_charge(1 << 20));
    CHECK(server.used() == 1 << 20);
  }
  CHECK(server.used() == 0);
}
