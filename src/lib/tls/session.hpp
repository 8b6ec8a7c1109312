#pragma once
// TLS 1.3 credentials and sessions for QUIC (GnuTLS). quic/ configures the
// session for QUIC (ngtcp2_crypto_gnutls_configure_*_session) and drives it.

#include <gnutls/gnutls.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/identity.hpp"

namespace conec::tls {

// ALPN of this protocol version.
inline constexpr std::string_view kAlpn = "conec/1";

enum class Role { client, server };

// How the peer's certificate is checked. Each mode fails the handshake with a
// distinct message (Session::failure()):
//   - any:    accepts every certificate (no expiry check either);
//   - system: the chain must verify against the system store and be in its
//             validity period; a client with an empty expected_name checks
//             the server_name it connects to instead (a public CA vouches
//             for names, so a check without a name would accept any site);
//   - ca:     as system, against `ca_pem` only;
//   - pin:    the leaf's SHA-256 must equal `pin` (the pin *is* the identity:
//             no expiry or name check).
// `expected_name` is checked in every mode but pin. A server with
// `require_peer_certificate` fails clients that send none, in every mode.
// `purpose` is checked in every mode, any and pin included (a coordinator
// accepts any self-signed client, but never a server certificate; a pinned
// client certificate is still no coordinator's): see purpose_mismatch.
struct PeerVerification {
  enum class Mode {
    any,    // accept any certificate (the application checks it after the handshake)
    system, // chain to the system trust store
    ca,     // chain to the CA certificates in `ca_pem`
    pin,    // SHA-256 of the leaf equals `pin`
  };
  Mode mode = Mode::system;
  std::string ca_pem;        // Mode::ca
  Bytes pin;                 // Mode::pin: 32 bytes
  std::string expected_name; // if non-empty, the leaf must be valid for this name (not for Mode::pin)
  bool require_peer_certificate = true; // server: request and require a client certificate
  Purpose purpose = Purpose::none;      // what the peer's leaf must be for (extended key usage)

  static PeerVerification any() { return {Mode::any, {}, {}, {}, true, Purpose::none}; }
};

// Credentials shared by many sessions: our own identity (optional for a
// client) and the trust anchors of `verification`.
class Credentials {
  struct Private {
    explicit Private() = default;
  };

public:
  explicit Credentials(Private) {} // use create()
  ~Credentials();
  Credentials(const Credentials &) = delete;
  Credentials &operator=(const Credentials &) = delete;

  // Errors: usage (bad PEM, key mismatch, no CA in ca_pem, pin not 32
  // bytes, unreadable or empty system store).
  static Result<std::shared_ptr<Credentials>> create(const std::optional<Identity> &own,
                                                     const PeerVerification &verification);

  gnutls_certificate_credentials_t native() const { return cred_; }
  const PeerVerification &verification() const { return verification_; }
  // Whether an own certificate was loaded (a server needs one).
  bool has_identity() const { return has_identity_; }

private:
  gnutls_certificate_credentials_t cred_ = nullptr; // owned; freed by ~Credentials
  PeerVerification verification_;
  bool has_identity_ = false;
};

// One TLS 1.3 session (priority: TLS 1.3 only, AES-128-GCM first, QUIC compat
// mode off), with ALPN and peer verification installed. Keeps `credentials` alive.
//
// Pointers inside the gnutls_session_t, and who owns them:
//   - gnutls_session_get_ptr/set_ptr: free for quic/ (ngtcp2_crypto_gnutls
//     reads its ngtcp2_crypto_conn_ref from there). tls/ never touches it.
//   - gnutls_db_get_ptr: this Session, for tls/'s callbacks. The db pointer
//     only serves TLS 1.2 session-id caches, which a TLS 1.3-only session
//     never uses (anti-replay has its own pointer). Do not change it.
//   - the handshake hook (gnutls_handshake_set_hook_function): installed on
//     server sessions to report "no certificate" and ALPN mismatches in
//     failure(); GnuTLS keeps one hook per session, so do not replace it there.
//   - the verify function (gnutls_session_set_verify_function): ours, both roles.
// Servers do not list their CA names in CertificateRequest (a GnuTLS client
// would silently withhold a certificate matching none of them).
// A Session must therefore stay at its address: it lives in a unique_ptr and
// is neither copyable nor movable.
class Session {
  struct Private {
    explicit Private() = default;
  };

public:
  explicit Session(Private) {} // use create()
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // `server_name` is sent as SNI by clients (ignored for IP literals/empty).
  // `alpn` defaults to kAlpn (tests pass another to provoke a mismatch).
  // Errors: usage (server without identity, empty or over-long ALPN, null
  // credentials), internal (GnuTLS refused a setting).
  static Result<std::unique_ptr<Session>> create(Role role, std::shared_ptr<Credentials> credentials,
                                                 std::string server_name = {},
                                                 std::string alpn = std::string(kAlpn));

  gnutls_session_t native() const { return session_; }
  Role role() const { return role_; }

  // Why this side failed the handshake, in words, when the cause was the
  // peer: its certificate ("certificate fingerprint sha256:... does not
  // match pinned sha256:...", "certificate is not valid for 'x' (it names:
  // y)", "peer presented no certificate ..."), or its ALPN ("client offers
  // protocol 'conec/2', this endpoint speaks 'conec/1' ..."). Empty if our
  // side found nothing wrong (then see the alert the peer sent).
  const std::string &failure() const { return failure_; }

  // After the handshake: the peer's leaf certificate (DER; empty if none)
  // and the negotiated ALPN.
  Bytes peer_certificate() const;
  std::string negotiated_alpn() const;

private:
  // GnuTLS callbacks (verify.cpp, session.cpp) that record failure_.
  friend struct SessionCallbacks;
  gnutls_session_t session_ = nullptr; // owned; freed by ~Session before credentials_
  Role role_ = Role::client;
  std::shared_ptr<Credentials> credentials_;
  std::string server_name_; // client: the name we connect to (SNI, system-mode name check)
  std::string alpn_;        // the one protocol we offer/accept
  std::string failure_;
};

// Human text for a TLS alert code received from or sent to a peer, with the
// likely cause for conec ("certificate_required: the peer requires a client
// certificate", "no_application_protocol: the peer does not speak conec/1").
std::string describe_alert(int alert);

} // namespace conec::tls
