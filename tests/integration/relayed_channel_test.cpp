// Client-to-client channels relayed through the coordinator: data is exact,
// ordered, flow-controlled, end to end encrypted, and channel ends are seen
// by both sides.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "net/probe.hpp"
#include "net/relay.hpp"
#include "support/coord_fixture.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;

namespace {

// Collects what one stream delivers.
struct Recorder : channel::StreamHandler {
  std::vector<Bytes> messages;
  size_t bytes = 0;
  bool ended = false;
  std::optional<Error> end_error, close_error;
  bool closed = false;
  bool keep = true; // store messages (else only count)
  test::Sha256 hash;
  std::function<void(channel::Stream &)> writable;
  void on_message(channel::Stream &, Bytes m) override {
    bytes += m.size();
    hash.update(m);
    if (keep) messages.push_back(std::move(m));
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    ended = true;
    end_error = e;
  }
  void on_writable(channel::Stream &s) override {
    if (writable) writable(s);
  }
  void on_closed(channel::Stream &, const std::optional<Error> &e) override {
    closed = true;
    close_error = e;
  }
};

// alice and bob registered, alice has a channel to bob; bob's incoming
// streams get recorders from `incoming`. Relay-only unless told otherwise:
// on loopback a channel would otherwise go direct at once
// (tests/integration/direct_path_test.cpp).
struct Pair {
  CoordFixture f;
  ClientEvents a, b;
  channel::Channel *ab = nullptr;
  std::vector<std::unique_ptr<Recorder>> incoming;
  std::vector<channel::Stream> incoming_streams;
  explicit Pair(coord::CoordinatorHandler *handler = nullptr, net::PathPolicy policy = net::PathPolicy::relay_only)
      : f({}, handler) {
    f.path_policy = policy;
    b.stream = [this](channel::Channel &, channel::Stream &s) {
      incoming.push_back(std::make_unique<Recorder>());
      s.set_handler(*incoming.back());
      incoming_streams.push_back(s);
    };
    if (!f.join("alice", a) || !f.join("bob", b)) return;
    auto r = f.open(*f.client("alice"), "bob");
    if (r) ab = *r;
  }
};

} // namespace

TEST_CASE("64 MiB relayed from A to B arrive whole, in order, with the same SHA-256", "[relay][channel]") {
  struct Tap : coord::CoordinatorHandler {
    uint64_t relayed = 0;
    void on_relayed(ByteView d) override { relayed += d.size(); }
  } tap;
  Pair p(&tap);
  REQUIRE(p.ab);
  auto s = p.ab->open_stream(false);
  REQUIRE(s);
  Recorder sender;
  s->set_handler(sender);
  constexpr size_t kMessage = 1 << 20, kCount = 64;
  test::Sha256 sent;
  size_t next = 0;
  std::function<void(channel::Stream &)> pump = [&](channel::Stream &st) {
    while (next < kCount) {
      Bytes m = test::pattern_block(3, next++, kMessage);
      sent.update(m);
      auto w = st.send(m);
      REQUIRE(w);
      if (*w == quic::WriteState::would_block) return;
    }
    REQUIRE(st.finish());
  };
  sender.writable = pump;
  pump(*s);
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty() && p.incoming[0]->ended; }, 120));
  Recorder &got = *p.incoming[0];
  CHECK_FALSE(got.end_error);
  CHECK(got.messages.size() == kCount);
  CHECK(got.bytes == kMessage * kCount);
  CHECK(got.hash.hex() == sent.hex());
  // It really went through the coordinator's relay, counted for the channel.
  CHECK(tap.relayed > kMessage * kCount);
  auto channels = p.f.coordinator->channels();
  REQUIRE(channels.size() == 1);
  CHECK(channels[0].relayed_bytes == tap.relayed);
  CHECK(channels[0].relayed_datagrams > kMessage * kCount / 1500);
  // The channel's peer path says so too, counted on the relay path only;
  // relay-only, it never probed the address where bob might be reached.
  const net::PeerPath *path = p.ab->session().path();
  REQUIRE(path);
  CHECK(path->current() == net::PathKind::relay);
  CHECK(path->describe() == "relay");
  CHECK(path->relay_counters().bytes_sent > kMessage * kCount);
  CHECK(path->relay_counters().datagrams_received > 0);
  CHECK(path->direct_counters().bytes_sent == 0);
  CHECK(path->probes_sent() == 0);
  CHECK_FALSE(path->direct_address());
  CHECK(path->relay_address() == p.f.coordinator->local_address());
  REQUIRE_FALSE(path->options().candidates.empty());
  CHECK(path->options().candidates[0] == p.f.client("bob")->observed_address());
  CHECK(path->options().policy == net::PathPolicy::relay_only);
  REQUIRE(p.f.shutdown());
}

TEST_CASE("the coordinator relays only ciphertext", "[relay][channel]") {
  struct Tap : coord::CoordinatorHandler {
    std::string seen;
    size_t datagrams = 0;
    void on_relayed(ByteView d) override {
      ++datagrams;
      seen.append(as_chars(d));
    }
  } tap;
  Pair p(&tap);
  REQUIRE(p.ab);
  const std::string secret = "THE-RECOGNIZABLE-PAYLOAD-7f3a";
  auto s = p.ab->open_stream(false);
  REQUIRE(s);
  for (int i = 0; i < 200; ++i) REQUIRE(s->send(as_bytes(secret)));
  REQUIRE(s->finish());
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty() && p.incoming[0]->ended; }));
  REQUIRE(p.incoming[0]->messages.size() == 200);
  CHECK(as_chars(p.incoming[0]->messages[0]) == secret);
  CHECK(tap.datagrams > 0);
  CHECK(tap.seen.find(secret) == std::string::npos);
  CHECK(tap.seen.find("RECOGNIZABLE") == std::string::npos);
  REQUIRE(p.f.shutdown());
}

TEST_CASE("one bidirectional relayed stream carries both directions", "[relay][channel]") {
  Pair p;
  REQUIRE(p.ab);
  auto s = p.ab->open_stream(true);
  REQUIRE(s);
  Recorder back;
  s->set_handler(back);
  REQUIRE(s->send(as_bytes("question")));
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty() && !p.incoming[0]->messages.empty(); }));
  channel::Stream theirs = p.incoming_streams[0];
  REQUIRE(theirs.send(as_bytes("answer")));
  REQUIRE(theirs.finish());
  REQUIRE(s->finish());
  REQUIRE(p.f.run_until([&] { return back.ended && p.incoming[0]->ended; }));
  CHECK(as_chars(p.incoming[0]->messages.at(0)) == "question");
  CHECK(as_chars(back.messages.at(0)) == "answer");
  CHECK_FALSE(back.end_error);
  REQUIRE(p.f.shutdown());
}

TEST_CASE("100 concurrent relayed streams each keep their order", "[relay][channel]") {
  Pair p;
  REQUIRE(p.ab);
  std::vector<channel::Stream> streams;
  for (int i = 0; i < 100; ++i) {
    auto s = p.ab->open_stream(false);
    REQUIRE(s);
    streams.push_back(*s);
  }
  for (int k = 0; k < 30; ++k)
    for (int i = 0; i < 100; ++i)
      REQUIRE(streams[i].send(as_bytes(std::to_string(i) + ":" + std::to_string(k) + std::string(500, 'z'))));
  for (auto &s : streams) REQUIRE(s.finish());
  REQUIRE(p.f.run_until([&] {
    return p.incoming.size() == 100 &&
           std::all_of(p.incoming.begin(), p.incoming.end(), [](auto &r) { return r->ended; });
  }, 60));
  std::set<int> seen_streams;
  for (auto &r : p.incoming) {
    REQUIRE(r->messages.size() == 30);
    std::string first(as_chars(r->messages[0]));
    int index = std::stoi(first.substr(0, first.find(':')));
    seen_streams.insert(index);
    for (int k = 0; k < 30; ++k)
      CHECK(std::string(as_chars(r->messages[k])).rfind(std::to_string(index) + ":" + std::to_string(k), 0) == 0);
  }
  CHECK(seen_streams.size() == 100);
  REQUIRE(p.f.shutdown());
}

TEST_CASE("a channel to oneself works through the relay", "[relay][channel]") {
  CoordFixture f;
  ClientEvents a;
  std::vector<std::unique_ptr<Recorder>> incoming;
  a.stream = [&](channel::Channel &, channel::Stream &s) {
    incoming.push_back(std::make_unique<Recorder>());
    s.set_handler(*incoming.back());
  };
  REQUIRE(f.join("narcissus", a));
  auto ch = f.open(*f.client("narcissus"), "narcissus");
  REQUIRE(ch);
  CHECK((*ch)->peer() == "narcissus");
  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  REQUIRE(s->send(as_bytes("hello me")));
  REQUIRE(s->finish());
  REQUIRE(f.run_until([&] { return !incoming.empty() && incoming[0]->ended; }));
  CHECK(as_chars(incoming[0]->messages.at(0)) == "hello me");
  REQUIRE(f.shutdown());
}

TEST_CASE("a slow reader holds the relayed writer back instead of buffering", "[relay][channel]") {
  Pair p;
  REQUIRE(p.ab);
  auto s = p.ab->open_stream(false);
  REQUIRE(s);
  Recorder sender;
  s->set_handler(sender);
  REQUIRE(s->send(as_bytes("first")));
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty(); }));
  p.incoming[0]->keep = false;
  p.incoming_streams[0].pause_reading();
  // Write until told to wait, then give the network time to drain.
  Bytes chunk = test::pattern_block(9, 0, 256 * 1024);
  size_t offered = 0;
  bool blocked = false;
  for (int i = 0; i < 4096 && !blocked; ++i) {
    auto w = s->send(chunk);
    REQUIRE(w);
    offered += chunk.size();
    blocked = *w == quic::WriteState::would_block;
    if (i % 8 == 0) p.f.run_until([] { return false; }, 0.01);
  }
  CHECK(blocked);
  p.f.run_until([] { return false; }, 1.0);
  size_t received_while_paused = p.incoming[0]->bytes;
  CHECK(offered < size_t(256) << 20);              // the writer stopped early
  CHECK(received_while_paused < size_t(80) << 20); // bounded by windows, not by what was offered
  // Resuming lets everything through.
  size_t before = sender.bytes;
  (void)before;
  p.incoming_streams[0].resume_reading();
  REQUIRE(s->finish());
  REQUIRE(p.f.run_until([&] { return p.incoming[0]->ended; }, 30));
  CHECK(p.incoming[0]->bytes == offered + 5);
  REQUIRE(p.f.shutdown());
}

TEST_CASE("closing a channel fails both sides' streams promptly, and reopening works", "[relay][channel]") {
  Pair p;
  REQUIRE(p.ab);
  auto s = p.ab->open_stream(true);
  REQUIRE(s);
  Recorder mine;
  s->set_handler(mine);
  REQUIRE(s->send(as_bytes("open")));
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty() && !p.incoming[0]->messages.empty(); }));
  p.ab->close(0, "done talking");
  p.f.run_until([&] { return mine.closed && p.incoming[0]->closed; }, 5);
  INFO("mine closed " << mine.closed << " theirs closed " << p.incoming[0]->closed << " theirs ended " << p.incoming[0]->ended);
  REQUIRE((mine.closed && p.incoming[0]->closed));
  CHECK(mine.close_error);
  CHECK(p.incoming[0]->end_error);
  CHECK(p.incoming[0]->close_error);
  REQUIRE(p.f.run_until([&] { return p.f.client("bob")->peer_channel_count() == 0; }, 5));
  // A new channel to the same peer.
  auto again = p.f.open(*p.f.client("alice"), "bob");
  REQUIRE(again);
  auto s2 = (*again)->open_stream(false);
  REQUIRE(s2);
  REQUIRE(s2->send(as_bytes("again")));
  REQUIRE(s2->finish());
  REQUIRE(p.f.run_until([&] { return p.incoming.size() == 2 && p.incoming[1]->ended; }));
  CHECK(as_chars(p.incoming[1]->messages.at(0)) == "again");
  REQUIRE(p.f.shutdown());
}

TEST_CASE("when a peer disconnects, the other side's channel ends with a reason", "[relay][channel]") {
  Pair p;
  REQUIRE(p.ab);
  p.f.client("bob")->close();
  REQUIRE(p.f.run_until([&] { return !p.a.peer_closed.empty(); }, 10));
  CHECK(p.a.peer_closed[0].first == "bob");
  REQUIRE(p.f.shutdown());
}

TEST_CASE("garbage relay datagrams are dropped and counted, and service goes on", "[relay][fuzz]") {
  Pair p;
  REQUIRE(p.ab);
  auto junk = net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0));
  REQUIRE(junk);
  std::mt19937 rng(11);
  for (int i = 0; i < 500; ++i) {
    Bytes d(1 + rng() % 1400);
    for (auto &b : d) b = static_cast<uint8_t>(rng());
    if (i % 2 == 0) d[0] = net::kRelayMarker; // looks relayed, random token
    (void)junk->send(p.f.coordinator->local_address(), d, d.size());
  }
  p.f.run_until([] { return false; }, 0.5);
  CHECK(p.f.coordinator->stats().relay_dropped_token > 0);
  CHECK(p.f.coordinator->stats().relayed_datagrams > 0); // the real channel was relayed
  auto s = p.ab->open_stream(false);
  REQUIRE(s);
  REQUIRE(s->send(as_bytes("still fine")));
  REQUIRE(s->finish());
  REQUIRE(p.f.run_until([&] { return !p.incoming.empty() && p.incoming.back()->ended; }));
  CHECK(as_chars(p.incoming.back()->messages.at(0)) == "still fine");
  REQUIRE(p.f.shutdown());
}

TEST_CASE("random and truncated control messages close only their own connection", "[coord][fuzz]") {
  CoordFixture f;
  ClientEvents good, peer;
  REQUIRE(f.join("good", good));
  REQUIRE(f.join("peer", peer));
  std::mt19937 rng(5);
  // Valid encodings to truncate, and pure noise.
  std::vector<Bytes> samples = {proto::encode(proto::Hello{1, "zed", {}}),
                                proto::encode(proto::ChannelRequest{1, "good"}),
                                proto::encode(proto::IntroductionReply{3, true, ""})};
  for (int round = 0; round < 12; ++round) {
    ClientEvents e;
    std::string id = "fuzz" + std::to_string(round);
    REQUIRE(f.join(id, e));
    Bytes payload;
    if (round % 2) {
      payload.resize(1 + rng() % 200);
      for (auto &b : payload) b = static_cast<uint8_t>(rng());
      // A known type with garbage fields (unknown types are skipped, not errors).
      payload[0] = static_cast<uint8_t>(1 + rng() % 12);
    } else {
      payload = samples[round / 2 % samples.size()];
      payload.resize(rng() % payload.size());
    }
    // Frame it ourselves on the control stream (id 0) of the client's session.
    Bytes frame;
    proto::append_frame(frame, payload);
    REQUIRE(f.client(id)->coordinator_channel()->session().write(0, frame));
    REQUIRE(f.run_until([&] { return e.disconnected.has_value(); }, 5));
    INFO(e.disconnected->message);
    CHECK((e.disconnected->message.find("malformed control message") != std::string::npos ||
           e.disconnected->message.find("protocol violation") != std::string::npos));
  }
  CHECK_FALSE(good.disconnected);
  auto r = f.open(*f.client("good"), "peer");
  CHECK(r);
  REQUIRE(f.run_until([&] { return f.coordinator->clients().size() == 2; }));
  REQUIRE(f.shutdown());
}

TEST_CASE("a relay budget drops what exceeds it, and QUIC still delivers everything", "[relay][limits]") {
  coord::CoordinatorOptions o;
  o.limits.relay_bytes_per_second = 2'000'000;
  o.limits.relay_burst_bytes = 64 * 1024;
  CoordFixture f(o);
  f.path_policy = net::PathPolicy::relay_only;
  ClientEvents a, b;
  std::vector<std::unique_ptr<Recorder>> incoming;
  b.stream = [&](channel::Channel &, channel::Stream &s) {
    incoming.push_back(std::make_unique<Recorder>());
    s.set_handler(*incoming.back());
  };
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto ch = f.open(*f.client("alice"), "bob");
  REQUIRE(ch);
  auto s = (*ch)->open_stream(false);
  REQUIRE(s);
  Bytes data = test::pattern_block(5, 0, 2 << 20);
  REQUIRE(s->send(data));
  REQUIRE(s->finish());
  REQUIRE(f.run_until([&] { return !incoming.empty() && incoming[0]->ended; }, 30));
  REQUIRE(incoming[0]->messages.size() == 1);
  CHECK(incoming[0]->messages[0] == data);
  CHECK(f.coordinator->stats().relay_dropped_rate > 0);
  REQUIRE(f.shutdown());
}
