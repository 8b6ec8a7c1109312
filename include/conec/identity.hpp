#pragma once
/// @file
/// @brief Identity: a certificate and its private key, and how a peer's
/// certificate is checked.

#include <string>

#include "conec/error.hpp"

namespace conec {

/// A certificate chain (leaf first) and its private key, PEM-encoded.
/// `key_pem` is secret: never log it.
struct CONEC_API Identity {
  std::string cert_pem; ///< certificate chain, leaf first
  std::string key_pem;  ///< private key of the leaf

  /// Reads both files. Errors (usage) name the file and the cause: missing,
  /// unreadable, not PEM, or a key that does not match the certificate.
  static Result<Identity> load(const std::string &cert_path, const std::string &key_path);
  /// A new key and a self-signed client certificate for `id` (1-64 of
  /// A-Z a-z 0-9 . _ -), valid 10 years, as `conec cert client` makes.
  /// Errors: usage (bad id).
  static Result<Identity> generate_client(const std::string &id);
  /// A new key and a self-signed coordinator certificate for `name` (a host
  /// name or IP address), valid 10 years, as `conec cert server` makes.
  /// Errors: usage (empty name).
  static Result<Identity> generate_coordinator(const std::string &name);

  /// Writes the certificate (mode 0644) and the key (0600, never readable by
  /// others even briefly); neither path is left half-written. Errors: io,
  /// naming the file.
  Result<void> save(const std::string &cert_path, const std::string &key_path) const;
  /// SHA-256 fingerprint of the leaf certificate: "sha256:<64 lower-case hex>".
  Result<std::string> fingerprint() const;
};

/// How a client checks the coordinator's certificate.
struct CONEC_API CoordinatorTrust {
  /// The ways to trust a coordinator.
  enum class Mode {
    system, ///< a chain to the system's trust store, valid for the name
    ca,     ///< a chain to the CA certificate(s) in `ca_pem`, valid for the name
    pin,    ///< the leaf certificate's SHA-256 fingerprint equals `pin`
  };
  Mode mode = Mode::system; ///< how to check
  std::string ca_pem;       ///< Mode::ca: PEM CA certificate(s)
  std::string pin;          ///< Mode::pin: "sha256:<64 hex>"

  /// Trust the system's CAs.
  static CoordinatorTrust system() { return {}; }
  /// Trust certificates signed by a CA in `ca_pem`.
  static CoordinatorTrust ca(std::string ca_pem) { return {Mode::ca, std::move(ca_pem), {}}; }
  /// Trust exactly the certificate with fingerprint `pin` ("sha256:<hex>").
  static CoordinatorTrust pinned(std::string pin) { return {Mode::pin, {}, std::move(pin)}; }
};

} // namespace conec
