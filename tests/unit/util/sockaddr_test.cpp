#include <catch2/catch.hpp>

#include "util/sockaddr.hpp"

using namespace conec;

TEST_CASE("SockAddr parses numeric forms and default ports", "[util]") {
  auto a = SockAddr::parse("127.0.0.1:4433", 1719);
  REQUIRE(a);
  CHECK(a->to_string() == "127.0.0.1:4433");
  auto b = SockAddr::parse("[::1]:9", 1719);
  REQUIRE(b);
  CHECK(b->to_string() == "[::1]:9");
  auto c = SockAddr::parse("127.0.0.1", 1719);
  REQUIRE(c);
  CHECK(c->port() == 1719);
  CHECK(*a == *SockAddr::parse("127.0.0.1:4433", 1));
  CHECK_FALSE(*a == *c);
}

TEST_CASE("SockAddr rejects bad ports with a reason", "[util]") {
  auto bad = SockAddr::parse("127.0.0.1:99999", 1);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("port") != std::string::npos);
  CHECK_FALSE(SockAddr::parse("127.0.0.1:x", 1));
  CHECK_FALSE(SockAddr::parse("[::1", 1));
  CHECK_FALSE(SockAddr::parse(":5", 1));
}
