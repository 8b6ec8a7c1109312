#pragma once
/// @file
/// @brief Coordinator: registers clients under unique ids, introduces them to
/// each other, relays their end-to-end encrypted channels and hosts groups.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conec/address.hpp"
#include "conec/bytes.hpp"
#include "conec/error.hpp"
#include "conec/group.hpp"
#include "conec/identity.hpp"
#include "conec/loop.hpp"
#include "conec/time.hpp"

namespace conec {

/// Configurable limits (SPEC §7); hitting one gives the party that hit it a
/// specific error and disturbs nobody else. Every per-client resource is
/// charged to the client that asked for it.
struct CONEC_API CoordinatorLimits {
  /// Connections at once, registered or not: a connection beyond it is
  /// closed with RefuseCode::limit before it can register.
  size_t max_clients = 10'000;
  /// A connection that has not registered (sent a valid Hello) this long
  /// after its first packet is closed (the handshake counts too).
  Duration hello_timeout = 5 * kSecond;
  /// Channels per client: open ones in either role plus the introductions it
  /// asked for. Introductions offered to it do not count until it accepts, so
  /// nobody can fill another client's quota.
  size_t max_channels_per_client = 256;
  size_t max_pending_per_client = 16;          ///< introductions one client may have waiting
  size_t max_pending_introductions = 65'536;   ///< coordinator-wide
  Duration introduction_timeout = 10 * kSecond; ///< an unanswered introduction fails after this
  size_t max_message = size_t{16} << 20; ///< data streams on client channels
  /// Partial messages one client may have buffered across its streams to the
  /// coordinator.
  size_t max_buffered = 32 << 20;
  /// Control replies queued to one client and not yet acknowledged (a client
  /// that withholds credit on its control stream is closed past this).
  size_t max_control_backlog = 1 << 20;
  /// Relay budgets (token buckets): per allocation and per sending client
  /// across all its channels. Datagrams over budget are dropped (QUIC backs
  /// off); a client over its budget is named in the log.
  uint64_t relay_bytes_per_second = uint64_t{1} << 30;        ///< per allocation (channel)
  uint64_t relay_burst_bytes = 8 << 20;                       ///< bucket depth of both budgets
  uint64_t relay_client_bytes_per_second = uint64_t{1} << 30; ///< per sending client
  /// A relayed channel whose client lost its connection (without closing
  /// it) is kept this long for the client to come back and re-present the
  /// relay token (proto::RelayResume); after a coordinator restart, the
  /// first end's claim waits this long for the other's. 0: a channel ends
  /// with either client's connection.
  Duration resume_grace = 10 * kSecond;
  /// Groups (coord/groups.hpp): groups at once, members per group, groups
  /// one client may be in, the largest post, and what each member's queue
  /// holds beyond its stream's flow control before the group's policy acts
  /// (drop-oldest drops, lossless pauses the senders). A member that takes
  /// nothing for group_member_deadline while messages wait is removed.
  size_t max_groups = 10'000;                    ///< groups at once
  size_t max_group_members = 1'000;              ///< members of one group
  size_t max_groups_per_client = 64;             ///< memberships of one client
  size_t group_max_message = 1 << 20;            ///< the largest post, in bytes
  size_t group_queue_bytes = 8 << 20;            ///< one member's queue, in bytes
  size_t group_queue_messages = 65'536;          ///< one member's queue, in messages
  Duration group_member_deadline = 10 * kSecond; ///< a member stuck this long is removed
};

/// A client asking to register, as the authorization callback sees it. The
/// TLS handshake proved it holds the key of `certificate`, and the
/// certificate is valid for `id` (and signed by the client CA, if one is set).
struct CONEC_API AuthRequest {
  std::string id;              ///< the id it asks for, as spelled
  std::string fingerprint;     ///< "sha256:<hex>" of its certificate
  std::string key_fingerprint; ///< "sha256:<hex>" of its public key
  SockAddr address;            ///< where it connects from
  Bytes certificate;           ///< its certificate, DER
};

/// What an authorization callback answers: nullopt to let the client in, or
/// the reason it is refused (sent to the client: RefuseCode::not_authorized).
using AuthDecision = std::optional<std::string>;

/// How a Coordinator serves.
struct CONEC_API CoordinatorOptions {
  /// Where to listen, "host[:port]" (default port 1719).
  std::string listen = "[::]:1719";
  /// Our certificate and key (Identity::generate_coordinator makes one).
  Identity identity;
  /// Empty: any certificate valid for the claimed id is accepted (self-signed
  /// is fine); else only certificates signed by a CA in here (PEM).
  std::string client_ca_pem;
  /// Without a client CA: where ids are bound to the first key that
  /// registered them (later clients with another key are refused
  /// RefuseCode::id_bound). Empty: ids are first come, first served.
  std::string bindings_path;
  /// Limits (SPEC §7).
  CoordinatorLimits limits;
  /// Seconds of silence after which a client connection is given up.
  Duration idle_timeout = 30 * kSecond;
  /// Called for each client that passed the certificate checks, before it
  /// is registered; may refuse it. Runs on the loop (must not block). An
  /// exception thrown here closes that client's connection.
  std::function<AuthDecision(const AuthRequest &)> authorize;
};

/// A registered client as the directory shows it.
struct CONEC_API ClientInfo {
  std::string id;           ///< its registered id
  SockAddr address;         ///< as observed (server-reflexive)
  std::string fingerprint;  ///< of its certificate
  size_t channels = 0;      ///< channels it is an end of
};

/// One channel the coordinator introduced and still relays for.
struct CONEC_API ChannelInfo {
  uint64_t id = 0;               ///< the coordinator's channel number
  std::string initiator;         ///< the id that asked for it
  std::string acceptor;          ///< the id it was offered to
  bool active = false;           ///< the acceptor accepted
  uint64_t relayed_datagrams = 0; ///< forwarded for it so far
  uint64_t relayed_bytes = 0;    ///< forwarded for it so far
};

/// One group as Coordinator::groups() shows it.
struct CONEC_API GroupInfo {
  std::string name;                            ///< as its creator spelled it
  GroupPolicy policy = GroupPolicy::drop_oldest; ///< the creator's choice
  std::vector<std::string> members;            ///< ids, in joining order
};

/// Counters for tests, logs and benchmarks.
struct CONEC_API CoordinatorStats {
  uint64_t clients_registered = 0;    ///< Hellos accepted
  uint64_t clients_refused = 0;       ///< Hellos refused (any RefuseCode)
  uint64_t introductions = 0;         ///< channels asked for
  uint64_t protocol_errors = 0;       ///< connections closed for malformed input
  uint64_t relayed_datagrams = 0;     ///< datagrams forwarded between channel ends
  uint64_t relayed_bytes = 0;         ///< bytes of those
  uint64_t relay_dropped_token = 0;   ///< unknown or dead allocation
  uint64_t relay_dropped_address = 0; ///< not from either side's authenticated address
  uint64_t relay_dropped_rate = 0;    ///< over the allocation's or the sender's budget
  uint64_t relay_dropped_away = 0;    ///< one end has not come back yet (resume_grace)
  uint64_t relays_resumed = 0;        ///< channels whose ends are both back (RelayResume)
  uint64_t peer_moves = 0;            ///< clients seen relaying from a new address (PeerMoved sent)
  uint64_t closed_no_hello = 0;       ///< connections that did not register in time
  uint64_t closed_over_limit = 0;     ///< connections beyond max_clients, or over a per-client bound
  uint64_t streams_refused = 0;       ///< data streams no handler took (reset)
  uint64_t groups_created = 0;        ///< groups that came into being
  uint64_t group_posts = 0;           ///< messages members sent to their groups
  uint64_t group_deliveries = 0;      ///< messages queued for members (one shared frame each post)
  uint64_t group_dropped = 0;         ///< dropped for members that fell behind (drop-oldest)
  uint64_t group_members_removed = 0; ///< stuck past the deadline, over the message limit, or malformed
};

/// Events for programs that embed a coordinator; defaults ignore them.
class CONEC_API CoordinatorHandler {
public:
  virtual ~CoordinatorHandler() = default;
  /// A client registered under its id.
  virtual void on_client_registered(const ClientInfo &) {}
  /// A registered client left (closed, lost, or shut down).
  virtual void on_client_left(const std::string & /*id*/, const Error &) {}
};

/// A coordinator serving on one UDP socket. The application owns it; it owns
/// every client connection. Destroy it before its Loop. It may be destroyed
/// from its callbacks (the handler's, authorize): nothing more is reported or
/// asked then, and its resources are freed at the end of the loop iteration.
class CONEC_API Coordinator {
public:
  /// Binds and starts serving. Errors: usage (options: address, certificate,
  /// CA), io (bind, bindings file). `handler`, if any, must outlive it.
  static Result<std::unique_ptr<Coordinator>> create(Loop &loop, CoordinatorOptions options,
                                                     CoordinatorHandler *handler = nullptr);
  /// Closes every connection at once.
  virtual ~Coordinator() = default;

  /// The address it listens on (the port is known here when 0 was asked for).
  virtual SockAddr local_address() const = 0;
  /// Registered clients.
  virtual std::vector<ClientInfo> clients() const = 0;
  /// Channels it introduced and relays for.
  virtual std::vector<ChannelInfo> channels() const = 0;
  /// Groups hosted now.
  virtual std::vector<GroupInfo> groups() const = 0;
  /// Counters.
  virtual CoordinatorStats stats() const = 0;
  /// Connections open now (registered or not, closing included).
  virtual size_t connection_count() const = 0;
  /// Closes every connection gracefully ("coordinator shutting down"); run
  /// the loop until connection_count() is 0 to let the close packets out.
  virtual void shutdown() = 0;

protected:
  Coordinator() = default;
  Coordinator(const Coordinator &) = delete;
  Coordinator &operator=(const Coordinator &) = delete;
};

} // namespace conec
