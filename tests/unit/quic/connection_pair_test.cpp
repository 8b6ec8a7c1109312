// quic::Connection pairs in memory with a virtual clock: the test chooses
// which datagrams are lost and when time passes.
#include <catch2/catch.hpp>

#include <random>

#include "support/quic_pair.hpp"

using namespace conec;
using conec::test::QuicPair;

static Bytes pattern(size_t n, uint32_t seed) {
  Bytes out(n);
  std::mt19937 rng(seed);
  for (auto &b : out) b = static_cast<uint8_t>(rng());
  return out;
}

TEST_CASE("handshake completes and both sides see it", "[quic]") {
  QuicPair pair;
  REQUIRE_FALSE(pair.setup_error);
  Timestamp start = pair.now;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  // No loss, no real delay: the handshake needs no timer at all.
  CHECK(pair.now == start);
  CHECK(pair.client->tls().negotiated_alpn() == "conec/1");
  CHECK(*tls::fingerprint_of_der(pair.server->tls().peer_certificate()).data() != 0);
  CHECK(tls::fingerprint_of_der(pair.server->tls().peer_certificate()) == *test::client_identity().fingerprint());
}

TEST_CASE("handshake completes when its first flights are lost", "[quic]") {
  QuicPair pair;
  // Lose the client's first Initial, then the server's first two datagrams.
  pair.drop = [](bool from_client, size_t i) { return from_client ? i == 0 : i < 2; };
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  CHECK(pair.datagrams_from_client > 1); // it had to retransmit
  CHECK_FALSE(pair.client_events.closed);
}

TEST_CASE("handshake and a transfer survive 20% random loss in both directions", "[quic]") {
  QuicPair pair;
  std::mt19937 rng(7);
  pair.drop = [&](bool, size_t) { return rng() % 100 < 20; };
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto id = pair.client->open_stream(true);
  REQUIRE(id);
  Bytes sent = pattern(1 << 20, 1);
  REQUIRE(pair.client->write(*id, sent, true));
  REQUIRE(pair.run_until([&] { return pair.server_events.fin.count(*id) > 0; }, 600 * kSecond));
  CHECK(pair.server_events.data[*id] == sent);
}

TEST_CASE("stream data arrives byte-exact in both directions of one stream", "[quic]") {
  QuicPair pair;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto id = pair.client->open_stream(true);
  REQUIRE(id);
  Bytes up = pattern(3 << 20, 2), down = pattern(2 << 20, 3);
  // Written in pieces, with the end of stream in a separate empty write.
  for (size_t off = 0; off < up.size(); off += 100'000) {
    size_t n = std::min<size_t>(100'000, up.size() - off);
    REQUIRE(pair.client->write(*id, Bytes(up.begin() + off, up.begin() + off + n)));
    pair.step();
  }
  REQUIRE(pair.client->write(*id, {}, true));
  REQUIRE(pair.run_until([&] { return !pair.server_events.opened.empty(); }));
  REQUIRE(pair.server->write(*id, down, true));
  REQUIRE(pair.run_until([&] { return pair.server_events.fin[*id] && pair.client_events.fin[*id]; }));
  CHECK(pair.server_events.data[*id] == up);
  CHECK(pair.client_events.data[*id] == down);
  REQUIRE(pair.run_until([&] { return pair.client_events.closed_streams.count(*id) > 0; }));
  CHECK_FALSE(pair.client_events.closed_streams[*id].has_value()); // a clean close carries no error
}

TEST_CASE("a writer past its send budget is told to wait, then resumed", "[quic]") {
  quic::Config config;
  config.stream_send_buffer = 256 * 1024;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto id = pair.client->open_stream(false);
  REQUIRE(id);
  auto state = pair.client->write(*id, pattern(300 * 1024, 4));
  REQUIRE(state);
  CHECK(*state == quic::WriteState::would_block);
  CHECK_FALSE(pair.client->writable(*id));
  REQUIRE(pair.run_until([&] { return pair.client_events.writable_events > 0; }));
  CHECK(pair.client->writable(*id));
}

TEST_CASE("a reader that does not consume holds the writer back", "[quic]") {
  quic::Config config;
  config.stream_window = 64 * 1024;
  config.max_stream_window = 64 * 1024;
  QuicPair pair(config);
  pair.server_events.auto_consume = false;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto id = pair.client->open_stream(false);
  REQUIRE(id);
  REQUIRE(pair.client->write(*id, pattern(1 << 20, 5), true));
  pair.run_until([] { return false; }, 5 * kSecond);
  // Only the flow-control window crossed; the rest waits at the sender.
  CHECK(pair.server_events.data[*id].size() == 64 * 1024);
  pair.server->consume(*id, 64 * 1024);
  pair.run_until([] { return false; }, 1 * kSecond);
  CHECK(pair.server_events.data[*id].size() > 64 * 1024);
}

TEST_CASE("reset is distinct from a clean end for the reader", "[quic]") {
  QuicPair pair;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto a = pair.client->open_stream(false);
  auto b = pair.client->open_stream(false);
  REQUIRE((a && b));
  REQUIRE(pair.client->write(*a, to_bytes("complete"), true));
  REQUIRE(pair.client->write(*b, to_bytes("partial")));
  pair.run_until([&] { return pair.server_events.data[*b].size() == 7; });
  pair.client->reset_stream(*b, 42);
  REQUIRE(pair.run_until([&] { return pair.server_events.resets.count(*b) > 0; }));
  CHECK(pair.server_events.resets[*b] == 42);
  CHECK(pair.server_events.fin[*a]);
  CHECK_FALSE(pair.server_events.fin[*b]);
  CHECK_FALSE(pair.client->write(*b, to_bytes("more")));
}

TEST_CASE("idle timeout closes both sides when the network goes silent", "[quic]") {
  quic::Config config;
  config.idle_timeout = 5 * kSecond;
  config.unresponsive_timeout = 0; // the idle timeout alone
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  Timestamp start = pair.now;
  pair.drop = [](bool, size_t) { return true; };
  REQUIRE(pair.run_until([&] { return pair.client_events.closed && pair.server_events.closed; }));
  CHECK(pair.client_events.closed->category == ErrorCategory::timeout);
  CHECK(pair.server_events.closed->category == ErrorCategory::timeout);
  CHECK(pair.client_events.closed->message.find("timed out") != std::string::npos);
  CHECK(pair.now - start >= 5 * kSecond);
  CHECK(pair.now - start < 20 * kSecond);
  CHECK(pair.client->is_closed());
}

TEST_CASE("a peer that stops answering during a transfer is given up after unresponsive_timeout", "[quic]") {
  quic::Config config;
  config.idle_timeout = 60 * kSecond;
  config.unresponsive_timeout = 5 * kSecond;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  // Quiet for a while first: an idle stretch does not count.
  pair.run_until([] { return false; }, 20 * kSecond);
  REQUIRE_FALSE(pair.client_events.closed);
  auto id = pair.client->open_stream(true);
  REQUIRE(id);
  REQUIRE(pair.client->write(*id, Bytes(200000, 'x')));
  REQUIRE(pair.run_until([&] { return pair.server_events.data[*id].size() > 0; }));
  pair.drop = [](bool from_client, size_t) { return !from_client; }; // the server goes dead
  Timestamp start = pair.now;
  REQUIRE(pair.run_until([&] { return pair.client_events.closed.has_value(); }));
  CHECK(pair.client_events.closed->category == ErrorCategory::timeout);
  CHECK_THAT(pair.client_events.closed->message, Catch::Contains("stopped answering"));
  CHECK(pair.now - start >= 5 * kSecond);
  CHECK(pair.now - start < 6 * kSecond);
  CHECK(pair.client_events.closed_streams[*id] == quic::kStreamErrorConnectionClosed);
}

TEST_CASE("a transfer over a link that loses 40 % of packets is not given up while the peer still answers", "[quic]") {
  quic::Config config;
  config.unresponsive_timeout = 5 * kSecond;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  pair.drop = [](bool, size_t index) { return index % 10 < 4; }; // 40 % loss both ways
  auto id = pair.client->open_stream(true);
  REQUIRE(id);
  REQUIRE(pair.client->write(*id, Bytes(100000, 'y'), true));
  bool done = pair.run_until([&] { return pair.server_events.fin[*id] || pair.client_events.closed; }, 600 * kSecond);
  INFO("closed: " << (pair.client_events.closed ? pair.client_events.closed->message : "no") << " server: "
                  << (pair.server_events.closed ? pair.server_events.closed->message : "no") << " got "
                  << pair.server_events.data[*id].size());
  REQUIRE(done);
  CHECK(pair.server_events.data[*id].size() == 100000);
  CHECK_FALSE(pair.client_events.closed);
}

TEST_CASE("an idle connection with keepalive notices a silent peer within its idle timeout", "[quic]") {
  quic::Config config;
  config.idle_timeout = 15 * kSecond;
  config.keepalive = 5 * kSecond;
  config.unresponsive_timeout = 5 * kSecond;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  pair.run_until([] { return false; }, 20 * kSecond);
  REQUIRE_FALSE(pair.client_events.closed);
  pair.drop = [](bool from_client, size_t) { return !from_client; };
  Timestamp start = pair.now;
  REQUIRE(pair.run_until([&] { return pair.client_events.closed.has_value(); }));
  // The next keepalive goes unanswered: given up unresponsive_timeout after it.
  CHECK(pair.now - start <= 11 * kSecond);
  CHECK(pair.client_events.closed->category == ErrorCategory::timeout);
}

TEST_CASE("keepalive keeps an idle connection open", "[quic]") {
  quic::Config config;
  config.idle_timeout = 5 * kSecond;
  config.keepalive = 2 * kSecond;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  pair.run_until([] { return false; }, 30 * kSecond);
  CHECK_FALSE(pair.client_events.closed);
  CHECK_FALSE(pair.server_events.closed);
}

TEST_CASE("application close reaches the peer with code and reason, and open streams end with an error", "[quic]") {
  QuicPair pair;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto id = pair.client->open_stream(true);
  REQUIRE(id);
  REQUIRE(pair.client->write(*id, to_bytes("hello")));
  REQUIRE(pair.run_until([&] { return pair.server_events.data[*id].size() == 5; }));
  pair.client->close(7, "bye");
  REQUIRE(pair.run_until([&] { return pair.server_events.closed.has_value(); }));
  CHECK(pair.server_events.closed->category == ErrorCategory::peer);
  CHECK(pair.server_events.closed->code == 7);
  CHECK(pair.server_events.closed->message.find("bye") != std::string::npos);
  CHECK(pair.server_events.closed_streams[*id] == quic::kStreamErrorConnectionClosed);
  CHECK(pair.client_events.closed_streams[*id] == quic::kStreamErrorConnectionClosed);
  // Both ends reach `closed` after their closing/draining periods.
  REQUIRE(pair.run_until([&] { return pair.client->is_closed() && pair.server->is_closed(); }));
}

TEST_CASE("a key update mid-transfer keeps data flowing", "[quic]") {
  QuicPair pair;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  pair.run_until([] { return false; }, 2 * kSecond); // let the handshake be confirmed
  auto id = pair.client->open_stream(false);
  REQUIRE(id);
  Bytes sent = pattern(2 << 20, 6);
  REQUIRE(pair.client->write(*id, Bytes(sent.begin(), sent.begin() + (1 << 20))));
  pair.step();
  REQUIRE(pair.client->initiate_key_update(pair.now));
  REQUIRE(pair.client->write(*id, Bytes(sent.begin() + (1 << 20), sent.end()), true));
  REQUIRE(pair.run_until([&] { return pair.server_events.fin[*id]; }));
  CHECK(pair.server_events.data[*id] == sent);
  CHECK_FALSE(pair.server_events.closed);
}

TEST_CASE("many concurrent streams each deliver in order", "[quic]") {
  QuicPair pair;
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  std::vector<std::pair<quic::StreamId, Bytes>> sent;
  for (int i = 0; i < 200; ++i) {
    auto id = pair.client->open_stream(false);
    REQUIRE(id);
    Bytes d = pattern(5000 + i, 100 + i);
    REQUIRE(pair.client->write(*id, d, true));
    sent.emplace_back(*id, d);
  }
  REQUIRE(pair.run_until([&] { return pair.server_events.fin.size() == sent.size(); }));
  for (auto &[id, d] : sent) CHECK(pair.server_events.data[id] == d);
}

TEST_CASE("the peer's stream limit gives a specific error and credit returns as streams close", "[quic]") {
  quic::Config config;
  config.max_streams_uni = 4;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  std::vector<quic::StreamId> ids;
  for (int i = 0; i < 4; ++i) {
    auto id = pair.client->open_stream(false);
    REQUIRE(id);
    ids.push_back(*id);
  }
  auto blocked = pair.client->open_stream(false);
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().category == ErrorCategory::limit);
  for (auto id : ids) REQUIRE(pair.client->write(id, to_bytes("x"), true));
  pair.run_until([&] { return pair.server_events.closed_streams.size() == 4; });
  REQUIRE(pair.run_until([&] { return bool(pair.client->open_stream(false)); }));
}

TEST_CASE("poke makes an idle connection send a packet at once, and only once", "[quic]") {
  quic::Config config;
  config.idle_timeout = 30 * kSecond;
  config.keepalive = 10 * kSecond;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  pair.run_until([] { return false; }, 2 * kSecond); // settle: acks out, nothing in flight
  size_t before = pair.datagrams_from_client;
  Timestamp start = pair.now;
  pair.client->poke();
  // Within a millisecond of virtual time, long before the 10 s keepalive.
  pair.run_until([&] { return pair.datagrams_from_client > before; }, kMillisecond);
  CHECK(pair.datagrams_from_client == before + 1);
  CHECK(pair.now - start <= kMillisecond);
  // Back to the normal keepalive: nothing more for a while.
  size_t after = pair.datagrams_from_client;
  pair.run_until([] { return false; }, 5 * kSecond);
  CHECK(pair.datagrams_from_client - after <= 1); // at most an ack of the server's answer
  CHECK_FALSE(pair.client_events.closed);
}
