// Datagrams no QUIC stack would send — empty, one byte, truncated or
// oversized headers, random bytes, bogus relay packets — sent on real
// sockets to a coordinator and to a client: each is dropped and counted,
// and both keep serving (issue 7: one empty datagram used to abort them).
#include <catch2/catch.hpp>

#include <random>

#include "net/relay.hpp"
#include "support/collector.hpp"
#include "support/coord_fixture.hpp"
#include "support/raw_udp.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;

namespace {

// The hostile set: every datagram here must be refused before ngtcp2.
std::vector<Bytes> hostile_datagrams() {
  std::vector<Bytes> out;
  out.push_back({}); // empty
  for (uint8_t b : {0x00, 0x40, 0x80, 0xc0, 0xff, 0x2a}) out.push_back({b});
  // A long header (Initial, version 1, 8-byte DCID, 8-byte SCID) cut at every length.
  Bytes initial = {0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 0};
  for (size_t n = 1; n < 16; ++n) out.emplace_back(initial.begin(), initial.begin() + ptrdiff_t(n));
  // Connection-id lengths beyond QUIC's 20 bytes, and ones that overrun the datagram.
  out.push_back({0xc0, 0, 0, 0, 1, 255, 1, 2, 3});
  out.push_back({0xc0, 0, 0, 0, 1, 21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 0});
  out.push_back({0xc0, 0, 0, 0, 1, 2, 1, 2, 200, 1});
  // Short headers shorter than a stateless reset.
  for (size_t n = 2; n < 21; ++n) out.push_back(Bytes(n, 0x41));
  // A relay marker followed by the token and nothing, or one byte.
  Bytes relay(net::kRelayHeaderLength, 0);
  relay[0] = net::kRelayMarker;
  out.push_back(relay);
  relay.push_back(0);
  out.push_back(relay);
  return out;
}

// Random datagrams of random sizes: most are refused, some parse as packets
// for unknown connections; none may hurt.
std::vector<Bytes> random_datagrams(size_t count) {
  std::mt19937_64 rng(20261201);
  std::vector<Bytes> out;
  for (size_t i = 0; i < count; ++i) {
    Bytes d(rng() % 1500);
    for (auto &b : d) b = uint8_t(rng());
    out.push_back(std::move(d));
  }
  return out;
}

} // namespace

TEST_CASE("malformed and random datagrams to a coordinator and a client are dropped and both keep serving", "[hostile]") {
  CoordFixture f;
  ClientEvents a, b;
  test::Collector got;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(got); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  client::Client &alice = *f.client("alice");

  test::RawUdp attacker;
  auto hostile = hostile_datagrams();
  for (const Bytes &d : hostile) {
    REQUIRE(attacker.send(f.coordinator->local_address(), d));
    REQUIRE(attacker.send(SockAddr::loopback(AF_INET, alice.local_address().port()), d));
  }
  for (const Bytes &d : random_datagrams(500)) {
    REQUIRE(attacker.send(f.coordinator->local_address(), d));
    REQUIRE(attacker.send(SockAddr::loopback(AF_INET, alice.local_address().port()), d));
  }
  // Each malformed datagram is counted as such, on both sides.
  REQUIRE(f.run_until([&] {
    return f.coordinator->endpoint_stats().dropped_malformed >= hostile.size() &&
           alice.endpoint_stats().dropped_malformed >= hostile.size();
  }));

  // Both still serve: registration, an introduction and relayed data.
  ClientEvents c;
  REQUIRE(f.join("carol", c));
  auto ch = f.open(alice, "bob");
  REQUIRE(ch);
  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  REQUIRE(s->send(as_bytes("still here")));
  REQUIRE(s->finish());
  REQUIRE(f.run_until([&] { return got.ended; }));
  CHECK(got.text == "still here");
  CHECK_FALSE(a.disconnected);
  CHECK_FALSE(b.disconnected);
  CHECK(f.coordinator->clients().size() == 3);
  REQUIRE(f.shutdown());
}
