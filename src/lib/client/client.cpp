// Client: the coordinator connection — hello, registration, requests and
// the dispatch of what the coordinator says.
#include "client/client.hpp"

#include <algorithm>

#include "client/peer_link.hpp"
#include "net/local_addresses.hpp"
#include "util/log.hpp"

namespace conec::client {

// Receives the coordinator channel's events for the Client.
class Client::CoordinatorLink final : public channel::ChannelHandler {
public:
  explicit CoordinatorLink(Client &c) : client_(c) {}
  // Events of an earlier connection (replaced by a reconnection) are ignored.
  bool current(const channel::Channel &ch) const { return &ch == client_.coordinator_.get(); }
  void on_open(channel::Channel &ch) override {
    if (!current(ch)) return;
    proto::Hello hello{proto::kProtocolVersion, client_.options_.id, {}};
    if (client_.options_.path_policy != net::PathPolicy::relay_only)
      hello.local = net::local_addresses(client_.endpoint_->local_address(), proto::kMaxAddresses);
    if (auto r = ch.send_control(hello); !r)
      ch.close(channel::kErrorProtocol, r.error().message);
  }
  void on_stream(channel::Channel &ch, channel::Stream &stream) override {
    if (!current(ch)) return stream.reset();
    client_.handler_->on_coordinator_stream(client_, stream);
  }
  void on_control(channel::Channel &ch, proto::ControlMessage message) override {
    if (current(ch)) client_.on_control(std::move(message));
  }
  void on_closed(channel::Channel &ch, const Error &error) override {
    if (current(ch)) client_.disconnected(error);
  }
  std::optional<Error> refused; // the coordinator's Refused message, if any

private:
  Client &client_;
};

namespace {
// Sessions need a handler from their first moment; the Channel that wraps
// them right after connect() replaces this one before any event can occur.
quic::ConnectionHandler placeholder_handler;
} // namespace

Client::Client(loop::Loop &loop, ClientOptions options, ClientHandler &handler)
    : loop_(loop), options_(std::move(options)), handler_(&handler), trust_(options_.peer_trust) {}

Client::~Client() {
  reconnect_timer_.reset();
  links_.clear();
  dead_links_.clear();
  coordinator_.reset();
  endpoint_.reset();
}

Result<std::unique_ptr<Client>> Client::create(loop::Loop &loop, ClientOptions options, ClientHandler &handler) {
  if (!proto::valid_id(options.id))
    return fail(ErrorCategory::usage, "client",
                "invalid id '" + options.id + "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  // Keeps NAT bindings alive and lets both ends notice a dead one within
  // one idle timeout (a live peer is heard from at least twice in it).
  if (options.quic.keepalive == 0) options.quic.keepalive = options.quic.idle_timeout / 3;
  if (options.bind.empty()) options.bind = SockAddr::any(options.coordinator.family(), 0);
  // Whatever trust the caller chose, the coordinator must hold a server
  // certificate: a client certificate (of an id like "127.0.0.77", say)
  // from the same CA must not pass for it.
  tls::PeerVerification verify = options.verify_coordinator;
  verify.purpose = tls::Purpose::server;
  auto credentials = tls::Credentials::create(options.identity, verify);
  if (!credentials) return fail(credentials.error());

  std::unique_ptr<Client> c(new Client(loop, std::move(options), handler));
  net::EndpointOptions eo;
  eo.bind = c->options_.bind;
  eo.quic = c->options_.quic;
  auto endpoint = net::Endpoint::create(loop, eo);
  if (!endpoint) return fail(endpoint.error());
  c->endpoint_ = std::move(*endpoint);
  Client *self = c.get();
  c->reaper_ = std::make_unique<loop::Deferred>(loop, [self] { self->reap(); });
  c->reconnect_timer_ = std::make_unique<loop::Timer>(loop, [self] { self->connect_coordinator(); });
  c->link_handler_ = std::make_unique<CoordinatorLink>(*c);
  c->coordinator_credentials_ = *credentials;
  if (auto r = c->open_coordinator_link(); !r) return fail(r.error());
  return c;
}

// A coordinator connection from our socket; its events go to link_handler_.
Result<void> Client::open_coordinator_link() {
  auto link_config = coordinator_config();
  auto session = endpoint_->connect(options_.coordinator, coordinator_credentials_, options_.coordinator_name,
                                    placeholder_handler, &link_config);
  if (!session) return fail(session.error());
  channel::ChannelOptions co;
  co.max_message = options_.max_message;
  link_handler_->refused.reset();
  disconnected_ = false;
  coordinator_ = std::make_unique<channel::Channel>(std::move(*session), "coordinator", *link_handler_, co);
  return {};
}

// The coordinator link is given up only by its idle timeout, not for a few
// seconds without answers: those may be an outage of our own network, which
// the peer channels survive too (net::Endpoint::hold_if_cut_off), and a
// restarted coordinator says at once that it lost the connection (stateless
// reset).
quic::Config Client::coordinator_config() const {
  quic::Config config = options_.quic;
  config.unresponsive_timeout = 0;
  return config;
}

// A new coordinator connection from the same socket (ClientOptions::reconnect).
void Client::connect_coordinator() {
  if (closing_) return;
  CONEC_INFO("client: connecting to the coordinator {} again as '{}' (attempt {})", options_.coordinator.to_string(),
             options_.id, reconnect_failures_);
  // Replaces the old channel: not inside its callbacks (this runs from a timer).
  if (auto r = open_coordinator_link(); !r) {
    CONEC_INFO("client: cannot connect to the coordinator: {}", r.error().message);
    schedule_reconnect();
  }
}

void Client::schedule_reconnect(bool at_once) {
  // Doubling from reconnect_delay, capped, each +-25 % so that a restarted
  // coordinator does not get every client back at the same instant.
  unsigned doublings = std::min(reconnect_failures_, 16u);
  double delay = std::min(double(options_.reconnect_delay) * double(1u << doublings),
                          double(options_.reconnect_max_delay));
  uint8_t r[2];
  random_bytes(r);
  delay *= 0.75 + 0.5 * double(r[0] << 8 | r[1]) / 65535.0;
  if (at_once) delay = 0;
  ++reconnect_failures_;
  CONEC_INFO("client: reconnecting to the coordinator in {:.2f} s", delay / double(kSecond));
  reconnect_timer_->start(std::max<uint64_t>(1, static_cast<uint64_t>(delay / double(kMillisecond))));
}

// Lost, not turned away: a refusal stands, except "id in use" (the
// coordinator may still hold our previous connection), and so does a
// coordinator that failed our TLS checks.
bool Client::worth_reconnecting(const Error &reason) const {
  if (!options_.reconnect || !ever_registered_ || closing_) return false;
  if (link_handler_->refused) return reason.code == static_cast<int64_t>(proto::RefuseCode::id_in_use);
  switch (reason.category) {
  case ErrorCategory::transport:
  case ErrorCategory::timeout: return true;
  case ErrorCategory::peer: return reason.code == 0; // closed without a cause: shut down, restarting
  default: return false;
  }
}

void Client::open_channel(const std::string &peer, OpenCallback done) {
  // Every answer comes from the loop, never from inside this call (the
  // caller may destroy us in the callback): an immediate failure too.
  std::optional<Error> failed;
  uint64_t request_id = next_request_++;
  if (!registered_) {
    failed = Error{ErrorCategory::transport, 0, "client", "not registered with the coordinator"};
  } else if (auto r = coordinator_->send_control(proto::ChannelRequest{request_id, peer}); !r) {
    failed = r.error();
  }
  Error why = failed ? *failed
                     : Error{ErrorCategory::timeout, 0, "client",
                             "no answer from the coordinator about a channel to '" + peer + "'"};
  PendingRequest &req = requests_[request_id];
  req.peer = peer;
  req.done = std::move(done);
  req.timeout = std::make_unique<loop::Timer>(loop_, [this, request_id, why = std::move(why)] {
    fail_request(request_id, why);
  });
  req.timeout->start(failed ? 0 : options_.request_timeout / kMillisecond);
}

void Client::fail_request(uint64_t request_id, Error error) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  OpenCallback done = std::move(it->second.done);
  requests_.erase(it);
  done(fail(std::move(error)));
}

void Client::on_control(proto::ControlMessage message) {
  if (auto *w = std::get_if<proto::Welcome>(&message)) {
    if (registered_) return coordinator_->close(channel::kErrorProtocol, "second Welcome");
    registered_ = true;
    observed_ = w->observed;
    reconnect_failures_ = 0;
    CONEC_INFO("client: registered {}as '{}' (seen as {})", ever_registered_ ? "again " : "", w->id,
               observed_.to_string());
    if (ever_registered_) {
      ++reregistrations_;
      resume_relays();
    }
    ever_registered_ = true;
    handler_->on_registered(*this);
  } else if (auto *r = std::get_if<proto::Refused>(&message)) {
    link_handler_->refused = Error{ErrorCategory::peer, static_cast<int64_t>(r->code), "client",
                                   "coordinator refused us: " + r->reason};
  } else if (auto *i = std::get_if<proto::Introduction>(&message)) {
    introduced(*i);
  } else if (auto *j = std::get_if<proto::ChannelJoined>(&message)) {
    joined(*j);
  } else if (auto *e = std::get_if<proto::ChannelError>(&message)) {
    fail_request(e->request_id, Error{ErrorCategory::peer, static_cast<int64_t>(e->code), "client", e->reason});
  } else if (auto *c = std::get_if<proto::ChannelClosed>(&message)) {
    channel_closed(*c);
  } else if (auto *rr = std::get_if<proto::RelayResumed>(&message)) {
    relay_resumed(*rr);
  } else if (auto *pm = std::get_if<proto::PeerMoved>(&message)) {
    for (bool initiator : {false, true})
      if (auto it = links_.find({pm->channel_id, initiator}); it != links_.end() && !it->second->closed)
        endpoint_->peer_moved(it->second->token, pm->observed);
  } else {
    coordinator_->close(channel::kErrorProtocol,
                        std::string("unexpected ") + std::string(proto::message_name(message)) + " from the coordinator");
  }
}

void Client::disconnected(const Error &error) {
  if (disconnected_) return;
  disconnected_ = true;
  bool was_registered = registered_;
  registered_ = false;
  Error reason = link_handler_->refused.value_or(error);
  std::vector<uint64_t> ids;
  for (auto &[id, req] : requests_) ids.push_back(id);
  for (uint64_t id : ids) fail_request(id, Error{ErrorCategory::transport, 0, "client", "coordinator connection lost"});
  if (worth_reconnecting(reason)) {
    if (was_registered) {
      CONEC_INFO("client: lost the coordinator ({}); reconnecting, {} peer channel(s) kept", reason.message,
                 links_.size());
      handler_->on_coordinator_lost(*this, reason);
    } else {
      CONEC_INFO("client: reconnection to the coordinator failed: {}", reason.message);
    }
    // A stateless reset comes from a coordinator that is up again (with
    // our coordinator's key): no reason to wait before the first attempt.
    if (!closing_) schedule_reconnect(was_registered && quic::ended_by_stateless_reset(reason));
    return;
  }
  CONEC_INFO("client: coordinator connection over: {}", reason.message);
  handler_->on_disconnected(*this, reason);
}

void Client::close() {
  closing_ = true;
  if (reconnect_timer_) reconnect_timer_->stop();
  for (auto &[id, link] : links_)
    if (link->channel) link->channel->close(0, "client closing");
  if (coordinator_) coordinator_->close(0, "client closing");
}

void Client::silence() {
  static ClientHandler nobody; // every event ignored
  handler_ = &nobody;
  requests_.clear(); // their callbacks were moved out before any of them ran
  closing_ = true;   // and no reconnecting
  if (reconnect_timer_) reconnect_timer_->stop();
  for (auto &[id, link] : links_)
    if (link->channel) link->channel->silence();
  for (auto &link : dead_links_)
    if (link->channel) link->channel->silence();
  if (coordinator_) coordinator_->silence();
}

void Client::reap() { dead_links_.clear(); }

} // namespace conec::client
