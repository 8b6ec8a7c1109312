#pragma once
// ClientConn and Allocation: the coordinator's per-client and per-channel
// state (internal to coord/).

#include <array>
#include <memory>
#include <set>
#include <string>

#include "coord/coordinator.hpp"

namespace conec::coord {

// One client connection: awaiting its Hello, then registered under an id.
class ClientConn final : public channel::ChannelHandler {
public:
  // `over_capacity`: the coordinator has max_clients connections already;
  // this one is refused (RefuseCode::limit) as soon as its handshake ends.
  ClientConn(Coordinator &coordinator, std::unique_ptr<net::Session> session, bool over_capacity);

  void on_open(channel::Channel &) override;
  void on_stream(channel::Channel &, channel::Stream &stream) override;
  void on_control(channel::Channel &, proto::ControlMessage message) override;
  void on_closed(channel::Channel &, const Error &error) override;

  // Sends a control message; failures mean the connection is going away.
  void send(const proto::ControlMessage &message);
  // Refuses the client: Refused message, then close with the code.
  void refuse(proto::RefuseCode code, const std::string &reason);
  // Closes for a protocol violation (malformed or out-of-sequence input).
  void protocol_violation(const std::string &why);

  bool is_registered() const { return registered_; }
  const std::string &id() const { return id_; }
  const std::string &key() const { return key_; } // canonical id
  const Bytes &certificate() const { return certificate_; }
  // Where the client says peers on its own network reach it (its Hello).
  const std::vector<SockAddr> &local_addresses() const { return local_; }
  SockAddr address() const { return channel_->session().remote_address(); }
  // Where relayed datagrams for this client go and may come from: the
  // address its coordinator connection last validated (never one taken
  // from an unauthenticated packet).
  SockAddr relay_address() const { return channel_->session().validated_address(); }
  channel::Channel &channel() { return *channel_; }
  bool gone() const { return gone_; }
  // We closed it (protocol violation, a bound exceeded): its channels end
  // with it rather than wait for it to come back.
  bool closed_by_us() const { return closed_by_us_; }

  std::set<uint64_t> allocations; // channel ids this client takes part in
  SockAddr announced;             // the address its peers were last told (Welcome, Introduction, PeerMoved)
  std::string key_fingerprint;    // of its public key, once bindings checked it
  // Relay budget across all its channels (token bucket) and when the log
  // last said it was exceeded.
  double relay_tokens = 0;
  Timestamp relay_refilled = 0;
  Timestamp relay_warned = 0;

private:
  void hello(const proto::Hello &hello);
  Result<void> authorize(const std::string &id) const;
  // CoordinatorOptions::authorize's refusal of `id`, if it refuses.
  std::optional<std::string> application_refusal(const std::string &id) const;

  Coordinator &coord_;
  std::unique_ptr<channel::Channel> channel_;
  std::unique_ptr<loop::Timer> hello_timer_;
  bool registered_ = false;
  bool gone_ = false;
  bool over_limit_ = false; // closed for exceeding a per-client bound
  bool over_capacity_ = false;
  bool closed_by_us_ = false;
  std::string id_, key_;
  Bytes certificate_;
  std::vector<SockAddr> local_;
};

// A relay allocation for one client-to-client channel (ARCHITECTURE D3).
struct Allocation {
  uint64_t channel_id = 0;
  Bytes token;                   // 16 random bytes, the only way to use it
  // The two ends: null while that client is away (lost its connection, or
  // has not re-presented the token since a restart); relaying needs both.
  ClientConn *initiator = nullptr;
  ClientConn *acceptor = nullptr;
  // Who the ends are (the ids they registered with); only they may take
  // their end back.
  std::string initiator_id, acceptor_id;
  uint64_t request_id = 0;       // the initiator's request
  // Requests by the acceptor for the initiator that this channel answers
  // (simultaneous A->B and B->A).
  std::vector<uint64_t> joined_requests;
  bool active = false;           // the acceptor accepted; relaying allowed
  std::unique_ptr<loop::Timer> timeout; // the introduction's answer
  std::unique_ptr<loop::Timer> grace;   // an end is away: how long it may take to return
  // Token bucket for the relay budget.
  double tokens = 0;
  Timestamp refilled = 0;
  // What the relay forwarded for this channel (a direct channel stays near
  // zero), logged when it ends.
  uint64_t relayed_datagrams = 0, relayed_bytes = 0;
};

} // namespace conec::coord
