#pragma once
// TLS 1.3 credentials and sessions for QUIC (GnuTLS). quic/ configures the
// session for QUIC (ngtcp2_crypto_gnutls_configure_*_session) and drives it.

#include <gnutls/gnutls.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tls/identity.hpp"

namespace conec::tls {

// ALPN of this protocol version.
inline constexpr std::string_view kAlpn = "conec/1";

enum class Role { client, server };

// How the peer's certificate is checked. Each mode fails the handshake with a
// distinct message (Session::failure()).
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

  static PeerVerification any() { return {Mode::any, {}, {}, {}, true}; }
};

// Credentials shared by many sessions: our own identity (optional for a
// client) and the trust anchors of `verification`.
class Credentials {
public:
  ~Credentials();
  Credentials(const Credentials &) = delete;
  Credentials &operator=(const Credentials &) = delete;

  // Errors: usage (bad PEM, key mismatch, unreadable system store).
  static Result<std::shared_ptr<Credentials>> create(const std::optional<Identity> &own,
                                                     const PeerVerification &verification);

  gnutls_certificate_credentials_t native() const { return cred_; }
  const PeerVerification &verification() const { return verification_; }

private:
  Credentials() = default;
  gnutls_certificate_credentials_t cred_ = nullptr;
  PeerVerification verification_;
};

// One TLS 1.3 session (priority: TLS 1.3 only, AES-128-GCM first, QUIC compat
// mode off), with ALPN and peer verification installed. Keeps `credentials` alive.
class Session {
public:
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // `server_name` is sent as SNI by clients (ignored for IP literals/empty).
  // `alpn` defaults to kAlpn (tests pass another to provoke a mismatch).
  static Result<std::unique_ptr<Session>> create(Role role, std::shared_ptr<Credentials> credentials,
                                                 std::string server_name = {},
                                                 std::string alpn = std::string(kAlpn));

  gnutls_session_t native() const { return session_; }
  Role role() const { return role_; }

  // Why verification of the peer failed, in words ("certificate fingerprint
  // sha256:... does not match pinned sha256:..."); empty if it did not fail.
  const std::string &failure() const { return failure_; }

  // After the handshake: the peer's leaf certificate (DER; empty if none)
  // and the negotiated ALPN.
  Bytes peer_certificate() const;
  std::string negotiated_alpn() const;

private:
  Session() = default;
  friend int verify_peer(gnutls_session_t);
  gnutls_session_t session_ = nullptr;
  Role role_ = Role::client;
  std::shared_ptr<Credentials> credentials_;
  std::string failure_;
};

// Human text for a TLS alert code received from or sent to a peer, with the
// likely cause for conec ("certificate_required: the peer requires a client
// certificate", "no_application_protocol: the peer does not speak conec/1").
std::string describe_alert(int alert);

} // namespace conec::tls
