#pragma once
// Relay encapsulation (ARCHITECTURE D3/D4). A client-to-client QUIC packet
// that goes through the coordinator travels as
//     marker (1 byte) + relay token (16 bytes) + inner QUIC packet
// to the coordinator's own UDP port, which forwards it unchanged to the
// other side. The marker has the QUIC fixed bit (0x40) clear, so no QUIC v1
// packet can be mistaken for a relayed one.

#include <cstddef>
#include <cstdint>

#include "quic/config.hpp"
#include "util/bytes.hpp"
#include "util/sockaddr.hpp"

namespace conec::net {

inline constexpr uint8_t kRelayMarker = 0x2a;
inline constexpr size_t kRelayTokenLength = 16;
inline constexpr size_t kRelayHeaderLength = 1 + kRelayTokenLength;
// Inner packets must leave room for the header within the largest datagram.
inline constexpr size_t kRelayedMaxUdpPayload = quic::kMaxUdpPayload - kRelayHeaderLength;

inline bool is_relayed(ByteView datagram) {
  return datagram.size() > kRelayHeaderLength && datagram[0] == kRelayMarker;
}
inline ByteView relay_token_of(ByteView datagram) { return datagram.subspan(1, kRelayTokenLength); }
inline ByteView relay_payload_of(ByteView datagram) { return datagram.subspan(kRelayHeaderLength); }

// The constant pseudo-addresses of a peer connection's virtual QUIC paths
// (D4, net/peer_path.hpp): IPv6 unique-local addresses made from the token,
// so they are stable for the channel's life and distinct per channel. The
// direct one differs from the relay one in its host part, so a switch is a
// real migration to QUIC (fresh congestion state), not a NAT rebinding.
SockAddr relay_virtual_address(ByteView token);
SockAddr direct_virtual_address(ByteView token);

} // namespace conec::net
