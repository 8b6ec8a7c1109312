// Relayed channels across a coordinator restart (proto::RelayResume): the
// clients reconnect from their sockets, re-present the relay tokens of
// their live channels, and the new coordinator relays again once both ends
// did — and for nobody else.
#include <catch2/catch.hpp>

#include "support/coord_fixture.hpp"
#include "support/stream_sinks.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;
using Sink = test::HashSink;

namespace {
// Relay tokens as the coordinator hands them out (tests play a client that
// learned one, or guesses).
struct TokenTap {
  std::vector<Bytes> tokens;
  coord::CoordinatorOptions options() {
    coord::CoordinatorOptions o;
    o.tamper_introduction = [this](proto::Introduction &intro) { tokens.push_back(intro.relay_token); };
    return o;
  }
};
} // namespace

TEST_CASE("a relayed transfer survives a coordinator restart: both ends re-present the relay and 24 MiB arrive whole",
          "[relay][resume]") {
  CoordFixture f;
  f.path_policy = net::PathPolicy::relay_only;
  f.reconnect = true;
  ClientEvents a, b;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  uint64_t old_id = f.coordinator->channels().at(0).id;
  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  test::BlockPump pump(3, 1 << 20, 24);
  s->set_handler(pump);
  pump.fill(*s);
  REQUIRE(f.run_until([&] { return sink.bytes >= 4u << 20; }, 30));

  REQUIRE(f.restart_coordinator());
  REQUIRE(f.run_until([&] { return sink.ended; }, 60));
  CHECK_FALSE(sink.error);
  CHECK(sink.bytes == pump.size * pump.count);
  CHECK(sink.hash.hex() == pump.sent.hex());
  // Both registered again and the new coordinator relayed the rest.
  CHECK(f.client("alice")->reregistrations() == 1);
  CHECK(f.client("bob")->reregistrations() == 1);
  CHECK(f.coordinator->stats().relays_resumed == 1);
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].initiator == "alice");
  CHECK(channels[0].acceptor == "bob");
  CHECK(channels[0].id != old_id);
  CHECK(channels[0].relayed_bytes > 0);
  CHECK(a.peer_closed.empty());
  CHECK(b.peer_closed.empty());
  CHECK_FALSE(a.disconnected);
  CHECK_FALSE(b.disconnected);
  // The channel goes on under its new number: a second stream arrives too.
  Sink second;
  b.stream = [&](channel::Channel &, channel::Stream &st) { st.set_handler(second); };
  auto s2 = (*ch)->open_stream(false);
  REQUIRE(s2);
  REQUIRE(s2->send(test::pattern_block(4, 0, 1000)));
  REQUIRE(s2->finish());
  REQUIRE(f.run_until([&] { return second.ended; }, 10));
  CHECK(second.bytes == 1000);
  REQUIRE(f.shutdown());
}

TEST_CASE("a relay whose other end does not come back after a restart ends after resume_grace with a reason",
          "[relay][resume]") {
  CoordFixture f;
  f.path_policy = net::PathPolicy::relay_only;
  f.reconnect = true;
  ClientEvents a, b;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  REQUIRE(f.run_until([&] { return !b.offered.empty(); }, 10));
  // bob's client goes quietly (its socket with it): no goodbye reaches alice
  // through the relay, which is the coordinator's next.
  for (auto it = f.clients.begin(); it != f.clients.end(); ++it)
    if (it->second->id() == "bob") {
      f.clients.erase(it);
      break;
    }
  coord::CoordinatorOptions o;
  o.limits.resume_grace = 400 * kMillisecond;
  REQUIRE(f.restart_coordinator(o));
  REQUIRE(f.run_until([&] { return !a.peer_closed.empty(); }, 10));
  CHECK_THAT(a.peer_closed[0].second.message,
             Catch::Matchers::Contains("'bob' did not come back within 400 ms"));
  CHECK(f.coordinator->channels().empty());
  CHECK(f.coordinator->stats().relays_resumed == 0);
  CHECK(f.client("alice")->registered());
  REQUIRE(f.shutdown());
}

TEST_CASE("re-presented relay tokens restore nothing for a client that is not their end", "[relay][resume][hostile]") {
  TokenTap tap;
  CoordFixture f(tap.options());
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b, m;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  REQUIRE(f.join("mallory", m));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  REQUIRE(tap.tokens.size() == 2);
  REQUIRE(tap.tokens[0] == tap.tokens[1]);
  const Bytes token = tap.tokens[0];
  channel::Channel *mallory = f.client("mallory")->coordinator_channel();

  SECTION("the relay is live: mallory's claim to either end is refused and the channel is undisturbed") {
    REQUIRE(mallory->send_control(proto::RelayResume{{{token, "bob", 0}, {token, "alice", 1}, {token, "alice", 0}}}));
    f.run_until([] { return false; }, 0.3);
    auto channels = f.coordinator->channels();
    REQUIRE(channels.size() == 1);
    CHECK(channels[0].initiator == "alice");
    CHECK(channels[0].acceptor == "bob");
    CHECK(f.coordinator->stats().relays_resumed == 0);
    auto s = (*ch)->open_stream(false);
    REQUIRE(s);
    REQUIRE(s->send(test::pattern_block(1, 0, 5000)));
    REQUIRE(s->finish());
    REQUIRE(f.run_until([&] { return sink.ended; }, 10));
    CHECK(sink.bytes == 5000);
  }

  SECTION("claims of made-up tokens cost mallory its own channel quota and expire") {
    coord::CoordinatorOptions o = tap.options();
    o.limits.max_channels_per_client = 4;
    o.limits.resume_grace = 300 * kMillisecond;
    f.reconnect = false;
    REQUIRE(f.restart_coordinator(o));
    ClientEvents m2;
    REQUIRE(f.join("mallory2", m2));
    proto::RelayResume claims;
    for (uint8_t i = 0; i < 10; ++i) claims.relays.push_back({Bytes(16, i), "alice", 0});
    REQUIRE(f.client("mallory2")->coordinator_channel()->send_control(claims));
    REQUIRE(f.run_until([&] { return f.coordinator->channels().size() == 4; }, 5));
    f.run_until([] { return false; }, 0.1);
    CHECK(f.coordinator->channels().size() == 4); // the quota, not ten
    for (const auto &c : f.coordinator->channels()) {
      CHECK(c.initiator == "mallory2");
      CHECK(c.acceptor == "alice");
    }
    REQUIRE(f.run_until([&] { return f.coordinator->channels().empty(); }, 5));
    CHECK(f.coordinator->stats().relays_resumed == 0);
    CHECK(m2.registered);
    CHECK_FALSE(m2.disconnected);
  }

  SECTION("an invalid peer id in a claim is a protocol violation") {
    REQUIRE(mallory->send_control(proto::RelayResume{{{token, "not an id", 0}}}));
    REQUIRE(f.run_until([&] { return m.disconnected.has_value(); }, 5));
    CHECK(m.disconnected->code == static_cast<int64_t>(proto::RefuseCode::protocol));
    CHECK(f.coordinator->channels().size() == 1);
  }
  REQUIRE(f.shutdown());
}

TEST_CASE("after a restart, a claim naming the wrong peer or role does not join the waiting end", "[relay][resume][hostile]") {
  TokenTap tap;
  CoordFixture f(tap.options());
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b, m;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  const Bytes token = tap.tokens.at(0);
  // A fresh coordinator; only test-driven claims reach it (no reconnecting clients).
  f.clients.clear();
  coord::CoordinatorOptions o;
  o.limits.resume_grace = 5 * kSecond;
  REQUIRE(f.restart_coordinator(o));
  ClientEvents a2, b2, m2;
  REQUIRE(f.join("alice", a2));
  REQUIRE(f.join("mallory", m2));
  REQUIRE(f.join("bob", b2));
  REQUIRE(f.client("alice")->coordinator_channel()->send_control(proto::RelayResume{{{token, "bob", 0}}}));
  REQUIRE(f.run_until([&] { return f.coordinator->channels().size() == 1; }, 5));
  // mallory holds the token but is not bob; bob names the wrong role, then the wrong peer.
  REQUIRE(f.client("mallory")->coordinator_channel()->send_control(proto::RelayResume{{{token, "alice", 1}}}));
  REQUIRE(f.client("bob")->coordinator_channel()->send_control(
      proto::RelayResume{{{token, "alice", 0}, {token, "mallory", 1}}}));
  f.run_until([] { return false; }, 0.3);
  CHECK(f.coordinator->stats().relays_resumed == 0);
  REQUIRE(f.coordinator->channels().size() == 1);
  CHECK(f.coordinator->channels()[0].initiator == "alice");
  CHECK(f.coordinator->channels()[0].acceptor == "bob");
  // The right claim completes it.
  REQUIRE(f.client("bob")->coordinator_channel()->send_control(proto::RelayResume{{{token, "alice", 1}}}));
  REQUIRE(f.run_until([&] { return f.coordinator->stats().relays_resumed == 1; }, 5));
  REQUIRE(f.shutdown());
}
