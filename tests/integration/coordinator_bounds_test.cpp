// Every per-client resource of the coordinator is bounded and charged to
// that client (issue 7): unregistered connections, control replies a client
// does not read, streams nobody handles, pending introductions, relay rate.
// Each offender gets a specific error; everyone else keeps working.
#include <catch2/catch.hpp>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "support/collector.hpp"
#include "support/coord_fixture.hpp"
#include "support/raw_client.hpp"
#include "util/log.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;
using test::RawClient;

namespace {

bool has(const std::optional<Error> &e, const std::string &text) {
  return e && e->message.find(text) != std::string::npos;
}

using Collect = test::Collector;

template <class T> const T *find_message(const RawClient &c) {
  for (const auto &m : c.received)
    if (auto *p = std::get_if<T>(&m)) return p;
  return nullptr;
}

// Sends `messages` messages of `size` bytes from `from` to a fresh stream
// and waits until `into` has them all; returns the SHA-256 of what was sent.
std::string transfer(CoordFixture &f, channel::Channel &from, Collect &into, size_t messages, size_t size) {
  auto s = from.open_stream(false);
  REQUIRE(s);
  test::Sha256 sent;
  for (size_t i = 0; i < messages; ++i) {
    Bytes m = test::pattern_block(9, i, size);
    sent.update(m);
    REQUIRE(s->send(m));
  }
  REQUIRE(s->finish());
  REQUIRE(f.run_until([&] { return into.ended; }, 60));
  return sent.hex();
}

} // namespace

TEST_CASE("connections that never say Hello count against max_clients and are closed in time", "[coord][bounds]") {
  coord::CoordinatorOptions o;
  o.limits.max_clients = 2;
  o.limits.hello_timeout = 400 * kMillisecond;
  CoordFixture f(o);
  RawClient r1(f.loop, f.coordinator->local_address(), test::identity_for("silent1"));
  RawClient r2(f.loop, f.coordinator->local_address(), test::identity_for("silent2"));
  REQUIRE(f.run_until([&] { return r1.handshake && r2.handshake; }));
  // Both slots are taken by connections that registered nothing.
  ClientEvents c;
  CHECK_FALSE(f.join("carl", c));
  REQUIRE(c.disconnected);
  CHECK(c.disconnected->code == int64_t(proto::RefuseCode::limit));
  CHECK(has(c.disconnected, "maximum of 2 clients"));
  // The silent ones are closed with the reason, and the slots free up.
  REQUIRE(f.run_until([&] { return r1.closed && r2.closed; }, 5));
  CHECK(has(r1.closed, "no Hello within 400 ms"));
  CHECK(f.coordinator->stats().closed_no_hello == 2);
  REQUIRE(f.run_until([&] { return f.coordinator->connection_count() <= 1; }, 5));
  ClientEvents d;
  CHECK(f.join("dora", d));
  r1.close();
  r2.close();
  REQUIRE(f.shutdown());
}

TEST_CASE("a client that withholds control-stream credit is closed with the bound named, and others keep going",
          "[coord][bounds]") {
  coord::CoordinatorOptions o;
  o.limits.max_control_backlog = 64 << 10;
  CoordFixture f(o);
  ClientEvents a, b;
  Collect got;
  got.keep_text = false;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(got); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);

  RawClient m(f.loop, f.coordinator->local_address(), test::identity_for("mallory"));
  REQUIRE(f.run_until([&] { return m.handshake; }));
  REQUIRE(m.send(proto::Hello{proto::kProtocolVersion, "mallory", {}}));
  REQUIRE(f.run_until([&] { return find_message<proto::Welcome>(m) != nullptr; }));
  m.withhold_credit = true;
  // Each request for an unknown peer earns a ChannelError: ~100 bytes of
  // replies that mallory never reads, well past its 1 MiB stream window.
  std::string nobody = "nobody-" + std::string(56, 'x');
  uint64_t next = 1;
  for (int round = 0; round < 60 && !m.closed; ++round) {
    for (int i = 0; i < 500; ++i) m.send(proto::ChannelRequest{next++, nobody});
    f.run_until([&] { return m.closed.has_value(); }, 0.05);
  }
  REQUIRE(f.run_until([&] { return m.closed.has_value(); }, 10));
  CHECK(m.closed->code == int64_t(proto::RefuseCode::limit));
  CHECK(has(m.closed, "control backlog over 64 KiB"));
  CHECK(f.coordinator->stats().closed_over_limit == 1);
  // Nobody else noticed: the open channel still carries data, byte-exact.
  std::string sent = transfer(f, **ch, got, 16, 64 << 10);
  CHECK_FALSE(got.end_error);
  CHECK(got.hash.hex() == sent);
  CHECK_FALSE(a.disconnected);
  CHECK_FALSE(b.disconnected);
  m.close();
  REQUIRE(f.shutdown());
}

TEST_CASE("a data stream to the coordinator that no handler takes is reset at once", "[coord][bounds]") {
  CoordFixture f;
  ClientEvents a;
  REQUIRE(f.join("alice", a));
  channel::Channel *ch = f.client("alice")->coordinator_channel();
  REQUIRE(ch);
  auto s = ch->open_stream(false);
  REQUIRE(s);
  Collect mine;
  s->set_handler(mine);
  REQUIRE(s->send(Bytes(1 << 20, 'z')));
  REQUIRE(f.run_until([&] { return mine.closed; }));
  CHECK(mine.close_error); // refused, not silently drained
  CHECK(f.coordinator->stats().streams_refused == 1);
  CHECK_FALSE(a.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("pending introductions count against their requester, never against the peer", "[coord][bounds]") {
  coord::CoordinatorOptions o;
  o.limits.max_channels_per_client = 2;
  o.limits.max_pending_per_client = 1;
  CoordFixture f(o);
  // The victim registers by hand and never answers the offers it gets.
  RawClient victim(f.loop, f.coordinator->local_address(), test::identity_for("victim"));
  REQUIRE(f.run_until([&] { return victim.handshake; }));
  REQUIRE(victim.send(proto::Hello{proto::kProtocolVersion, "victim", {}}));
  REQUIRE(f.run_until([&] { return find_message<proto::Welcome>(victim) != nullptr; }));
  ClientEvents m1, m2, b;
  REQUIRE(f.join("mallory", m1));
  REQUIRE(f.join("mallet", m2));
  REQUIRE(f.join("bob", b));
  // Each attacker gets one introduction waiting on the victim (which would
  // fill a quota of 2 if offers counted) and is refused a second one.
  std::vector<std::optional<Result<channel::Channel *>>> outcomes(4);
  for (size_t i = 0; i < 4; ++i)
    f.client(i < 2 ? "mallory" : "mallet")->open_channel("victim", [&outcomes, i](Result<channel::Channel *> r) {
      outcomes[i] = std::move(r);
    });
  REQUIRE(f.run_until([&] { return outcomes[1].has_value() && outcomes[3].has_value(); }));
  for (size_t i : {1, 3}) {
    REQUIRE_FALSE(outcomes[i]->has_value());
    INFO(outcomes[i]->error().message);
    CHECK(outcomes[i]->error().code == int64_t(proto::RefuseCode::limit));
    CHECK(outcomes[i]->error().message.find("maximum of 1 introductions waiting") != std::string::npos);
  }
  CHECK_FALSE(outcomes[0].has_value());
  CHECK_FALSE(outcomes[2].has_value());
  // The victim's own quota is untouched: its request to bob goes through.
  REQUIRE(victim.send(proto::ChannelRequest{77, "bob"}));
  REQUIRE(f.run_until([&] {
    for (const auto &msg : victim.received) {
      if (auto *i = std::get_if<proto::Introduction>(&msg); i && i->request_id == 77) return true;
      if (auto *e = std::get_if<proto::ChannelError>(&msg); e && e->request_id == 77) return true;
    }
    return false;
  }));
  const proto::ChannelError *refused = nullptr;
  for (const auto &msg : victim.received)
    if (auto *e = std::get_if<proto::ChannelError>(&msg); e && e->request_id == 77) refused = e;
  CHECK(refused == nullptr);
  victim.close();
  REQUIRE(f.shutdown());
}

TEST_CASE("a client over its relay rate loses only its excess, and the log names it", "[coord][bounds][relay]") {
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  log::get().sinks().push_back(ring);
  struct Unhook {
    std::shared_ptr<spdlog::sinks::sink> s;
    ~Unhook() { std::erase(log::get().sinks(), s); }
  } unhook{ring};

  coord::CoordinatorOptions o;
  o.limits.relay_client_bytes_per_second = 8'000'000;
  o.limits.relay_burst_bytes = 256 << 10;
  CoordFixture f(o);
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b;
  Collect got;
  got.keep_text = false;
  b.stream = [&](channel::Channel &, channel::Stream &s) { s.set_handler(got); };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  std::string sent = transfer(f, **ch, got, 8, 1 << 20);
  CHECK_FALSE(got.end_error);
  CHECK(got.hash.hex() == sent);
  CHECK(f.coordinator->stats().relay_dropped_rate > 0);
  bool named = false;
  for (const auto &line : ring->last_formatted())
    named |= line.find("'alice' exceeds its relay rate of 8.0 MB/s") != std::string::npos;
  CHECK(named);
  REQUIRE(f.shutdown());
}
