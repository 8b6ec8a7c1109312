// validated_remote(): what the coordinator binds relays to. A packet that
// arrives from a new address (rebinding, or an on-path attacker rewriting
// the source) moves QUIC's current path at once, but the validated address
// moves only once the peer answered a PATH_CHALLENGE there.
#include <catch2/catch.hpp>

#include "support/quic_pair.hpp"

using namespace conec;

namespace {

// Takes the next datagram `from` would send (after a stream write so there
// is one), without delivering it.
Bytes next_datagram(test::QuicPair &p, quic::Connection &from) {
  auto id = from.open_stream(false);
  REQUIRE(id);
  REQUIRE(from.write(*id, to_bytes("payload")));
  Bytes buf(64 * quic::kMaxUdpPayload);
  auto batch = from.write(buf, 1, p.now);
  REQUIRE(batch.size > 0);
  buf.resize(batch.size);
  return buf;
}

} // namespace

TEST_CASE("a packet from a new address does not move the validated address until the path is proven",
          "[quic][migration]") {
  test::QuicPair p;
  REQUIRE(p.run_until([&] { return p.client_events.handshake && p.server_events.handshake; }));
  const quic::Path original = p.server->path();
  CHECK(p.server->validated_remote() == original.remote);

  // The client's next packet, delivered as if sent from a victim's address.
  SockAddr victim = SockAddr::loopback(AF_INET, 4444);
  Bytes d = next_datagram(p, *p.client);
  p.server->receive(quic::Path{original.local, victim}, d, 0, p.now);
  CHECK(p.server->path().remote == victim);                 // QUIC probes the new path...
  CHECK(p.server->validated_remote() == original.remote);  // ...but vouches only for the old one

  // The victim never answers the challenge; the real client goes on from
  // its own address. The validated address never was the victim's.
  Bytes buf(64 * quic::kMaxUdpPayload);
  for (int i = 0; i < 50; ++i) {
    auto b = p.server->write(buf, 64, p.now); // to the victim: dropped
    (void)b;
    Bytes more = next_datagram(p, *p.client);
    p.server->receive(original, more, 0, p.now);
    CHECK(p.server->validated_remote() == original.remote);
    p.now += 20 * kMillisecond;
    p.server->handle_timeout(p.now);
    p.client->handle_timeout(p.now);
  }
  CHECK(p.server->state() == quic::State::established);
}

TEST_CASE("a real rebinding is validated and then followed", "[quic][migration]") {
  test::QuicPair p;
  REQUIRE(p.run_until([&] { return p.client_events.handshake && p.server_events.handshake; }));
  const quic::Path original = p.server->path();
  SockAddr rebound = SockAddr::loopback(AF_INET, 40001);
  // From now on every client datagram reaches the server from the new
  // address, and the server's answers reach the client (as through a NAT).
  Bytes d = next_datagram(p, *p.client);
  p.server->receive(quic::Path{original.local, rebound}, d, 0, p.now);
  CHECK(p.server->validated_remote() == original.remote);
  Bytes buf(64 * quic::kMaxUdpPayload);
  for (int i = 0; i < 20 && !(p.server->validated_remote() == rebound); ++i) {
    for (;;) {
      auto b = p.server->write(buf, 64, p.now);
      if (!b.size) break;
      for (size_t off = 0; off < b.size; off += b.segment_size)
        p.client->receive(quic::Path{original.remote, original.local},
                          ByteView(buf.data() + off, std::min(b.segment_size, b.size - off)), 0, p.now);
    }
    for (;;) {
      auto b = p.client->write(buf, 64, p.now);
      if (!b.size) break;
      for (size_t off = 0; off < b.size; off += b.segment_size)
        p.server->receive(quic::Path{original.local, rebound},
                          ByteView(buf.data() + off, std::min(b.segment_size, b.size - off)), 0, p.now);
    }
    p.now += 5 * kMillisecond;
    p.server->handle_timeout(p.now);
    p.client->handle_timeout(p.now);
  }
  CHECK(p.server->validated_remote() == rebound);
  CHECK(p.server->path().remote == rebound);
}
