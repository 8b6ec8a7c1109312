#pragma once
// Endpoint: one UDP socket serving many QUIC connections in both roles
// (ARCHITECTURE D1), routed by connection id. It runs each connection's
// I/O on the loop: reads datagrams in batches, writes GSO batches, keeps
// one timer per connection, and defers sends to the end of the current
// loop iteration so many stream writes share packets.
//
// Ownership: the application owns each Session (unique_ptr). Destroying a
// Session closes its connection; the endpoint keeps the connection through
// its closing period. The Endpoint must outlive nothing: destroying it
// detaches remaining Sessions (they then report closed).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/loop.hpp"
#include "net/peer_path.hpp"
#include "net/udp_socket.hpp"
#include "quic/config.hpp"
#include "quic/connection.hpp"
#include "quic/packet.hpp"
#include "tls/session.hpp"

namespace conec::net {

class Endpoint;
struct Entry;

// One connection of an Endpoint, as the application sees it. Stream calls
// forward to quic::Connection (see there for semantics) and schedule a send.
class Session {
public:
  ~Session(); // closes the connection (code 0) if still open
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // Receives the connection's events. Set it in on_accept before returning.
  void set_handler(quic::ConnectionHandler &handler);

  Result<quic::StreamId> open_stream(bool bidirectional);
  Result<quic::WriteState> write(quic::StreamId id, Bytes data, bool fin = false);
  Result<quic::WriteState> write_shared(quic::StreamId id, SharedBytes data, bool fin = false);
  bool writable(quic::StreamId id) const;
  uint64_t unacked_bytes(quic::StreamId id) const;
  void consume(quic::StreamId id, size_t bytes);
  void reset_stream(quic::StreamId id, uint64_t app_error);
  void stop_reading(quic::StreamId id, uint64_t app_error);
  void close(uint64_t app_error = 0, std::string reason = {}, bool after_acknowledged = false);

  bool is_open() const;            // handshaking or established
  bool handshake_completed() const;
  bool is_client() const;          // this side opened the connection (QUIC client role)
  std::optional<Error> close_error() const;
  SockAddr remote_address() const;   // where packets go now (may be a path still being validated)
  SockAddr validated_address() const;// the last address QUIC validated (quic::Connection::validated_remote)
  quic::Stats stats() const;
  // The peer's certificate (DER) once the handshake completed.
  Bytes peer_certificate() const;
  // The peer path of a client-to-client connection (null for direct QUIC
  // connections such as the coordinator link, and once the Endpoint is gone).
  const PeerPath *path() const;
  // A peer connection whose data goes direct now (it needs no relay).
  bool on_direct_path() const;

private:
  friend class Endpoint;
  friend struct Entry;
  Session() = default;
  Entry *entry_ = nullptr; // null once the Endpoint is gone
};

// Admission of new connections (server role): what a handshake may cost
// before the client has shown it owns its address (issue 7). A handshake in
// progress costs ~110 KiB (ngtcp2 + GnuTLS state); a Retry costs nothing.
enum class RetryPolicy {
  never,     // never send Retry; the caps below still hold
  automatic, // Retry once `retry_above` handshakes are in progress
  always,    // every new connection proves its address first (one more RTT)
};

struct AdmissionOptions {
  RetryPolicy retry = RetryPolicy::automatic;
  size_t retry_above = 64;           // handshakes in progress before Retry starts
  size_t max_handshakes = 512;       // in progress at once; Initials beyond are dropped
  size_t max_handshakes_per_address = 64; // per IPv4 address or IPv6 /64 (ports ignored)
  Duration retry_token_lifetime = 10 * kSecond;
};

struct EndpointOptions {
  SockAddr bind;                 // address to bind (port 0: any)
  UdpSocketOptions socket;
  quic::Config quic;             // for every connection of this endpoint
  // Server role: credentials for accepted connections. Null: no accepting.
  std::shared_ptr<tls::Credentials> server_credentials;
  AdmissionOptions admission;
};

// Counters for tests, logs and benchmarks.
struct EndpointStats {
  uint64_t datagrams_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_calls = 0;        // sendmsg calls (GSO batches count once)
  uint64_t dropped_malformed = 0; // not a QUIC packet (quic::parse_header refused it)
  uint64_t port_unreachable = 0;  // ICMP port-unreachable errors for our sends
  uint64_t dropped_unroutable = 0;// unknown connection, or an Initial that cannot open one
  uint64_t stateless_resets_sent = 0;
  uint64_t send_blocked = 0;      // times the socket buffer was full
  uint64_t relayed_dropped = 0;   // relayed datagrams for unknown relays or from the wrong address
  uint64_t probes_dropped = 0;    // probe-shaped datagrams for no path of ours, or not authentic
  uint64_t direct_dropped = 0;    // QUIC packets of a peer connection from an address its path does not know
  uint64_t probes_over_budget = 0; // probes not sent: the endpoint's probe budget was spent
  uint64_t retries_sent = 0;      // Initials answered with a Retry (address validation)
  uint64_t retry_tokens_refused = 0;   // Initials with an invalid or expired Retry token
  uint64_t initials_over_limit = 0;    // Initials dropped by max_handshakes(_per_address)
  uint64_t handshakes_in_progress = 0; // server-side connections not yet past their handshake
};

class Endpoint {
public:
  ~Endpoint();
  Endpoint(const Endpoint &) = delete;
  Endpoint &operator=(const Endpoint &) = delete;

  // Binds the socket and starts reading. Errors: io (bind), usage.
  static Result<std::unique_ptr<Endpoint>> create(loop::Loop &loop, EndpointOptions options);

  // Called for each accepted connection (server role). The callee takes
  // ownership and must set_handler() before returning.
  std::function<void(std::unique_ptr<Session>)> on_accept;

  // Starts a client connection to `remote`. Events go to `handler`.
  // `config`: its settings, if not the endpoint's.
  Result<std::unique_ptr<Session>> connect(const SockAddr &remote, std::shared_ptr<tls::Credentials> credentials,
                                           const std::string &server_name, quic::ConnectionHandler &handler,
                                           const quic::Config *config = nullptr);

  // --- relayed peer connections (client side; ARCHITECTURE D3/D4) ---
  // Registers the peer path of relay `token` (kRelayTokenLength bytes)
  // through `relay` (the coordinator's address), with the peer's direct
  // candidates and the path policy; returns the virtual remote address that
  // the connections on it see. Idempotent (a second call keeps the first
  // options).
  SockAddr add_relay(ByteView token, const SockAddr &relay, PeerPathOptions options = {});
  // Forgets the relay: its connections can no longer send or receive.
  void remove_relay(ByteView token);
  // The coordinator relays for both ends of `token` again (after it was
  // lost or restarted): connections on it stop waiting out their
  // backed-off retransmission timers. The initiator migrates its relay
  // path to its other local address, which restarts congestion control
  // and retransmission at once (QUIC lets only clients migrate); the
  // acceptor's liveness check gives the peer a fresh chance to answer.
  void relay_restored(ByteView token);
  // The coordinator sees the peer of relay `token` at `observed` now (its
  // NAT rebound): the address becomes the path's first candidate, probed at
  // once if punching is on (PeerPath::peer_moved).
  void peer_moved(ByteView token, const SockAddr &observed);
  // Starts a QUIC client connection to the peer behind the relay.
  Result<std::unique_ptr<Session>> connect_relayed(ByteView token, std::shared_ptr<tls::Credentials> credentials,
                                                   const std::string &server_name, quic::ConnectionHandler &handler);
  // Accepts the first connection arriving through the relay (only that one,
  // and only with these credentials) and hands it to `on_accept`.
  Result<void> accept_relayed(ByteView token, std::shared_ptr<tls::Credentials> credentials,
                              std::function<void(std::unique_ptr<Session>)> on_accept);

  // --- coordinator side ---
  // When set, datagrams carrying the relay marker go here (the coordinator
  // forwards them) instead of to this endpoint's relayed connections.
  std::function<void(const Datagram &)> on_relay_datagram;
  // Sends one datagram as it is (relay forwarding). False if the socket
  // buffer is full: the datagram is dropped, which QUIC treats as loss.
  bool send_datagram(const SockAddr &to, ByteView data);
  // Sends equal-size datagrams (the last may be shorter) to one address in
  // one GSO call. Returns how many bytes went out (whole datagrams); the
  // rest is dropped when the socket buffer is full.
  size_t send_datagrams(const SockAddr &to, ByteView data, size_t segment_size);

  // Handles `d` as if the socket had just read it (fuzzing and tests).
  void receive_for_testing(const Datagram &d) { route(d, monotonic_now()); }

  // Closes every connection (app error 0, `reason`); they finish their
  // closing periods on the loop.
  void close_all(const std::string &reason);

  // Every connection has ended or sent its CONNECTION_CLOSE, and nothing is
  // waiting to be sent: a process may exit now without leaving its peers to
  // time out (the closing periods need not be waited for).
  bool closes_sent() const;

  const SockAddr &local_address() const { return socket_.local_address(); }
  size_t connection_count() const { return entries_.size(); }
  const EndpointStats &stats() const { return stats_; }
  loop::Loop &loop() { return loop_; }

private:
  friend class Session;
  friend struct Entry;
  Endpoint(loop::Loop &loop, EndpointOptions options, UdpSocket socket);

  void on_readable();
  void port_unreachable(const SockAddr &to);
  void on_writable();
  void route(const Datagram &d, Timestamp now, PeerPath *via = nullptr);
  void route_relayed(const Datagram &d, Timestamp now);
  void route_probe(const Datagram &d, Timestamp now);
  // Sends due probes of every path, watches direct paths, re-arms path_timer_.
  void tend_paths(Timestamp now);
  static constexpr Duration kTendInterval = 100 * kMillisecond; // while a path is direct
  void watch_paths(); // runs tend_paths soon unless it is already due
  void tend_direct(Entry &e, Timestamp now);
  void after_peer_receive(Entry &e, Timestamp now);
  void go_direct_if_ready(Entry &e, Timestamp now);
  void fall_back_to_relay(Entry &e, Timestamp now, const std::string &why);
  void send_probe(PeerPath &path, const SockAddr &to, ByteView datagram);
  void erase_path(std::string_view token);
  // Relayed data unanswered this long pokes the coordinator link (see endpoint.cpp).
  static constexpr Duration kRelayStallPoke = 250 * kMillisecond;
  void poke_relay_if_stalled(Entry &e, Timestamp now);
  // Our connection to `relay` (the coordinator), if any.
  Entry *coordinator_link(const SockAddr &relay);
  // The coordinator does not answer us (or we have no connection to it):
  // our own way out is likely down, so a relayed peer's silence proves
  // nothing (quic::Connection::hold_liveness).
  bool cut_off_from(const SockAddr &relay, Timestamp now);
  static Duration stall_threshold(const quic::Connection &conn);
  void hold_if_cut_off(Entry &e, Timestamp now);
  // The coordinator answers again after a stall: relayed connections that
  // wait restart their transmission (restart_transmission).
  void way_out_back(const SockAddr &relay, Timestamp now);
  // The initiator migrates its relay path to its other local address
  // (fresh congestion and loss-recovery state: no backed-off PTO to wait
  // out); the acceptor, which cannot migrate, restarts its liveness window.
  void restart_transmission(Entry &e, Timestamp now);
  // Settings of peer connections: relayed packets leave room for the relay
  // header; PeerPath::kPeerKeepalive.
  quic::Config peer_config() const;
  void accept(const Datagram &d, Timestamp now, PeerPath *via);
  // Admission control for a new server connection: true to accept it now
  // (with `retried_from` set after a valid Retry token); false if the
  // Initial was answered (Retry, refusal) or dropped.
  bool admit(const Datagram &d, std::optional<Bytes> &retried_from);
  void handshake_ended(Entry &e);
  bool take_answer_token();
  bool send_batch(Entry &e, ByteView data, size_t segment_size, const quic::Path &path, uint8_t ecn);
  void answer_unknown(const Datagram &d, const quic::PacketHeader &h);
  std::unique_ptr<Session> attach(std::unique_ptr<Entry> entry, std::unique_ptr<quic::Connection> conn,
                                  quic::ConnectionHandler *app, PeerPath *via);
  void schedule(Entry &e);
  void flush_all();
  bool flush(Entry &e, Timestamp now); // false: socket full
  void arm_timer(Entry &e, Timestamp now);
  void reap(Entry &e);
  void maybe_trim(Timestamp now);
  void register_cid(ByteView cid, Entry &e);
  void unregister_cid(ByteView cid);
  void send_raw(const SockAddr &to, ByteView data);

  loop::Loop &loop_;
  EndpointOptions options_;
  UdpSocket socket_;
  std::unique_ptr<loop::FdPoll> poll_;
  std::unique_ptr<loop::Deferred> flusher_;
  std::unordered_map<Entry *, std::unique_ptr<Entry>> entries_;
  ByteKeyMap<Entry *> by_cid_; // connection id bytes -> entry
  std::vector<Entry *> dirty_;
  ByteKeyMap<std::unique_ptr<PeerPath>> relays_; // by token bytes
  ByteKeyMap<PeerPath *> by_probe_id_;            // the same paths, by ProbeKey::path_id
  std::unique_ptr<loop::Timer> path_timer_;
  // Probes leave at most kProbesPerSecond (bursts of kProbeBurst), over all paths.
  static constexpr double kProbesPerSecond = 200, kProbeBurst = 64;
  double probe_tokens_ = kProbeBurst;
  Timestamp probe_refill_ = 0;
  bool socket_full_ = false;
  Bytes send_buffer_;
  Bytes wrap_buffer_; // relayed batches with their headers
  EndpointStats stats_;
  std::unordered_map<std::string, size_t> handshakes_by_ip_; // IPv4 address / IPv6 /64 -> in progress
  size_t freed_since_trim_ = 0;
  Timestamp last_trim_ = 0;
  std::unique_ptr<loop::Timer> trim_timer_;
  // Stateless resets: a small token bucket so they cannot be used to flood.
  double reset_tokens_ = 10;
  Timestamp reset_refill_ = 0;
};

} // namespace conec::net
