// PeerTrust: the client's own checks of a peer's certificate.
#include "client/peer_trust.hpp"

#include <ctime>

#include "client/known_peers.hpp"
#include "proto/control.hpp"
#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec::client {

namespace {

Error untrusted(std::string_view peer, const std::string &why) {
  return Error{ErrorCategory::peer, kPeerNotTrusted, "client",
               "'" + std::string(peer) + "' is not who the coordinator says: " + why};
}

// Whether the certificate (of public key `key`) carries `peer` as its id.
Result<void> carries_id(std::string_view peer, ByteView certificate, const std::string &key) {
  auto has = tls::certificate_has_id(certificate, peer);
  if (has && *has) return {};
  return fail(untrusted(peer, "its CA-signed certificate (key " + key + ") is not for id '" + std::string(peer) +
                                  "' (it carries: " + tls::certificate_ids_text(certificate, "nothing") + ")"));
}

} // namespace

Result<PeerCheck> PeerTrust::check(std::string_view peer, ByteView certificate) {
  auto key = tls::public_key_fingerprint(certificate);
  if (!key) return fail(untrusted(peer, "its certificate is unreadable (" + key.error().message + ")"));
  auto out = check_identity(peer, certificate, *key);
  if (!out) return out;
  // A peer is a client: a certificate made for coordinators only is not one
  // (checked last, so a mismatch above names both keys).
  auto mismatch = tls::purpose_mismatch(certificate, tls::Purpose::client);
  if (!mismatch || !mismatch->empty())
    return fail(untrusted(peer, "its " + (mismatch ? *mismatch : "certificate is unreadable") + " (key " + *key + ")"));
  return out;
}

// The pin, the CA or the known-peers record, whichever applies.
Result<PeerCheck> PeerTrust::check_identity(std::string_view peer, ByteView certificate, const std::string &key) {
  PeerCheck out{key, false};
  std::string id = proto::canonical_id(peer);
  if (auto pin = options_.pins.find(id); pin != options_.pins.end()) {
    std::string cert = tls::fingerprint_of_der(certificate);
    if (pin->second != key && pin->second != cert)
      return fail(untrusted(peer, "it presented key " + key + " (certificate " + cert + "), but --peer-pin " + id +
                                      "=" + pin->second + " expects another"));
    return out; // the pin decides: a pinned new key is not held back by an old record
  }
  if (!options_.ca_pem.empty()) {
    if (auto chain = tls::verify_with_ca(certificate, options_.ca_pem); !chain)
      return fail(untrusted(peer, "its certificate (key " + key + ") fails the CA check: " + chain.error().message));
    if (auto named = carries_id(peer, certificate, key); !named) return fail(named.error());
    return out; // the CA binds ids to keys
  }
  if (options_.known_peers_path.empty() || !proto::bindable_id(peer)) return out;

  KnownPeers known(options_.known_peers_path);
  auto record = known.lookup(options_.coordinator, id);
  for (const auto &p : known.problems()) CONEC_WARN("known peers: {}", p);
  if (!record) return fail(untrusted(peer, "cannot check it against the known peers: " + record.error().message));
  if (!*record) {
    out.first_use = true;
    return out;
  }
  const KnownPeer &k = **record;
  if (k.fingerprint != key)
    return fail(untrusted(peer, "it presented key " + key + ", but " + known.path() + ":" + std::to_string(k.line) +
                                    " records key " + k.fingerprint + " for '" + id + "' at " + options_.coordinator +
                                    " (if its key really changed, delete that line)"));
  return out;
}

Result<void> PeerTrust::remember(std::string_view peer, const std::string &key_fingerprint) {
  KnownPeers known(options_.known_peers_path);
  auto r = known.remember(options_.coordinator, proto::canonical_id(peer), key_fingerprint,
                          static_cast<int64_t>(std::time(nullptr)));
  if (!r) return fail(r.error());
  if (r->fingerprint != key_fingerprint)
    return fail(untrusted(peer, "it presented key " + key_fingerprint + ", but another process just recorded " +
                                    r->fingerprint + " for it in " + known.path() + ":" +
                                    std::to_string(r->line)));
  return {};
}

} // namespace conec::client
