// Direct-path probes: encoding and authentication.
#include "net/probe.hpp"

#include <algorithm>
#include <cstring>

#include "tls/identity.hpp"

namespace conec::net {

namespace {

constexpr size_t kMacOffset = kProbeLength - kProbeMacLength;

Bytes mac_of(const ProbeKey &key, ProbeRole sender, ByteView body) {
  Bytes input;
  input.reserve(1 + body.size());
  input.push_back(static_cast<uint8_t>(sender));
  input.insert(input.end(), body.begin(), body.end());
  Bytes mac = tls::hmac_sha256(key.key, input);
  mac.resize(kProbeMacLength);
  return mac;
}

// Compares without an early exit, so timing does not tell how much of a
// forged mac was right.
bool equal_in_constant_time(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

bool all_zero(const ProbeNonce &n) {
  return std::all_of(n.begin(), n.end(), [](uint8_t b) { return b == 0; });
}

} // namespace

ProbeKey probe_key(ByteView relay_token) {
  ProbeKey k;
  k.key = tls::hmac_sha256(relay_token, as_bytes(std::string_view("conec direct-path probes v1")));
  Bytes id = tls::hmac_sha256(k.key, as_bytes(std::string_view("path id")));
  std::copy_n(id.begin(), kProbePathIdLength, k.path_id.begin());
  return k;
}

Probe new_probe() {
  Probe p;
  random_bytes(p.nonce);
  return p;
}

Probe reply_to(const Probe &probe) {
  Probe r;
  r.kind = ProbeKind::reply;
  random_bytes(r.nonce);
  r.echo = probe.nonce;
  return r;
}

Bytes encode_probe(const ProbeKey &key, ProbeRole sender, const Probe &probe) {
  Bytes out;
  out.reserve(kProbeLength);
  out.push_back(kProbeMarker);
  out.push_back(static_cast<uint8_t>(probe.kind));
  out.insert(out.end(), key.path_id.begin(), key.path_id.end());
  out.insert(out.end(), probe.nonce.begin(), probe.nonce.end());
  out.insert(out.end(), probe.echo.begin(), probe.echo.end());
  Bytes mac = mac_of(key, sender, out);
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

bool is_probe(ByteView datagram) { return datagram.size() == kProbeLength && datagram[0] == kProbeMarker; }

std::optional<ProbePathId> probe_path_id(ByteView datagram) {
  if (!is_probe(datagram)) return std::nullopt;
  ProbePathId id{};
  std::copy_n(datagram.begin() + 2, kProbePathIdLength, id.begin());
  return id;
}

std::optional<Probe> decode_probe(const ProbeKey &key, ProbeRole sender, ByteView datagram) {
  if (!is_probe(datagram)) return std::nullopt;
  if (!std::equal(key.path_id.begin(), key.path_id.end(), datagram.begin() + 2)) return std::nullopt;
  if (!equal_in_constant_time(mac_of(key, sender, datagram.first(kMacOffset)), datagram.subspan(kMacOffset)))
    return std::nullopt;
  Probe p;
  uint8_t kind = datagram[1];
  if (kind != static_cast<uint8_t>(ProbeKind::probe) && kind != static_cast<uint8_t>(ProbeKind::reply))
    return std::nullopt;
  p.kind = static_cast<ProbeKind>(kind);
  size_t at = 2 + kProbePathIdLength;
  std::memcpy(p.nonce.data(), datagram.data() + at, kProbeNonceLength);
  std::memcpy(p.echo.data(), datagram.data() + at + kProbeNonceLength, kProbeNonceLength);
  if ((p.kind == ProbeKind::probe) != all_zero(p.echo)) return std::nullopt;
  return p;
}

} // namespace conec::net
