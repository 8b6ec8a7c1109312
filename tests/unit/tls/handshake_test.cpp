// Real TLS 1.3 handshakes between tls::Session objects over memory: each
// verification policy must accept the right peer and reject the wrong one
// with its own message.

#include <memory>

#include "tls_test_support.hpp"

using namespace conec;
using namespace conec::tls;
using namespace conec::tls::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

PeerVerification pinned(const Identity &peer) {
  PeerVerification v;
  v.mode = PeerVerification::Mode::pin;
  v.pin = pin_of(peer);
  return v;
}

PeerVerification trusting(const Identity &ca, std::string expected_name = {}) {
  PeerVerification v;
  v.mode = PeerVerification::Mode::ca;
  v.ca_pem = ca.cert_pem;
  v.expected_name = std::move(expected_name);
  return v;
}

// A server that asks for no client certificate, so a test can focus on the
// client's verification of the server.
std::shared_ptr<Credentials> plain_server(const Identity &id) {
  PeerVerification v = PeerVerification::any();
  v.require_peer_certificate = false;
  return credentials(id, v);
}

std::string fp(const Identity &id) { return *id.fingerprint(); }

} // namespace

TEST_CASE("pinned server: right pin connects, ALPN is conec/1, both see the peer's certificate", "[tls]") {
  Identity server_id = self_signed("coord.example");
  Identity client_id = self_signed("alice");
  Pair p(credentials(client_id, pinned(server_id)), credentials(server_id, PeerVerification::any()));

  REQUIRE(p.client_out.ok());
  REQUIRE(p.server_out.ok());
  CHECK(p.client->failure().empty());
  CHECK(p.server->failure().empty());
  CHECK(p.client->negotiated_alpn() == "conec/1");
  CHECK(p.server->negotiated_alpn() == "conec/1");
  CHECK(fingerprint_of_der(p.client->peer_certificate()) == fp(server_id));
  CHECK(fingerprint_of_der(p.server->peer_certificate()) == fp(client_id));
}

TEST_CASE("pinned server: wrong pin fails with both fingerprints", "[tls]") {
  Identity server_id = self_signed("coord.example");
  Identity other = self_signed("coord.example");
  Pair p(credentials(std::nullopt, pinned(other)), plain_server(server_id));

  CHECK_FALSE(p.client_out.ok());
  CHECK(p.client_out.rc == GNUTLS_E_CERTIFICATE_ERROR); // what GnuTLS makes of our verify function's -1
  CHECK(p.client->failure() ==
        "certificate fingerprint " + fp(server_id) + " does not match pinned " + fp(other));
  // The server hears about it as an alert, which describe_alert can explain.
  CHECK_FALSE(p.server_out.ok());
  CHECK(p.server_out.alert_received == GNUTLS_A_BAD_CERTIFICATE);
  CHECK_THAT(describe_alert(p.server_out.alert_received), StartsWith("bad_certificate: "));
}

TEST_CASE("CA mode: certificate from the trusted CA connects", "[tls]") {
  Identity ca = self_signed("conec test CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity server_id = issued_by(ca, "coord.example");
  Pair p(credentials(std::nullopt, trusting(ca)), plain_server(server_id));
  CHECK(p.client_out.ok());
  CHECK(p.server_out.ok());
  CHECK(p.client->failure().empty());
}

TEST_CASE("CA mode: certificate from another CA is rejected as untrusted", "[tls]") {
  Identity ca = self_signed("conec test CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity other_ca = self_signed("other CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity server_id = issued_by(other_ca, "coord.example");
  Pair p(credentials(std::nullopt, trusting(ca)), plain_server(server_id));
  CHECK_FALSE(p.client_out.ok());
  CHECK_THAT(p.client->failure(), StartsWith("certificate is not signed by the trusted CA ("));
  // GnuTLS's own status text is included.
  CHECK_THAT(p.client->failure(), Contains("NOT trusted"));
}

TEST_CASE("CA mode: a self-signed certificate is rejected as untrusted", "[tls]") {
  Identity ca = self_signed("conec test CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity server_id = self_signed("coord.example");
  Pair p(credentials(std::nullopt, trusting(ca)), plain_server(server_id));
  CHECK_FALSE(p.client_out.ok());
  CHECK_THAT(p.client->failure(), StartsWith("certificate is not signed by the trusted CA"));
}

TEST_CASE("CA mode: expired and not-yet-valid certificates get their own messages", "[tls]") {
  Identity ca = self_signed("conec test CA", KeyType::ecdsa_p256, CertificateRole::ca);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  CertificateRequest request;
  request.name = "coord.example";
  request.role = CertificateRole::server;

  SECTION("expired") {
    request.not_before = now - 10 * 86400;
    request.not_after = now - 86400;
    auto server_id = issue_certificate(ca, request);
    REQUIRE(server_id);
    Pair p(credentials(std::nullopt, trusting(ca)), plain_server(*server_id));
    CHECK_FALSE(p.client_out.ok());
    CHECK_THAT(p.client->failure(), StartsWith("certificate expired on "));
  }
  SECTION("not yet valid") {
    request.not_before = now + 86400;
    request.not_after = now + 10 * 86400;
    auto server_id = issue_certificate(ca, request);
    REQUIRE(server_id);
    Pair p(credentials(std::nullopt, trusting(ca)), plain_server(*server_id));
    CHECK_FALSE(p.client_out.ok());
    CHECK_THAT(p.client->failure(), StartsWith("certificate is not valid before "));
  }
}

TEST_CASE("expected_name: right name connects, wrong name lists the certificate's names", "[tls]") {
  Identity ca = self_signed("conec test CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity server_id = issued_by(ca, "coord.example");

  Pair good(credentials(std::nullopt, trusting(ca, "coord.example")), plain_server(server_id));
  CHECK(good.client_out.ok());
  CHECK(good.client->failure().empty());

  Pair bad(credentials(std::nullopt, trusting(ca, "evil.example")), plain_server(server_id));
  CHECK_FALSE(bad.client_out.ok());
  CHECK(bad.client->failure() == "certificate is not valid for 'evil.example' (it names: coord.example)");
}

TEST_CASE("expected_name matches an IP address certificate", "[tls]") {
  Identity server_id = self_signed("192.0.2.7");
  PeerVerification v = PeerVerification::any();
  v.expected_name = "192.0.2.7";
  Pair good(credentials(std::nullopt, v), plain_server(server_id), "192.0.2.7");
  CHECK(good.client_out.ok());

  v.expected_name = "192.0.2.8";
  Pair bad(credentials(std::nullopt, v), plain_server(server_id), "192.0.2.8");
  CHECK(bad.client->failure() == "certificate is not valid for '192.0.2.8' (it names: 192.0.2.7)");
}

TEST_CASE("server requiring a client certificate rejects a client without one", "[tls]") {
  Identity server_id = self_signed("coord.example");
  Pair p(credentials(std::nullopt, pinned(server_id)), credentials(server_id, PeerVerification::any()));

  CHECK_FALSE(p.server_out.ok());
  CHECK_THAT(p.server->failure(), StartsWith("peer presented no certificate"));
  // The client learns it from the certificate_required alert.
  CHECK(p.client_out.alert_received == GNUTLS_A_CERTIFICATE_REQUIRED);
  CHECK_THAT(describe_alert(p.client_out.alert_received), StartsWith("certificate_required: "));
}

TEST_CASE("server not requiring a client certificate accepts a client without one", "[tls]") {
  Identity server_id = self_signed("coord.example");
  Pair p(credentials(std::nullopt, pinned(server_id)), plain_server(server_id));
  CHECK(p.client_out.ok());
  CHECK(p.server_out.ok());
  CHECK(p.server->peer_certificate().empty());
  CHECK(p.server->failure().empty());
}

TEST_CASE("Mode::any accepts a self-signed client certificate and exposes it", "[tls]") {
  Identity server_id = self_signed("coord.example", KeyType::ed25519);
  Identity client_id = self_signed("bob", KeyType::ed25519);
  Pair p(credentials(client_id, pinned(server_id)), credentials(server_id, PeerVerification::any()));
  REQUIRE(p.server_out.ok());
  REQUIRE(p.client_out.ok());
  CHECK(fingerprint_of_der(p.server->peer_certificate()) == fp(client_id));
}

TEST_CASE("server in CA mode rejects a client certificate from another CA", "[tls]") {
  Identity ca = self_signed("client CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity other_ca = self_signed("other CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity server_id = self_signed("coord.example");
  Identity good_client = issued_by(ca, "alice");
  Identity bad_client = issued_by(other_ca, "alice");

  Pair good(credentials(good_client, pinned(server_id)), credentials(server_id, trusting(ca, "alice")));
  CHECK(good.server_out.ok());
  CHECK(good.server->failure().empty());

  Pair bad(credentials(bad_client, pinned(server_id)), credentials(server_id, trusting(ca, "alice")));
  CHECK_FALSE(bad.server_out.ok());
  CHECK_THAT(bad.server->failure(), StartsWith("certificate is not signed by the trusted CA"));

  // Signed by the right CA but for another id.
  Pair wrong_id(credentials(issued_by(ca, "mallory"), pinned(server_id)),
                credentials(server_id, trusting(ca, "alice")));
  CHECK_FALSE(wrong_id.server_out.ok());
  CHECK(wrong_id.server->failure() == "certificate is not valid for 'alice' (it names: mallory)");
}

TEST_CASE("ALPN mismatch fails and the server names both protocols", "[tls]") {
  Identity server_id = self_signed("coord.example");
  Pair p(credentials(std::nullopt, pinned(server_id)), plain_server(server_id), "coord.example", "conec/2");
  CHECK_FALSE(p.server_out.ok());
  CHECK_FALSE(p.client_out.ok());
  CHECK(p.server->failure() ==
        "client offers protocol 'conec/2', this endpoint speaks 'conec/1' (incompatible conec versions?)");
  CHECK(p.client_out.alert_received == GNUTLS_A_NO_APPLICATION_PROTOCOL);
  CHECK_THAT(describe_alert(p.client_out.alert_received), StartsWith("no_application_protocol: "));
}

TEST_CASE("system trust rejects a self-signed server", "[tls]") {
  Identity server_id = self_signed("coord.example");
  PeerVerification v;
  v.mode = PeerVerification::Mode::system;
  auto cred = Credentials::create(std::nullopt, v);
  if (!cred) {
    // A machine without ca-certificates cannot run this; say so loudly.
    CHECK_THAT(cred.error().message, Contains("system trust store"));
    WARN("skipped: " << cred.error().describe());
    return;
  }
  Pair p(*cred, plain_server(server_id));
  CHECK_FALSE(p.client_out.ok());
  CHECK_THAT(p.client->failure(), StartsWith("certificate is not signed by a CA in the system trust store"));
}

TEST_CASE("Session::create refuses unusable configurations", "[tls]") {
  auto client_only = credentials(std::nullopt, PeerVerification::any());
  auto server = Session::create(Role::server, client_only);
  REQUIRE_FALSE(server);
  CHECK(server.error().category == ErrorCategory::usage);

  CHECK_FALSE(Session::create(Role::client, nullptr));
  CHECK_FALSE(Session::create(Role::client, client_only, "x", ""));
}

namespace {

// Plain GnuTLS peers configured in ways a tls::Session never is (no ALPN at
// all), to check that our side still refuses them.

struct RawCredentials {
  RawCredentials() { REQUIRE(gnutls_certificate_allocate_credentials(&cred) == 0); }
  ~RawCredentials() { gnutls_certificate_free_credentials(cred); }
  RawCredentials(const RawCredentials &) = delete;
  RawCredentials &operator=(const RawCredentials &) = delete;
  gnutls_certificate_credentials_t cred = nullptr;
};

struct RawSession {
  RawSession(unsigned flags, const RawCredentials &c) {
    REQUIRE(gnutls_init(&session, flags) == 0);
    REQUIRE(gnutls_set_default_priority(session) == 0);
    REQUIRE(gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, c.cred) == 0);
  }
  ~RawSession() { gnutls_deinit(session); }
  RawSession(const RawSession &) = delete;
  RawSession &operator=(const RawSession &) = delete;
  gnutls_session_t session = nullptr;
};

} // namespace

TEST_CASE("a server refuses a client that offers no ALPN at all", "[tls]") {
  Identity server_id = self_signed("coord.example");
  PeerVerification v = PeerVerification::any();
  v.require_peer_certificate = false;
  auto server = Session::create(Role::server, credentials(server_id, v));
  REQUIRE(server);

  RawCredentials cred;
  RawSession client(GNUTLS_CLIENT, cred);
  MemoryLink link(client.session, (*server)->native());
  link.handshake();

  CHECK_FALSE(link.server().ok());
  CHECK((*server)->failure() == "client offers no application protocol; this endpoint speaks 'conec/1'");
  CHECK(link.client().alert_received == GNUTLS_A_NO_APPLICATION_PROTOCOL);
}

TEST_CASE("a client refuses a server that selects no ALPN", "[tls]") {
  Identity server_id = self_signed("coord.example");
  RawCredentials cred;
  gnutls_datum_t cert{reinterpret_cast<unsigned char *>(server_id.cert_pem.data()),
                      static_cast<unsigned>(server_id.cert_pem.size())};
  gnutls_datum_t key{reinterpret_cast<unsigned char *>(server_id.key_pem.data()),
                     static_cast<unsigned>(server_id.key_pem.size())};
  REQUIRE(gnutls_certificate_set_x509_key_mem2(cred.cred, &cert, &key, GNUTLS_X509_FMT_PEM, nullptr, 0) >= 0);
  RawSession server(GNUTLS_SERVER, cred);

  PeerVerification pin;
  pin.mode = PeerVerification::Mode::pin;
  pin.pin = pin_of(server_id);
  auto client = Session::create(Role::client, credentials(std::nullopt, pin), "coord.example");
  REQUIRE(client);
  MemoryLink link((*client)->native(), server.session);
  link.handshake();

  CHECK_FALSE(link.client().ok());
  CHECK((*client)->failure() == "server selected no application protocol; this endpoint speaks 'conec/1'");
}
