// Generated certificates, inspected with GnuTLS's own parser.

#include <gnutls/x509.h>

#include <ctime>

#include "tls_test_support.hpp"

using namespace conec;
using namespace conec::tls;
using namespace conec::tls::test;
using Catch::Matchers::Contains;

namespace {

// Owns a parsed certificate for inspection.
struct Crt {
  explicit Crt(const std::string &pem) {
    REQUIRE(gnutls_x509_crt_init(&crt) == 0);
    gnutls_datum_t d{reinterpret_cast<unsigned char *>(const_cast<char *>(pem.data())),
                     static_cast<unsigned>(pem.size())};
    REQUIRE(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0);
  }
  ~Crt() { gnutls_x509_crt_deinit(crt); }
  Crt(const Crt &) = delete;
  Crt &operator=(const Crt &) = delete;

  bool is_ca() const {
    unsigned critical = 0, ca = 0;
    int path_len = 0;
    return gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &path_len) >= 0 && ca;
  }
  unsigned key_usage() const {
    unsigned usage = 0, critical = 0;
    REQUIRE(gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0);
    return usage;
  }
  Bytes serial() const {
    Bytes s(40);
    size_t size = s.size();
    REQUIRE(gnutls_x509_crt_get_serial(crt, s.data(), &size) == 0);
    s.resize(size);
    return s;
  }
  // First subjectAltName: its type and raw value.
  std::pair<int, Bytes> san() const {
    Bytes v(256);
    size_t size = v.size();
    int type = gnutls_x509_crt_get_subject_alt_name(crt, 0, v.data(), &size, nullptr);
    v.resize(type >= 0 ? size : 0);
    return {type, v};
  }
  unsigned verify_against(const Crt &ca) const {
    unsigned status = 0;
    REQUIRE(gnutls_x509_crt_verify(crt, &ca.crt, 1, 0, &status) >= 0);
    return status;
  }

  gnutls_x509_crt_t crt = nullptr;
};

} // namespace

TEST_CASE("generate_self_signed: ECDSA P-256 v3 leaf with DNS name and sane validity", "[tls]") {
  std::time_t before = std::time(nullptr);
  CertificateRequest request;
  request.name = "coord.example";
  request.role = CertificateRole::server;
  request.validity_days = 30;
  auto id = generate_self_signed(request);
  REQUIRE(id);
  CHECK_THAT(id->key_pem, Contains("-----BEGIN PRIVATE KEY-----"));

  Crt crt(id->cert_pem);
  CHECK(gnutls_x509_crt_get_version(crt.crt) == 3);
  unsigned bits = 0;
  CHECK(gnutls_x509_crt_get_pk_algorithm(crt.crt, &bits) == GNUTLS_PK_ECDSA);
  gnutls_ecc_curve_t curve{};
  gnutls_datum_t x{}, y{};
  REQUIRE(gnutls_x509_crt_get_pk_ecc_raw(crt.crt, &curve, &x, &y) == 0);
  gnutls_free(x.data);
  gnutls_free(y.data);
  CHECK(curve == GNUTLS_ECC_CURVE_SECP256R1);

  auto [type, value] = crt.san();
  CHECK(type == GNUTLS_SAN_DNSNAME);
  CHECK(std::string(value.begin(), value.end()) == "coord.example");
  CHECK_FALSE(crt.is_ca());
  CHECK(crt.key_usage() == GNUTLS_KEY_DIGITAL_SIGNATURE);

  std::time_t start = gnutls_x509_crt_get_activation_time(crt.crt);
  std::time_t end = gnutls_x509_crt_get_expiration_time(crt.crt);
  CHECK(start <= before - 3600 + 5);
  CHECK(start >= before - 3600 - 5);
  CHECK(end >= before + 30 * 86400 - 5);
  CHECK(end <= before + 30 * 86400 + 60);

  // Self-signed: verifies against itself.
  CHECK(crt.verify_against(crt) == 0);
}

TEST_CASE("generate_self_signed: Ed25519 keys", "[tls]") {
  Identity id = self_signed("alice", KeyType::ed25519);
  Crt crt(id.cert_pem);
  unsigned bits = 0;
  CHECK(gnutls_x509_crt_get_pk_algorithm(crt.crt, &bits) == GNUTLS_PK_EDDSA_ED25519);
  CHECK(gnutls_x509_crt_get_signature_algorithm(crt.crt) == GNUTLS_SIGN_EDDSA_ED25519);
  CHECK(crt.verify_against(crt) == 0);
}

TEST_CASE("generate_self_signed: random positive serials", "[tls]") {
  Crt a(self_signed("a").cert_pem), b(self_signed("a").cert_pem);
  CHECK(a.serial().size() == 16);
  CHECK((a.serial()[0] & 0x80) == 0);
  CHECK(a.serial() != b.serial());
}

TEST_CASE("generate_self_signed: IP literals become IP subjectAltNames", "[tls]") {
  Crt v4(self_signed("192.0.2.1").cert_pem);
  auto [type4, raw4] = v4.san();
  CHECK(type4 == GNUTLS_SAN_IPADDRESS);
  CHECK(raw4 == Bytes{192, 0, 2, 1});

  Crt v6(self_signed("2001:db8::1").cert_pem);
  auto [type6, raw6] = v6.san();
  CHECK(type6 == GNUTLS_SAN_IPADDRESS);
  REQUIRE(raw6.size() == 16);
  CHECK(raw6[0] == 0x20);
  CHECK(raw6[15] == 0x01);
}

TEST_CASE("generate_self_signed: CA certificates", "[tls]") {
  Crt ca(self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca).cert_pem);
  CHECK(ca.is_ca());
  CHECK((ca.key_usage() & GNUTLS_KEY_KEY_CERT_SIGN) != 0);
  CHECK((ca.key_usage() & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0);
}

TEST_CASE("generate_self_signed: rejects bad requests", "[tls]") {
  CertificateRequest request;
  auto empty = generate_self_signed(request);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().category == ErrorCategory::usage);

  request.name = "x";
  request.validity_days = 0;
  CHECK_FALSE(generate_self_signed(request));

  request.validity_days = 1;
  request.not_before = 100;
  CHECK_FALSE(generate_self_signed(request)); // not_after missing
}

TEST_CASE("issue_certificate: chain verifies against its CA and not another", "[tls]") {
  Identity ca = self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity other_ca = self_signed("conec CA", KeyType::ecdsa_p256, CertificateRole::ca); // same name, different key
  Identity leaf = issued_by(ca, "alice");

  Crt leaf_crt(leaf.cert_pem), ca_crt(ca.cert_pem), other_crt(other_ca.cert_pem);
  CHECK(leaf_crt.verify_against(ca_crt) == 0);
  unsigned status = leaf_crt.verify_against(other_crt);
  CHECK((status & GNUTLS_CERT_INVALID) != 0);
  CHECK_FALSE(leaf_crt.is_ca());

  // Issuer DN is the CA's subject; authority key id is the CA's subject key id.
  gnutls_datum_t issuer{}, subject{};
  REQUIRE(gnutls_x509_crt_get_raw_issuer_dn(leaf_crt.crt, &issuer) == 0);
  REQUIRE(gnutls_x509_crt_get_raw_dn(ca_crt.crt, &subject) == 0);
  CHECK(Bytes(issuer.data, issuer.data + issuer.size) == Bytes(subject.data, subject.data + subject.size));
  gnutls_free(issuer.data);
  gnutls_free(subject.data);

  Bytes aki(64), ski(64);
  size_t aki_size = aki.size(), ski_size = ski.size();
  unsigned critical = 0;
  REQUIRE(gnutls_x509_crt_get_authority_key_id(leaf_crt.crt, aki.data(), &aki_size, &critical) == 0);
  REQUIRE(gnutls_x509_crt_get_subject_key_id(ca_crt.crt, ski.data(), &ski_size, &critical) == 0);
  aki.resize(aki_size);
  ski.resize(ski_size);
  CHECK(aki == ski);

  // Only the leaf is returned.
  CHECK(leaf.cert_pem.find("BEGIN CERTIFICATE") == leaf.cert_pem.rfind("BEGIN CERTIFICATE"));
}

TEST_CASE("issue_certificate: refuses a non-CA issuer and a mismatched CA key", "[tls]") {
  Identity leaf = self_signed("not-a-ca");
  CertificateRequest request;
  request.name = "alice";
  auto r = issue_certificate(leaf, request);
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::usage);
  CHECK_THAT(r.error().message, Contains("not a CA"));

  Identity ca = self_signed("ca", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity other = self_signed("ca2", KeyType::ecdsa_p256, CertificateRole::ca);
  Identity mixed{ca.cert_pem, other.key_pem};
  auto m = issue_certificate(mixed, request);
  REQUIRE_FALSE(m);
  CHECK_THAT(m.error().message, Contains("does not match"));
}
