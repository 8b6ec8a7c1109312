#include "quic/packet.hpp"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <algorithm>
#include <cstring>

#include "quic/config.hpp"

namespace conec::quic {

std::optional<PacketHeader> parse_header(ByteView datagram) {
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

bool is_initial(ByteView datagram) {
  ngtcp2_pkt_hd hd;
  return ngtcp2_accept(&hd, datagram.data(), datagram.size()) == 0;
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
