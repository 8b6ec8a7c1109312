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
#include <string>
#include <string_view>
#include <vector>

#include "tls/session.hpp"
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
};

struct PeerPathOptions {
  PathPolicy policy = PathPolicy::automatic;
  // Where the peer may be reached directly: the address the coordinator
  // observed for it, then its local addresses (IPv4 and IPv6).
  std::vector<SockAddr> candidates;
};

class PeerPath {
public:
  PeerPath(std::string token, SockAddr relay, SockAddr virtual_addr, PeerPathOptions options)
      : token_(std::move(token)), relay_(std::move(relay)), virtual_addr_(std::move(virtual_addr)),
        options_(std::move(options)) {}

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

private:
  friend class Endpoint;
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
};

} // namespace conec::net
