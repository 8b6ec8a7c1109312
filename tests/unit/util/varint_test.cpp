#include <catch2/catch.hpp>

#include "util/varint.hpp"

using namespace conec;

TEST_CASE("varint round-trips at every size boundary", "[util]") {
  for (uint64_t v : {uint64_t{0}, uint64_t{63}, uint64_t{64}, uint64_t{16383}, uint64_t{16384},
                     uint64_t{(1u << 30) - 1}, uint64_t{1u << 30}, kVarintMax}) {
    Bytes out;
    varint_append(out, v);
    REQUIRE(out.size() == varint_size(v));
    auto d = varint_decode(out);
    REQUIRE(d);
    CHECK(d->value == v);
    CHECK(d->length == out.size());
    // Every strict prefix is "need more bytes", never a wrong value.
    for (size_t cut = 0; cut < out.size(); ++cut) CHECK_FALSE(varint_decode(ByteView(out).first(cut)));
  }
}
