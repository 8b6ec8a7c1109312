// Relayed peer connections: two client endpoints reach each other only
// through a third endpoint that forwards marker+token datagrams unchanged.
#include <catch2/catch.hpp>

#include "loop/loop.hpp"
#include "net/relay.hpp"
#include "net/udp_socket.hpp"
#include "support/loopback.hpp"
#include "support/quic_pair.hpp"

using namespace conec;

namespace {

std::unique_ptr<net::Endpoint> plain_endpoint(loop::Loop &loop) {
  net::EndpointOptions o;
  o.bind = SockAddr::loopback(AF_INET, 0);
  return std::move(*net::Endpoint::create(loop, o));
}

std::shared_ptr<tls::Credentials> pinned(const tls::Identity &own, const tls::Identity &peer) {
  tls::PeerVerification v;
  v.mode = tls::PeerVerification::Mode::pin;
  v.pin = *tls::parse_pin(*peer.fingerprint());
  return *tls::Credentials::create(own, v);
}

} // namespace

TEST_CASE("a peer connection through a forwarding relay carries data end to end", "[net][relay]") {
  loop::Loop loop;
  {
    auto relay = plain_endpoint(loop), a = plain_endpoint(loop), b = plain_endpoint(loop);
    Bytes token(net::kRelayTokenLength);
    random_bytes(token);
    size_t forwarded = 0;
    bool payload_seen_in_clear = false;
    const std::string secret = "recognizable-secret-payload-0123456789";
    relay->on_relay_datagram = [&](const net::Datagram &d) {
      REQUIRE(net::is_relayed(d.data));
      if (as_chars(d.data).find(secret) != std::string_view::npos) payload_seen_in_clear = true;
      const SockAddr &to = d.from == a->local_address() ? b->local_address() : a->local_address();
      if (relay->send_datagram(to, d.data)) ++forwarded;
    };
    a->add_relay(token, relay->local_address());
    b->add_relay(token, relay->local_address());
    std::unique_ptr<net::Session> accepted;
    test::EventHandler a_events, b_events;
    REQUIRE(b->accept_relayed(token, pinned(test::server_identity(), test::client_identity()),
                              [&](std::unique_ptr<net::Session> s) {
                                accepted = std::move(s);
                                accepted->set_handler(b_events);
                              }));
    auto session = a->connect_relayed(token, pinned(test::client_identity(), test::server_identity()), "", a_events);
    REQUIRE(session);
    REQUIRE(test::run_until(loop, [&] { return a_events.handshake && b_events.handshake; }, 10));

    std::string received;
    bool fin = false;
    b_events.data = [&](quic::StreamId id, ByteView d, bool f) {
      received.append(as_chars(d));
      fin |= f;
      accepted->consume(id, d.size());
    };
    std::string sent;
    for (int i = 0; i < 2000; ++i) sent += secret;
    auto id = (*session)->open_stream(false);
    REQUIRE(id);
    REQUIRE((*session)->write(*id, to_bytes(sent), true));
    REQUIRE(test::run_until(loop, [&] { return fin; }, 10));
    CHECK(received == sent);
    CHECK(forwarded > 50);
    CHECK_FALSE(payload_seen_in_clear); // the relay only ever saw ciphertext
    // Every relayed datagram fits a 1500-byte MTU path with its header.
    CHECK((*session)->stats().max_udp_payload <= net::kRelayedMaxUdpPayload);
  }
  REQUIRE(loop.close());
}

TEST_CASE("relayed datagrams from anyone but the relay, or with an unknown token, are dropped", "[net][relay]") {
  loop::Loop loop;
  {
    auto a = plain_endpoint(loop), relay = plain_endpoint(loop), intruder = plain_endpoint(loop);
    Bytes token(net::kRelayTokenLength, 9), other(net::kRelayTokenLength, 8);
    a->add_relay(token, relay->local_address());
    Bytes forged{net::kRelayMarker};
    forged.insert(forged.end(), token.begin(), token.end());
    forged.resize(1200, 0xc3);
    Bytes unknown{net::kRelayMarker};
    unknown.insert(unknown.end(), other.begin(), other.end());
    unknown.resize(1200, 0xc3);
    REQUIRE(intruder->send_datagram(a->local_address(), forged));
    REQUIRE(relay->send_datagram(a->local_address(), unknown));
    REQUIRE(test::run_until(loop, [&] { return a->stats().relayed_dropped == 2; }, 5));
    CHECK(a->connection_count() == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("hole punching: both sides validate the direct address by a probe round trip, relay_only never "
          "probes, and forged probes are dropped",
          "[net][relay][probe]") {
  loop::Loop loop;
  {
    auto relay = plain_endpoint(loop), a = plain_endpoint(loop), b = plain_endpoint(loop), c = plain_endpoint(loop);
    relay->on_relay_datagram = [&](const net::Datagram &d) {
      const SockAddr &to = d.from == a->local_address() ? b->local_address() : a->local_address();
      (void)relay->send_datagram(to, d.data);
    };
    Bytes token(net::kRelayTokenLength);
    random_bytes(token);
    net::PeerPathOptions to_b{net::PathPolicy::automatic, net::ProbeRole::initiator, {b->local_address()}};
    net::PeerPathOptions to_a{net::PathPolicy::automatic, net::ProbeRole::acceptor, {a->local_address()}};
    a->add_relay(token, relay->local_address(), to_b);
    b->add_relay(token, relay->local_address(), to_a);
    std::unique_ptr<net::Session> accepted;
    test::EventHandler a_events, b_events;
    REQUIRE(b->accept_relayed(token, pinned(test::server_identity(), test::client_identity()),
                              [&](std::unique_ptr<net::Session> s) {
                                accepted = std::move(s);
                                accepted->set_handler(b_events);
                              }));
    auto session = a->connect_relayed(token, pinned(test::client_identity(), test::server_identity()), "", a_events);
    REQUIRE(session);
    const net::PeerPath *pa = (*session)->path();
    REQUIRE(pa);
    REQUIRE(test::run_until(loop, [&] { return accepted && accepted->path() && pa->direct_address() &&
                                               accepted->path()->direct_address(); }, 10));
    CHECK(*pa->direct_address() == b->local_address());
    CHECK(*accepted->path()->direct_address() == a->local_address());
    CHECK_FALSE(pa->punching());
    CHECK(pa->probes_sent() >= 1);
    CHECK(pa->direct_counters().datagrams_received >= 1);

    // A probe-shaped datagram with another key, from a third party: dropped, no reply.
    uint64_t dropped = b->stats().probes_dropped;
    Bytes forged = net::encode_probe(net::probe_key(Bytes(net::kRelayTokenLength, 9)), net::ProbeRole::initiator,
                                     net::new_probe());
    // ...and one with the right path id but a wrong mac.
    Bytes wrong_mac = net::encode_probe(net::probe_key(token), net::ProbeRole::initiator, net::new_probe());
    wrong_mac.back() ^= 1;
    REQUIRE(c->send_datagram(b->local_address(), forged));
    REQUIRE(c->send_datagram(b->local_address(), wrong_mac));
    REQUIRE(test::run_until(loop, [&] { return b->stats().probes_dropped >= dropped + 2; }, 5));
    test::run_until(loop, [] { return false; }, 0.1);
    CHECK(c->stats().datagrams_received == 0); // nothing answered the forgeries

    // relay_only: no probe ever leaves.
    Bytes token2(net::kRelayTokenLength);
    random_bytes(token2);
    a->add_relay(token2, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::relay_only, net::ProbeRole::initiator, {b->local_address()}});
    test::EventHandler quiet;
    auto s2 = a->connect_relayed(token2, pinned(test::client_identity(), test::server_identity()), "", quiet);
    REQUIRE(s2);
    test::run_until(loop, [] { return false; }, 0.2);
    REQUIRE((*s2)->path());
    CHECK((*s2)->path()->probes_sent() == 0);
    CHECK_FALSE((*s2)->path()->direct_address());
  }
  REQUIRE(loop.close());
}

namespace {

// A NAT between two endpoints: `a` reaches `b` at face_b(), `b` reaches `a`
// at face_a(); what one side sends leaves the other face towards the other
// side. Closing it blackholes the direct path both ways.
class Forwarder {
public:
  Forwarder(loop::Loop &loop, SockAddr a, SockAddr b)
      : a_(std::move(a)), b_(std::move(b)), to_b_(bind()), to_a_(bind()),
        poll_b_(loop, to_b_.fd(), [this](int) { pump(to_b_, to_a_, b_); }),
        poll_a_(loop, to_a_.fd(), [this](int) { pump(to_a_, to_b_, a_); }) {
    REQUIRE(poll_b_.watch(loop::FdPoll::readable));
    REQUIRE(poll_a_.watch(loop::FdPoll::readable));
  }
  const SockAddr &face_b() const { return to_b_.local_address(); } // where a sends for b
  const SockAddr &face_a() const { return to_a_.local_address(); } // where b sends for a
  bool open = true;
  uint64_t forwarded_bytes = 0;
  uint64_t dropped = 0;
  Bytes last_short_to_b; // the latest QUIC short-header packet from a to b (for replays)

private:
  static net::UdpSocket bind() { return std::move(*net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0))); }
  void pump(net::UdpSocket &in, net::UdpSocket &out, const SockAddr &to) {
    (void)in.receive([&](const net::Datagram &d) {
      if (!open) return void(++dropped);
      // (ngtcp2 greases the fixed bit, RFC 9287: only the form bit tells.)
      if (&in == &to_b_ && !d.data.empty() && !(d.data[0] & 0x80) && !net::is_probe(d.data))
        last_short_to_b.assign(d.data.begin(), d.data.end());
      if (out.send(to, d.data, d.data.size())) forwarded_bytes += d.data.size();
    });
  }
  SockAddr a_, b_;
  net::UdpSocket to_b_, to_a_;
  loop::FdPoll poll_b_, poll_a_;
};

} // namespace

TEST_CASE("a peer connection goes direct after a probe round trip, falls back to the relay when the direct "
          "path is blackholed, and returns when it answers again, with every byte delivered once, in order",
          "[net][relay][probe]") {
  loop::Loop loop;
  {
    auto relay = plain_endpoint(loop), a = plain_endpoint(loop), b = plain_endpoint(loop);
    uint64_t relayed_bytes = 0;
    relay->on_relay_datagram = [&](const net::Datagram &d) {
      const SockAddr &to = d.from == a->local_address() ? b->local_address() : a->local_address();
      if (relay->send_datagram(to, d.data)) relayed_bytes += d.data.size();
    };
    Forwarder nat(loop, a->local_address(), b->local_address());
    Bytes token(net::kRelayTokenLength);
    random_bytes(token);
    a->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::automatic, net::ProbeRole::initiator, {nat.face_b()}});
    b->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::automatic, net::ProbeRole::acceptor, {nat.face_a()}});
    std::unique_ptr<net::Session> accepted;
    test::EventHandler a_events, b_events;
    REQUIRE(b->accept_relayed(token, pinned(test::server_identity(), test::client_identity()),
                              [&](std::unique_ptr<net::Session> s) {
                                accepted = std::move(s);
                                accepted->set_handler(b_events);
                              }));
    auto session = a->connect_relayed(token, pinned(test::client_identity(), test::server_identity()), "", a_events);
    REQUIRE(session);
    net::Session &s = **session;
    const net::PeerPath &pa = *s.path();
    REQUIRE(test::run_until(loop, [&] { return pa.current() == net::PathKind::direct; }, 10));
    CHECK(pa.switches_to_direct() == 1);
    CHECK(pa.describe() == "direct " + nat.face_b().to_string());
    REQUIRE(accepted);
    REQUIRE(test::run_until(loop, [&] { return accepted->path()->current() == net::PathKind::direct; }, 5));

    // 24 MiB from a to b, written as fast as flow control allows.
    constexpr size_t kChunk = 64 << 10, kChunks = 384;
    test::Sha256 sent, got;
    size_t next = 0, received = 0;
    bool fin = false;
    auto id = s.open_stream(false);
    REQUIRE(id);
    auto pump = [&](quic::StreamId) {
      while (next < kChunks && s.writable(*id)) {
        Bytes chunk = test::pattern_block(11, next, kChunk);
        sent.update(chunk);
        bool last = ++next == kChunks;
        auto w = s.write(*id, std::move(chunk), last);
        REQUIRE(w);
        if (*w == quic::WriteState::would_block) return;
      }
    };
    a_events.writable = pump;
    b_events.data = [&](quic::StreamId sid, ByteView d, bool f) {
      got.update(d);
      received += d.size();
      fin |= f;
      accepted->consume(sid, d.size());
    };
    pump(*id);
    REQUIRE(test::run_until(loop, [&] { return received >= 4 * kChunk * 16; }, 30));

    // Blackhole: the initiator notices, falls back at once, and the relay carries on.
    nat.open = false;
    uint64_t relayed_before = relayed_bytes;
    REQUIRE(test::run_until(loop, [&] { return pa.fallbacks() == 1; }, 10));
    CHECK(pa.current() == net::PathKind::relay);
    CHECK(pa.describe() == "relay");
    size_t at_fallback = received;
    REQUIRE(test::run_until(loop, [&] { return received >= at_fallback + 2 * kChunk * 16; }, 20));
    CHECK(relayed_bytes - relayed_before >= 2 * kChunk * 16);
    CHECK(accepted->path()->current() == net::PathKind::relay); // the acceptor followed
    CHECK(nat.dropped > 0);

    // Open again: probes get through, and the channel goes direct again.
    nat.open = true;
    REQUIRE(test::run_until(loop, [&] { return pa.switches_to_direct() == 2; }, 20));
    CHECK(pa.current() == net::PathKind::direct);
    REQUIRE(test::run_until(loop, [&] { return fin; }, 60));
    CHECK(received == kChunk * kChunks);
    CHECK(got.hex() == sent.hex());
    CHECK(!a_events.closed);
    CHECK(!b_events.closed);
  }
  REQUIRE(loop.close());
}

TEST_CASE("hostile: a relay-only acceptor answers no probe and takes no direct packet, so the initiator "
          "stays relayed",
          "[net][relay][probe]") {
  loop::Loop loop;
  {
    auto relay = plain_endpoint(loop), a = plain_endpoint(loop), b = plain_endpoint(loop);
    relay->on_relay_datagram = [&](const net::Datagram &d) {
      const SockAddr &to = d.from == a->local_address() ? b->local_address() : a->local_address();
      (void)relay->send_datagram(to, d.data);
    };
    Bytes token(net::kRelayTokenLength);
    random_bytes(token);
    a->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::automatic, net::ProbeRole::initiator, {b->local_address()}});
    b->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::relay_only, net::ProbeRole::acceptor, {a->local_address()}});
    std::unique_ptr<net::Session> accepted;
    test::EventHandler a_events, b_events;
    REQUIRE(b->accept_relayed(token, pinned(test::server_identity(), test::client_identity()),
                              [&](std::unique_ptr<net::Session> s) {
                                accepted = std::move(s);
                                accepted->set_handler(b_events);
                              }));
    auto session = a->connect_relayed(token, pinned(test::client_identity(), test::server_identity()), "", a_events);
    REQUIRE(session);
    REQUIRE(test::run_until(loop, [&] { return a_events.handshake && b_events.handshake; }, 10));
    test::run_until(loop, [] { return false; }, 1.0); // a probes all this time
    const net::PeerPath &pa = *(*session)->path();
    CHECK(pa.probes_sent() > 3);
    CHECK_FALSE(pa.direct_address()); // no reply ever came
    CHECK(pa.current() == net::PathKind::relay);
    CHECK(accepted->path()->current() == net::PathKind::relay);
    CHECK(accepted->path()->probes_sent() == 0);
    CHECK(b->stats().probes_dropped >= pa.probes_sent() - 1); // (the first may precede b's path)
    CHECK(pa.direct_counters().datagrams_received == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("hostile: a copy of the peer's probe and of its packets sent from a third address gets one reply "
          "of the probe's size and never moves where direct packets go",
          "[net][relay][probe]") {
  loop::Loop loop;
  {
    auto relay = plain_endpoint(loop), a = plain_endpoint(loop), b = plain_endpoint(loop), c = plain_endpoint(loop);
    relay->on_relay_datagram = [&](const net::Datagram &d) {
      const SockAddr &to = d.from == a->local_address() ? b->local_address() : a->local_address();
      (void)relay->send_datagram(to, d.data);
    };
    Forwarder nat(loop, a->local_address(), b->local_address()); // lets the test see a's direct packets
    Bytes token(net::kRelayTokenLength);
    random_bytes(token);
    a->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::automatic, net::ProbeRole::initiator, {nat.face_b()}});
    b->add_relay(token, relay->local_address(),
                 net::PeerPathOptions{net::PathPolicy::automatic, net::ProbeRole::acceptor, {nat.face_a()}});
    std::unique_ptr<net::Session> accepted;
    test::EventHandler a_events, b_events;
    std::string received;
    bool fin = false;
    b_events.data = [&](quic::StreamId id, ByteView d, bool f) {
      received.append(as_chars(d));
      fin |= f;
      accepted->consume(id, d.size());
    };
    REQUIRE(b->accept_relayed(token, pinned(test::server_identity(), test::client_identity()),
                              [&](std::unique_ptr<net::Session> s) {
                                accepted = std::move(s);
                                accepted->set_handler(b_events);
                              }));
    auto session = a->connect_relayed(token, pinned(test::client_identity(), test::server_identity()), "", a_events);
    REQUIRE(session);
    bool ready = test::run_until(loop, [&] {
      return accepted && accepted->path()->current() == net::PathKind::direct && !nat.last_short_to_b.empty();
    }, 10);
    INFO("a " << (*session)->path()->describe() << ", b " << (accepted ? accepted->path()->describe() : "-")
              << ", forwarded " << nat.forwarded_bytes << ", captured " << nat.last_short_to_b.size());
    REQUIRE(ready);
    const net::PeerPath &pb = *accepted->path();
    REQUIRE(pb.direct_address());
    CHECK(*pb.direct_address() == nat.face_a());

    // c holds an authentic probe of a's and a copy of a direct packet (as an
    // on-path observer could) and replays both from its own address.
    Bytes copy = net::encode_probe(net::probe_key(token), net::ProbeRole::initiator, net::new_probe());
    REQUIRE(c->send_datagram(b->local_address(), copy));
    REQUIRE(test::run_until(loop, [&] { return c->stats().datagrams_received >= 1; }, 5));
    Bytes packet = nat.last_short_to_b;
    REQUIRE(c->send_datagram(b->local_address(), packet));
    packet.back() ^= 0x55; // and one that cannot decrypt
    REQUIRE(c->send_datagram(b->local_address(), packet));
    test::run_until(loop, [] { return false; }, 0.1);
    CHECK(*pb.direct_address() == nat.face_a());
    // a's data goes on; nothing of b's answers may go to c.
    std::string sent(1 << 20, 'x');
    auto id = (*session)->open_stream(false);
    REQUIRE(id);
    REQUIRE((*session)->write(*id, to_bytes(sent), true));
    REQUIRE(test::run_until(loop, [&] { return fin; }, 20));
    CHECK(received == sent);
    CHECK(c->stats().datagrams_received == 1); // the reply, as big as the probe (no amplification)
    CHECK(*pb.direct_address() == nat.face_a());
    CHECK(pb.current() == net::PathKind::direct);
  }
  REQUIRE(loop.close());
}
