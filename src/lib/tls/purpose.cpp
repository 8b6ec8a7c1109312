// Certificate purpose (extended key usage): what stops a client certificate
// from serving as a coordinator's, and a coordinator's from logging in as a
// client. Both ends check it, whatever their verification mode.

#include <array>

#include "tls/gnutls_raii.hpp"
#include "tls/identity.hpp"

namespace conec::tls {

namespace {

constexpr const char *kAnyPurposeOid = "2.5.29.37.0"; // anyExtendedKeyUsage

// The extended key usage OIDs of `crt`; nullopt when it has no such
// extension (RFC 5280: then the key may be used for anything).
std::optional<std::vector<std::string>> purposes(gnutls_x509_crt_t crt) {
  std::vector<std::string> oids;
  std::array<char, 128> buf{};
  for (unsigned i = 0;; ++i) {
    size_t size = buf.size();
    int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, buf.data(), &size, nullptr);
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) continue; // no OID we know is that long
    if (rc < 0) break;
    oids.emplace_back(buf.data()); // NUL-terminated; size counts the NUL on some versions
  }
  if (oids.empty()) return std::nullopt;
  return oids;
}

std::string oid_name(const std::string &oid) {
  if (oid == GNUTLS_KP_TLS_WWW_SERVER) return "serverAuth";
  if (oid == GNUTLS_KP_TLS_WWW_CLIENT) return "clientAuth";
  if (oid == GNUTLS_KP_CODE_SIGNING) return "codeSigning";
  if (oid == GNUTLS_KP_EMAIL_PROTECTION) return "emailProtection";
  if (oid == GNUTLS_KP_TIME_STAMPING) return "timeStamping";
  if (oid == GNUTLS_KP_OCSP_SIGNING) return "OCSPSigning";
  return oid;
}

bool contains(const std::vector<std::string> &oids, const char *oid) {
  for (const auto &o : oids)
    if (o == oid) return true;
  return false;
}

} // namespace

Result<std::string> purpose_mismatch(ByteView der, Purpose purpose) {
  if (purpose == Purpose::none) return std::string();
  auto crt = detail::import_crt(der, GNUTLS_X509_FMT_DER);
  if (!crt) return fail(crt.error());
  auto oids = purposes(crt->get());
  const char *wanted = purpose == Purpose::server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT;
  if (!oids || contains(*oids, wanted) || contains(*oids, kAnyPurposeOid)) return std::string();

  std::string listed;
  for (const auto &o : *oids) listed += (listed.empty() ? "" : ", ") + oid_name(o);
  std::string usage = "(extended key usage: " + listed + ")";
  if (purpose == Purpose::server) {
    if (contains(*oids, GNUTLS_KP_TLS_WWW_CLIENT))
      return "certificate is for client authentication only " + usage +
             ", not a coordinator certificate (conec cert issue --host makes those)";
    return "certificate is not for TLS servers " + usage + ", not a coordinator certificate";
  }
  if (contains(*oids, GNUTLS_KP_TLS_WWW_SERVER))
    return "certificate is a server certificate " + usage +
           ", not a client certificate (conec cert issue --id makes those)";
  return "certificate is not for TLS clients " + usage + ", not a client certificate";
}

Result<std::string> purpose_mismatch_of_pem(std::string_view cert_pem, Purpose purpose) {
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  auto der = detail::crt_der(crt->get());
  if (!der) return fail(der.error());
  return purpose_mismatch(*der, purpose);
}

} // namespace conec::tls
