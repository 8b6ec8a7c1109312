// Session: one gnutls_session_t configured for conec over QUIC (TLS 1.3 only,
// our ALPN, our verification), the server hook that explains ALPN and
// missing-certificate failures in words, and TLS alerts in words (under QUIC
// an alert arrives as CRYPTO_ERROR 0x100 + alert; quic/ passes the number to
// describe_alert so users see the likely cause, not a bare number).

#include <algorithm>
#include <utility>

#include "tls/gnutls_raii.hpp"
#include "tls/session_callbacks.hpp"

namespace conec::tls {

namespace {

using detail::gnutls_error;

// TLS 1.3 only (QUIC requires it), AES-128-GCM first because every QUIC
// stack must support it and it is fastest with AES-NI; no middlebox
// compatibility mode, which RFC 9001 §8.4 forbids under QUIC.
constexpr const char *kPriority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%DISABLE_TLS13_COMPAT_MODE";

// Reads big-endian length-prefixed fields of a handshake message; any
// overrun turns the reader "bad" instead of reading past the end.
class Reader {
public:
  explicit Reader(ByteView data) : data_(data) {}
  bool ok() const { return ok_; }
  bool empty() const { return data_.empty(); }
  uint32_t number(size_t width) {
    if (!take(width)) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < width; ++i) v = v << 8 | taken_[i];
    return v;
  }
  ByteView bytes(size_t n) { return take(n) ? taken_ : ByteView{}; }
  // A field with a `width`-byte length prefix.
  ByteView vector(size_t width) { return bytes(number(width)); }

private:
  bool take(size_t n) {
    if (!ok_ || n > data_.size()) {
      ok_ = false;
      return false;
    }
    taken_ = data_.first(n);
    data_ = data_.subspan(n);
    return true;
  }
  ByteView data_;
  ByteView taken_;
  bool ok_ = true;
};

constexpr uint16_t kAlpnExtension = 16; // RFC 7301

// What a ClientHello offers as ALPN.
struct OfferedAlpn {
  bool parsed = false;  // false: malformed, GnuTLS will reject it with its own error
  bool present = false; // the ALPN extension was there
  std::vector<std::string> names;
};

OfferedAlpn offered_alpn(ByteView client_hello) {
  OfferedAlpn out;
  Reader r(client_hello);
  r.bytes(2 + 32); // legacy_version, random
  r.vector(1);     // legacy_session_id
  r.vector(2);     // cipher_suites
  r.vector(1);     // legacy_compression_methods
  Reader extensions(r.vector(2));
  if (!r.ok()) return out;
  while (!extensions.empty()) {
    uint32_t type = extensions.number(2);
    ByteView body = extensions.vector(2);
    if (!extensions.ok()) return out;
    if (type != kAlpnExtension) continue;
    Reader list(body);
    Reader names(list.vector(2));
    while (names.ok() && !names.empty()) {
      ByteView name = names.vector(1);
      if (names.ok()) out.names.emplace_back(as_chars(name));
    }
    if (!list.ok() || !names.ok()) return out;
    out.present = true;
    break;
  }
  out.parsed = true;
  return out;
}

std::string quoted_list(const std::vector<std::string> &names) {
  std::string out;
  for (const auto &n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

struct AlertText {
  int code;
  const char *name;
  const char *meaning;
};

// RFC 8446 §6 plus the extensions' alerts, with what each means when a
// conec peer sends it (our sessions are TLS 1.3 only, certificate-based).
constexpr AlertText kAlerts[] = {
    {0, "close_notify", "the peer closed the TLS session"},
    {10, "unexpected_message", "protocol error: a message arrived out of order (not a conec peer?)"},
    {20, "bad_record_mac", "a record failed to decrypt (corrupted data or a broken peer)"},
    {22, "record_overflow", "a record was larger than allowed (broken peer)"},
    {40, "handshake_failure",
     "no common TLS 1.3 parameters (cipher suite, group or signature algorithm) with the peer"},
    {42, "bad_certificate",
     "the peer rejected our certificate (wrong pin, untrusted CA, or wrong name or role on its side)"},
    {43, "unsupported_certificate", "the peer cannot use our certificate's type or key algorithm"},
    {44, "certificate_revoked", "our certificate was revoked by its CA"},
    {45, "certificate_expired", "the peer says our certificate has expired (or a clock is wrong)"},
    {46, "certificate_unknown", "the peer rejected our certificate for an unspecified reason"},
    {47, "illegal_parameter", "protocol error: the peer received an invalid field (broken peer?)"},
    {48, "unknown_ca", "the peer does not trust the CA that signed our certificate"},
    {49, "access_denied", "the peer verified us but refuses access (certificate not allowed there)"},
    {50, "decode_error", "protocol error: a message could not be decoded (not a conec peer?)"},
    {51, "decrypt_error",
     "a handshake signature or Finished check failed (the key does not match the certificate, or tampering)"},
    {70, "protocol_version", "the peer does not speak TLS 1.3 (conec requires it)"},
    {71, "insufficient_security", "the peer requires stronger parameters than we offered"},
    {80, "internal_error", "the peer hit an internal error (see its logs)"},
    {86, "inappropriate_fallback", "a downgrade was detected"},
    {90, "user_canceled", "the peer canceled the handshake"},
    {109, "missing_extension", "the peer expected a TLS extension we did not send (not a QUIC peer?)"},
    {110, "unsupported_extension", "we sent an extension the peer did not allow"},
    {112, "unrecognized_name", "the peer has no certificate for the server name we asked for"},
    {113, "bad_certificate_status_response", "the peer rejected the OCSP status of a certificate"},
    {115, "unknown_psk_identity", "the peer did not accept our resumption ticket"},
    {116, "certificate_required", "the peer requires a client certificate and we sent none"},
    {120, "no_application_protocol", "the peer does not speak conec/1 (incompatible conec versions?)"},
};

} // namespace

int SessionCallbacks::server_hook(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
                                  const gnutls_datum_t *msg) {
  Session *self = from(session);
  if (!self || !incoming || when != GNUTLS_HOOK_PRE || !msg) return 0;
  ByteView body(msg->data, msg->size);

  if (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO) {
    OfferedAlpn offered = offered_alpn(body);
    if (!offered.parsed) return 0;
    if (std::find(offered.names.begin(), offered.names.end(), self->alpn_) != offered.names.end()) return 0;
    // GnuTLS would fail a mismatch too, but silently; and it accepts a
    // client that sends no ALPN at all, which conec must not.
    self->failure_ =
        offered.present ? "client offers protocol " + quoted_list(offered.names) +
                              ", this endpoint speaks '" + self->alpn_ + "' (incompatible conec versions?)"
                        : "client offers no application protocol; this endpoint speaks '" + self->alpn_ + "'";
    return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  }

  if (htype == GNUTLS_HANDSHAKE_CERTIFICATE_PKT &&
      self->credentials_->verification().require_peer_certificate) {
    // TLS 1.3 Certificate: request context<0..255>, certificate_list<0..2^24-1>.
    // GnuTLS answers an empty list with certificate_required without calling
    // the verify function, so this is the only place to say so in words.
    Reader r(body);
    r.vector(1);
    if (r.number(3) == 0 && r.ok())
      self->failure_ = "peer presented no certificate (this endpoint requires a client certificate)";
  }
  return 0;
}

Session::~Session() {
  if (session_) gnutls_deinit(session_);
}

Result<std::unique_ptr<Session>> Session::create(Role role, std::shared_ptr<Credentials> credentials,
                                                 std::string server_name, std::string alpn) {
  if (!credentials) return fail(ErrorCategory::usage, "tls", "a TLS session needs credentials");
  if (role == Role::server && !credentials->has_identity())
    return fail(ErrorCategory::usage, "tls", "a TLS server needs a certificate and key");
  if (alpn.empty() || alpn.size() > 255)
    return fail(ErrorCategory::usage, "tls", "ALPN must be 1 to 255 bytes");

  unsigned flags = role == Role::client
                       ? GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA
                       : GNUTLS_SERVER | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_AUTO_SEND_TICKET |
                             GNUTLS_NO_END_OF_EARLY_DATA;
  gnutls_session_t raw = nullptr;
  if (int rc = gnutls_init(&raw, flags); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot create a TLS session", rc));
  auto out = std::make_unique<Session>(Private{});
  out->session_ = raw; // from here on ~Session frees it on every error path
  out->role_ = role;
  out->credentials_ = std::move(credentials);
  out->alpn_ = std::move(alpn);
  if (role == Role::client) out->server_name_ = std::move(server_name);

  // One parsed priority cache for the whole process: parsing it per session
  // costs ~8 KiB per connection, which adds up on a coordinator.
  static const auto shared = []() -> std::pair<gnutls_priority_t, std::string> {
    gnutls_priority_t prio = nullptr;
    const char *error_at = nullptr;
    if (gnutls_priority_init(&prio, kPriority, &error_at) < 0)
      return {nullptr, std::string("TLS priority rejected at '") + (error_at ? error_at : "?") + "'"};
    return {prio, {}};
  }();
  if (!shared.first) return fail(ErrorCategory::internal, "tls", shared.second);
  if (int rc = gnutls_priority_set(raw, shared.first); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot set the TLS priorities", rc));
  if (int rc = gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE, out->credentials_->native()); rc < 0)
    return fail(gnutls_error(ErrorCategory::internal, "cannot attach TLS credentials", rc));

  gnutls_datum_t protocol = detail::view_datum(out->alpn_);
  unsigned alpn_flags = GNUTLS_ALPN_MANDATORY | (role == Role::server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0);
  if (int rc = gnutls_alpn_set_protocols(raw, &protocol, 1, alpn_flags); rc < 0)
    return fail(gnutls_error(ErrorCategory::usage, "cannot set ALPN '" + out->alpn_ + "'", rc));

  if (role == Role::client) {
    // SNI carries DNS names only (RFC 6066 §3): never an IP literal.
    const std::string &name = out->server_name_;
    if (!name.empty() && detail::ip_literal(name).empty()) {
      if (int rc = gnutls_server_name_set(raw, GNUTLS_NAME_DNS, name.data(), name.size()); rc < 0)
        return fail(gnutls_error(ErrorCategory::usage, "cannot send server name '" + name + "'", rc));
    }
  } else {
    bool require = out->credentials_->verification().require_peer_certificate;
    gnutls_certificate_server_set_request(raw, require ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_IGNORE);
    // Do not list our CA names in CertificateRequest: a GnuTLS client whose
    // certificate matches none of them sends no certificate at all, and we
    // could only say "no certificate" instead of "not signed by the trusted
    // CA". It also keeps the server's first flight (amplification-limited
    // under QUIC) small.
    gnutls_certificate_send_x509_rdn_sequence(raw, 1);
    gnutls_handshake_set_hook_function(raw, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_PRE,
                                       &SessionCallbacks::server_hook);
  }

  // The session pointer belongs to quic/ (ngtcp2_crypto_gnutls); we use the
  // otherwise idle db pointer. See the class comment in session.hpp.
  gnutls_db_set_ptr(raw, out.get());
  gnutls_session_set_verify_function(raw, &SessionCallbacks::verify_peer);
  return out;
}

Bytes Session::peer_certificate() const {
  unsigned count = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(session_, &count);
  if (!certs || count == 0) return {};
  return Bytes(certs[0].data, certs[0].data + certs[0].size);
}

std::string Session::negotiated_alpn() const {
  gnutls_datum_t protocol{nullptr, 0};
  if (gnutls_alpn_get_selected_protocol(session_, &protocol) < 0 || !protocol.data) return {};
  return std::string(reinterpret_cast<const char *>(protocol.data), protocol.size);
}

std::string describe_alert(int alert) {
  for (const auto &a : kAlerts)
    if (a.code == alert) return std::string(a.name) + ": " + a.meaning;
  return "alert " + std::to_string(alert) + ": unknown TLS alert";
}

} // namespace conec::tls
