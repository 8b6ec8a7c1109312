#pragma once
// Relay encapsulation (ARCHITECTURE D3/D4). A client-to-client QUIC packet
// that goes through the coordinator travels as
//     marker (1 byte) + relay token (16 bytes) + inner QUIC packet
// to the coordinator's own UDP port, which forwards it unchanged to the
// other side. The marker (like the probe marker 0x2b) has the form bit
// clear, the fixed bit clear and the spin bit (0x20) set. ngtcp2 0.12.1
// greases the fixed bit (RFC 9287: on half of all connections every packet
// has it clear), so that alone would not do; but it never sets the spin
// bit, and header protection covers only the low five bits: its short
// headers start with 0x00-0x1f or 0x40-0x5f, long ones with 0x80 or more.

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
// The initiator's second local address on the relay: moving between the
// two is a migration that restarts transmission at once when a relay
// comes back (PeerPath, Endpoint::relay_restored).
SockAddr relay_alternate_local_address(ByteView token);

} // namespace conec::net
