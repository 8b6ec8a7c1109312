#pragma once
// Settings of one QUIC connection, in conec terms. Defaults suit a
// coordinator link on the Internet and bulk transfers on fast LANs.

#include <cstddef>
#include <cstdint>
#include <string>

#include "tls/session.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/sockaddr.hpp"

namespace conec::quic {

using StreamId = int64_t;

// Length of every connection id conec issues; net/ needs it to route
// short-header packets.
inline constexpr size_t kCidLength = 16;
// Largest UDP payload conec sends (ngtcp2's PMTUD ceiling).
inline constexpr size_t kMaxUdpPayload = 1452;

// The two ends of a UDP path as seen by this endpoint.
struct Path {
  SockAddr local;
  SockAddr remote;
};

struct Config {
  // Flow control: initial windows advertised, and the ceilings to which
  // ngtcp2 auto-tunes them when the reader keeps up.
  uint64_t connection_window = 4 << 20;
  uint64_t stream_window = 1 << 20;
  uint64_t max_connection_window = 48 << 20;
  uint64_t max_stream_window = 16 << 20;
  // How many streams of each kind the peer may have open at once (credit is
  // returned as its streams close).
  uint64_t max_streams_bidi = 1024;
  uint64_t max_streams_uni = 1024;
  // Bytes a local stream may hold unacknowledged before write() reports
  // would_block (backpressure toward the application).
  uint64_t stream_send_buffer = 4 << 20;

  // A connection with no packet from the peer for idle_timeout ends (the
  // smaller of both sides' values applies). With a keepalive of a third of
  // it, a live idle peer is heard from twice within one idle_timeout.
  Duration idle_timeout = 15 * kSecond;
  Duration handshake_timeout = 10 * kSecond;
  Duration keepalive = 0; // 0: none; else PING after this much silence
  // While ack-eliciting packets of ours are unacknowledged, a peer silent
  // this long is given up (0: only idle_timeout applies). A live peer
  // acknowledges within an RTT plus its ack delay, so this notices a dead
  // peer during a transfer well before the idle timeout.
  Duration unresponsive_timeout = 5 * kSecond;
  // Pre-sample RTT estimate; ngtcp2 0.12 defaults to 333 ms.
  Duration initial_rtt = 100 * kMillisecond;

  // Largest UDP payload this connection sends (<= kMaxUdpPayload); relayed
  // connections leave room for the relay header.
  size_t max_udp_payload = kMaxUdpPayload;

  // ALPN offered (client) or required (server).
  std::string alpn = std::string(tls::kAlpn);
  // Endpoint-wide secret for stateless reset tokens (32 random bytes; the
  // endpoint that owns the socket sets it so it can send resets).
  Bytes static_secret;
};

} // namespace conec::quic
