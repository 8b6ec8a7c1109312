#pragma once
// Control messages: what clients and the coordinator say on a channel's
// control stream (the first bidirectional stream, opened by the client).
// Each message travels as one frame (proto/framing.hpp) whose payload is
// `type (varint)` followed by the type's fields in the order declared below:
//   integers      varint
//   strings/bytes varint length + bytes (bounded per field, see kMax*)
//   SockAddr      1 byte family (4 or 6) + 4/16 address bytes + 2 bytes port (big endian),
//                 or family 0 alone for an empty SockAddr ("unknown"); IPv6 scope id and
//                 flow info are not carried
//   lists         varint count (bounded) + elements
// Type numbers are fixed (type_number(), docs/protocol.md), whatever the
// order of the variant below. Decoding is total: any input yields a message
// or a protocol Error naming the problem. A known type with trailing bytes
// or a bad field is malformed; a type this version does not know is an
// Error with code kUnknownControlType, which receivers skip: conec/1 grows
// by adding message types, never fields to existing ones.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/sockaddr.hpp"

namespace conec::proto {

inline constexpr uint64_t kProtocolVersion = 1;
inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxReasonLength = 512;
inline constexpr size_t kMaxCertificateLength = 16 * 1024;
inline constexpr size_t kRelayTokenLength = 16;
inline constexpr size_t kMaxAddresses = 8;
// Relays one RelayResume message may re-present (a client with more sends
// several messages).
inline constexpr size_t kMaxResumedRelays = 256;
// Largest control message (anything bigger closes the control stream).
inline constexpr size_t kMaxControlMessage = 64 * 1024;

// Why the coordinator refused a client or a channel (also the QUIC
// application error code used when it closes the connection).
// Refusal codes are public (conec/error.hpp).
using RefuseCode = conec::RefuseCode;
std::string_view to_string(RefuseCode code);

// Client -> coordinator, first message on the control stream.
struct Hello {
  uint64_t version = kProtocolVersion;
  std::string id;
  // Where peers on our own network may reach our socket (hole-punching
  // candidates, net/local_addresses.hpp). Optional on the wire: a Hello
  // that ends after `id` has none.
  std::vector<SockAddr> local;

  bool operator==(const Hello &) const = default;
};
// Coordinator -> client: registered. `observed` is the client's address as
// the coordinator sees it (server-reflexive).
struct Welcome {
  std::string id;
  SockAddr observed;
  uint64_t max_message = 0;

  bool operator==(const Welcome &) const = default;
};
// Coordinator -> client: hello refused; the connection closes after it.
struct Refused {
  RefuseCode code = RefuseCode::protocol;
  std::string reason;

  bool operator==(const Refused &) const = default;
};
// Client -> coordinator: please introduce me to `peer`.
struct ChannelRequest {
  uint64_t request_id = 0; // chosen by the client, echoed in the answer
  std::string peer;

  bool operator==(const ChannelRequest &) const = default;
};
// Coordinator -> client: everything needed to reach and authenticate a
// peer. Sent to the peer first (request_id 0, role acceptor); once it
// accepts, to the requester (its request_id, role initiator).
struct Introduction {
  uint64_t request_id = 0;
  uint64_t channel_id = 0;
  std::string peer;
  Bytes peer_certificate; // DER, the certificate the peer authenticated with
  uint8_t role = 0;       // 0: initiator (QUIC client), 1: acceptor (QUIC server)
  Bytes relay_token;      // kRelayTokenLength bytes
  SockAddr peer_observed; // the address the coordinator sees the peer at (hole-punching candidate)
  std::vector<SockAddr> peer_local;

  bool operator==(const Introduction &) const = default;
};
// Client -> coordinator: answer to an Introduction as acceptor.
struct IntroductionReply {
  uint64_t channel_id = 0;
  bool accept = false;
  std::string reason; // when refusing

  bool operator==(const IntroductionReply &) const = default;
};
// Coordinator -> client: a request is satisfied by an existing channel
// (simultaneous requests A->B and B->A end in one channel).
struct ChannelJoined {
  uint64_t request_id = 0;
  uint64_t channel_id = 0;

  bool operator==(const ChannelJoined &) const = default;
};
// Coordinator -> client: a channel request failed.
struct ChannelError {
  uint64_t request_id = 0;
  RefuseCode code = RefuseCode::protocol;
  std::string reason;

  bool operator==(const ChannelError &) const = default;
};
// Coordinator -> client: a channel's relay allocation is gone (the other
// side left); its connection will fail.
struct ChannelClosed {
  uint64_t channel_id = 0;
  std::string reason;

  bool operator==(const ChannelClosed &) const = default;
};

// One relay a client still uses when it registers again (RelayResume).
struct ResumedRelay {
  Bytes relay_token;   // kRelayTokenLength bytes, from the channel's Introduction
  std::string peer;    // the id at the other end
  uint8_t role = 0;    // ours on the channel: 0 initiator, 1 acceptor

  bool operator==(const ResumedRelay &) const = default;
};
// Client -> coordinator, after a Welcome that followed a lost connection:
// the relays of its peer channels that are still alive. A coordinator that
// still holds a relay gives it back to the client; one that restarted and
// never saw the token restores the relay once both ends presented it,
// naming each other in opposite roles (the token is the proof: only the
// two clients and the coordinator that made it know it).
struct RelayResume {
  std::vector<ResumedRelay> relays;

  bool operator==(const RelayResume &) const = default;
};
// Coordinator -> client: the answer for one resumed relay. `channel_id` is
// its number from now on (a restarted coordinator numbers anew; later
// messages about it use this one); 0 means it was refused and `reason`
// says why. Relaying starts once both ends are back: then both hear it
// with `relaying` set. An end that does not come back in time ends it with
// ChannelClosed.
struct RelayResumed {
  Bytes relay_token;
  uint64_t channel_id = 0;
  bool relaying = false; // both ends are back: it relays now
  std::string reason;

  bool operator==(const RelayResumed &) const = default;
};

// Coordinator -> client: the peer of a channel is seen at a new address
// (its NAT gave it a new mapping). A hole-punching candidate: a direct path
// that died with the old mapping can be punched again.
struct PeerMoved {
  uint64_t channel_id = 0;
  SockAddr observed;

  bool operator==(const PeerMoved &) const = default;
};

using ControlMessage = std::variant<Hello, Welcome, Refused, ChannelRequest, Introduction, IntroductionReply,
                                    ChannelJoined, ChannelError, ChannelClosed, RelayResume, RelayResumed, PeerMoved>;

// The wire type number of each message (stable: docs/protocol.md §5).
uint64_t type_number(const ControlMessage &message);
// Error::code of decode() for a type this version does not know.
inline constexpr int64_t kUnknownControlType = 1;

// Encodes `message` as a frame payload (without the frame length). Integers
// must be <= kVarintMax. The kMax* bounds are not enforced here (the sender is
// local code): a message outside them encodes, and the receiver's decode
// rejects it.
Bytes encode(const ControlMessage &message);
// Decodes one frame payload. Errors: protocol, with the field at fault.
Result<ControlMessage> decode(ByteView payload);

// Name of a message type for logs ("Hello", "Introduction", ...).
std::string_view message_name(const ControlMessage &message);

// Whether `id` is a valid client id (SPEC §2: 1-64 of A-Z a-z 0-9 . _ -,
// starting with a letter or digit).
bool valid_id(std::string_view id);
// Canonical form for comparing ids (lower case).
std::string canonical_id(std::string_view id);

// Ids with this prefix belong to nobody: `send`, `open` and `ping` without
// -i register under a fresh `anon-<12 hex>` each run. The coordinator never
// binds them to a key, nor a client to a known peer (ids a user means to
// keep must not start with it).
inline constexpr std::string_view kUnboundIdPrefix = "anon-";
// Whether `id` is ever bound to a key (it does not start with kUnboundIdPrefix).
bool bindable_id(std::string_view id);

} // namespace conec::proto
