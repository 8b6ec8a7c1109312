#pragma once
// Coordinator: accepts clients over QUIC (TLS 1.3 with client certificates),
// registers them under unique ids, introduces them to each other and relays
// their end-to-end encrypted peer connections (SPEC §2, §3; ARCHITECTURE D3).
//
// Threading: single-threaded on the caller's loop. Ownership: the caller owns
// the Coordinator; it owns every client connection and allocation.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "conec/coordinator.hpp"
#include "coord/bindings.hpp"
#include "loop/loop.hpp"
#include "net/endpoint.hpp"
#include "proto/group.hpp"
#include "tls/identity.hpp"

namespace conec::coord {

// Limits, ClientInfo, ChannelInfo, GroupInfo and CoordinatorStats are
// public (conec/coordinator.hpp).
using Limits = conec::CoordinatorLimits;
using conec::AuthDecision;
using conec::AuthRequest;
using conec::ChannelInfo;
using conec::ClientInfo;
using conec::CoordinatorStats;
using conec::GroupInfo;

struct CoordinatorOptions {
  SockAddr listen;
  tls::Identity identity;
  // Client authentication: empty = any certificate valid for the claimed id
  // (self-signed is fine); else only certificates signed by this CA (PEM)
  // and valid for the id.
  std::string client_ca_pem;
  Limits limits;
  quic::Config quic; // idle timeout, keepalive, windows
  // Retry and caps on handshakes in progress (net::AdmissionOptions).
  net::AdmissionOptions admission;
  // Ids bound to client keys on first use (coord/bindings.hpp): with a path,
  // a known id is refused (RefuseCode::id_bound) for any other key. Ignored
  // with client_ca_pem: there the CA binds ids to certificates.
  BindingOptions bindings;
  // Called before a client that passed the certificate checks registers;
  // a reason refuses it (RefuseCode::not_authorized).
  std::function<AuthDecision(const AuthRequest &)> authorize;
  // Tests only: rewrites each Introduction before it is sent, to play a
  // coordinator that lies about peers (clients must catch it themselves,
  // client/peer_trust.hpp). Never set by the conec binary.
  std::function<void(proto::Introduction &)> tamper_introduction;
  // Tests only: the id a channel request for `peer` is sent to instead.
  std::function<std::string(const std::string &peer)> tamper_route;
};

// Events for programs that embed a coordinator. Defaults ignore them.
class CoordinatorHandler {
public:
  virtual ~CoordinatorHandler() = default;
  virtual void on_client_registered(const ClientInfo &, channel::Channel &) {}
  virtual void on_client_left(const std::string & /*id*/, const Error &) {}
  // A client opened a data stream to the coordinator; set a handler on it
  // before returning or it is refused at once (STOP_SENDING, plus
  // RESET_STREAM on a bidirectional one, with channel::kErrorCancelled), so
  // nothing is buffered for nobody.
  virtual void on_stream(const std::string & /*id*/, channel::Stream &) {}
  // Every datagram the relay forwards, exactly as forwarded (monitoring and
  // tests: it is ciphertext the coordinator holds no key for).
  virtual void on_relayed(ByteView /*datagram*/) {}
};

class ClientConn;
class GroupHost;
struct Allocation;

class Coordinator {
public:
  ~Coordinator();
  Coordinator(const Coordinator &) = delete;
  Coordinator &operator=(const Coordinator &) = delete;

  // Binds and starts serving. Errors: io (bind), usage (certificates).
  static Result<std::unique_ptr<Coordinator>> create(loop::Loop &loop, CoordinatorOptions options,
                                                     CoordinatorHandler *handler = nullptr);

  const SockAddr &local_address() const { return endpoint_->local_address(); }
  std::vector<ClientInfo> clients() const;
  std::vector<ChannelInfo> channels() const;
  // The groups hosted now, with their members in joining order.
  std::vector<GroupInfo> groups() const;
  // The coordinator's channel to a registered client (open data streams on
  // it), or null.
  channel::Channel *client_channel(const std::string &id);
  // Closes every connection gracefully ("coordinator shutting down").
  void shutdown();
  // From now on no event reaches the handler and the authorize callback is
  // never called again (clients are refused instead). For a Coordinator its
  // owner destroyed from inside a callback (api/ frees it later with
  // loop::destroy_later).
  void silence() {
    handler_ = &default_handler_;
    silenced_ = true;
  }
  // Connections still open (registered or not), incl. those closing.
  size_t connection_count() const { return endpoint_->connection_count(); }
  const CoordinatorStats &stats() const { return stats_; }
  const net::EndpointStats &endpoint_stats() const { return endpoint_->stats(); }
  // The id bindings in force, or null (none configured, or CA mode).
  const IdBindings *bindings() const { return bindings_.get(); }
  // Handles `d` as if the socket had just read it (fuzzing: fuzz/fuzz_relay.cpp).
  void receive_for_testing(const net::Datagram &d) { endpoint_->receive_for_testing(d); }

private:
  friend class ClientConn;
  Coordinator(loop::Loop &loop, CoordinatorOptions options, CoordinatorHandler *handler);

  // Directory and lifecycle (coordinator.cpp)
  void accept(std::unique_ptr<net::Session> session);
  void registered(ClientConn &client);
  void departed(ClientConn &client, const Error &error);
  void reap();
  // Id bindings (coordinator_bindings.cpp)
  Result<void> open_bindings();
  std::optional<proto::Refused> binding_refusal(ClientConn &client, const std::string &id);
  void bind(ClientConn &client);
  void save_bindings_soon();
  void save_bindings();
  void bindings_tick();
  // Introductions (introductions.cpp)
  void request_channel(ClientConn &from, const proto::ChannelRequest &request);
  void introduction_reply(ClientConn &from, const proto::IntroductionReply &reply);
  proto::Introduction tampered(proto::Introduction intro) const; // options_.tamper_introduction
  void introduction_timed_out(uint64_t channel_id);
  void drop_allocation(Allocation &a, const std::string &reason, proto::RefuseCode code);
  // Relays that outlive a connection (resume.cpp)
  void keep_for_return(Allocation &a, ClientConn &client);
  void start_grace(Allocation &a);
  void resume_relays(ClientConn &from, const proto::RelayResume &resume);
  void resume_relay(ClientConn &from, const proto::ResumedRelay &relay);
  void relay_restored(Allocation &a);
  size_t channel_count(const ClientConn &c) const;
  size_t pending_count(const ClientConn &c) const;
  // Relay (relay.cpp)
  void relay(const net::Datagram &d);
  void flush_relay();
  void announce_move(ClientConn &client, const SockAddr &to);

  loop::Loop &loop_;
  CoordinatorOptions options_;
  CoordinatorHandler default_handler_;
  CoordinatorHandler *handler_;
  bool silenced_ = false; // silence(): authorize is not called
  std::unique_ptr<net::Endpoint> endpoint_;
  std::map<ClientConn *, std::unique_ptr<ClientConn>> conns_;
  std::vector<ClientConn *> dead_;
  std::unique_ptr<loop::Deferred> reaper_;
  std::map<std::string, ClientConn *> directory_; // canonical id -> registered client
  std::map<uint64_t, std::unique_ptr<Allocation>> allocations_;
  ByteKeyMap<Allocation *> by_token_;
  // Relayed datagrams for one destination, sent as one GSO batch at the end
  // of the loop iteration (or when the next datagram cannot join it).
  struct RelayBatch {
    SockAddr to;
    size_t segment = 0;
    size_t count = 0;
    bool closed = false; // a shorter datagram ended it
    Bytes data;
  } relay_batch_;
  std::unique_ptr<loop::Deferred> relay_flusher_;
  std::unique_ptr<GroupHost> groups_; // before conns_ in destruction (members detach first)
  std::unique_ptr<IdBindings> bindings_;
  std::unique_ptr<loop::Timer> bindings_tick_, bindings_save_;
  Timestamp bindings_saved_ = 0; // monotonic, of the last save
  uint64_t next_channel_id_ = 1; // from a random start (see the constructor)
  size_t pending_ = 0;
  CoordinatorStats stats_;
};

} // namespace conec::coord
