#pragma once
// Stateless packet handling for the endpoint that owns a socket: reading
// the connection ids of an incoming datagram (to route it), and the packets
// sent without a connection (version negotiation, stateless reset).

#include <cstddef>
#include <optional>

#include "util/bytes.hpp"

namespace conec::quic {

struct PacketHeader {
  bool long_header = false;
  bool needs_version_negotiation = false; // long header with a version we do not speak
  uint32_t version = 0;
  ByteView dcid;
  ByteView scid; // long header only
};

// Parses the invariant header fields; nullopt if the datagram is not QUIC.
// Short-header DCIDs are assumed to be kCidLength long (all conec ids are).
std::optional<PacketHeader> parse_header(ByteView datagram);

// Whether a long-header datagram is an Initial that could open a connection
// (size >= 1200, version 1).
bool is_initial(ByteView datagram);

// Writes a Version Negotiation answer to `header` into `out`; returns its
// size, or 0 if it cannot be written.
size_t write_version_negotiation(MutableByteView out, const PacketHeader &header);

// Writes a stateless reset for a short-header datagram of `trigger_size`
// bytes addressed to `dcid`, smaller than the trigger so resets never
// amplify (RFC 9000 §10.3). Returns 0 when the trigger is too small to answer.
size_t write_stateless_reset(MutableByteView out, ByteView dcid, ByteView static_secret, size_t trigger_size);

} // namespace conec::quic
