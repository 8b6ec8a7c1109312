#pragma once
// Connection: one QUIC connection (client or server role) over ngtcp2 0.12.
// It does no I/O: datagrams and the current time go in (receive,
// handle_timeout), datagrams and the next expiry come out (write, expiry).
// That keeps it deterministic for in-memory tests with a virtual clock.
//
// Threading: single-threaded; call it from one loop only.
// Re-entrancy: handler callbacks run inside receive()/handle_timeout()/
// write(). From a callback the handler may open, write, consume, shut down
// streams and call close(); it must not destroy the Connection there.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "conec/stream.hpp"
#include "quic/config.hpp"
#include "quic/send_buffer.hpp"
#include "tls/session.hpp"
#include "util/bytes.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

struct ngtcp2_conn;
struct ngtcp2_connection_close_error;

namespace conec::quic {

// What a Connection tells its owner. Default implementations ignore events.
class ConnectionHandler {
public:
  virtual ~ConnectionHandler() = default;
  // TLS handshake finished and the peer is verified.
  virtual void on_handshake_completed() {}
  // The peer opened a stream (before its first data arrives).
  virtual void on_stream_opened(StreamId) {}
  // Stream bytes in order. The handler must call consume() for them, now or
  // later, to give the peer more flow-control credit.
  virtual void on_stream_data(StreamId, ByteView, bool /*fin*/) {}
  // The peer abandoned its sending side (RESET_STREAM) with `app_error`.
  virtual void on_stream_reset(StreamId, uint64_t /*app_error*/) {}
  // A local stream that returned would_block can take more data.
  virtual void on_stream_writable(StreamId) {}
  // The stream is gone on both sides. `app_error` is set if it ended
  // abnormally: reset by either side, or the peer stopped reading
  // (STOP_SENDING; ngtcp2 0.12 reports that only through this close).
  virtual void on_stream_closed(StreamId, std::optional<uint64_t> /*app_error*/) {}
  // The peer granted credit for more local streams.
  virtual void on_streams_available() {}
  // Connection ids to route to / stop routing to this connection.
  virtual void on_cid_added(ByteView) {}
  virtual void on_cid_removed(ByteView) {}
  // The connection is over (closing, draining or dropped), with the reason.
  // Called once; every open stream got on_stream_closed before it.
  virtual void on_connection_closed(const Error &) {}
};

// TLS alerts in close errors (category tls): a handshake the peer rejected
// carries the QUIC CRYPTO_ERROR it sent, kCryptoErrorBase + alert, as its
// Error code; one that failed on our side carries the bare alert we sent.
inline constexpr int64_t kCryptoErrorBase = 0x100;
// The alert the peer rejected our handshake with, if `e` says it did.
inline std::optional<uint8_t> peer_tls_alert(const Error &e) {
  if (e.category != ErrorCategory::tls || e.code < kCryptoErrorBase || e.code > kCryptoErrorBase + 0xff)
    return std::nullopt;
  return static_cast<uint8_t>(e.code - kCryptoErrorBase);
}

// The Error code (category transport) of a connection ended by the peer's
// stateless reset: it lost the connection's state (it restarted), and is
// there again to say so.
inline constexpr int64_t kStatelessResetCode = 0x5e7;
inline bool ended_by_stateless_reset(const Error &e) {
  return e.category == ErrorCategory::transport && e.code == kStatelessResetCode && e.layer == "quic";
}

// Application error code given to streams cut by the end of their connection.
inline constexpr uint64_t kStreamErrorConnectionClosed = 0xc10;

enum class State { handshaking, established, closing, draining, closed };

// ok / would_block (public: conec/stream.hpp).
using WriteState = conec::WriteState;

// Datagrams produced by one write(): `size` bytes in the caller's buffer,
// split into `segment_size` chunks (the last may be shorter), all for `path`.
struct PacketBatch {
  size_t size = 0;
  size_t segment_size = 0;
  Path path;
  uint8_t ecn = 0;
  size_t count() const { return segment_size ? (size + segment_size - 1) / segment_size : 0; }
};

// Statistics for logs, `--stats` and benchmarks.
struct Stats {
  Duration smoothed_rtt = 0;
  Duration min_rtt = 0;
  uint64_t cwnd = 0;
  uint64_t bytes_in_flight = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  size_t max_udp_payload = 0;
};

class Connection {
public:
  ~Connection();
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

  // Starts a client connection on `path`. `server_name` is checked against
  // the server's certificate when its verification names one.
  static Result<std::unique_ptr<Connection>> connect(const Config &config,
                                                     std::shared_ptr<tls::Credentials> credentials,
                                                     const std::string &server_name, const Path &path,
                                                     ConnectionHandler &handler, Timestamp now);

  // Creates the server side for a client's first Initial packet (`datagram`,
  // not yet processed: pass it to receive() next). Error if the datagram is
  // not an acceptable Initial (caller drops it). `retried_from`: the client's
  // original DCID recovered from a valid Retry token (quic::verify_retry_token),
  // when this Initial answers our Retry; the transport parameters then
  // prove to the client that the Retry came from us.
  static Result<std::unique_ptr<Connection>> accept(const Config &config,
                                                    std::shared_ptr<tls::Credentials> credentials,
                                                    const Path &path, ByteView datagram,
                                                    ConnectionHandler &handler, Timestamp now,
                                                    const Bytes *retried_from = nullptr);

  void set_handler(ConnectionHandler &handler) { handler_ = &handler; }

  // Feeds one received datagram. A fatal problem moves the connection to
  // closing/draining/closed and is reported through on_connection_closed;
  // the call itself only fails for misuse.
  void receive(const Path &path, ByteView datagram, uint8_t ecn, Timestamp now);

  // Fills `buffer` with up to `max_packets` datagrams for one path (GSO batch).
  // buffer.size() must be >= max_packets * kMaxUdpPayload. Empty batch when
  // there is nothing to send now.
  PacketBatch write(MutableByteView buffer, size_t max_packets, Timestamp now);

  // When handle_timeout() must be called next (kNever if not needed).
  Timestamp expiry() const;
  void handle_timeout(Timestamp now);
  // The peer's address answered with ICMP port unreachable. Only a hint
  // (ICMP can be forged): the peer is probed with a PING and given up if
  // nothing from it arrives within a few RTTs (at least 300 ms).
  void note_unreachable(Timestamp now);
  // Makes the next write carry a PING if nothing else would (an idle
  // connection says something now): lets the peer see our current address
  // at once, e.g. after our NAT rebound (net/ pokes the coordinator link
  // when relayed traffic stalls). `even_in_flight`: also while packets of
  // ours are outstanding, whose retransmissions back off (net/ probes the
  // coordinator link every 250 ms while relayed data stalls, to learn at
  // once when the way out works again).
  void poke(bool even_in_flight = false);
  // Since when ack-eliciting packets of ours wait for any packet from the
  // peer (0: none waiting, or the peer spoke since).
  Timestamp awaiting_since() const { return awaiting_since_; }
  // The way to the peer works again (a relay came back): data waiting for
  // an answer gets a fresh unresponsive_timeout from `now`, so the next
  // retransmission, backed off while nothing got through, is still waited
  // for.
  void refresh_liveness(Timestamp now) {
    if (awaiting_since_) awaiting_since_ = now;
  }
  // Our own way out is down (net/ decides: the coordinator link does not
  // answer either), so the peer's silence proves nothing: while held, only
  // the idle timeout ends the connection, not unresponsive_timeout. A
  // release restarts the unresponsive window from `now`.
  void hold_liveness(bool held, Timestamp now) {
    if (held == liveness_held_) return;
    liveness_held_ = held;
    if (!held) refresh_liveness(now);
  }
  bool liveness_held() const { return liveness_held_; }
  // When the last packet from the peer was processed (0: none yet).
  Timestamp last_received() const { return last_received_; }

  // Client side, once the handshake is confirmed: moves the connection to
  // `path` (its local address must differ from the current one). With
  // `validate_first` the current path carries data until the peer answered
  // a PATH_CHALLENGE on the new one (make before break); otherwise packets
  // take the new path at once (the old one is known dead). Either way ngtcp2
  // restarts congestion control and RTT estimation for the new path.
  // Errors: state (not confirmed, server side, no spare connection id).
  Result<void> migrate(const Path &path, bool validate_first, Timestamp now);

  // --- streams ---
  // Opens a local stream. The peer learns of it at once (an empty STREAM
  // frame goes out if nothing is written before the next packet), so a
  // peer can speak first on a stream we opened. Error (limit) when the
  // peer's stream credit is used up: retry after on_streams_available().
  Result<StreamId> open_stream(bool bidirectional);
  // Queues `data` (owned until acknowledged) and optionally the end of the
  // stream. Errors: unknown stream, sending side already finished or reset.
  Result<WriteState> write(StreamId id, Bytes data, bool fin = false);
  // write() for shared, immutable bytes: the stream keeps a reference until
  // they are acknowledged (or it closes) instead of a copy, so one buffer can
  // be queued on many streams. Null or empty `data` queues nothing (a FIN
  // alone is fine). Same checks, errors and WriteState as write().
  Result<WriteState> write_shared(StreamId id, SharedBytes data, bool fin = false);
  // Whether a write() now would stay under the stream's send budget.
  bool writable(StreamId id) const;
  // Bytes written to the stream and not yet acknowledged by the peer.
  uint64_t unacked_bytes(StreamId id) const;
  // Returns flow-control credit for `bytes` delivered by on_stream_data.
  void consume(StreamId id, size_t bytes);
  // Abandons our sending side (RESET_STREAM with app_error).
  void reset_stream(StreamId id, uint64_t app_error);
  // Stops reading the peer's side (STOP_SENDING with app_error).
  void stop_reading(StreamId id, uint64_t app_error);
  bool stream_exists(StreamId id) const { return streams_.contains(id); }
  size_t open_stream_count() const { return streams_.size(); }
  bool is_local_stream(StreamId id) const;
  static bool is_bidirectional(StreamId id) { return (id & 0x2) == 0; }

  // --- connection ---
  // Closes with an application error code and reason (sent to the peer).
  // When `after_acknowledged` is set, waits until every queued stream byte
  // is acknowledged first (or the idle timeout). Takes effect on write().
  void close(uint64_t app_error = 0, std::string reason = {}, bool after_acknowledged = false);
  // Starts a TLS key update (tests; ngtcp2 also does it by itself).
  Result<void> initiate_key_update(Timestamp now);

  State state() const { return state_; }
  bool is_closed() const { return state_ == State::closed; }
  bool handshake_completed() const { return state_ != State::handshaking; }
  // Both sides know the handshake is over (RFC 9001 §4.1.2): migration allowed.
  bool handshake_confirmed() const { return handshake_confirmed_; }
  const std::optional<Error> &close_error() const { return close_error_; }
  bool is_server() const { return server_; }
  const Path &path() const { return path_; }
  // The peer's address as QUIC validated it: the handshake's, then each new
  // path that passed path validation (RFC 9000 §8.2). Empty before the
  // handshake completes. Unlike path(), a packet from a new address (a
  // rebinding, or a replayed or spoofed packet) does not change it until
  // the peer answered a challenge there; when QUIC returns to an address
  // validated earlier on this connection, this follows.
  const SockAddr &validated_remote() const { return validated_remote_; }
  Stats stats() const;
  // Source connection ids currently routed to this connection (incl. the
  // server's original DCID).
  std::vector<Bytes> local_cids() const;
  // The TLS session (peer certificate, ALPN) — valid for the connection's life.
  const tls::Session &tls() const { return *tls_; }
  // For the ngtcp2 crypto glue only.
  ngtcp2_conn *native_for_crypto() const { return conn_.get(); }

private:
  struct Stream;
  struct NgDeleter {
    void operator()(ngtcp2_conn *c) const;
  };
  friend struct Callbacks;

  Connection(const Config &config, ConnectionHandler &handler, bool server);
  Result<void> init_tls(std::shared_ptr<tls::Credentials> credentials, const std::string &server_name);
  void enter_closed_state(State state, Error error, Timestamp now);
  void fail_connection(int liberr, Timestamp now);
  void write_app_close(Timestamp now);
  void send_close(const ngtcp2_connection_close_error &ccerr, Error error, Timestamp now);
  bool all_acknowledged() const;
  PacketBatch emit_single(MutableByteView buffer, const Bytes &packet, const Path &path, uint8_t ecn);
  size_t write_one(uint8_t *out, size_t len, Path &path, uint8_t &ecn, Timestamp now, bool &error);
  void mark_ready(Stream &s);
  // The common part of write() and write_shared(): checks that `id` takes
  // data, lets `queue` append to its SendBuffer, then queues the FIN and
  // reports the budget.
  template <class Queue> Result<WriteState> write_with(StreamId id, bool fin, Queue &&queue);
  Stream *find(StreamId id);
  const Stream *find(StreamId id) const;
  void after_stream_closed(StreamId id, std::optional<uint64_t> app_error);
  void close_finished_remote_uni(StreamId id, std::optional<uint64_t> app_error);

  void note_in_flight(Timestamp now, bool heard_from_peer, bool wrote = false);
  Duration unreachable_grace() const;
  void fit_keepalive_to_peer();
  std::optional<std::string> liveness_failure(Timestamp now) const;

  Config config_;
  ConnectionHandler *handler_;
  // Set by note_unreachable: since when the peer's address drew ICMP port
  // unreachable with no packet from the peer since (0: none).
  Timestamp unreachable_since_ = 0;
  bool probe_forced_ = false; // keepalive shortened to make ngtcp2 send a PING now
  bool liveness_held_ = false; // hold_liveness()
  Duration keepalive_ = 0;    // the keepalive in force (fitted to the peer)
  // Since when ack-eliciting packets of ours wait for the peer's first
  // packet (0: nothing unacknowledged, or the peer spoke since it was sent).
  Timestamp awaiting_since_ = 0;
  Timestamp last_received_ = 0;
  // The last time a timer of ours fired late by more than kStallWorthTelling
  // (the process did not run), and by how much.
  static constexpr Duration kStallWorthTelling = 2 * kSecond;
  Timestamp stall_noticed_ = 0;
  Duration stall_ = 0;
  bool handshake_confirmed_ = false;
  bool server_;
  std::unique_ptr<ngtcp2_conn, NgDeleter> conn_;
  std::unique_ptr<tls::Session> tls_;
  struct ConnRef; // ngtcp2_crypto_conn_ref, kept at a stable address
  std::unique_ptr<ConnRef> conn_ref_;
  Path path_;
  SockAddr validated_remote_;
  Bytes original_dcid_; // server: the client's first DCID, routed for the connection's life
  // Addresses validated on this connection (newest last, a few at most):
  // when ngtcp2 goes back to one of them, so does validated_remote_.
  std::vector<SockAddr> validated_addresses_;
  void validated(const SockAddr &a);

  std::unordered_map<StreamId, std::unique_ptr<Stream>> streams_;
  std::deque<StreamId> ready_; // streams with unsent data, in round-robin order

  State state_ = State::handshaking;
  std::optional<Error> close_error_;
  Timestamp terminal_deadline_ = kNever; // end of closing/draining period
  Bytes stash_;       // a packet that did not fit the last GSO batch
  Path stash_path_;
  uint8_t stash_ecn_ = 0;
  Bytes close_packet_;                   // CONNECTION_CLOSE to repeat while closing
  bool resend_close_ = false;
  bool close_requested_ = false;
  bool close_after_acked_ = false;
  uint64_t close_app_error_ = 0;
  std::string close_reason_;
  bool closed_notified_ = false;
  bool got_stateless_reset_ = false;
  std::string escaped_; // what an exception from a handler said (callbacks.cpp guard)
  uint64_t stats_bytes_sent_ = 0;
  uint64_t stats_bytes_received_ = 0;
  bool pacing_started_ = false; // 0.12.1 pacing-stall workaround (see connection.cpp)
};

} // namespace conec::quic
