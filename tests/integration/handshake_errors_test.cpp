// Handshake failures over real sockets: each cause gives its own readable
// error on the side that detected it, and the other side learns why.
#include <catch2/catch.hpp>

#include "support/loopback.hpp"
#include "support/quic_pair.hpp"

using namespace conec;
using conec::test::LoopbackPair;

static tls::Identity make_ca(const std::string &name) {
  tls::CertificateRequest request;
  request.name = name;
  request.role = tls::CertificateRole::ca;
  return *tls::generate_self_signed(request);
}

static bool contains(const std::optional<Error> &e, const std::string &text) {
  return e && e->message.find(text) != std::string::npos;
}

static bool failed(LoopbackPair &pair) {
  pair.connect();
  return test::run_until(pair.loop, [&] { return pair.client_events.closed.has_value(); }, 15);
}

TEST_CASE("a correct pin, CA and client certificate complete the handshake", "[integration][tls]") {
  LoopbackPair pair;
  REQUIRE(pair.handshake());
  CHECK(tls::fingerprint_of_der(pair.server_session->peer_certificate()) == *test::client_identity().fingerprint());
  REQUIRE(pair.shutdown());
}

TEST_CASE("wrong pin fails the handshake naming both fingerprints", "[integration][tls]") {
  LoopbackPair::Options o;
  o.client_verifies.mode = tls::PeerVerification::Mode::pin;
  o.client_verifies.pin = Bytes(32, 0xab);
  LoopbackPair pair(o);
  REQUIRE(failed(pair));
  CHECK(pair.client_events.closed->category == ErrorCategory::tls);
  CHECK(contains(pair.client_events.closed, "sha256:abababab"));
  CHECK(contains(pair.client_events.closed, *test::server_identity().fingerprint()));
  CHECK_FALSE(pair.client_events.handshake);
  REQUIRE(pair.shutdown());
}

TEST_CASE("a server certificate from another CA fails with an unknown-issuer error", "[integration][tls]") {
  auto other_ca = make_ca("other-ca");
  LoopbackPair::Options o;
  o.client_verifies.mode = tls::PeerVerification::Mode::ca;
  o.client_verifies.ca_pem = other_ca.cert_pem;
  LoopbackPair pair(o);
  REQUIRE(failed(pair));
  CHECK(pair.client_events.closed->category == ErrorCategory::tls);
  std::string message = pair.client_events.closed->message;
  INFO(message);
  CHECK(message.find("TLS handshake failed") != std::string::npos);
  CHECK((message.find("CA") != std::string::npos || message.find("issuer") != std::string::npos ||
         message.find("signer") != std::string::npos));
  REQUIRE(pair.shutdown());
}

TEST_CASE("a server that requires a client certificate refuses a client without one", "[integration][tls]") {
  LoopbackPair::Options o;
  o.client_has_identity = false;
  LoopbackPair pair(o);
  REQUIRE(failed(pair));
  INFO(pair.client_events.closed->message);
  CHECK(pair.client_events.closed->category == ErrorCategory::tls);
  CHECK(contains(pair.client_events.closed, "certificate"));
  CHECK(contains(pair.client_events.closed, "peer rejected"));
  REQUIRE(pair.shutdown());
}

TEST_CASE("a client offering another ALPN is refused with no_application_protocol", "[integration][tls]") {
  LoopbackPair::Options o;
  LoopbackPair pair(o);
  // Only the client offers conec/2; the server requires conec/1.
  net::EndpointOptions co;
  co.bind = SockAddr::loopback(AF_INET, 0);
  co.quic.alpn = "conec/2";
  auto ep = net::Endpoint::create(pair.loop, co);
  REQUIRE(ep);
  pair.client_endpoint = std::move(*ep);
  REQUIRE(failed(pair));
  INFO(pair.client_events.closed->message);
  CHECK(contains(pair.client_events.closed, "no_application_protocol"));
  REQUIRE(pair.shutdown());
}

TEST_CASE("the four handshake failures give four different messages", "[integration][tls]") {
  std::vector<std::string> messages;
  auto run = [&](LoopbackPair::Options o, const char *alpn) {
    LoopbackPair pair(o);
    if (alpn) {
      net::EndpointOptions co;
      co.bind = SockAddr::loopback(AF_INET, 0);
      co.quic.alpn = alpn;
      pair.client_endpoint = std::move(*net::Endpoint::create(pair.loop, co));
    }
    REQUIRE(failed(pair));
    messages.push_back(pair.client_events.closed->message);
  };
  LoopbackPair::Options pin;
  pin.client_verifies.mode = tls::PeerVerification::Mode::pin;
  pin.client_verifies.pin = Bytes(32, 1);
  run(pin, nullptr);
  LoopbackPair::Options ca;
  ca.client_verifies.mode = tls::PeerVerification::Mode::ca;
  ca.client_verifies.ca_pem = make_ca("x-ca").cert_pem;
  run(ca, nullptr);
  LoopbackPair::Options nocert;
  nocert.client_has_identity = false;
  run(nocert, nullptr);
  run(LoopbackPair::Options{}, "h3");
  std::sort(messages.begin(), messages.end());
  CHECK(std::unique(messages.begin(), messages.end()) == messages.end());
}

TEST_CASE("connecting to a port where nobody listens times out with a clear error", "[integration]") {
  LoopbackPair::Options o;
  o.config.handshake_timeout = 1 * kSecond;
  LoopbackPair pair(o);
  auto creds = tls::Credentials::create(test::client_identity(), tls::PeerVerification::any());
  REQUIRE(creds);
  // A bound socket that never answers.
  auto silent = net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0));
  REQUIRE(silent);
  auto session = pair.client_endpoint->connect(silent->local_address(), *creds, "x", pair.client_events);
  REQUIRE(session);
  REQUIRE(test::run_until(pair.loop, [&] { return pair.client_events.closed.has_value(); }, 10));
  CHECK(pair.client_events.closed->category == ErrorCategory::timeout);
  CHECK(contains(pair.client_events.closed, "handshake timed out"));
  session->reset();
  REQUIRE(pair.shutdown());
}
