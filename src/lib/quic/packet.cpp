#include "quic/packet.hpp"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <algorithm>
#include <cstring>

#include "quic/config.hpp"

namespace conec::quic {

namespace {

// The checks ngtcp2 would otherwise make (or assert) itself, done first.
bool plausible(ByteView d) {
  if (d.empty()) return false;
  // The fixed bit (0x40) is not checked: ngtcp2 greases it (RFC 9287).
  if (!(d[0] & 0x80)) return d.size() >= kMinShortDatagram;
  if (d.size() < kMinLongDatagram) return false;
  size_t dcidlen = d[5];
  if (dcidlen > kMaxCidLength || d.size() < 6 + dcidlen + 1) return false;
  size_t scidlen = d[6 + dcidlen];
  if (scidlen > kMaxCidLength || d.size() < 7 + dcidlen + scidlen) return false;
  return true;
}

} // namespace

std::optional<PacketHeader> parse_header(ByteView datagram) {
  if (!plausible(datagram)) return std::nullopt;
  ngtcp2_version_cid vc{};
  int rv = ngtcp2_pkt_decode_version_cid(&vc, datagram.data(), datagram.size(), kCidLength);
  if (rv != 0 && rv != NGTCP2_ERR_VERSION_NEGOTIATION) return std::nullopt;
  PacketHeader h;
  h.long_header = (datagram[0] & 0x80) != 0;
  h.needs_version_negotiation = rv == NGTCP2_ERR_VERSION_NEGOTIATION;
  h.version = vc.version;
  h.dcid = ByteView(vc.dcid, vc.dcidlen);
  if (vc.scid) h.scid = ByteView(vc.scid, vc.scidlen);
  return h;
}

namespace {

ngtcp2_cid to_cid(const Bytes &b) {
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, b.data(), b.size());
  return cid;
}

} // namespace

std::optional<InitialPacket> parse_initial(ByteView datagram) {
  if (!plausible(datagram)) return std::nullopt;
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, datagram.data(), datagram.size()) != 0) return std::nullopt;
  InitialPacket p;
  p.version = hd.version;
  p.dcid.assign(hd.dcid.data, hd.dcid.data + hd.dcid.datalen);
  p.scid.assign(hd.scid.data, hd.scid.data + hd.scid.datalen);
  if (hd.token.len) p.token = ByteView(hd.token.base, hd.token.len);
  return p;
}

size_t write_retry(MutableByteView out, const InitialPacket &initial, const SockAddr &remote, ByteView secret,
                   uint64_t wall_ns) {
  ngtcp2_cid retry_scid{};
  retry_scid.datalen = kCidLength;
  random_bytes({retry_scid.data, kCidLength});
  ngtcp2_cid odcid = to_cid(initial.dcid), scid = to_cid(initial.scid);
  uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
  ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token(token, secret.data(), secret.size(), initial.version,
                                                             remote.get(), remote.size(), &retry_scid, &odcid,
                                                             wall_ns);
  if (tokenlen < 0) return 0;
  ngtcp2_ssize n = ngtcp2_crypto_write_retry(out.data(), out.size(), initial.version, &scid, &retry_scid, &odcid,
                                             token, static_cast<size_t>(tokenlen));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

bool has_retry_token(const InitialPacket &initial) {
  return !initial.token.empty() && initial.token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY;
}

std::optional<Bytes> verify_retry_token(const InitialPacket &initial, const SockAddr &remote, ByteView secret,
                                        Duration lifetime, uint64_t wall_ns) {
  if (!has_retry_token(initial)) return std::nullopt;
  ngtcp2_cid odcid{}, dcid = to_cid(initial.dcid);
  if (ngtcp2_crypto_verify_retry_token(&odcid, initial.token.data(), initial.token.size(), secret.data(),
                                       secret.size(), initial.version, remote.get(), remote.size(), &dcid, lifetime,
                                       wall_ns) != 0)
    return std::nullopt;
  return Bytes(odcid.data, odcid.data + odcid.datalen);
}

size_t write_invalid_token_close(MutableByteView out, const InitialPacket &initial) {
  ngtcp2_cid dcid = to_cid(initial.scid), scid = to_cid(initial.dcid);
  ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(out.data(), out.size(), initial.version, &dcid, &scid,
                                                        NGTCP2_INVALID_TOKEN, nullptr, 0);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t write_version_negotiation(MutableByteView out, const PacketHeader &header) {
  uint8_t unused = 0;
  random_bytes({&unused, 1});
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(out.data(), out.size(), unused, header.scid.data(),
                                                        header.scid.size(), header.dcid.data(), header.dcid.size(),
                                                        versions, std::size(versions));
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t write_stateless_reset(MutableByteView out, ByteView dcid, ByteView static_secret, size_t trigger_size) {
  // Smallest reset that looks like a short-header packet: 1 + 4 random + 16 token.
  constexpr size_t kMinReset = 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN;
  if (trigger_size <= kMinReset || static_secret.empty() || dcid.size() > NGTCP2_MAX_CIDLEN) return 0;
  size_t size = std::min({trigger_size - 1, out.size(), size_t{64}});
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, dcid.data(), dcid.size());
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
  if (ngtcp2_crypto_generate_stateless_reset_token(token, static_secret.data(), static_secret.size(), &cid) != 0)
    return 0;
  uint8_t random[64];
  size_t randlen = size - 1 - NGTCP2_STATELESS_RESET_TOKENLEN;
  random_bytes({random, randlen});
  ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(out.data(), out.size(), token, random, randlen);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

} // namespace conec::quic
