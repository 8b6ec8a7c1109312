// conec/detail/expected_compat.hpp stands in for std::expected only in the clang
// fuzz build; tested here (under gcc) so it keeps behaving like the real one
// in the ways conec relies on.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "conec/detail/expected_compat.hpp"

using conec::compat::expected;
using conec::compat::unexpected;

namespace {

struct Base {
  virtual ~Base() = default;
};
struct Derived : Base {};

expected<std::string, int> parse(bool ok) {
  if (!ok) return unexpected(7);
  return "text"; // converts like std::expected does
}

expected<void, std::string> check(bool ok) {
  if (!ok) return unexpected(std::string("bad"));
  return {};
}

} // namespace

TEST_CASE("compat::expected holds a value or an error", "[util]") {
  auto good = parse(true), bad = parse(false);
  REQUIRE(good);
  CHECK(*good == "text");
  CHECK(good->size() == 4);
  CHECK(good.value_or("x") == "text");
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == 7);
  CHECK(bad.value_or("x") == "x");
  CHECK_THROWS(bad.value());
  CHECK(check(true));
  CHECK(check(false).error() == "bad");
}

TEST_CASE("compat::expected moves non-copyable values and converts between value types", "[util]") {
  expected<std::unique_ptr<Derived>, int> d = std::make_unique<Derived>();
  expected<std::unique_ptr<Base>, int> b = std::move(d);
  REQUIRE(b);
  CHECK(*b != nullptr);
  std::unique_ptr<Base> taken = std::move(*b);
  CHECK(taken != nullptr);
}
