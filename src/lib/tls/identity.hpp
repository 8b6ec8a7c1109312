#pragma once
// Identity: a certificate (chain) and its private key, in PEM, plus the tools
// to create, load, save and fingerprint them. No GnuTLS types leak from here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/bytes.hpp"
#include "conec/identity.hpp"
#include "util/error.hpp"

namespace conec::tls {

// Key algorithm for generated certificates.
enum class KeyType { ecdsa_p256, ed25519 };

// Identity (certificate and key) is public: conec/identity.hpp.
using Identity = conec::Identity;

// Whether `file_name` is one of save()'s temporary files
// ("<name>.tmp-<16 hex digits>"): a process killed inside save() leaves them
// behind, and whoever owns the directory may remove them.
bool is_save_temporary(std::string_view file_name);

// What a certificate may be used for. Each generated certificate has exactly
// one role, so that a client's certificate can never pass for a
// coordinator's (ids and host names would otherwise share one namespace: a
// client certificate for id "127.0.0.77" would be valid for that address).
enum class CertificateRole {
  client, // extended key usage clientAuth only; the id as URI subjectAltName
          // urn:conec:id:<id>, no DNS or IP subjectAltName, and a CN with
          // spaces ("conec client <id>"), so no host-name check accepts it
  server, // serverAuth only; CN + subjectAltName (DNS name, or IP address)
  ca,     // CA:TRUE + keyCertSign, for `conec cert ca`
};

// The URI prefix under which client certificates carry their id.
inline constexpr std::string_view kIdUriPrefix = "urn:conec:id:";

// What a generated certificate is for.
struct CertificateRequest {
  // server/ca: the host (or CA) name; client: the id (1-64 of A-Z a-z 0-9 . _ -).
  std::string name;
  // Client by default: a certificate whose role was forgotten can then
  // at worst fail to serve, never impersonate a coordinator.
  CertificateRole role = CertificateRole::client;
  KeyType key_type = KeyType::ecdsa_p256;
  unsigned validity_days = 3650;
  // Explicit validity window (seconds since the epoch) instead of
  // [now - 1 h, now + validity_days]: lets tests make expired and
  // not-yet-valid certificates. Both or neither.
  std::optional<int64_t> not_before;
  std::optional<int64_t> not_after;
  // PEM private key to certify instead of a new one (renewing a certificate
  // keeps the public key, hence public_key_fingerprint). Empty: new key.
  std::string key_pem;
};

// Creates a new key and a self-signed certificate for `request`: X.509 v3,
// random 128-bit serial, names and extended key usage as `request.role`
// says, CA:TRUE/keyCertSign for a CA, digitalSignature for a leaf. Errors:
// usage (empty name, a client id with other characters, zero or absurd
// validity), internal (GnuTLS refused).
Result<Identity> generate_self_signed(const CertificateRequest &request);

// Creates a new key and a certificate for `request` signed by `ca` (issuer
// and authority key id taken from `ca`'s leaf). The result's cert_pem holds
// the new leaf only: peers trust the CA itself, so sending it would only make
// handshakes bigger. Errors: usage if `ca` is not a CA or its key does not
// match its certificate.
Result<Identity> issue_certificate(const Identity &ca, const CertificateRequest &request);

// Fingerprint of the first certificate in `cert_pem` ("sha256:<hex>").
Result<std::string> fingerprint_of_pem(std::string_view cert_pem);
// SHA-256 of `data` (32 bytes).
Bytes sha256(ByteView data);
// HMAC-SHA-256 of `data` under `key` (32 bytes).
Bytes hmac_sha256(ByteView key, ByteView data);
// Fingerprint of a DER certificate.
std::string fingerprint_of_der(ByteView der);
// Fingerprint ("sha256:<hex>") of the public key a DER certificate carries:
// SHA-256 of its DER SubjectPublicKeyInfo, the same for every certificate
// of one key. Errors: usage (not a certificate).
Result<std::string> public_key_fingerprint(ByteView der);
// The same for the first certificate in `cert_pem`.
Result<std::string> public_key_fingerprint_of_pem(std::string_view cert_pem);

// Parses a pin as users write it: "sha256:<64 hex>" (case-insensitive, ':'
// between hex pairs allowed). Returns the 32 raw bytes; usage error otherwise.
Result<Bytes> parse_pin(std::string_view text);

// Names (CN and subjectAltNames) a DER certificate is valid for, CN first,
// without duplicates; IP addresses in text form. Errors: usage (not DER).
Result<std::vector<std::string>> certificate_names(ByteView der);

// The names (as certificate_names) of the first certificate in `cert_pem`.
Result<std::vector<std::string>> certificate_names_of_pem(std::string_view cert_pem);

// The client ids a DER certificate carries, as written, without duplicates:
// its urn:conec:id:<id> URI subjectAltNames (prefix matched ignoring case).
// A certificate with none (made before certificates had roles, or by
// another tool) falls back to its CN and DNS subjectAltNames, so that such
// clients keep working; IP addresses never count as ids (an id certificate
// made by old conec versions for "127.0.0.77" still has that id as its CN).
// Errors: usage (not DER).
Result<std::vector<std::string>> certificate_ids(ByteView der);

// Whether certificate_ids(der) holds `id`, comparing ASCII case-insensitively
// as ids are compared (SPEC §2). Errors: usage (not DER).
Result<bool> certificate_has_id(ByteView der, std::string_view id);
// certificate_ids(der) as a list for messages ("alice, alice.1"), or
// `if_none` when it carries none or cannot be read.
std::string certificate_ids_text(ByteView der, std::string_view if_none);

// What a peer's certificate must be good for (PeerVerification::purpose).
enum class Purpose { none, server, client };

// Why a DER certificate may not be used for `purpose`, in a sentence
// ("certificate is a client certificate (extended key usage: clientAuth),
// not a coordinator certificate"), or empty if it may: it has no extended
// key usage extension (RFC 5280: any use), or one listing the purpose or
// anyExtendedKeyUsage. Purpose::none is always empty. Errors: usage (not DER).
Result<std::string> purpose_mismatch(ByteView der, Purpose purpose);

// The same for the first certificate in `cert_pem`.
Result<std::string> purpose_mismatch_of_pem(std::string_view cert_pem, Purpose purpose);

// Whether the first certificate in `cert_pem` is self-issued (its issuer
// name is its subject name): a peer can trust it only by its fingerprint,
// not through a CA. Errors: usage (not a PEM certificate).
Result<bool> is_self_issued(std::string_view cert_pem);

// Whether the DER certificate `der` chains to a CA in `ca_pem` and is in
// its validity period now: how a client checks a peer's certificate before
// it connects (CA mode). Errors: tls, saying why in words ("certificate is
// not signed by the trusted CA (...)", "certificate expired on ..."); usage
// if `ca_pem` holds no certificate.
Result<void> verify_with_ca(ByteView der, std::string_view ca_pem);
// The first certificate in `cert_pem`, in DER. Errors: usage (no certificate).
Result<Bytes> der_of_pem(std::string_view cert_pem);

} // namespace conec::tls
