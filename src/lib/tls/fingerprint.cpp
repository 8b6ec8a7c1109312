// Fingerprints and pins: the one textual form users copy between machines
// ("sha256:<64 lower-case hex>"), and the names a certificate claims.

#include <arpa/inet.h>

#include <gnutls/crypto.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

#include "tls/gnutls_raii.hpp"
#include "tls/identity.hpp"

namespace conec::tls {

namespace {

constexpr std::string_view kPinPrefix = "sha256:";
constexpr size_t kSha256Size = 32;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20); // ASCII letters only; good enough for "sha256"
         });
}

Failure pin_error(std::string_view text, std::string_view why) {
  // Echo at most a line's worth: the text came from a command line or file.
  std::string shown(text.substr(0, 80));
  if (text.size() > 80) shown += "...";
  return fail(ErrorCategory::usage, "tls",
              "invalid pin '" + shown + "': " + std::string(why) +
                  "; expected sha256:<64 hex digits> (as printed by `conec cert`, "
                  "':' between byte pairs allowed)");
}

// One subjectAltName entry as text, or empty for kinds we do not match on.
std::string san_text(gnutls_x509_subject_alt_name_t type, const std::array<char, 1024> &buf, size_t size) {
  switch (type) {
  case GNUTLS_SAN_DNSNAME:
  case GNUTLS_SAN_RFC822NAME:
  case GNUTLS_SAN_URI: return std::string(buf.data(), size);
  case GNUTLS_SAN_IPADDRESS: {
    std::array<char, INET6_ADDRSTRLEN> text{};
    int family = size == 4 ? AF_INET : size == 16 ? AF_INET6 : 0;
    if (family == 0 || !inet_ntop(family, buf.data(), text.data(), text.size())) return {};
    return text.data();
  }
  default: return {};
  }
}

} // namespace

Bytes sha256(ByteView data) {
  Bytes digest(kSha256Size);
  // SHA-256 is built into every GnuTLS; if it ever failed, returning some
  // digest anyway could let a pin comparison go wrong, so stop.
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), digest.data()) < 0) std::abort();
  return digest;
}

Bytes hmac_sha256(ByteView key, ByteView data) {
  Bytes mac(kSha256Size);
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), data.data(), data.size(), mac.data()) < 0)
    std::abort(); // as sha256: a wrong MAC must never be returned
  return mac;
}

std::string fingerprint_of_der(ByteView der) { return std::string(kPinPrefix) + to_hex(sha256(der)); }

Result<std::string> public_key_fingerprint(ByteView der) {
  auto crt = detail::import_crt(der, GNUTLS_X509_FMT_DER);
  if (!crt) return fail(crt.error());
  gnutls_pubkey_t raw = nullptr;
  if (int rc = gnutls_pubkey_init(&raw); rc < 0)
    return fail(detail::gnutls_error(ErrorCategory::internal, "cannot allocate a public key", rc));
  detail::PubKey key(raw);
  if (int rc = gnutls_pubkey_import_x509(key.get(), crt->get(), 0); rc < 0)
    return fail(detail::gnutls_error(ErrorCategory::usage, "cannot read the certificate's public key", rc));
  detail::OwnedDatum spki; // DER SubjectPublicKeyInfo
  if (int rc = gnutls_pubkey_export2(key.get(), GNUTLS_X509_FMT_DER, &spki.datum); rc < 0)
    return fail(detail::gnutls_error(ErrorCategory::internal, "cannot encode the public key", rc));
  return fingerprint_of_der(spki.bytes());
}

Result<std::string> public_key_fingerprint_of_pem(std::string_view cert_pem) {
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  auto der = detail::crt_der(crt->get());
  if (!der) return fail(der.error());
  return public_key_fingerprint(*der);
}

Result<std::string> fingerprint_of_pem(std::string_view cert_pem) {
  // Decoding through the X.509 parser (not just base64) makes a corrupt
  // certificate an error here rather than a fingerprint nobody can match.
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  auto der = detail::crt_der(crt->get());
  if (!der) return fail(der.error());
  return fingerprint_of_der(*der);
}

} // namespace conec::tls

// Members of the public conec::Identity (conec/identity.hpp).
namespace conec {
using namespace tls;

Result<std::string> Identity::fingerprint() const { return fingerprint_of_pem(cert_pem); }

} // namespace conec

namespace conec::tls {



Result<Bytes> parse_pin(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return pin_error(text, "missing the 'sha256:' prefix");
  if (!iequals(text.substr(0, colon + 1), kPinPrefix))
    return pin_error(text, "unsupported algorithm '" + std::string(text.substr(0, colon)) + "'");

  std::string_view hex = text.substr(colon + 1);
  Bytes out;
  size_t i = 0;
  while (i < hex.size()) {
    if (i + 1 >= hex.size()) return pin_error(text, "odd number of hex digits");
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return pin_error(text, "not a hex digit");
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    i += 2;
    // A separator is allowed only between pairs, never leading or trailing.
    if (i < hex.size() && hex[i] == ':') {
      if (i + 1 == hex.size()) return pin_error(text, "trailing ':'");
      ++i;
    }
  }
  if (out.size() != kSha256Size)
    return pin_error(text, "has " + std::to_string(out.size()) + " bytes, a SHA-256 fingerprint has 32");
  return out;
}

Result<std::vector<std::string>> certificate_names(ByteView der) {
  auto crt = detail::import_crt(der, GNUTLS_X509_FMT_DER);
  if (!crt) return fail(crt.error());

  std::vector<std::string> names;
  auto add = [&names](std::string name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(std::move(name));
  };

  std::array<char, 1024> buf{};
  for (unsigned i = 0;; ++i) {
    size_t size = buf.size();
    int rc = gnutls_x509_crt_get_dn_by_oid(crt->get(), GNUTLS_OID_X520_COMMON_NAME, i, 0, buf.data(), &size);
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) continue; // absurdly long CN: not a name we could match
    if (rc < 0) break;                                // REQUESTED_DATA_NOT_AVAILABLE ends the list
    add(std::string(buf.data(), size));
  }
  for (unsigned i = 0;; ++i) {
    size_t size = buf.size();
    unsigned critical = 0;
    int rc = gnutls_x509_crt_get_subject_alt_name(crt->get(), i, buf.data(), &size, &critical);
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) continue;
    if (rc < 0) break;
    add(san_text(static_cast<gnutls_x509_subject_alt_name_t>(rc), buf, size));
  }
  return names;
}

Result<std::vector<std::string>> certificate_names_of_pem(std::string_view cert_pem) {
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  auto der = detail::crt_der(crt->get());
  if (!der) return fail(der.error());
  return certificate_names(*der);
}

namespace {

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char &c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace

Result<std::vector<std::string>> certificate_ids(ByteView der) {
  auto crt = detail::import_crt(der, GNUTLS_X509_FMT_DER);
  if (!crt) return fail(crt.error());
  std::vector<std::string> ids, legacy;
  auto add = [](std::vector<std::string> &to, std::string id) {
    if (!id.empty() && std::find(to.begin(), to.end(), id) == to.end()) to.push_back(std::move(id));
  };
  std::array<char, 1024> buf{};
  for (unsigned i = 0;; ++i) {
    size_t size = buf.size();
    int rc = gnutls_x509_crt_get_subject_alt_name(crt->get(), i, buf.data(), &size, nullptr);
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) continue;
    if (rc < 0) break;
    std::string_view value(buf.data(), size);
    if (rc == GNUTLS_SAN_URI && starts_with_ignoring_case(value, kIdUriPrefix))
      add(ids, std::string(value.substr(kIdUriPrefix.size())));
    else if (rc == GNUTLS_SAN_DNSNAME)
      add(legacy, std::string(value));
  }
  if (!ids.empty()) return ids;
  // Legacy: CN first, as certificate_names lists it.
  for (unsigned i = 0;; ++i) {
    size_t size = buf.size();
    int rc = gnutls_x509_crt_get_dn_by_oid(crt->get(), GNUTLS_OID_X520_COMMON_NAME, i, 0, buf.data(), &size);
    if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) continue;
    if (rc < 0) break;
    add(ids, std::string(buf.data(), size));
  }
  for (auto &name : legacy) add(ids, std::move(name));
  return ids;
}

Result<bool> certificate_has_id(ByteView der, std::string_view id) {
  auto ids = certificate_ids(der);
  if (!ids) return fail(ids.error());
  // Lower-cased here rather than with proto::canonical_id: tls sits below proto.
  std::string want = ascii_lower(id);
  return std::any_of(ids->begin(), ids->end(), [&](const std::string &have) { return ascii_lower(have) == want; });
}

std::string certificate_ids_text(ByteView der, std::string_view if_none) {
  auto ids = certificate_ids(der);
  std::string list;
  if (ids)
    for (const auto &id : *ids) list += (list.empty() ? "" : ", ") + id;
  return list.empty() ? std::string(if_none) : list;
}

Result<bool> is_self_issued(std::string_view cert_pem) {
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  // Issuer name equal to the subject name (and key ids, when present).
  return gnutls_x509_crt_check_issuer(crt->get(), crt->get()) == 1;
}

} // namespace conec::tls
