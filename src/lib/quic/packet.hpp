#pragma once
// Stateless packet handling for the endpoint that owns a socket: reading
// the connection ids of an incoming datagram (to route it), and the packets
// sent without a connection (version negotiation, stateless reset).

#include <cstddef>
#include <optional>

#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/sockaddr.hpp"

namespace conec::quic {

struct PacketHeader {
  bool long_header = false;
  bool needs_version_negotiation = false; // long header with a version we do not speak
  uint32_t version = 0;
  ByteView dcid;
  ByteView scid; // long header only
};

// Smallest datagrams worth parsing: a short-header packet carries at least
// our 16-byte connection id and is never shorter than a stateless reset
// (RFC 9000 §10.3: 21 bytes); a long header has form byte, version, and two
// length-prefixed connection ids.
inline constexpr size_t kMinShortDatagram = 21;
inline constexpr size_t kMinLongDatagram = 7;
inline constexpr size_t kMaxCidLength = 20; // QUIC v1

// Checks the invariant header fields of a datagram from the network and
// parses them; nullopt if it is not a QUIC packet conec could route: empty
// or too short, a long header whose connection-id lengths overrun the
// datagram or exceed 20 bytes.
// Every datagram passes here before ngtcp2 sees it (ngtcp2 0.12.1 asserts
// on some inputs, e.g. an empty datagram). Short-header DCIDs are assumed
// to be kCidLength long (all conec ids are).
std::optional<PacketHeader> parse_header(ByteView datagram);

// --- address validation with stateless Retry (RFC 9000 §8.1.2) ---

// The fields of a client Initial that admission decisions need; `token`
// points into the datagram.
struct InitialPacket {
  uint32_t version = 0;
  Bytes dcid, scid;
  ByteView token;
};

// Parses an Initial that could open a connection (ngtcp2_accept: a version
// it supports, >= 1200 bytes, DCID >= 8 bytes unless a token is present);
// nullopt for anything else.
std::optional<InitialPacket> parse_initial(ByteView datagram);

// Writes a Retry answering `initial` from `remote` into `out`, with a token
// that binds the client's address and original DCID and carries its time of
// issue (`wall_ns`, system clock), sealed with `secret`. Returns its size
// (always smaller than the Initial: no amplification), or 0.
size_t write_retry(MutableByteView out, const InitialPacket &initial, const SockAddr &remote, ByteView secret,
                   uint64_t wall_ns);

// Whether `initial` carries one of our Retry tokens (by its magic byte).
bool has_retry_token(const InitialPacket &initial);

// Checks the Retry token of `initial` from `remote`: made with `secret`, for
// this address and DCID, and at most `lifetime` old. Returns the original
// DCID the client first used, or nullopt if the token is not valid.
std::optional<Bytes> verify_retry_token(const InitialPacket &initial, const SockAddr &remote, ByteView secret,
                                        Duration lifetime, uint64_t wall_ns);

// Writes an Initial CONNECTION_CLOSE(INVALID_TOKEN) answering `initial`,
// which tells a client at once that its token was refused. Returns its size or 0.
size_t write_invalid_token_close(MutableByteView out, const InitialPacket &initial);

// Writes a Version Negotiation answer to `header` into `out`; returns its
// size, or 0 if it cannot be written.
size_t write_version_negotiation(MutableByteView out, const PacketHeader &header);

// Writes a stateless reset for a short-header datagram of `trigger_size`
// bytes addressed to `dcid`, smaller than the trigger so resets never
// amplify (RFC 9000 §10.3). Returns 0 when the trigger is too small to answer.
size_t write_stateless_reset(MutableByteView out, ByteView dcid, ByteView static_secret, size_t trigger_size);

} // namespace conec::quic
