// Connection::write_shared end to end over an in-memory pair: one shared
// buffer queued on several streams arrives whole on each, and is freed once
// every stream has it acknowledged.
#include <catch2/catch.hpp>

#include <memory>
#include <random>

#include "support/quic_pair.hpp"

using namespace conec;
using conec::test::QuicPair;

namespace {

SharedBytes shared_pattern(size_t n, uint32_t seed) {
  Bytes out(n);
  std::mt19937 rng(seed);
  for (auto &b : out) b = static_cast<uint8_t>(rng());
  return std::make_shared<const Bytes>(std::move(out));
}

// The WriteState of a write that must have succeeded.
quic::WriteState state(const Result<quic::WriteState> &r) {
  REQUIRE(r);
  return *r;
}

} // namespace

TEST_CASE("write_shared: one buffer written to two streams arrives identical on both, and is freed once both are "
          "acknowledged",
          "[quic][shared]") {
  QuicPair pair;
  std::mt19937 rng(11);
  pair.drop = [&](bool, size_t) { return rng() % 100 < 5; }; // retransmissions re-read the shared storage
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake; }));
  auto s1 = pair.client->open_stream(false);
  auto s2 = pair.client->open_stream(true);
  REQUIRE((s1 && s2));

  std::weak_ptr<const Bytes> watch;
  Bytes expected;
  {
    SharedBytes data = shared_pattern(1 << 20, 5);
    watch = data;
    expected = *data;
    CHECK(state(pair.client->write_shared(*s1, data, true)) == quic::WriteState::ok);
    CHECK(state(pair.client->write_shared(*s2, data)) == quic::WriteState::ok);
    CHECK(state(pair.client->write_shared(*s2, nullptr, true)) == quic::WriteState::ok); // a FIN alone
    CHECK(data.use_count() == 3);                                                 // no copies: two references
    CHECK(pair.client->unacked_bytes(*s1) == data->size());
    CHECK(pair.client->unacked_bytes(*s2) == data->size());
  }
  REQUIRE(pair.run_until([&] { return pair.server_events.fin[*s1] && pair.server_events.fin[*s2]; },
                         600 * kSecond));
  CHECK(pair.server_events.data[*s1] == expected);
  CHECK(pair.server_events.data[*s2] == expected);

  // Once both streams have all of it acknowledged nothing holds the bytes.
  REQUIRE(pair.run_until([&] { return pair.client->unacked_bytes(*s1) == 0 && pair.client->unacked_bytes(*s2) == 0; },
                         600 * kSecond));
  CHECK(watch.expired());
  CHECK_FALSE(pair.client_events.closed);
}

TEST_CASE("write_shared: the checks and the send budget are those of write", "[quic][shared]") {
  quic::Config config;
  config.stream_send_buffer = 64 * 1024;
  QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  SharedBytes big = shared_pattern(100 * 1024, 6);

  auto unknown = pair.client->write_shared(12345, big);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().category == ErrorCategory::usage);

  auto id = pair.client->open_stream(false);
  REQUIRE(id);
  // Past the budget: taken, but would_block, then writable again once acknowledged.
  CHECK(state(pair.client->write_shared(*id, big)) == quic::WriteState::would_block);
  CHECK_FALSE(pair.client->writable(*id));
  REQUIRE(pair.run_until([&] { return pair.client_events.writable_events > 0; }));
  CHECK(pair.client->writable(*id));
  CHECK(state(pair.client->write_shared(*id, big, true)) == quic::WriteState::would_block);
  auto after_fin = pair.client->write_shared(*id, big);
  REQUIRE_FALSE(after_fin);
  CHECK(after_fin.error().category == ErrorCategory::usage);
  REQUIRE(pair.run_until([&] { return pair.server_events.fin[*id]; }));
  CHECK(pair.server_events.data[*id].size() == 2 * big->size());

  // A peer's unidirectional stream is receive-only for write_shared too.
  auto peer_uni = pair.server->open_stream(false);
  REQUIRE(peer_uni);
  REQUIRE(pair.server->write(*peer_uni, to_bytes("x")));
  REQUIRE(pair.run_until([&] { return pair.client_events.data.count(*peer_uni) > 0; }));
  auto receive_only = pair.client->write_shared(*peer_uni, big);
  REQUIRE_FALSE(receive_only);
  CHECK(receive_only.error().category == ErrorCategory::usage);

  // A reset stream refuses it with category peer.
  auto reset = pair.client->open_stream(false);
  REQUIRE(reset);
  pair.client->reset_stream(*reset, 7);
  auto after_reset = pair.client->write_shared(*reset, big);
  REQUIRE_FALSE(after_reset);
  CHECK(after_reset.error().category == ErrorCategory::peer);
}
