#pragma once
// Internal to tls/: owners for GnuTLS objects and the conversions every tls/
// source needs. Other layers never include this (GnuTLS stays inside tls/,
// apart from the session handle quic/ hands to ngtcp2).

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::tls::detail {

// Deleter calling a GnuTLS `*_deinit`/`*_free` function, so that every
// GnuTLS object is a unique_ptr and no error path can leak one.
template <auto Free> struct FreeWith {
  template <class P> void operator()(P p) const noexcept { Free(p); }
};
template <class Handle, auto Free>
using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, FreeWith<Free>>;

using X509Crt = Owned<gnutls_x509_crt_t, &gnutls_x509_crt_deinit>;
using X509Key = Owned<gnutls_x509_privkey_t, &gnutls_x509_privkey_deinit>;
using PrivKey = Owned<gnutls_privkey_t, &gnutls_privkey_deinit>;
using PubKey = Owned<gnutls_pubkey_t, &gnutls_pubkey_deinit>;
using CertCredentials = Owned<gnutls_certificate_credentials_t, &gnutls_certificate_free_credentials>;
using SessionHandle = Owned<gnutls_session_t, &gnutls_deinit>;

// A datum whose bytes GnuTLS allocated (export2, print, ...): freed with
// gnutls_free, which is not necessarily free().
class OwnedDatum {
public:
  OwnedDatum() = default;
  ~OwnedDatum() { gnutls_free(datum.data); }
  OwnedDatum(const OwnedDatum &) = delete;
  OwnedDatum &operator=(const OwnedDatum &) = delete;

  std::string str() const { return {reinterpret_cast<const char *>(datum.data), datum.size}; }
  Bytes bytes() const { return Bytes(datum.data, datum.data + datum.size); }

  gnutls_datum_t datum{nullptr, 0};
};

// Non-owning datum over caller memory. GnuTLS takes `unsigned char *` even
// where it only reads, hence the const_cast.
inline gnutls_datum_t view_datum(ByteView b) {
  return {const_cast<unsigned char *>(b.data()), static_cast<unsigned>(b.size())};
}
inline gnutls_datum_t view_datum(std::string_view s) { return view_datum(as_bytes(s)); }

// "<what>: <GnuTLS error text>" as a tls-layer Error of `category`.
Error gnutls_error(ErrorCategory category, std::string_view what, int rc);

// Fresh, empty objects (allocation failures become internal errors).
Result<X509Crt> new_crt();
Result<X509Key> new_x509_key();

// Parses every certificate in `pem` (leaf first). Fails if there is none.
Result<std::vector<X509Crt>> import_crt_chain(std::string_view pem);
// Parses one certificate (`fmt` PEM: the first one in the text).
Result<X509Crt> import_crt(ByteView data, gnutls_x509_crt_fmt_t fmt);
// Parses an unencrypted private key in PEM (PKCS#8 or the legacy forms).
Result<X509Key> import_key(std::string_view pem);
// Wraps `key` (not taking ownership: `key` must outlive the result) as the
// abstract key type the signing functions want.
Result<PrivKey> abstract_key(gnutls_x509_privkey_t key);

Result<Bytes> crt_der(gnutls_x509_crt_t crt);
Result<std::string> crt_pem(gnutls_x509_crt_t crt);
Result<std::string> key_pem(gnutls_x509_privkey_t key);

// SHA-256 identifiers of the public key in a certificate / private key,
// compared to tell whether a key belongs to a certificate.
Result<Bytes> crt_key_id(gnutls_x509_crt_t crt);
Result<Bytes> key_key_id(gnutls_x509_privkey_t key);

// Raw network-order address bytes (4 or 16) if `name` is an IPv4/IPv6
// literal, empty otherwise.
Bytes ip_literal(std::string_view name);

// "2031-05-04 12:00:00 UTC", for expiry messages.
std::string utc_time(std::time_t t);

} // namespace conec::tls::detail
