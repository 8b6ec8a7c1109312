#pragma once
/// @file
/// @brief Client: a named participant that reaches its peers through a
/// coordinator.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "conec/channel.hpp"
#include "conec/error.hpp"
#include "conec/identity.hpp"
#include "conec/loop.hpp"
#include "conec/time.hpp"

namespace conec {

class Client;

/// How to reach and trust the coordinator, who we are, and how we check peers.
struct CONEC_API ClientOptions {
  /// The coordinator's address, "host[:port]" (default port 1719).
  std::string coordinator;
  /// The name its certificate must be valid for (empty: the host part of
  /// `coordinator`; not checked with a pin).
  std::string coordinator_name;
  /// How its certificate is checked.
  CoordinatorTrust trust;
  /// Our id: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit.
  std::string id;
  /// Our certificate, valid for `id` (empty: a new self-signed one, which a
  /// coordinator that binds ids to keys remembers only for this process).
  Identity identity;
  /// Largest message we send or accept on a data stream.
  size_t max_message = size_t{16} << 20;
  /// A channel request with no answer fails after this long.
  Duration request_timeout = 15 * kSecond;
  /// Once registered, a lost coordinator connection is made again (after
  /// reconnect_delay, doubling to reconnect_max_delay, each +-25 %); relayed
  /// channels resume, direct ones never notice. Without it the first loss
  /// ends the Client (on_disconnected).
  bool reconnect = true;
  Duration reconnect_delay = 250 * kMillisecond; ///< first reconnection delay
  Duration reconnect_max_delay = 30 * kSecond;   ///< longest reconnection delay
  /// Seconds of silence after which a connection is given up (keepalives go
  /// every third of it).
  Duration idle_timeout = 15 * kSecond;
  /// Peer checks of our own (the coordinator hands us peers' certificates):
  /// peer id -> "sha256:<hex>" of its certificate or public key.
  std::map<std::string, std::string> peer_pins;
  /// CA mode: peers' certificates must chain to a CA in here and carry their id.
  std::string peer_ca_pem;
  /// Where first-use records of peers' keys are kept (empty: none; a peer's
  /// key is then trusted as the coordinator presents it).
  std::string known_peers_path;
  /// Where peer channels may go.
  PathPolicy paths = PathPolicy::automatic;
};

/// What a Client tells the application; every callback has a default.
/// Callbacks run on the loop; any of them may destroy the Client (nothing
/// more is reported then).
class CONEC_API ClientHandler {
public:
  virtual ~ClientHandler() = default;
  /// The coordinator accepted us (again, after a reconnection).
  virtual void on_registered(Client &) {}
  /// The Client is over for good: refused (category peer, code a
  /// RefuseCode), untrusted coordinator (tls), lost without reconnect, or
  /// unreachable before the first registration (timeout, transport).
  virtual void on_disconnected(Client &, const Error &) {}
  /// The coordinator connection was lost and the Client reconnects (reconnect
  /// option); channels stay open.
  virtual void on_coordinator_lost(Client &, const Error &) {}
  /// `peer` asks for a channel to us: accept it?
  virtual bool on_channel_offer(Client &, const std::string & /*peer*/) { return true; }
  /// A channel a peer asked for is open (ours come to open_channel's callback).
  virtual void on_channel(Client &, Channel &) {}
  /// The peer opened a data stream: set its handler now, or its messages are dropped.
  virtual void on_stream(Client &, Channel &, Stream &) {}
  /// A channel ended (every stream got on_closed first); it is destroyed
  /// after this returns.
  virtual void on_channel_closed(Client &, Channel &, const Error &) {}
};

/// A registered participant: keeps a channel to the coordinator, asks it for
/// channels to peers and accepts the ones peers ask for. Every peer channel
/// is its own end-to-end encrypted QUIC connection on the Client's one UDP
/// socket. The application owns the Client; the Client owns its channels.
/// Destroy it before its Loop. It may be destroyed anywhere on the loop's
/// thread, callbacks included (its handler's, a stream handler's, an
/// open_channel callback): from then on nothing more is reported, and what
/// it holds is freed once the library code under that callback has returned
/// (at the end of the loop iteration, or in Loop::close()).
class CONEC_API Client {
public:
  /// Binds a socket and starts registering; on_registered or on_disconnected
  /// follows. Errors: usage (options: bad id, address, pin or certificate),
  /// io (bind). `handler` must outlive the Client.
  static Result<std::unique_ptr<Client>> create(Loop &loop, ClientOptions options, ClientHandler &handler);
  /// Closes every channel and the coordinator connection at once, silently
  /// (peers notice by their timeouts: close() first to tell them).
  virtual ~Client() = default;

  /// What open_channel reports: the open channel, or why not.
  using OpenCallback = std::function<void(Result<Channel *>)>;
  /// Asks the coordinator for a channel to `peer`. `done` gets the open
  /// channel (valid until on_channel_closed), or an Error, always from the
  /// loop (never inside this call): transport (not registered), category peer with
  /// a RefuseCode (unknown peer, refused, limit), kPeerNotTrusted (its
  /// certificate fails our checks), timeout.
  virtual void open_channel(const std::string &peer, OpenCallback done) = 0;
  /// Whether the coordinator has accepted us (now).
  virtual bool registered() const = 0;
  /// Our id.
  virtual const std::string &id() const = 0;
  /// Our address as the coordinator sees it, "ip:port" (empty before registration).
  virtual std::string observed_address() const = 0;
  /// The local UDP port.
  virtual uint16_t local_port() const = 0;
  /// Peer channels open or opening.
  virtual size_t channel_count() const = 0;
  /// Closes every channel and the coordinator connection gracefully; the
  /// close packets go out from the loop: run it until closes_sent() before
  /// destroying the Client, or the peers notice only by their timeouts.
  virtual void close() = 0;
  /// After close(): whether every close packet is on the wire.
  virtual bool closes_sent() const = 0;

protected:
  Client() = default;
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
};

} // namespace conec
