// Peer verification policy, both halves of each PeerVerification mode: the
// credentials (our identity plus the trust anchors a mode needs, loaded once
// and shared by many sessions), and the check GnuTLS runs once the peer's
// Certificate and CertificateVerify have arrived, which explains each
// rejection in a sentence the user can act on.

#include <ctime>

#include "tls/gnutls_raii.hpp"
#include "tls/session_callbacks.hpp"
#include "util/guard.hpp"

namespace conec::tls {

namespace {

using Mode = PeerVerification::Mode;
using detail::gnutls_error;

// Loads into `cred` what `verification`'s mode checks against, and rejects
// settings that could never verify anyone.
Result<void> load_trust(gnutls_certificate_credentials_t cred, const PeerVerification &verification) {
  switch (verification.mode) {
  case Mode::any: return {};
  case Mode::pin:
    if (verification.pin.size() != 32)
      return fail(ErrorCategory::usage, "tls",
                  "a pin must be a SHA-256 fingerprint (32 bytes), got " +
                      std::to_string(verification.pin.size()) + " bytes");
    return {};
  case Mode::ca: {
    // Pre-check for text without any certificate: GnuTLS would return 0
    // certificates, and a trust list of nothing would reject every peer with
    // a confusing "issuer unknown".
    if (verification.ca_pem.find("-----BEGIN") == std::string::npos)
      return fail(ErrorCategory::usage, "tls", "the CA file holds no PEM certificate");
    gnutls_datum_t pem = detail::view_datum(verification.ca_pem);
    int rc = gnutls_certificate_set_x509_trust_mem(cred, &pem, GNUTLS_X509_FMT_PEM);
    if (rc < 0) return fail(gnutls_error(ErrorCategory::usage, "cannot read the CA certificates", rc));
    if (rc == 0) return fail(ErrorCategory::usage, "tls", "the CA file holds no usable certificate");
    return {};
  }
  case Mode::system: {
    int rc = gnutls_certificate_set_x509_system_trust(cred);
    if (rc < 0) return fail(gnutls_error(ErrorCategory::usage, "cannot read the system trust store", rc));
    if (rc == 0)
      return fail(ErrorCategory::usage, "tls",
                  "the system trust store is empty (install ca-certificates, or use --ca or --pin)");
    return {};
  }
  }
  return fail(ErrorCategory::internal, "tls", "unknown verification mode");
}

// Status bits that mean "the chain does not lead to a trusted CA", as opposed
// to a trusted chain that is merely outside its validity period.
constexpr unsigned kUntrusted = GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE |
                                GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_INSECURE_ALGORITHM |
                                GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE | GNUTLS_CERT_REVOKED |
                                GNUTLS_CERT_UNEXPECTED_OWNER | GNUTLS_CERT_MISMATCH;

std::string status_text(unsigned status) {
  detail::OwnedDatum text;
  if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text.datum, 0) < 0)
    return "status " + std::to_string(status);
  return text.str();
}

// Why a chain with verification `status` != 0 was rejected.
std::string describe_chain_failure(unsigned status, Mode mode, gnutls_x509_crt_t leaf) {
  std::string anchor = mode == Mode::system ? "a CA in the system trust store" : "the trusted CA";
  if (status & kUntrusted) return "certificate is not signed by " + anchor + " (" + status_text(status) + ")";
  std::time_t now = std::time(nullptr);
  if (status & GNUTLS_CERT_EXPIRED) {
    std::time_t end = gnutls_x509_crt_get_expiration_time(leaf);
    if (end != static_cast<std::time_t>(-1) && end < now)
      return "certificate expired on " + detail::utc_time(end);
    return "a certificate in the peer's chain has expired (" + status_text(status) + ")";
  }
  if (status & GNUTLS_CERT_NOT_ACTIVATED) {
    std::time_t start = gnutls_x509_crt_get_activation_time(leaf);
    if (start != static_cast<std::time_t>(-1) && start > now)
      return "certificate is not valid before " + detail::utc_time(start) + " (is a clock wrong?)";
    return "a certificate in the peer's chain is not yet valid (" + status_text(status) + ")";
  }
  return "certificate rejected (" + status_text(status) + ")";
}

std::string describe_name_mismatch(const std::string &name, ByteView der) {
  auto names = certificate_names(der);
  std::string listed;
  if (names)
    for (const auto &n : *names) listed += (listed.empty() ? "" : ", ") + n;
  return "certificate is not valid for '" + name + "' (it names: " + (listed.empty() ? "nothing" : listed) +
         ")";
}

// Why the leaf is not for `purpose`; empty if it is.
std::string check_purpose(ByteView leaf_der, Purpose purpose) {
  auto why = purpose_mismatch(leaf_der, purpose);
  if (!why) return "peer certificate is malformed (" + why.error().message + ")";
  return *why;
}

// The verdict for one session; empty means accepted.
std::string check_peer(gnutls_session_t session, const PeerVerification &v, Role role,
                       const std::string &server_name, const std::string &alpn) {
  if (role == Role::client) {
    // EncryptedExtensions came before the certificate, so the server's ALPN
    // choice is known. GnuTLS lets a server that ignores ALPN through.
    gnutls_datum_t selected{nullptr, 0};
    if (gnutls_alpn_get_selected_protocol(session, &selected) < 0)
      return "server selected no application protocol; this endpoint speaks '" + alpn + "'";
  }

  unsigned count = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &count);
  if (!certs || count == 0) {
    if (role == Role::server && !v.require_peer_certificate) return {};
    return "peer presented no certificate";
  }
  ByteView leaf_der(certs[0].data, certs[0].size);

  if (v.mode == Mode::pin) {
    std::string got = fingerprint_of_der(leaf_der);
    std::string want = "sha256:" + to_hex(v.pin);
    if (got != want) return "certificate fingerprint " + got + " does not match pinned " + want;
    return check_purpose(leaf_der, v.purpose);
  }

  auto leaf = detail::import_crt(leaf_der, GNUTLS_X509_FMT_DER);
  if (!leaf) return "peer certificate is malformed (" + leaf.error().message + ")";

  if (v.mode == Mode::ca || v.mode == Mode::system) {
    unsigned status = 0;
    if (int rc = gnutls_certificate_verify_peers2(session, &status); rc < 0)
      return std::string("cannot verify the peer certificate: ") + gnutls_strerror(rc);
    if (status != 0) return describe_chain_failure(status, v.mode, leaf->get());
  }

  // Before the name: "a client certificate" says more than "not valid for".
  if (std::string why = check_purpose(leaf_der, v.purpose); !why.empty()) return why;

  std::string name = v.expected_name;
  if (name.empty() && v.mode == Mode::system && role == Role::client) {
    // A system-store chain only proves that *some* public CA vouched for
    // *some* name; without a name check any web site would pass.
    if (server_name.empty()) return "cannot check the server's name: no server name given for system trust";
    name = server_name;
  }
  if (!name.empty()) {
    // Wildcards are for public web PKI; a conec CA names exact ids.
    unsigned flags = v.mode == Mode::system ? 0 : GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS;
    if (!gnutls_x509_crt_check_hostname2(leaf->get(), name.c_str(), flags))
      return describe_name_mismatch(name, leaf_der);
  }
  return {};
}

} // namespace

Credentials::~Credentials() {
  if (cred_) gnutls_certificate_free_credentials(cred_);
}

Result<std::shared_ptr<Credentials>> Credentials::create(const std::optional<Identity> &own,
                                                         const PeerVerification &verification) {
  gnutls_certificate_credentials_t raw = nullptr;
  if (int rc = gnutls_certificate_allocate_credentials(&raw); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot allocate TLS credentials", rc));
  // Owned by the Credentials object from here on, so every error below frees it.
  auto out = std::make_shared<Credentials>(Private{});
  out->cred_ = raw;
  out->verification_ = verification;

  if (own) {
    gnutls_datum_t cert = detail::view_datum(own->cert_pem);
    gnutls_datum_t key = detail::view_datum(own->key_pem);
    int rc = gnutls_certificate_set_x509_key_mem2(raw, &cert, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
      return fail(ErrorCategory::usage, "tls", "the private key does not match the certificate", rc);
    if (rc < 0) return fail(gnutls_error(ErrorCategory::usage, "cannot use our certificate and key", rc));
    out->has_identity_ = true;
  }
  if (auto ok = load_trust(raw, verification); !ok) return fail(ok.error());
  return out;
}

int SessionCallbacks::verify_peer(gnutls_session_t session) {
  Session *self = from(session);
  // Cannot happen for sessions made by Session::create; refuse rather than
  // accept a peer nobody checked.
  if (!self) return -1;
  std::string verdict;
  // Behind the exception barrier (util/guard.hpp): GnuTLS is C.
  if (!guarded("TLS verify", [&] {
        verdict = check_peer(session, self->credentials_->verification(), self->role_, self->server_name_,
                             self->alpn_);
      }))
    verdict = "the peer's certificate could not be checked (internal error)";
  if (verdict.empty()) return 0;
  self->failure_ = std::move(verdict);
  return -1;
}

} // namespace conec::tls

namespace conec::tls {

Result<Bytes> der_of_pem(std::string_view cert_pem) {
  auto crt = detail::import_crt(as_bytes(cert_pem), GNUTLS_X509_FMT_PEM);
  if (!crt) return fail(crt.error());
  return detail::crt_der(crt->get());
}

Result<void> verify_with_ca(ByteView der, std::string_view ca_pem) {
  auto leaf = detail::import_crt(der, GNUTLS_X509_FMT_DER);
  if (!leaf) return fail(ErrorCategory::tls, "tls", "certificate is malformed (" + leaf.error().message + ")");
  gnutls_x509_trust_list_t raw = nullptr;
  if (int rc = gnutls_x509_trust_list_init(&raw, 0); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot make a trust list", rc));
  struct Deinit {
    void operator()(gnutls_x509_trust_list_t l) const noexcept { gnutls_x509_trust_list_deinit(l, 1); }
  };
  std::unique_ptr<std::remove_pointer_t<gnutls_x509_trust_list_t>, Deinit> list(raw);
  gnutls_datum_t pem = detail::view_datum(ca_pem);
  int added = gnutls_x509_trust_list_add_trust_mem(raw, &pem, nullptr, GNUTLS_X509_FMT_PEM, 0, 0);
  if (added < 0) return fail(gnutls_error(ErrorCategory::usage, "cannot read the CA certificates", added));
  if (added == 0) return fail(ErrorCategory::usage, "tls", "the CA file holds no usable certificate");
  gnutls_x509_crt_t chain[1] = {leaf->get()};
  unsigned status = 0;
  if (int rc = gnutls_x509_trust_list_verify_crt(raw, chain, 1, 0, &status, nullptr); rc < 0)
    return fail(gnutls_error(ErrorCategory::tls, "cannot verify the certificate", rc));
  if (status != 0) return fail(ErrorCategory::tls, "tls", describe_chain_failure(status, Mode::ca, leaf->get()));
  return {};
}

} // namespace conec::tls
