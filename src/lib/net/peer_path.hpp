#pragma once
// PeerPath: how one client-to-client connection reaches its peer
// (ARCHITECTURE D3/D4, SPEC §4). QUIC sees a fixed virtual remote address
// for the channel's whole life; the path object decides where each packet
// really goes — wrapped for the coordinator's relay, or (once hole punching
// lands) straight to a validated direct address of the peer — and maps what
// arrives back to that virtual address, so QUIC never sees a path change it
// did not make. It holds the relay binding, the peer's direct candidates
// (the address the coordinator observed and the peer's local ones), the path
// policy, and per-path counters.
//
// Ownership: the Endpoint owns its paths (net/endpoint.hpp add_relay);
// Sessions on a path see it through Session::path() until they are gone.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/probe.hpp"
#include "tls/session.hpp"
#include "util/clock.hpp"
#include "util/sockaddr.hpp"

namespace conec::net {

class Session;

// Which paths a channel may use (--relay-only / --direct-only).
enum class PathPolicy {
  automatic,   // relay first, direct when one can be made
  relay_only,  // never probe: stay on the coordinator's relay
  direct_only, // fail unless a direct path can be made
};

enum class PathKind { relay, direct };
std::string_view to_string(PathKind kind);

// What went over one path (datagrams and their UDP payload bytes, relay
// header included).
struct PathCounters {
  uint64_t datagrams_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;

  // `bytes` went out in datagrams of `segment_size` (the last may be shorter).
  void count_sent(size_t bytes, size_t segment_size) {
    datagrams_sent += (bytes + segment_size - 1) / segment_size;
    bytes_sent += bytes;
  }
};

struct PeerPathOptions {
  PathPolicy policy = PathPolicy::automatic;
  ProbeRole role = ProbeRole::initiator; // our side of the channel (the QUIC client initiates)
  // Where the peer may be reached directly: the address the coordinator
  // observed for it, then its local addresses (IPv4 and IPv6).
  std::vector<SockAddr> candidates;
};

class PeerPath {
public:
  PeerPath(std::string token, SockAddr relay, SockAddr virtual_addr, PeerPathOptions options)
      : token_(std::move(token)), relay_(std::move(relay)), virtual_addr_(std::move(virtual_addr)),
        options_(std::move(options)), probe_key_(probe_key(as_bytes(token_))) {}

  // The relay token (kRelayTokenLength bytes) this path was introduced with.
  std::string_view token() const { return token_; }
  // The coordinator: the relay's only allowed source and destination.
  const SockAddr &relay_address() const { return relay_; }
  // What the connection sees as its remote address, whatever path is used.
  const SockAddr &virtual_address() const { return virtual_addr_; }
  const PeerPathOptions &options() const { return options_; }

  // The path packets take now. Always the relay until hole punching lands.
  PathKind current() const { return PathKind::relay; }
  // "relay", or "direct 10.0.0.2:4433": for ping, --stats and logs.
  std::string describe() const;

  const PathCounters &relay_counters() const { return relay_counters_; }
  const PathCounters &direct_counters() const { return direct_counters_; }

  // --- hole punching (ARCHITECTURE D5) ---
  // Probing runs from start_punching() until a reply validates a direct
  // address or kPunchGiveUp passes: a probe to every candidate at once,
  // then again at growing intervals (kFirstProbeInterval doubling to
  // kMaxProbeInterval). A probe from the peer is answered at any time (at
  // most kMaxRepliesPerSecond), which also opens our NAT towards it.
  static constexpr Duration kFirstProbeInterval = 25 * kMillisecond;
  static constexpr Duration kMaxProbeInterval = 400 * kMillisecond;
  static constexpr Duration kPunchGiveUp = 5 * kSecond;
  static constexpr unsigned kMaxRepliesPerSecond = 50;
  // Reply sources that were no candidate, probed as candidates of their own.
  static constexpr unsigned kMaxLearnedCandidates = 4;

  // The address a probe round trip proved both ways, once there is one
  // (the relay still carries the channel until the switch lands).
  const std::optional<SockAddr> &direct_address() const { return direct_; }
  Duration direct_rtt() const { return direct_rtt_; }
  bool punching() const { return punching_; }
  uint64_t probes_sent() const { return probes_sent_; }

private:
  friend class Endpoint;
  struct Outgoing {
    SockAddr to;
    Bytes datagram;
  };
  // Starts probing (never under relay_only, or without candidates).
  void start_punching(Timestamp now);
  // Probes due at `now` go to `out`; returns when to call again (0: done).
  Timestamp punch_due(Timestamp now, std::vector<Outgoing> &out);
  // A datagram shaped like a probe with our path id, from `from`: whether
  // it is authentic; the reply to an authentic probe goes to `out`.
  bool on_probe(const SockAddr &from, ByteView datagram, Timestamp now, std::vector<Outgoing> &out);
  ProbeRole peer_role() const {
    return options_.role == ProbeRole::initiator ? ProbeRole::acceptor : ProbeRole::initiator;
  }

  std::string token_;
  SockAddr relay_;
  SockAddr virtual_addr_;
  PeerPathOptions options_;
  PathCounters relay_counters_, direct_counters_;
  // The endpoint's bookkeeping: the one connection an introduction
  // announced is accepted with these credentials.
  std::shared_ptr<tls::Credentials> accept_credentials_;
  std::function<void(std::unique_ptr<Session>)> on_accept_;
  // Connections using it. remove_relay() while some remain only marks it:
  // they still need it to send their CONNECTION_CLOSE and closing period.
  size_t users_ = 0;
  bool removed_ = false;
  Timestamp last_poke_ = 0; // when a stall on it last poked the coordinator link
  // Hole punching (after token_: the key is derived from it).
  struct Sent {
    ProbeNonce nonce;
    SockAddr to;
    Timestamp at;
  };
  ProbeKey probe_key_;
  bool punching_ = false;
  Timestamp punch_started_ = 0, next_probe_ = 0;
  Duration interval_ = kFirstProbeInterval;
  std::vector<Sent> sent_; // recent probes awaiting replies (bounded)
  std::optional<SockAddr> direct_;
  Duration direct_rtt_ = 0;
  uint64_t probes_sent_ = 0;
  Timestamp reply_window_ = 0;
  unsigned replies_in_window_ = 0;
  unsigned learned_candidates_ = 0;
};

} // namespace conec::net
