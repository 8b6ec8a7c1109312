#pragma once
// Client: a named participant. It keeps a channel to the coordinator (hello,
// keepalive), asks the coordinator for channels to peers, accepts channels
// the coordinator sends it, and runs each peer channel as its own
// end-to-end QUIC connection over the same UDP socket (ARCHITECTURE D1, D2),
// relayed through the coordinator (D3) or direct (D4, D5). With
// ClientOptions::reconnect it keeps its registration across a lost or
// restarted coordinator, and its relayed channels resume.
//
// Threading: single-threaded on the caller's loop. Ownership: the caller
// owns the Client; the Client owns its channels. A peer channel reference
// is valid until its on_peer_closed() returns.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "channel/channel.hpp"
#include "client/peer_trust.hpp"
#include "loop/loop.hpp"
#include "net/endpoint.hpp"
#include "tls/identity.hpp"

namespace conec::client {

struct ClientOptions {
  SockAddr coordinator;                 // where the coordinator listens
  std::string coordinator_name;         // SNI / name its certificate must carry (may be empty with a pin)
  tls::PeerVerification verify_coordinator; // system trust, CA file, or pin
  std::string id;                       // our id
  tls::Identity identity;               // our certificate (valid for `id`)
  SockAddr bind;                        // local address (default: any, port 0, same family as coordinator)
  quic::Config quic;                    // defaults tuned below in create()
  size_t max_message = proto::kDefaultMaxMessage;
  Duration request_timeout = 15 * kSecond; // a channel request with no answer fails
  PeerTrustOptions peer_trust;          // how we check peers ourselves (pins, CA, known peers)
  net::PathPolicy path_policy = net::PathPolicy::automatic; // relay / direct paths for peer channels
  // Once registered, a lost coordinator connection (gone, unreachable,
  // restarted, or shut down; not a refusal or a failed TLS check) is made
  // again from the same socket after reconnect_delay, doubling per failed
  // attempt up to reconnect_max_delay (each +-25 %). Registered again, the
  // Client re-presents the relays of its live peer channels
  // (proto::RelayResume), so relayed channels resume where they stalled;
  // direct ones never notice. Peer channels are not cut meanwhile: a relay
  // that does not come back ends its channel by the channel's own liveness
  // (quic::Config::unresponsive_timeout, idle_timeout) or a ChannelClosed.
  bool reconnect = false;
  Duration reconnect_delay = 250 * kMillisecond;
  Duration reconnect_max_delay = 30 * kSecond;
};

class Client;

// What a Client tells the application. Defaults: accept every channel.
class ClientHandler {
public:
  virtual ~ClientHandler() = default;
  // The coordinator accepted our hello.
  virtual void on_registered(Client &) {}
  // The coordinator connection is over for good (refused, lost, closed;
  // with ClientOptions::reconnect: refused, untrusted, or lost before the
  // first registration). `error` category: tls (untrusted), peer (refused:
  // proto::RefuseCode in error.code), timeout, transport, ...
  virtual void on_disconnected(Client &, const Error &) {}
  // ClientOptions::reconnect: the coordinator connection was lost after
  // registration and the Client is reconnecting; on_registered follows
  // once it is registered again. Peer channels stay open.
  virtual void on_coordinator_lost(Client &, const Error &) {}
  // The coordinator offers a channel from `peer`: accept it?
  virtual bool on_channel_offer(Client &, const std::string & /*peer*/) { return true; }
  // A peer channel we accepted is open (channels we asked for are handed
  // to the open_channel callback instead).
  virtual void on_peer_channel(Client &, channel::Channel &) {}
  // The peer opened a data stream on a channel; set a handler on it.
  virtual void on_peer_stream(Client &, channel::Channel &, channel::Stream &) {}
  // A peer channel ended (the channel is destroyed after this returns).
  virtual void on_peer_closed(Client &, channel::Channel &, const Error &) {}
  // The coordinator opened a data stream to us.
  virtual void on_coordinator_stream(Client &, channel::Stream &) {}
};

// Error codes (Error::code with category peer) for failed channel requests
// and refusals are proto::RefuseCode values.

struct PeerLink;

class Client {
public:
  ~Client();
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;

  // Binds the socket and starts connecting; on_registered or
  // on_disconnected follows. Errors: io (bind), usage (credentials).
  static Result<std::unique_ptr<Client>> create(loop::Loop &loop, ClientOptions options, ClientHandler &handler);

  // Asks the coordinator for a channel to `peer`. `done` gets the open
  // channel, or an Error (category peer, code = proto::RefuseCode) when the
  // peer is unknown, refuses, or a limit is hit. Channels stay open until
  // closed by either side.
  using OpenCallback = std::function<void(Result<channel::Channel *>)>;
  void open_channel(const std::string &peer, OpenCallback done);

  bool registered() const { return registered_; }
  // Registrations after the first (ClientOptions::reconnect).
  unsigned reregistrations() const { return reregistrations_; }
  const std::string &id() const { return options_.id; }
  // Our address as the coordinator sees it (after registration).
  const SockAddr &observed_address() const { return observed_; }
  channel::Channel *coordinator_channel() { return coordinator_.get(); }
  loop::Loop &loop() { return loop_; }
  const SockAddr &local_address() const { return endpoint_->local_address(); }
  size_t peer_channel_count() const { return links_.size(); }
  // Whether a peer channel's data goes direct now (it needs no coordinator).
  bool has_direct_channel() const;
  const net::EndpointStats &endpoint_stats() const { return endpoint_->stats(); }
  // Closes every channel and the coordinator connection.
  void close();
  // From now on nothing reaches the application: no handler event, no
  // open_channel callback, no stream handler on any channel. For a Client
  // its owner destroyed from inside a callback its code is still running
  // (api/ frees it later with loop::destroy_later).
  void silence();
  // After close(): every close packet is on the wire (net::Endpoint::closes_sent).
  bool closes_sent() const { return endpoint_->closes_sent(); }

private:
  friend struct PeerLink;
  class CoordinatorLink;
  Client(loop::Loop &loop, ClientOptions options, ClientHandler &handler);

  // coordinator conversation (client.cpp)
  void on_control(proto::ControlMessage message);
  void disconnected(const Error &error);
  bool worth_reconnecting(const Error &reason) const;
  quic::Config coordinator_config() const;
  Result<void> open_coordinator_link();
  void schedule_reconnect(bool at_once = false);
  void connect_coordinator();
  void fail_request(uint64_t request_id, Error error);
  // peer channels (peers.cpp)
  void introduced(const proto::Introduction &intro);
  void joined(const proto::ChannelJoined &joined);
  void channel_closed(const proto::ChannelClosed &closed);
  void relay_lost(PeerLink &link, const std::string &why); // the coordinator no longer relays for it
  void resume_relays();
  void relay_resumed(const proto::RelayResumed &resumed);
  void link_open(PeerLink &link);
  bool await_direct(PeerLink &link); // true: not direct yet, link_open resumes later
  std::vector<uint64_t> requests_for(const PeerLink &link) const;
  void hand_over(PeerLink &link);
  void link_closed(PeerLink &link, const Error &error);
  net::PeerPathOptions path_options(const proto::Introduction &intro) const;
  std::shared_ptr<tls::Credentials> peer_credentials(const Bytes &peer_certificate, std::optional<Error> &error);
  void reap();

  struct PendingRequest {
    std::string peer;
    OpenCallback done;
    std::unique_ptr<loop::Timer> timeout;
    uint64_t channel_id = 0; // set by ChannelJoined
  };

  loop::Loop &loop_;
  ClientOptions options_;
  ClientHandler *handler_; // never null (silence() points it at a no-op one)
  std::unique_ptr<net::Endpoint> endpoint_;
  std::unique_ptr<CoordinatorLink> link_handler_;
  std::unique_ptr<channel::Channel> coordinator_;
  std::shared_ptr<tls::Credentials> coordinator_credentials_;
  bool registered_ = false;
  bool disconnected_ = false;
  bool ever_registered_ = false;
  bool closing_ = false; // close() was called: no reconnecting
  unsigned reregistrations_ = 0;
  unsigned reconnect_failures_ = 0; // attempts since the last registration
  std::unique_ptr<loop::Timer> reconnect_timer_;
  SockAddr observed_;
  uint64_t next_request_ = 1;
  std::map<uint64_t, PendingRequest> requests_;
  // By (channel id, we are the initiator): a channel to oneself has both ends here.
  std::map<std::pair<uint64_t, bool>, std::unique_ptr<PeerLink>> links_;
  std::vector<std::unique_ptr<PeerLink>> dead_links_;
  std::unique_ptr<loop::Deferred> reaper_;
  PeerTrust trust_;
};

} // namespace conec::client
