// Fingerprints, pins, certificate names and alert texts.

#include <gnutls/gnutls.h>

#include <algorithm>

#include "tls_test_support.hpp"

using namespace conec;
using namespace conec::tls;
using namespace conec::tls::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

Bytes der_of(const Identity &id) {
  gnutls_datum_t pem{reinterpret_cast<unsigned char *>(const_cast<char *>(id.cert_pem.data())),
                     static_cast<unsigned>(id.cert_pem.size())};
  gnutls_datum_t der{};
  REQUIRE(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der) == 0);
  Bytes out(der.data, der.data + der.size);
  gnutls_free(der.data);
  return out;
}

const std::string kHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // SHA-256("abc")

} // namespace

TEST_CASE("fingerprint_of_der is sha256: plus lower-case hex of SHA-256", "[tls]") {
  CHECK(fingerprint_of_der(as_bytes("abc")) == "sha256:" + kHex);
}

TEST_CASE("Identity fingerprint: format, stability, matches the DER, differs between certificates", "[tls]") {
  Identity a = self_signed("coord.example");
  Identity b = self_signed("coord.example");
  auto fa = a.fingerprint();
  REQUIRE(fa);
  // "sha256:" + 64 lower-case hex digits (std::regex trips g++ 12's
  // -Wmaybe-uninitialized under the sanitizers, so check by hand).
  REQUIRE(fa->size() == 7 + 64);
  CHECK(fa->substr(0, 7) == "sha256:");
  CHECK(std::all_of(fa->begin() + 7, fa->end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  CHECK(*a.fingerprint() == *fa);
  CHECK(*fingerprint_of_pem(a.cert_pem) == *fa);
  CHECK(fingerprint_of_der(der_of(a)) == *fa);
  CHECK(*b.fingerprint() != *fa);
}

TEST_CASE("fingerprint_of_pem rejects text that is not a certificate", "[tls]") {
  auto r = fingerprint_of_pem("hello");
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::usage);
}

TEST_CASE("parse_pin accepts the forms users write", "[tls]") {
  Bytes expected;
  for (size_t i = 0; i < kHex.size(); i += 2)
    expected.push_back(static_cast<uint8_t>(std::stoi(kHex.substr(i, 2), nullptr, 16)));

  std::string upper;
  for (char c : kHex) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string colons;
  for (size_t i = 0; i < upper.size(); i += 2) colons += (i ? ":" : "") + upper.substr(i, 2);

  for (const std::string &text :
       {"sha256:" + kHex, "sha256:" + upper, "SHA256:" + kHex, "sha256:" + colons}) {
    INFO(text);
    auto pin = parse_pin(text);
    REQUIRE(pin);
    CHECK(*pin == expected);
  }
  // The fingerprint we print parses back to the digest.
  Identity id = self_signed("x");
  CHECK(to_hex(*parse_pin(*id.fingerprint())) == id.fingerprint()->substr(7));
}

TEST_CASE("parse_pin rejects other algorithms, lengths and characters with the expected form", "[tls]") {
  const std::string bad[] = {
      "",
      kHex,                           // no prefix
      "sha1:" + kHex.substr(0, 40),   // other algorithm
      "md5:" + kHex,                  // other algorithm
      "sha256:" + kHex.substr(0, 62), // 31 bytes
      "sha256:" + kHex + "00",        // 33 bytes
      "sha256:" + kHex.substr(0, 63), // odd digit count
      "sha256:" + kHex.substr(0, 62) + "zz",
      "sha256:" + kHex + ":",        // trailing separator
      "sha256::" + kHex,             // leading separator
      "sha256:b:a" + kHex.substr(2), // separator inside a pair
  };
  for (const auto &text : bad) {
    INFO(text);
    auto pin = parse_pin(text);
    REQUIRE_FALSE(pin);
    CHECK(pin.error().category == ErrorCategory::usage);
    CHECK_THAT(pin.error().message, Contains("sha256:<64 hex digits>"));
  }
  CHECK_THAT(parse_pin("sha1:" + kHex.substr(0, 40)).error().message, Contains("'sha1'"));
}

TEST_CASE("certificate_names lists CN and subjectAltNames without duplicates", "[tls]") {
  auto dns = certificate_names(der_of(self_signed("coord.example")));
  REQUIRE(dns);
  CHECK(*dns == std::vector<std::string>{"coord.example"});

  auto ip = certificate_names(der_of(self_signed("2001:db8::5")));
  REQUIRE(ip);
  CHECK(*ip == std::vector<std::string>{"2001:db8::5"});

  CHECK_FALSE(certificate_names(as_bytes("not DER")));
}

TEST_CASE("describe_alert names common alerts with their meaning for conec", "[tls]") {
  CHECK_THAT(describe_alert(42), StartsWith("bad_certificate: "));
  CHECK_THAT(describe_alert(45), StartsWith("certificate_expired: "));
  CHECK_THAT(describe_alert(48), StartsWith("unknown_ca: "));
  CHECK_THAT(describe_alert(40), StartsWith("handshake_failure: "));
  CHECK_THAT(describe_alert(70), StartsWith("protocol_version: "));
  CHECK_THAT(describe_alert(116), StartsWith("certificate_required: ") && Contains("client certificate"));
  CHECK_THAT(describe_alert(120), StartsWith("no_application_protocol: ") && Contains("conec/1"));
  CHECK(describe_alert(250) == "alert 250: unknown TLS alert");
  // Every name agrees with GnuTLS's own ("GNUTLS_A_BAD_CERTIFICATE") for the alert.
  for (int a : {0,  10, 20, 22, 40, 42, 43, 44,  45,  46,  47,  48,  49,
                50, 51, 70, 71, 80, 86, 90, 109, 110, 112, 115, 116, 120}) {
    const char *name = gnutls_alert_get_strname(static_cast<gnutls_alert_description_t>(a));
    INFO(a);
    REQUIRE(name != nullptr);
    std::string gnutls_name(name);
    REQUIRE_THAT(gnutls_name, StartsWith("GNUTLS_A_"));
    gnutls_name.erase(0, 9);
    for (char &c : gnutls_name)
      c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK_THAT(describe_alert(a), StartsWith(gnutls_name + ": "));
  }
}

TEST_CASE("public_key_fingerprint names the key: a renewed certificate keeps it, another key changes it", "[tls]") {
  Identity first = self_signed("bob");
  CertificateRequest renewal;
  renewal.name = "bob";
  renewal.validity_days = 7;
  renewal.key_pem = first.key_pem;
  auto renewed = generate_self_signed(renewal);
  REQUIRE(renewed);
  Identity other = self_signed("bob");

  auto fp = public_key_fingerprint(der_of(first));
  REQUIRE(fp);
  CHECK_THAT(*fp, StartsWith("sha256:"));
  CHECK(fp->size() == 7 + 64);
  CHECK(*fp != *first.fingerprint()); // the key's, not the certificate's
  CHECK(*renewed->fingerprint() != *first.fingerprint());
  CHECK(*public_key_fingerprint(der_of(*renewed)) == *fp);
  CHECK(*public_key_fingerprint(der_of(other)) != *fp);
  CHECK(*public_key_fingerprint_of_pem(first.cert_pem) == *fp);

  auto bad = public_key_fingerprint(as_bytes("not a certificate"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category == ErrorCategory::usage);
}
