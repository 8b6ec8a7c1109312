#pragma once
// PeerTrust: what a client checks itself about the certificate the
// coordinator hands it for a peer, before it connects to or accepts that
// peer (SPEC §3), so that a lying coordinator cannot put itself or anyone
// else in the peer's place:
//   - an explicit pin (--peer-pin ID=sha256:...), the certificate's or its
//     key's fingerprint;
//   - in CA mode, the CA chain, and that the certificate carries the id;
//   - otherwise the known-peers record (first use, client/known_peers.hpp).
// The QUIC handshake then proves the peer holds that certificate's key
// (the channel pins exactly this certificate).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "conec/channel.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::client {

// Error codes of refused peers and missing direct paths are public
// (conec/channel.hpp).
using conec::kNoDirectPath;
using conec::kPeerNotTrusted;

struct PeerTrustOptions {
  // canonical id -> "sha256:<hex>", the fingerprint of the certificate or
  // of the public key that peer must present.
  std::map<std::string, std::string, std::less<>> pins;
  // CA mode: peers' certificates must chain to a CA in here and carry the
  // peer's id. The CA binds ids to keys, so known peers are not consulted.
  std::string ca_pem;
  // Where first-use records live (empty: none are kept).
  std::string known_peers_path;
  // The coordinator's name in that record (HOST:PORT as the user gave it).
  std::string coordinator;
};

// What check() found out about an acceptable peer.
struct PeerCheck {
  std::string key_fingerprint; // "sha256:<hex>" of its public key
  bool first_use = false;      // not yet known: remember() it once the handshake proved the key
};

class PeerTrust {
public:
  explicit PeerTrust(PeerTrustOptions options) : options_(std::move(options)) {}

  // Whether `certificate` (DER) may stand for `peer`. Errors: category peer,
  // code kPeerNotTrusted, naming what it presented and what was expected
  // (both fingerprints), and where that expectation comes from.
  Result<PeerCheck> check(std::string_view peer, ByteView certificate);
  // Records a first-use peer after its handshake. Errors: io (the file).
  Result<void> remember(std::string_view peer, const std::string &key_fingerprint);

  const PeerTrustOptions &options() const { return options_; }

private:
  Result<PeerCheck> check_identity(std::string_view peer, ByteView certificate, const std::string &key);
  PeerTrustOptions options_;
};

} // namespace conec::client
