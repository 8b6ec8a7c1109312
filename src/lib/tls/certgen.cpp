// Certificate generation: self-signed identities (coordinator default, client
// default) and CA-issued ones (`conec cert`).

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include "tls/gnutls_raii.hpp"
#include "tls/identity.hpp"

namespace conec::tls {

namespace {

using detail::gnutls_error;

// Back-dating the start absorbs clock skew between the machines involved.
constexpr int64_t kBackdateSeconds = 3600;
// A hundred years; beyond that the arithmetic is the only thing being tested.
constexpr unsigned kMaxValidityDays = 36500;

// An X.520 CN holds at most 64 characters (RFC 5280 ub-common-name).
constexpr size_t kMaxCommonName = 64;

Result<detail::X509Key> generate_key(KeyType type) {
  auto key = detail::new_x509_key();
  if (!key) return key;
  gnutls_pk_algorithm_t algorithm = GNUTLS_PK_ECDSA;
  unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
  if (type == KeyType::ed25519) {
    algorithm = GNUTLS_PK_EDDSA_ED25519;
    bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519);
  }
  if (int rc = gnutls_x509_privkey_generate(key->get(), algorithm, bits, 0); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot generate a key", rc));
  return key;
}

Result<void> check_request(const CertificateRequest &request) {
  if (request.name.empty()) return fail(ErrorCategory::usage, "tls", "a certificate needs a name");
  // The id goes into a URI unescaped, so only the id alphabet is allowed.
  if (request.role == CertificateRole::client &&
      (request.name.size() > 64 || !std::all_of(request.name.begin(), request.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      })))
    return fail(ErrorCategory::usage, "tls",
                "a client certificate's id must be 1-64 of A-Z a-z 0-9 . _ -, not '" + request.name.substr(0, 80) +
                    "'");
  if (request.not_before.has_value() != request.not_after.has_value())
    return fail(ErrorCategory::usage, "tls", "set both not_before and not_after, or neither");
  if (request.not_before) {
    if (*request.not_after <= *request.not_before)
      return fail(ErrorCategory::usage, "tls", "certificate validity ends before it starts");
  } else if (request.validity_days == 0 || request.validity_days > kMaxValidityDays) {
    return fail(ErrorCategory::usage, "tls",
                "certificate validity must be 1 to " + std::to_string(kMaxValidityDays) + " days, not " +
                    std::to_string(request.validity_days));
  }
  return {};
}

Result<void> check_rc(int rc, const char *what) {
  if (rc < 0) return fail(gnutls_error(ErrorCategory::internal, what, rc));
  return {};
}

// CN and subjectAltName. A client's id goes where no host-name check looks
// (a URI), and its CN has spaces: GnuTLS falls back to the CN when a
// certificate has no DNS name, and a host name never contains a space.
Result<void> set_names(gnutls_x509_crt_t crt, const CertificateRequest &request) {
  std::string cn = request.name;
  if (request.role == CertificateRole::client) {
    cn = "conec client " + request.name;
    if (cn.size() > kMaxCommonName) cn = "conec client"; // the URI carries the id anyway
  }
  auto r = check_rc(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn.data(),
                                                  static_cast<unsigned>(cn.size())),
                    "cannot set the common name (at most 64 characters)");
  if (!r) return r;
  if (request.role == CertificateRole::client) {
    std::string uri = std::string(kIdUriPrefix) + request.name;
    return check_rc(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, uri.data(),
                                                         static_cast<unsigned>(uri.size()), GNUTLS_FSAN_SET),
                    "cannot set subjectAltName");
  }
  // Verifiers match names against subjectAltName only (RFC 6125), so the
  // name must be there, typed as an IP address when it is one.
  Bytes ip = detail::ip_literal(request.name);
  if (!ip.empty())
    return check_rc(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip.data(),
                                                         static_cast<unsigned>(ip.size()), GNUTLS_FSAN_SET),
                    "cannot set subjectAltName");
  return check_rc(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, request.name.data(),
                                                       static_cast<unsigned>(request.name.size()), GNUTLS_FSAN_SET),
                  "cannot set subjectAltName");
}

// Everything except the signature: subject, key, validity, extensions.
Result<void> fill(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const CertificateRequest &request) {
  Result<void> r = check_rc(gnutls_x509_crt_set_version(crt, 3), "cannot set certificate version");

  // Random serials (RFC 5280 allows up to 20 octets): positive and with a
  // non-zero first octet so the DER encoding is exactly 16 bytes.
  std::array<uint8_t, 16> serial{};
  random_bytes(serial);
  serial[0] &= 0x7f;
  if (serial[0] == 0) serial[0] = 1;
  if (r) r = check_rc(gnutls_x509_crt_set_serial(crt, serial.data(), serial.size()), "cannot set serial");

  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int64_t start = request.not_before.value_or(now - kBackdateSeconds);
  int64_t end = request.not_after.value_or(now + int64_t{request.validity_days} * 86400);
  if (r)
    r = check_rc(gnutls_x509_crt_set_activation_time(crt, static_cast<time_t>(start)), "cannot set validity");
  if (r) r = check_rc(gnutls_x509_crt_set_expiration_time(crt, static_cast<time_t>(end)), "cannot set validity");

  if (r) r = set_names(crt, request);
  if (r) r = check_rc(gnutls_x509_crt_set_key(crt, key), "cannot set the public key");
  if (request.role == CertificateRole::ca) {
    // pathLen 0: a conec CA issues leaves, never intermediate CAs.
    if (r) r = check_rc(gnutls_x509_crt_set_basic_constraints(crt, 1, 0), "cannot set basic constraints");
    if (r)
      r = check_rc(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN),
                "cannot set key usage");
  } else {
    if (r) r = check_rc(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), "cannot set basic constraints");
    if (r)
      r = check_rc(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), "cannot set key usage");
    // One purpose only: the role is what the other side checks.
    const char *purpose = request.role == CertificateRole::server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT;
    if (r) r = check_rc(gnutls_x509_crt_set_key_purpose_oid(crt, purpose, 0), "cannot set key purpose");
  }

  // Subject key id (SHA-1 of the key, RFC 5280 method 1) so that issued
  // certificates can name this one as their authority.
  std::array<uint8_t, 64> id{};
  size_t id_size = id.size();
  if (r)
    r = check_rc(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id.data(), &id_size), "cannot hash key");
  if (r) r = check_rc(gnutls_x509_crt_set_subject_key_id(crt, id.data(), id_size), "cannot set subject key id");
  return r;
}

// Signs `crt` as `issuer` (== crt for self-signed) with `issuer_key`.
Result<void> sign(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key) {
  auto key = detail::abstract_key(issuer_key);
  if (!key) return fail(key.error());
  // Ed25519 signs with SHA-512 built in; GnuTLS wants that stated.
  gnutls_digest_algorithm_t digest =
      gnutls_x509_privkey_get_pk_algorithm(issuer_key) == GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_SHA512
                                                                                  : GNUTLS_DIG_SHA256;
  if (int rc = gnutls_x509_crt_privkey_sign(crt, issuer, key->get(), digest, 0); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot sign certificate", rc));
  return {};
}

Result<Identity> to_identity(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key) {
  auto cert = detail::crt_pem(crt);
  if (!cert) return fail(cert.error());
  auto pem = detail::key_pem(key);
  if (!pem) return fail(pem.error());
  return Identity{std::move(*cert), std::move(*pem)};
}

} // namespace

Result<Identity> generate_self_signed(const CertificateRequest &request) {
  if (auto ok = check_request(request); !ok) return fail(ok.error());
  auto key = request.key_pem.empty() ? generate_key(request.key_type) : detail::import_key(request.key_pem);
  if (!key) return fail(key.error());
  auto crt = detail::new_crt();
  if (!crt) return fail(crt.error());
  if (auto ok = fill(crt->get(), key->get(), request); !ok) return fail(ok.error());
  if (auto ok = sign(crt->get(), crt->get(), key->get()); !ok) return fail(ok.error());
  return to_identity(crt->get(), key->get());
}

Result<Identity> issue_certificate(const Identity &ca, const CertificateRequest &request) {
  if (auto ok = check_request(request); !ok) return fail(ok.error());

  auto chain = detail::import_crt_chain(ca.cert_pem);
  if (!chain) return fail(ErrorCategory::usage, "tls", "CA certificate: " + chain.error().message);
  gnutls_x509_crt_t ca_crt = chain->front().get();
  auto ca_key = detail::import_key(ca.key_pem);
  if (!ca_key) return fail(ErrorCategory::usage, "tls", "CA key: " + ca_key.error().message);

  auto crt_id = detail::crt_key_id(ca_crt);
  auto key_id = detail::key_key_id(ca_key->get());
  if (!crt_id || !key_id || *crt_id != *key_id)
    return fail(ErrorCategory::usage, "tls", "the CA key does not match the CA certificate");

  unsigned critical = 0, is_ca = 0;
  int path_len = -1;
  int rc = gnutls_x509_crt_get_basic_constraints(ca_crt, &critical, &is_ca, &path_len);
  if (rc < 0 || !is_ca)
    return fail(
        ErrorCategory::usage, "tls",
        "the CA certificate is not a CA (no CA:TRUE basic constraint); create one with `conec cert ca`");

  auto key = request.key_pem.empty() ? generate_key(request.key_type) : detail::import_key(request.key_pem);
  if (!key) return fail(key.error());
  auto crt = detail::new_crt();
  if (!crt) return fail(crt.error());
  if (auto ok = fill(crt->get(), key->get(), request); !ok) return fail(ok.error());

  // Authority key id = the CA's subject key id, so verifiers can pick the
  // right CA when several share a name. Fall back to hashing its key for
  // CAs made by tools that omit the extension.
  std::array<uint8_t, 64> aki{};
  size_t aki_size = aki.size();
  rc = gnutls_x509_crt_get_subject_key_id(ca_crt, aki.data(), &aki_size, &critical);
  if (rc < 0) {
    aki_size = aki.size();
    rc = gnutls_x509_crt_get_key_id(ca_crt, GNUTLS_KEYID_USE_SHA1, aki.data(), &aki_size);
  }
  if (rc < 0) return fail(gnutls_error(ErrorCategory::internal, "cannot read the CA key id", rc));
  if (rc = gnutls_x509_crt_set_authority_key_id(crt->get(), aki.data(), aki_size); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot set authority key id", rc));

  // Signing with the CA certificate as issuer also copies its subject DN
  // into our issuer field.
  if (auto ok = sign(crt->get(), ca_crt, ca_key->get()); !ok) return fail(ok.error());
  return to_identity(crt->get(), key->get());
}

} // namespace conec::tls

// Members of the public conec::Identity (conec/identity.hpp).
namespace conec {

Result<Identity> Identity::generate_client(const std::string &id) {
  tls::CertificateRequest request;
  request.name = id;
  request.role = tls::CertificateRole::client;
  return tls::generate_self_signed(request);
}

Result<Identity> Identity::generate_coordinator(const std::string &name) {
  tls::CertificateRequest request;
  request.name = name;
  request.role = tls::CertificateRole::server;
  return tls::generate_self_signed(request);
}

} // namespace conec
