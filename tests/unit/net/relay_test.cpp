// Relayed peer connections: two client endpoints reach each other only
// through a third endpoint that forwards marker+token datagrams unchanged.
#include <catch2/catch.hpp>

#include "net/relay.hpp"
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
    CHECK(pa->current() == net::PathKind::relay); // data stays relayed until the switch lands

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
