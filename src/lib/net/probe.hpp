#pragma once
// Direct-path probes (ARCHITECTURE D5): the small authenticated datagrams
// the two sides of a channel send to each other's candidate addresses, to
// open their NATs' mappings and to prove that a direct path works both
// ways before any channel packet takes it. Probes never carry user data.
//
// Wire format (kProbeLength bytes):
//   marker 0x2b | kind (1 probe, 2 reply) | path id (8) | nonce (16) | echo (16) | mac (16)
// The marker has the QUIC fixed bit clear, as the relay's 0x2a does, so no
// QUIC packet and no relayed datagram is taken for a probe. Keys come from
// the channel's relay token, which only the two clients and the coordinator
// hold; the token itself never travels on a direct path:
//   key     = HMAC-SHA-256(token, "conec direct-path probes v1")
//   path id = HMAC-SHA-256(key, "path id")[0..8)   finds the PeerPath
//   mac     = HMAC-SHA-256(key, sender role || all bytes before mac)[0..16)
// The sender's role in the mac means a probe reflected back at its sender
// does not verify. A probe's echo is zero; a reply echoes the nonce of the
// probe it answers (so only a fresh reply to our own probe validates a
// path: replays prove nothing) and carries its own nonce. Replies are
// exactly as long as probes: answering one never amplifies.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "util/bytes.hpp"

namespace conec::net {

inline constexpr uint8_t kProbeMarker = 0x2b;
inline constexpr size_t kProbeNonceLength = 16;
inline constexpr size_t kProbeMacLength = 16;
inline constexpr size_t kProbePathIdLength = 8;
inline constexpr size_t kProbeLength = 2 + kProbePathIdLength + 2 * kProbeNonceLength + kProbeMacLength;

enum class ProbeKind : uint8_t { probe = 1, reply = 2 };
// Which side of the channel sent it (the QUIC client is the initiator).
enum class ProbeRole : uint8_t { initiator = 1, acceptor = 2 };

using ProbeNonce = std::array<uint8_t, kProbeNonceLength>;
using ProbePathId = std::array<uint8_t, kProbePathIdLength>;

// The probe key and path id of one channel, from its relay token.
struct ProbeKey {
  Bytes key;
  ProbePathId path_id{};
};
ProbeKey probe_key(ByteView relay_token);

struct Probe {
  ProbeKind kind = ProbeKind::probe;
  ProbeNonce nonce{};
  ProbeNonce echo{}; // zero in a probe
};

// A probe with a fresh random nonce, and the reply to `probe`.
Probe new_probe();
Probe reply_to(const Probe &probe);

// The datagram `sender` sends.
Bytes encode_probe(const ProbeKey &key, ProbeRole sender, const Probe &probe);
// Whether `datagram` is shaped like a probe (marker and length): route it
// to the path its id names, nowhere else.
bool is_probe(ByteView datagram);
std::optional<ProbePathId> probe_path_id(ByteView datagram);
// The probe in `datagram` if it is authentic and came from `sender`'s role;
// nullopt for anything else (wrong length, kind, key or role, any changed
// byte, a probe with a non-zero echo, a reply with a zero one).
std::optional<Probe> decode_probe(const ProbeKey &key, ProbeRole sender, ByteView datagram);

} // namespace conec::net
