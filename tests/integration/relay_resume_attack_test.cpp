// Hostile and odd uses of relay resumption (proto::RelayResume and
// proto::RelayResumed): claims that should change nothing, claims that must
// not outlive their quota or grace, and a tampered coordinator's answers.
#include <catch2/catch.hpp>
#include <deque>
#include <unistd.h>

#include "support/coord_fixture.hpp"
#include "support/quic_pair.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;

namespace {
struct Sink : channel::StreamHandler {
  size_t bytes = 0;
  bool ended = false;
  void on_message(channel::Stream &, Bytes m) override { bytes += m.size(); }
  void on_end(channel::Stream &, const std::optional<Error> &) override { ended = true; }
};

struct TokenTap {
  std::vector<Bytes> tokens;
  std::function<void(const proto::Introduction &)> also;
  coord::CoordinatorOptions options() {
    coord::CoordinatorOptions o;
    o.tamper_introduction = [this](proto::Introduction &intro) {
      tokens.push_back(intro.relay_token);
      if (also) also(intro);
    };
    return o;
  }
};

// Sends `bytes` over a new stream of `ch` and waits until `sink` has them all.
bool transfer(CoordFixture &f, channel::Channel &ch, Sink &sink, size_t bytes) {
  sink = Sink{};
  auto s = ch.open_stream(false);
  if (!s) return false;
  if (!s->send(test::pattern_block(7, 0, bytes)) || !s->finish()) return false;
  return f.run_until([&] { return sink.ended; }, 10) && sink.bytes == bytes;
}

Bytes made_up(uint8_t batch, size_t i) {
  Bytes t(16, batch);
  t[0] = uint8_t(i);
  t[1] = uint8_t(i >> 8);
  return t;
}

// Clients on a loop of their own: while the test stops running it they are
// frozen (no packet, no close), so the coordinator sees their connections
// time out, as when their network goes away.
struct Frozen {
  loop::Loop loop;
  std::map<std::string, std::unique_ptr<client::Client>> clients;
  ~Frozen() {
    clients.clear();
    test::run_until(loop, [] { return false; }, 0.05);
    (void)loop.close();
  }
  client::Client *start(CoordFixture &f, const std::string &id, ClientEvents &events, bool relay_only) {
    client::ClientOptions o;
    o.coordinator = f.coordinator->local_address();
    o.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
    o.verify_coordinator.pin = *tls::parse_pin(*test::server_identity().fingerprint());
    o.id = id;
    o.reconnect = true;
    if (relay_only) o.path_policy = net::PathPolicy::relay_only;
    o.identity = test::identity_for(id);
    auto c = client::Client::create(loop, o, events);
    if (!c) return nullptr;
    auto *raw = c->get();
    clients[id] = std::move(*c);
    return raw;
  }
  // Runs both loops (ours thawed) until done or `seconds`.
  bool run_until(CoordFixture &f, const std::function<bool()> &done, double seconds) {
    Timestamp end = monotonic_now() + Duration(seconds * 1e9);
    while (!done() && monotonic_now() < end) {
      f.loop.run_nowait();
      loop.run_nowait();
      usleep(200);
    }
    return done();
  }
};
} // namespace

TEST_CASE("an end re-presenting its live relay, twice and in both messages, changes nothing",
          "[relay][resume][attack]") {
  TokenTap tap;
  CoordFixture f(tap.options());
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  const Bytes token = tap.tokens.at(0);
  uint64_t id = f.coordinator->channels().at(0).id;
  auto *alice = f.client("alice")->coordinator_channel();
  auto *bob = f.client("bob")->coordinator_channel();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(alice->send_control(proto::RelayResume{{{token, "bob", 0}, {token, "bob", 0}}}));
    REQUIRE(bob->send_control(proto::RelayResume{{{token, "alice", 1}, {token, "alice", 1}}}));
  }
  f.run_until([] { return false; }, 0.4);
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].id == id);
  CHECK(channels[0].active);
  CHECK(f.coordinator->stats().relays_resumed == 0);
  CHECK(f.coordinator->stats().protocol_errors == 0);
  CHECK(transfer(f, **ch, sink, 20000));
  CHECK(a.peer_closed.empty());
  CHECK(b.peer_closed.empty());
  CHECK_FALSE(a.disconnected);
  CHECK_FALSE(b.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("a token re-presented while its introduction waits for an answer is refused and the channel opens",
          "[relay][resume][attack]") {
  TokenTap tap;
  CoordFixture f(tap.options());
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b, m;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  REQUIRE(f.join("mallory", m));
  // The offer to bob is out (the allocation is pending): claims for it, in
  // every role, arrive before bob's answer.
  tap.also = [&](const proto::Introduction &intro) {
    if (intro.role != 1) return;
    for (const char *id : {"alice", "mallory"}) {
      auto *c = f.client(id)->coordinator_channel();
      (void)c->send_control(proto::RelayResume{{{intro.relay_token, "bob", 0}, {intro.relay_token, "bob", 1}}});
    }
  };
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  f.run_until([] { return false; }, 0.3);
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].active);
  CHECK(channels[0].initiator == "alice");
  CHECK(channels[0].acceptor == "bob");
  CHECK(f.coordinator->stats().relays_resumed == 0);
  CHECK(transfer(f, **ch, sink, 5000));
  CHECK(a.peer_closed.empty());
  REQUIRE(f.shutdown());
}

TEST_CASE("repeated batches of made-up claims stay within the quota and all expire", "[relay][resume][attack]") {
  coord::CoordinatorOptions o;
  o.limits.max_channels_per_client = 8;
  o.limits.resume_grace = 500 * kMillisecond;
  CoordFixture f(o);
  ClientEvents m;
  REQUIRE(f.join("mallory", m));
  auto *c = f.client("mallory")->coordinator_channel();
  for (uint8_t batch = 0; batch < 4; ++batch) {
    proto::RelayResume claims;
    for (size_t i = 0; i < proto::kMaxResumedRelays; ++i)
      claims.relays.push_back({made_up(batch, i), i % 2 ? "alice" : "mallory", uint8_t(i % 2)});
    REQUIRE(c->send_control(claims));
  }
  size_t most = 0;
  f.run_until([&] {
    most = std::max(most, f.coordinator->channels().size());
    return false;
  }, 0.3);
  CHECK(most == 8);
  REQUIRE(f.run_until([&] { return f.coordinator->channels().empty(); }, 5));
  CHECK(f.coordinator->stats().relays_resumed == 0);
  CHECK(m.registered);
  CHECK_FALSE(m.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("claims end with their claimant's connection: closed at once, or lost without exceeding the quota",
          "[relay][resume][attack]") {
  coord::CoordinatorOptions o;
  o.limits.max_channels_per_client = 4;
  o.limits.resume_grace = 3 * kSecond;
  // A vanished client is noticed within a second; live ones are kept busy.
  o.quic.idle_timeout = 1 * kSecond;
  o.quic.keepalive = 200 * kMillisecond;
  CoordFixture f(o);
  ClientEvents a, m;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("mallory", m));
  auto claim = [&](uint8_t batch) {
    proto::RelayResume claims;
    for (size_t i = 0; i < 4; ++i) claims.relays.push_back({made_up(batch, i), "alice", 0});
    REQUIRE(f.client("mallory")->coordinator_channel()->send_control(claims));
    REQUIRE(f.run_until([&] { return f.coordinator->channels().size() >= 4; }, 5));
  };

  SECTION("closed: the claims go with it") {
    claim(1);
    f.client("mallory")->close();
    REQUIRE(f.run_until([&] { return f.coordinator->channels().empty(); }, 1));
  }
  SECTION("lost and back: its claims nobody joined do not add to the new connection's quota") {
    for (int round = 1; round <= 3; ++round) {
      auto frozen = std::make_unique<Frozen>();
      ClientEvents ev;
      REQUIRE(frozen->start(f, "mallory2", ev, false));
      REQUIRE(frozen->run_until(f, [&] { return ev.registered; }, 5));
      proto::RelayResume claims;
      for (size_t i = 0; i < 4; ++i) claims.relays.push_back({made_up(uint8_t(round), i), "alice", 0});
      REQUIRE(frozen->clients["mallory2"]->coordinator_channel()->send_control(claims));
      frozen->run_until(f, [] { return false; }, 0.2);
      CHECK(f.coordinator->channels().size() <= 4);
      // mallory2's network goes away: its connection times out (not closed).
      REQUIRE(f.run_until([&] { return f.coordinator->clients().size() == 2; }, 5));
      CHECK(f.coordinator->channels().size() <= 4);
      frozen.reset(); // its successor has a new socket
    }
    REQUIRE(f.run_until([&] { return f.coordinator->channels().empty(); }, 5));
  }
  CHECK(a.peer_closed.empty());
  CHECK_FALSE(a.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("a relay whose ends both lose their coordinator connections is rebuilt when they come back",
          "[relay][resume][attack]") {
  coord::CoordinatorOptions o;
  o.quic.idle_timeout = 1 * kSecond;
  o.quic.keepalive = 200 * kMillisecond;
  CoordFixture f(o);
  Frozen away;
  ClientEvents a, b;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(away.start(f, "alice", a, true));
  REQUIRE(away.start(f, "bob", b, true));
  REQUIRE(away.run_until(f, [&] { return a.registered && b.registered; }, 5));
  std::optional<Result<channel::Channel *>> ch;
  away.clients["alice"]->open_channel("bob", [&](Result<channel::Channel *> r) { ch = r; });
  REQUIRE(away.run_until(f, [&] { return ch.has_value(); }, 10));
  REQUIRE(*ch);
  auto send = [&](size_t bytes) {
    sink = Sink{};
    auto s = (**ch)->open_stream(false);
    REQUIRE(s);
    REQUIRE(s->send(test::pattern_block(5, 0, bytes)));
    REQUIRE(s->finish());
    return away.run_until(f, [&] { return sink.ended; }, 10) && sink.bytes == bytes;
  };
  REQUIRE(send(3000));
  // Both freeze for 2.5 s: the coordinator sees both connections time out.
  REQUIRE(f.run_until([&] { return f.coordinator->clients().empty(); }, 5));
  f.run_until([] { return false; }, 1.0);
  REQUIRE(away.run_until(f, [&] { return f.coordinator->stats().relays_resumed == 1; }, 10));
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].initiator == "alice");
  CHECK(channels[0].acceptor == "bob");
  CHECK(a.peer_closed.empty());
  CHECK(b.peer_closed.empty());
  CHECK(send(5000));
  away.clients.clear();
  REQUIRE(f.shutdown());
}

TEST_CASE("a channel to oneself at the channel quota survives a coordinator restart", "[relay][resume][attack]") {
  coord::CoordinatorOptions o;
  o.limits.max_channels_per_client = 1;
  CoordFixture f(o);
  f.path_policy = net::PathPolicy::relay_only;
  f.reconnect = true;
  ClientEvents a;
  Sink sink;
  a.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  auto ch = f.open(*f.client("alice"), "alice");
  REQUIRE(ch);
  REQUIRE(transfer(f, **ch, sink, 3000));
  REQUIRE(f.restart_coordinator(o));
  REQUIRE(f.run_until([&] { return f.coordinator->stats().relays_resumed == 1 || !a.peer_closed.empty(); }, 10));
  CHECK(f.coordinator->stats().relays_resumed == 1);
  REQUIRE(a.peer_closed.empty()); // else `ch` is gone
  REQUIRE(f.coordinator->channels().size() == 1);
  CHECK(transfer(f, **ch, sink, 3000));
  REQUIRE(f.shutdown());
}

TEST_CASE("a tampered coordinator's RelayResumed for unknown tokens or taken channel ids breaks no channel",
          "[relay][resume][attack]") {
  TokenTap tap;
  CoordFixture f(tap.options());
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b;
  Sink sink;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(sink); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch1 = f.open(*f.client("alice"), "bob");
  REQUIRE(ch1);
  auto ch2 = f.open(*f.client("alice"), "bob");
  REQUIRE(ch2);
  REQUIRE(tap.tokens.size() == 4);
  auto channels = f.coordinator->channels();
  REQUIRE(channels.size() == 2);
  channel::Channel *to_alice = f.coordinator->client_channel("alice");
  REQUIRE(to_alice);
  // Unknown tokens, with ids old, new and zero; then ch1's token renamed to ch2's id.
  for (uint64_t id : {uint64_t(0), channels[0].id, channels[1].id, uint64_t(12345)})
    REQUIRE(to_alice->send_control(proto::RelayResumed{Bytes(16, 0xee), id, true, "made up"}));
  REQUIRE(to_alice->send_control(proto::RelayResumed{tap.tokens[0], channels[1].id, true, ""}));
  REQUIRE(to_alice->send_control(proto::RelayResumed{tap.tokens[2], channels[0].id, false, ""}));
  f.run_until([] { return false; }, 0.5);
  CHECK(a.peer_closed.empty());
  CHECK_FALSE(a.disconnected);
  CHECK(transfer(f, **ch1, sink, 4000));
  CHECK(transfer(f, **ch2, sink, 4000));
  REQUIRE(f.shutdown());
}
