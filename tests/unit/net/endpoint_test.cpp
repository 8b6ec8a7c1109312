// net::Endpoint on real loopback sockets: both roles on one socket, routing
// by connection id, stateless resets for unknown connections.
#include <catch2/catch.hpp>

#include "net/relay.hpp"
#include "quic/packet.hpp"
#include "support/loopback.hpp"
#include "support/quic_pair.hpp"

using namespace conec;

namespace {

std::shared_ptr<tls::Credentials> credentials(const tls::Identity &id) {
  return *tls::Credentials::create(id, tls::PeerVerification::any());
}

std::unique_ptr<net::Endpoint> endpoint(loop::Loop &loop, bool serve) {
  net::EndpointOptions o;
  o.bind = SockAddr::loopback(AF_INET, 0);
  if (serve) o.server_credentials = credentials(test::server_identity());
  return std::move(*net::Endpoint::create(loop, o));
}

} // namespace

TEST_CASE("one socket serves an accepted and an initiated connection at once", "[net]") {
  loop::Loop loop;
  {
    auto a = endpoint(loop, true), b = endpoint(loop, true);
    std::vector<std::unique_ptr<net::Session>> accepted_by_a, accepted_by_b;
    test::EventHandler a_in, b_in, a_out, b_out;
    a->on_accept = [&](std::unique_ptr<net::Session> s) {
      s->set_handler(a_in);
      accepted_by_a.push_back(std::move(s));
    };
    b->on_accept = [&](std::unique_ptr<net::Session> s) {
      s->set_handler(b_in);
      accepted_by_b.push_back(std::move(s));
    };
    // a -> b and b -> a: two connections over the same pair of sockets.
    auto ab = a->connect(b->local_address(), credentials(test::client_identity()), "b", a_out);
    auto ba = b->connect(a->local_address(), credentials(test::client_identity()), "a", b_out);
    REQUIRE((ab && ba));
    REQUIRE(test::run_until(loop, [&] { return a_out.handshake && b_out.handshake && a_in.handshake && b_in.handshake; }, 10));
    CHECK(a->connection_count() == 2);
    CHECK(b->connection_count() == 2);

    std::string got_b, got_a;
    b_in.data = [&](quic::StreamId id, ByteView d, bool) {
      got_b.append(as_chars(d));
      accepted_by_b[0]->consume(id, d.size());
    };
    a_in.data = [&](quic::StreamId id, ByteView d, bool) {
      got_a.append(as_chars(d));
      accepted_by_a[0]->consume(id, d.size());
    };
    auto s1 = (*ab)->open_stream(false);
    auto s2 = (*ba)->open_stream(false);
    REQUIRE((s1 && s2));
    REQUIRE((*ab)->write(*s1, to_bytes("from a"), true));
    REQUIRE((*ba)->write(*s2, to_bytes("from b"), true));
    REQUIRE(test::run_until(loop, [&] { return got_a == "from b" && got_b == "from a"; }, 10));
    // Nothing was misrouted.
    CHECK(a->stats().dropped_unroutable == 0);
    CHECK(b->stats().dropped_unroutable == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("closing a session frees its connection after the closing period", "[net]") {
  test::LoopbackPair pair;
  REQUIRE(pair.handshake());
  REQUIRE(pair.server_endpoint->connection_count() == 1);
  pair.client_session->close(3, "done");
  REQUIRE(test::run_until(pair.loop, [&] { return pair.server_events.closed.has_value(); }, 5));
  CHECK(pair.server_events.closed->code == 3);
  CHECK(pair.server_events.closed->message.find("done") != std::string::npos);
  pair.client_session.reset();
  pair.server_session.reset();
  REQUIRE(test::run_until(pair.loop, [&] {
    return pair.client_endpoint->connection_count() == 0 && pair.server_endpoint->connection_count() == 0;
  }, 10));
  REQUIRE(pair.shutdown());
}

TEST_CASE("a short-header packet for an unknown connection gets a small stateless reset", "[net]") {
  loop::Loop loop;
  {
    auto server = endpoint(loop, true);
    auto probe = net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0));
    REQUIRE(probe);
    Bytes packet(200);
    random_bytes(packet);
    packet[0] = 0x40 | (packet[0] & 0x3f); // short header, fixed bit set
    REQUIRE(probe->send(server->local_address(), packet, packet.size()));
    size_t reply_size = 0;
    loop::FdPoll poll(loop, probe->fd(), [&](int) {
      (void)probe->receive([&](const net::Datagram &d) { reply_size = d.data.size(); });
    });
    REQUIRE(poll.watch(loop::FdPoll::readable));
    REQUIRE(test::run_until(loop, [&] { return reply_size > 0; }, 5));
    CHECK(reply_size < packet.size()); // never amplifies
    CHECK(server->stats().stateless_resets_sent == 1);
    CHECK(server->connection_count() == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("a client whose server lost the connection learns it from a stateless reset", "[quic]") {
  quic::Config config;
  config.static_secret = Bytes(32, 7);
  test::QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  // The server "restarts": it answers the client's next packet with a reset
  // for the connection id the client is using, derived from the same secret.
  // (We do not know which of the server's ids the client uses: try each.)
  for (const Bytes &cid : pair.server->local_cids()) {
    uint8_t reset[quic::kMaxUdpPayload];
    size_t n = quic::write_stateless_reset(reset, cid, config.static_secret, 1200);
    REQUIRE(n > 0);
    pair.client->receive(quic::Path{SockAddr::loopback(AF_INET, 40000), SockAddr::loopback(AF_INET, 1719)},
                         ByteView(reset, n), 0, pair.now);
  }
  REQUIRE(pair.client_events.closed);
  CHECK(pair.client_events.closed->message.find("stateless reset") != std::string::npos);
}

TEST_CASE("a stateless reset right after this process did not run says the peer gave up on it", "[quic]") {
  quic::Config config;
  config.static_secret = Bytes(32, 7);
  test::QuicPair pair(config);
  REQUIRE(pair.run_until([&] { return pair.client_events.handshake && pair.server_events.handshake; }));
  // As after SIGSTOP: the client's timer fires 9 s after it was due, then
  // the server, which dropped the client meanwhile, resets its next packet.
  Timestamp due = pair.client->expiry();
  REQUIRE(due != kNever);
  pair.now = due + 9 * kSecond;
  pair.client->handle_timeout(pair.now);
  for (const Bytes &cid : pair.server->local_cids()) {
    uint8_t reset[quic::kMaxUdpPayload];
    size_t n = quic::write_stateless_reset(reset, cid, config.static_secret, 1200);
    pair.client->receive(quic::Path{SockAddr::loopback(AF_INET, 40000), SockAddr::loopback(AF_INET, 1719)},
                         ByteView(reset, n), 0, pair.now);
  }
  REQUIRE(pair.client_events.closed);
  CHECK_THAT(pair.client_events.closed->message,
             Catch::Contains("stateless reset") && Catch::Contains("did not run for at least 9.0 s") &&
                 Catch::Contains("the peer gave up on it meanwhile"));
}

TEST_CASE("malformed inner packets from a relay are dropped before QUIC sees them", "[net][hostile]") {
  loop::Loop loop;
  {
    auto ep = endpoint(loop, false);
    Bytes token(net::kRelayTokenLength, 0x5a);
    SockAddr relay = SockAddr::loopback(AF_INET, 9); // nothing is sent there
    ep->add_relay(token, relay);
    REQUIRE(ep->accept_relayed(token, credentials(test::server_identity()), [](std::unique_ptr<net::Session>) {}));
    size_t n = 0;
    for (Bytes inner : {Bytes{0x00}, Bytes{0xc0}, Bytes{0xc0, 0, 0, 0, 1, 255}, Bytes(20, 0x41), Bytes{0x80, 0, 0, 0, 1, 5, 0}}) {
      Bytes d{net::kRelayMarker};
      d.insert(d.end(), token.begin(), token.end());
      d.insert(d.end(), inner.begin(), inner.end());
      ep->receive_for_testing({d, relay, 0});
      ++n;
      CHECK(ep->stats().dropped_malformed == n);
    }
    // From anyone but the relay, relayed datagrams are not even opened.
    Bytes d{net::kRelayMarker};
    d.insert(d.end(), token.begin(), token.end());
    d.push_back(0);
    ep->receive_for_testing({d, SockAddr::loopback(AF_INET, 10), 0});
    CHECK(ep->stats().relayed_dropped == 1);
    CHECK(ep->stats().dropped_malformed == n);
    CHECK(ep->connection_count() == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("an empty datagram and a lone byte do not reach ngtcp2, in either role", "[net][hostile]") {
  loop::Loop loop;
  {
    for (bool serve : {true, false}) {
      auto ep = endpoint(loop, serve);
      ep->receive_for_testing({ByteView{}, SockAddr::loopback(AF_INET, 11), 0});
      uint8_t one = 0x80;
      ep->receive_for_testing({ByteView{&one, 1}, SockAddr::loopback(AF_INET, 11), 0});
      CHECK(ep->stats().dropped_malformed == 2);
      CHECK(ep->connection_count() == 0);
    }
  }
  REQUIRE(loop.close());
}

TEST_CASE("Session::write_shared sends one buffer to several connections, flushed without another call", "[net]") {
  loop::Loop loop;
  {
    // A hub with two members: the broadcast case, one buffer for both.
    auto hub = endpoint(loop, true), m1 = endpoint(loop, false), m2 = endpoint(loop, false);
    std::vector<std::unique_ptr<net::Session>> members;
    std::vector<std::unique_ptr<test::EventHandler>> member_handlers;
    hub->on_accept = [&](std::unique_ptr<net::Session> s) {
      member_handlers.push_back(std::make_unique<test::EventHandler>());
      s->set_handler(*member_handlers.back());
      members.push_back(std::move(s));
    };
    test::EventHandler h1, h2;
    auto c1 = m1->connect(hub->local_address(), credentials(test::client_identity()), "hub", h1);
    auto c2 = m2->connect(hub->local_address(), credentials(test::client_identity()), "hub", h2);
    REQUIRE((c1 && c2));
    REQUIRE(test::run_until(loop, [&] {
      return h1.handshake && h2.handshake && member_handlers.size() == 2 && member_handlers[0]->handshake &&
             member_handlers[1]->handshake;
    }, 10));

    Bytes got1, got2;
    bool fin1 = false, fin2 = false;
    h1.data = [&](quic::StreamId id, ByteView d, bool fin) {
      got1.insert(got1.end(), d.begin(), d.end());
      fin1 |= fin;
      (*c1)->consume(id, d.size());
    };
    h2.data = [&](quic::StreamId id, ByteView d, bool fin) {
      got2.insert(got2.end(), d.begin(), d.end());
      fin2 |= fin;
      (*c2)->consume(id, d.size());
    };

    std::weak_ptr<const Bytes> watch;
    Bytes expected;
    {
      Bytes block = test::pattern_block(3, 0, 256 * 1024);
      expected = block;
      SharedBytes data = std::make_shared<const Bytes>(std::move(block));
      watch = data;
      for (auto &s : members) {
        auto id = s->open_stream(false);
        REQUIRE(id);
        auto w = s->write_shared(*id, data, true);
        REQUIRE(w);
        CHECK(*w == quic::WriteState::ok);
      }
      CHECK(data.use_count() == 3);
    }
    // write_shared scheduled the sends: running the loop is enough.
    REQUIRE(test::run_until(loop, [&] { return fin1 && fin2; }, 10));
    CHECK(got1 == expected);
    CHECK(got2 == expected);
    REQUIRE(test::run_until(loop, [&] { return watch.expired(); }, 10));

    members.clear();
    auto detached = std::move(*c1);
    m1.reset(); // the session outlives its endpoint: write_shared fails, as write does
    auto late = detached->write_shared(0, std::make_shared<const Bytes>(Bytes{1}));
    CHECK_FALSE(late);
  }
  REQUIRE(loop.close());
}
