#pragma once
// PeerPath: how one client-to-client connection reaches its peer
// (ARCHITECTURE D3/D4/D5, SPEC §4). QUIC sees two fixed virtual paths for
// the channel's whole life, one per way of reaching the peer:
//   relay:  local = our socket,  remote = relay virtual address V
//   direct: the initiator (QUIC client) uses local = direct virtual
//           address Vd, remote = V; the acceptor sees remote = Vd.
// The endpoint maps every packet between a virtual path and the wire —
// wrapped for the coordinator's relay, or straight to the peer's direct
// address — so QUIC never sees a real address change, and a switch between
// relay and direct is an ordinary QUIC migration of the client side, made
// only after a probe round trip proved the direct path (make before break),
// with fresh congestion and RTT state on the new path. Only the initiator decides (QUIC lets
// only clients migrate); the acceptor follows where the packets come from.
// The path holds the relay binding, the peer's direct candidates (the
// address the coordinator observed and the peer's local ones), the path
// policy, hole-punching state, and per-path counters.
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

#include "conec/channel.hpp"
#include "net/probe.hpp"
#include "quic/config.hpp"
#include "tls/session.hpp"
#include "util/clock.hpp"
#include "util/sockaddr.hpp"

namespace conec::net {

class Session;

// Which paths a channel may use (--relay-only / --direct-only; public:
// conec/channel.hpp).
using PathPolicy = conec::PathPolicy;

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
  PeerPath(std::string token, SockAddr relay, SockAddr virtual_addr, SockAddr direct_virtual,
           SockAddr relay_alternate, PeerPathOptions options)
      : token_(std::move(token)), relay_(std::move(relay)), virtual_addr_(std::move(virtual_addr)),
        direct_virtual_(std::move(direct_virtual)), relay_alternate_(std::move(relay_alternate)),
        options_(std::move(options)), probe_key_(probe_key(as_bytes(token_))) {}

  // The relay token (kRelayTokenLength bytes) this path was introduced with.
  std::string_view token() const { return token_; }
  // The coordinator: the relay's only allowed source and destination.
  const SockAddr &relay_address() const { return relay_; }
  // What the connection sees as its remote address, whatever path is used.
  const SockAddr &virtual_address() const { return virtual_addr_; }
  const PeerPathOptions &options() const { return options_; }

  // The path QUIC's data takes now.
  PathKind current() const { return current_; }
  // "relay", or "direct 10.0.0.2:4433": for ping, --stats and logs.
  std::string describe() const;
  // Switches relay -> direct, and falls back direct -> relay, so far.
  unsigned switches_to_direct() const { return switches_to_direct_; }
  unsigned fallbacks() const { return fallbacks_; }

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

  // After a fallback, probing goes on without giving up, to the peer's
  // observed and last direct address only, at intervals doubling to
  // kMaxPersistentInterval, until the direct path answers again.
  static constexpr Duration kMaxPersistentInterval = 10 * kSecond;
  // Direct data: the initiator goes direct once the handshake is confirmed
  // and a probe round trip proved an address; it falls back to the relay
  // when data on the direct path waits kDirectStall (at least 4 RTTs) for
  // any answer. An idle direct path is pinged every kDirectKeepalive so a
  // dead one is noticed before data needs it, and NAT mappings stay.
  static constexpr Duration kDirectStall = 1 * kSecond;
  static constexpr Duration kDirectKeepalive = 1 * kSecond;
  static constexpr Duration kMigrationRetry = 3 * kSecond;
  static constexpr unsigned kMaxMigrationAttempts = 5; // per validated address
  // After each fallback the channel waits before going direct again, twice
  // as long each time (a path that passes probes but not data would
  // otherwise flap between the two).
  static constexpr Duration kFirstHoldoff = 2 * kSecond;
  static constexpr Duration kMaxHoldoff = 60 * kSecond;
  // Peer connections say something at least this often (a PING when idle):
  // on the relay, a side that only receives notices within about a second
  // that nothing comes any more (its unanswered PING pokes its coordinator
  // link: a restarted coordinator answers that with a stateless reset).
  static constexpr Duration kPeerKeepalive = 1 * kSecond;
  // Sources of the peer's authentic probes remembered (see heard_from_).
  static constexpr size_t kMaxHeardFrom = 4;

  // Where direct packets go: the address a probe round trip proved both
  // ways, or (on the acceptor, or after the peer's NAT rebound) the source
  // the peer's direct packets come from, if its probes came from there too.
  const std::optional<SockAddr> &direct_address() const { return direct_; }
  // A probe round trip proved direct_address() (since the last fallback).
  bool direct_validated() const { return direct_validated_; }
  Duration direct_rtt() const { return direct_rtt_; }
  bool punching() const { return punching_; }
  uint64_t probes_sent() const { return probes_sent_; }

  // The virtual QUIC path of `kind`, for the initiator or the acceptor
  // (`server`), on a socket bound to `local`.
  quic::Path quic_path(PathKind kind, bool server, const SockAddr &local) const;
  // Which path a virtual QUIC path stands for.
  PathKind kind_of(const quic::Path &path) const {
    return path.local == direct_virtual_ || path.remote == direct_virtual_ ? PathKind::direct : PathKind::relay;
  }
  // The initiator's other relay path than `current` (a relay path): its
  // local address switches between our socket's `local` and a virtual one.
  quic::Path other_relay_path(const quic::Path &current, const SockAddr &local) const {
    return quic::Path{current.local == relay_alternate_ ? local : relay_alternate_, virtual_addr_};
  }

private:
  friend class Endpoint;
  struct Outgoing {
    SockAddr to;
    Bytes datagram;
  };
  // Starts probing (never under relay_only, or without candidates);
  // `persistent`: without giving up (after a fallback).
  void start_punching(Timestamp now, bool persistent = false);
  // A direct datagram from `from` for a connection on this path: whether
  // QUIC may see it (from our direct address, or from where the peer's
  // authentic probes came). Only our own probe round trip ever changes
  // where direct packets go: a new source becomes a candidate to probe.
  bool accept_direct(const SockAddr &from, size_t bytes, Timestamp now);
  // The data moved to the direct path.
  void entered_direct();
  // The data left the direct path (the initiator fell back, or QUIC gave
  // it up; the acceptor saw it): probe again without giving up, and on the
  // initiator hold off going direct again, twice as long each time.
  void left_direct(Timestamp now, bool initiator);
  // The coordinator saw the peer move to `observed` (proto::PeerMoved): it
  // leads the candidates (the one probed after a fallback), and a punch
  // round in progress starts over at once.
  void peer_moved(const SockAddr &observed, Timestamp now);
  // Adds a reply's or a peer's source as a candidate of its own (bounded).
  void learn_candidate(const SockAddr &from, Timestamp now);
  // Probe targets of a round: every candidate, or after a fallback only the
  // observed address (the first candidate) and the last direct one.
  std::vector<SockAddr> probe_targets() const;
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
  SockAddr direct_virtual_;
  // The initiator's relay path uses our socket's address as its local one,
  // or this one once relay_restored() moved it (and back the next time).
  SockAddr relay_alternate_;
  PeerPathOptions options_;
  PathKind current_ = PathKind::relay;
  unsigned switches_to_direct_ = 0, fallbacks_ = 0;
  Timestamp migrating_since_ = 0; // the initiator's last attempt to go direct
  unsigned migration_attempts_ = 0; // since direct_ was last validated
  Timestamp fallen_back_at_ = 0;
  Duration holdoff_ = 0;
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
  bool punching_ = false, persistent_ = false;
  Timestamp punch_started_ = 0, next_probe_ = 0;
  Duration interval_ = kFirstProbeInterval;
  std::vector<Sent> sent_; // recent probes awaiting replies (bounded)
  std::optional<SockAddr> direct_;
  bool direct_validated_ = false;
  // The peer's authentic probes came from these (newest last). A probe can
  // be replayed from elsewhere, so this only lets direct QUIC packets from
  // there in (QUIC authenticates their content). An on-path attacker who
  // replays a probe and a packet from a third address could point our
  // direct packets there: the initiator then falls back to the relay, as it
  // would if the attacker dropped them.
  std::vector<SockAddr> heard_from_;
  Duration direct_rtt_ = 0;
  uint64_t probes_sent_ = 0;
  Timestamp reply_window_ = 0;
  unsigned replies_in_window_ = 0;
  unsigned learned_candidates_ = 0;
};

} // namespace conec::net
