// Certificate roles: what a client, server and CA certificate contain, the
// ids a certificate carries, and the purpose checks of both handshake sides.

#include <gnutls/x509.h>

#include <vector>

#include "tls_test_support.hpp"

using namespace conec;
using namespace conec::tls;
using namespace conec::tls::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// A parsed certificate, for inspection with GnuTLS's own parser.
struct Parsed {
  explicit Parsed(const Identity &id) {
    REQUIRE(gnutls_x509_crt_init(&crt) == 0);
    gnutls_datum_t d = detail_datum(id.cert_pem);
    REQUIRE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0);
    gnutls_datum_t out{};
    REQUIRE(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out) == 0);
    der.assign(out.data, out.data + out.size);
    gnutls_free(out.data);
  }
  ~Parsed() { gnutls_x509_crt_deinit(crt); }
  Parsed(const Parsed &) = delete;
  Parsed &operator=(const Parsed &) = delete;

  static gnutls_datum_t detail_datum(const std::string &s) {
    return {reinterpret_cast<unsigned char *>(const_cast<char *>(s.data())), static_cast<unsigned>(s.size())};
  }
  std::vector<std::string> purposes() const {
    std::vector<std::string> out;
    for (unsigned i = 0;; ++i) {
      char buf[128];
      size_t size = sizeof buf;
      if (gnutls_x509_crt_get_key_purpose_oid(crt, i, buf, &size, nullptr) < 0) return out;
      out.emplace_back(buf);
    }
  }
  // Every subjectAltName as (type, text).
  std::vector<std::pair<int, std::string>> sans() const {
    std::vector<std::pair<int, std::string>> out;
    for (unsigned i = 0;; ++i) {
      char buf[256];
      size_t size = sizeof buf;
      int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, nullptr);
      if (type < 0) return out;
      out.emplace_back(type, std::string(buf, size));
    }
  }
  std::string cn() const {
    char buf[128];
    size_t size = sizeof buf;
    REQUIRE(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) == 0);
    return std::string(buf, size);
  }
  // As tls/verify.cpp checks a name (conec CAs: no wildcards).
  bool valid_for_host(const std::string &host) const {
    return gnutls_x509_crt_check_hostname2(crt, host.c_str(), GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS) != 0 ||
           gnutls_x509_crt_check_hostname2(crt, host.c_str(), 0) != 0;
  }

  gnutls_x509_crt_t crt = nullptr;
  Bytes der;
};

Identity client_cert(const std::string &id) { return self_signed(id, KeyType::ecdsa_p256, CertificateRole::client); }

PeerVerification pin_of_peer(const Identity &peer, Purpose purpose) {
  PeerVerification v;
  v.mode = PeerVerification::Mode::pin;
  v.pin = pin_of(peer);
  v.purpose = purpose;
  return v;
}

PeerVerification any_with(Purpose purpose) {
  PeerVerification v = PeerVerification::any();
  v.purpose = purpose;
  return v;
}

} // namespace

TEST_CASE("a client certificate: clientAuth only, id as urn:conec:id URI, no DNS/IP name, CN with spaces", "[tls]") {
  Identity bob = client_cert("bob");
  Parsed p(bob);
  CHECK(p.purposes() == std::vector<std::string>{GNUTLS_KP_TLS_WWW_CLIENT});
  CHECK(p.sans() == std::vector<std::pair<int, std::string>>{{GNUTLS_SAN_URI, "urn:conec:id:bob"}});
  CHECK(p.cn() == "conec client bob");

  // Also when issued by a CA, the path `conec cert issue --id` takes.
  Identity ca = self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Parsed issued(issued_by(ca, "127.0.0.77", CertificateRole::client));
  CHECK(issued.purposes() == std::vector<std::string>{GNUTLS_KP_TLS_WWW_CLIENT});
  CHECK(issued.sans() == std::vector<std::pair<int, std::string>>{{GNUTLS_SAN_URI, "urn:conec:id:127.0.0.77"}});

  // A 64-character id does not fit a CN after the prefix: the URI keeps it.
  std::string long_id(64, 'a');
  Parsed long_cert(client_cert(long_id));
  CHECK(long_cert.cn() == "conec client");
  CHECK(long_cert.sans().at(0).second == "urn:conec:id:" + long_id);
}

TEST_CASE("a client certificate's id passes no host-name check, a server certificate's name does", "[tls]") {
  for (std::string id : {"127.0.0.77", "bob", "coord.example"}) {
    INFO(id);
    CHECK_FALSE(Parsed(client_cert(id)).valid_for_host(id));
    CHECK(Parsed(self_signed(id)).valid_for_host(id)); // the same name as a server: accepted
  }
}

TEST_CASE("a client id outside the id alphabet is refused (it goes into a URI unescaped)", "[tls]") {
  CertificateRequest request;
  request.role = CertificateRole::client;
  for (const std::string &bad : std::vector<std::string>{"a b", "x/y", "a:b", std::string(65, 'a')}) {
    request.name = bad;
    auto r = generate_self_signed(request);
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::usage);
    CHECK_THAT(r.error().message, Contains("client certificate's id"));
  }
  request.role = CertificateRole::server; // host names are not ids
  request.name = "a:b";
  CHECK(generate_self_signed(request));
}

TEST_CASE("server certificates have serverAuth only and the host name, CA ones no EKU", "[tls]") {
  Parsed dns(self_signed("coord.example"));
  CHECK(dns.purposes() == std::vector<std::string>{GNUTLS_KP_TLS_WWW_SERVER});
  CHECK(dns.sans() == std::vector<std::pair<int, std::string>>{{GNUTLS_SAN_DNSNAME, "coord.example"}});
  CHECK(dns.cn() == "coord.example");
  Parsed ip(self_signed("127.0.0.77"));
  CHECK(ip.purposes() == std::vector<std::string>{GNUTLS_KP_TLS_WWW_SERVER});
  REQUIRE(ip.sans().size() == 1);
  CHECK(ip.sans()[0].first == GNUTLS_SAN_IPADDRESS);
  CHECK(Parsed(self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca)).purposes().empty());
}

TEST_CASE("certificate_ids: the URI ids of a client certificate, CN and DNS names of older ones", "[tls]") {
  Parsed bob(client_cert("Bob"));
  CHECK(*certificate_ids(bob.der) == std::vector<std::string>{"Bob"});
  CHECK(*certificate_has_id(bob.der, "bob")); // ids compare ignoring ASCII case
  CHECK(*certificate_has_id(bob.der, "BOB"));
  CHECK_FALSE(*certificate_has_id(bob.der, "conec client Bob")); // the CN does not count beside a URI id
  CHECK_FALSE(*certificate_has_id(bob.der, "alice"));

  // No urn:conec:id: name (certificates from before roles, or other tools):
  // the CN and DNS names; an IP address only through the CN.
  Parsed legacy(self_signed("Carol.example"));
  CHECK(*certificate_ids(legacy.der) == std::vector<std::string>{"Carol.example"});
  CHECK(*certificate_has_id(legacy.der, "carol.EXAMPLE"));
  Parsed legacy_ip(self_signed("2001:db8::5"));
  CHECK(*certificate_ids(legacy_ip.der) == std::vector<std::string>{"2001:db8::5"}); // the CN, once

  CHECK_FALSE(certificate_ids(as_bytes("not DER")));
  CHECK_FALSE(certificate_has_id(as_bytes("not DER"), "bob"));
}

TEST_CASE("purpose_mismatch names the role, and no EKU extension means any use", "[tls]") {
  Parsed client(client_cert("bob"));
  Parsed server(self_signed("coord.example"));
  Parsed ca(self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca));

  CHECK(*purpose_mismatch(client.der, Purpose::server) ==
        "certificate is for client authentication only (extended key usage: clientAuth), not a coordinator "
        "certificate (conec cert issue --host makes those)");
  CHECK(*purpose_mismatch(server.der, Purpose::client) ==
        "certificate is a server certificate (extended key usage: serverAuth), not a client certificate "
        "(conec cert issue --id makes those)");
  CHECK(purpose_mismatch(client.der, Purpose::client)->empty());
  CHECK(purpose_mismatch(server.der, Purpose::server)->empty());
  CHECK(purpose_mismatch(ca.der, Purpose::server)->empty());
  CHECK(purpose_mismatch(client.der, Purpose::none)->empty());
  CHECK(*purpose_mismatch_of_pem(client_cert("x").cert_pem, Purpose::server) ==
        *purpose_mismatch(client.der, Purpose::server));
  CHECK_FALSE(purpose_mismatch(as_bytes("not DER"), Purpose::server));
}

TEST_CASE("a client requiring a server certificate rejects a pinned client certificate", "[tls]") {
  Identity impostor = client_cert("127.0.0.77");
  Identity me = client_cert("alice");
  Pair bad(credentials(me, pin_of_peer(impostor, Purpose::server)), credentials(impostor, any_with(Purpose::none)));
  CHECK_FALSE(bad.client_out.ok());
  CHECK_THAT(bad.client->failure(), StartsWith("certificate is for client authentication only"));

  Identity coord = self_signed("coord.example");
  Pair good(credentials(me, pin_of_peer(coord, Purpose::server)), credentials(coord, any_with(Purpose::client)));
  CHECK(good.client_out.ok());
  CHECK(good.server_out.ok());
}

TEST_CASE("a CA-verifying client rejects the CA's client certificate for its host, by role and by name", "[tls]") {
  Identity ca = self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity impostor = issued_by(ca, "127.0.0.77", CertificateRole::client);
  PeerVerification v;
  v.mode = PeerVerification::Mode::ca;
  v.ca_pem = ca.cert_pem;
  v.expected_name = "127.0.0.77";
  v.purpose = Purpose::server;
  Pair by_role(credentials(std::nullopt, v), credentials(impostor, PeerVerification::any()), "127.0.0.77");
  CHECK_FALSE(by_role.client_out.ok());
  CHECK_THAT(by_role.client->failure(), StartsWith("certificate is for client authentication only"));

  // Even a verifier that does not ask for a role finds no host name in it.
  v.purpose = Purpose::none;
  Pair by_name(credentials(std::nullopt, v), credentials(impostor, PeerVerification::any()), "127.0.0.77");
  CHECK_FALSE(by_name.client_out.ok());
  CHECK_THAT(by_name.client->failure(), StartsWith("certificate is not valid for '127.0.0.77'"));
}

TEST_CASE("a server requiring client certificates rejects a server certificate in any and CA mode", "[tls]") {
  Identity ca = self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity coord = issued_by(ca, "coord.example");
  Identity server_as_client = issued_by(ca, "bob"); // `--host bob`
  for (PeerVerification::Mode mode : {PeerVerification::Mode::any, PeerVerification::Mode::ca}) {
    PeerVerification v = any_with(Purpose::client);
    v.mode = mode;
    v.ca_pem = ca.cert_pem;
    Pair bad(credentials(server_as_client, pin_of_peer(coord, Purpose::server)), credentials(coord, v));
    CHECK_FALSE(bad.server_out.ok());
    CHECK_THAT(bad.server->failure(), StartsWith("certificate is a server certificate"));

    Pair good(credentials(issued_by(ca, "bob", CertificateRole::client), pin_of_peer(coord, Purpose::server)),
              credentials(coord, v));
    CHECK(good.server_out.ok());
  }
}
