// Client-to-client channels on a direct path: introduced by the
// coordinator, switched off its relay once a probe round trip proved the
// peer's address (on loopback: at once), so the data no longer crosses it.
#include <catch2/catch.hpp>

#include "support/coord_fixture.hpp"
#include "support/stream_sinks.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;
using Sink = test::HashSink;

namespace {
struct Tap : coord::CoordinatorHandler {
  uint64_t relayed = 0;
  void on_relayed(ByteView d) override { relayed += d.size(); }
};
} // namespace

TEST_CASE("a channel goes direct, and 64 MiB arrive whole while the coordinator relays almost nothing",
          "[direct][channel]") {
  Tap tap;
  CoordFixture f({}, &tap);
  ClientEvents a, b;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  const net::PeerPath *path = (*ch)->session().path();
  REQUIRE(path);
  REQUIRE(f.run_until([&] { return path->current() == net::PathKind::direct; }, 10));
  CHECK(path->describe() == "direct " + f.client("bob")->observed_address().to_string());
  CHECK(path->direct_validated());
  uint64_t relayed_before = tap.relayed;

  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  constexpr size_t kMessage = 1 << 20, kCount = 64;
  test::BlockPump pump(7, kMessage, kCount);
  s->set_handler(pump);
  pump.fill(*s);
  REQUIRE(f.run_until([&] { return sink.ended; }, 120));
  CHECK_FALSE(sink.error);
  CHECK(sink.bytes == kMessage * kCount);
  CHECK(sink.hash.hex() == pump.sent.hex());
  // The data took the direct path: the relay saw a few keepalives at most,
  // and the coordinator's count for the channel says so.
  CHECK(tap.relayed - relayed_before < 64 * 1024);
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].initiator == "alice");
  CHECK(channels[0].acceptor == "bob");
  CHECK(channels[0].active);
  CHECK(channels[0].relayed_bytes == tap.relayed);
  CHECK(channels[0].relayed_bytes < 1024 * 1024);
  CHECK(path->direct_counters().bytes_sent > kMessage * kCount);
  CHECK(path->current() == net::PathKind::direct);
  CHECK(path->switches_to_direct() == 1);
  CHECK(path->fallbacks() == 0);
  REQUIRE(f.shutdown());
}

TEST_CASE("the direct_only policy hands a channel over only once its path is direct", "[direct][channel]") {
  CoordFixture f;
  f.path_policy = net::PathPolicy::direct_only;
  ClientEvents a, b;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  REQUIRE((*ch)->session().path());
  CHECK((*ch)->session().path()->current() == net::PathKind::direct);
  REQUIRE(f.run_until([&] { return !b.offered.empty(); }, 10));
  CHECK(b.offered[0]->session().path()->current() == net::PathKind::direct);
  REQUIRE(f.shutdown());
}

TEST_CASE("a direct channel outlives the coordinator's end of it: one side's coordinator connection closes, "
          "the other hears ChannelClosed, and data still flows both ways",
          "[direct][channel]") {
  CoordFixture f;
  ClientEvents a, b;
  Sink at_bob;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(at_bob); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  REQUIRE(f.run_until([&] { return (*ch)->session().path()->current() == net::PathKind::direct && !b.offered.empty() &&
                                   b.offered[0]->session().path()->current() == net::PathKind::direct; }, 10));
  // The coordinator drops alice: her relay allocations go, bob is told.
  channel::Channel *alice_link = f.coordinator->client_channel("alice");
  REQUIRE(alice_link);
  alice_link->close(0, "test: dropping alice");
  REQUIRE(f.run_until([&] { return a.disconnected.has_value() && f.coordinator->channels().empty(); }, 10));
  f.run_until([] { return false; }, 0.3); // bob's ChannelClosed arrives
  CHECK(b.peer_closed.empty());
  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  Bytes m = test::pattern_block(9, 0, 300000);
  REQUIRE(s->send(m));
  REQUIRE(s->finish());
  REQUIRE(f.run_until([&] { return at_bob.ended; }, 10));
  CHECK_FALSE(at_bob.error);
  CHECK(at_bob.bytes == m.size());
  test::Sha256 want;
  want.update(m);
  CHECK(at_bob.hash.hex() == want.hex());
  REQUIRE(f.shutdown());
}
