#include "tls/gnutls_raii.hpp"

#include <arpa/inet.h>

#include <array>

namespace conec::tls::detail {

Error gnutls_error(ErrorCategory category, std::string_view what, int rc) {
  return Error{category, rc, "tls", std::string(what) + ": " + gnutls_strerror(rc)};
}

Result<X509Crt> new_crt() {
  gnutls_x509_crt_t raw = nullptr;
  if (int rc = gnutls_x509_crt_init(&raw); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot allocate a certificate", rc));
  return X509Crt(raw);
}

Result<X509Key> new_x509_key() {
  gnutls_x509_privkey_t raw = nullptr;
  if (int rc = gnutls_x509_privkey_init(&raw); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot allocate a private key", rc));
  return X509Key(raw);
}

Result<std::vector<X509Crt>> import_crt_chain(std::string_view pem) {
  gnutls_x509_crt_t *list = nullptr;
  unsigned count = 0;
  gnutls_datum_t data = view_datum(pem);
  int rc = gnutls_x509_crt_list_import2(&list, &count, &data, GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0) return fail(gnutls_error(ErrorCategory::usage, "not a PEM certificate", rc));
  // Take ownership of each element before anything else can fail; the
  // array itself was allocated by GnuTLS and goes back with gnutls_free.
  std::vector<X509Crt> chain;
  chain.reserve(count);
  for (unsigned i = 0; i < count; ++i) chain.emplace_back(list[i]);
  gnutls_free(list);
  if (chain.empty()) return fail(ErrorCategory::usage, "tls", "no certificate in PEM text");
  return chain;
}

Result<X509Crt> import_crt(ByteView data, gnutls_x509_crt_fmt_t fmt) {
  auto crt = new_crt();
  if (!crt) return fail(crt.error());
  gnutls_datum_t d = view_datum(data);
  if (int rc = gnutls_x509_crt_import(crt->get(), &d, fmt); rc < 0)
    return fail(gnutls_error(ErrorCategory::usage,
                             fmt == GNUTLS_X509_FMT_PEM ? "not a PEM certificate" : "not a DER certificate",
                             rc));
  return crt;
}

Result<X509Key> import_key(std::string_view pem) {
  auto key = new_x509_key();
  if (!key) return fail(key.error());
  gnutls_datum_t d = view_datum(pem);
  // import2 understands PKCS#8 as well as the SEC1/PKCS#1 forms other tools
  // write. No password: encrypted keys fail here with GnuTLS's own reason.
  if (int rc = gnutls_x509_privkey_import2(key->get(), &d, GNUTLS_X509_FMT_PEM, nullptr, 0); rc < 0)
    return fail(gnutls_error(ErrorCategory::usage, "not a PEM private key", rc));
  return key;
}

Result<PrivKey> abstract_key(gnutls_x509_privkey_t key) {
  gnutls_privkey_t raw = nullptr;
  if (int rc = gnutls_privkey_init(&raw); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot allocate a private key", rc));
  PrivKey out(raw);
  if (int rc = gnutls_privkey_import_x509(out.get(), key, 0); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot use the private key", rc));
  return out;
}

Result<Bytes> crt_der(gnutls_x509_crt_t crt) {
  OwnedDatum out;
  if (int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out.datum); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot encode certificate", rc));
  return out.bytes();
}

Result<std::string> crt_pem(gnutls_x509_crt_t crt) {
  OwnedDatum out;
  if (int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out.datum); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot encode certificate", rc));
  return out.str();
}

Result<std::string> key_pem(gnutls_x509_privkey_t key) {
  OwnedDatum out;
  // PKCS#8 for every key type: Ed25519 has no legacy PEM form, and one
  // format keeps other tools' expectations simple.
  if (int rc =
          gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN, &out.datum);
      rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot encode private key", rc));
  return out.str();
}

Result<Bytes> crt_key_id(gnutls_x509_crt_t crt) {
  Bytes id(32);
  size_t size = id.size();
  if (int rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id.data(), &size); rc < 0)
    return fail(gnutls_error(ErrorCategory::usage, "cannot read the certificate's public key", rc));
  id.resize(size);
  return id;
}

Result<Bytes> key_key_id(gnutls_x509_privkey_t key) {
  Bytes id(32);
  size_t size = id.size();
  if (int rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id.data(), &size); rc < 0)
    return fail(gnutls_error(ErrorCategory::usage, "cannot read the private key", rc));
  id.resize(size);
  return id;
}

Bytes ip_literal(std::string_view name) {
  if (name.empty() || name.size() >= INET6_ADDRSTRLEN) return {};
  std::string text(name); // inet_pton needs a terminated string
  std::array<uint8_t, 16> raw{};
  if (inet_pton(AF_INET, text.c_str(), raw.data()) == 1) return Bytes(raw.begin(), raw.begin() + 4);
  if (inet_pton(AF_INET6, text.c_str(), raw.data()) == 1) return Bytes(raw.begin(), raw.end());
  return {};
}

std::string utc_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 32> buf{};
  size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string(buf.data(), n);
}

} // namespace conec::tls::detail
