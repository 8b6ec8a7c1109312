// Coordinator: set-up, accepting connections, the directory, departures.
#include "coord/coordinator.hpp"

#include <ctime>

#include "coord/client_conn.hpp"
#include "coord/groups.hpp"
#include "util/log.hpp"

namespace conec::coord {

Coordinator::Coordinator(loop::Loop &loop, CoordinatorOptions options, CoordinatorHandler *handler)
    : loop_(loop), options_(std::move(options)), handler_(handler ? handler : &default_handler_) {
  // Channel ids start at a random point: clients keep the ids of channels
  // a previous coordinator process made until those are resumed, and a
  // restarted one counting from 1 would hand out the same numbers.
  uint8_t start[5];
  random_bytes(start);
  for (uint8_t b : start) next_channel_id_ = (next_channel_id_ << 8) | b;
  next_channel_id_ = (next_channel_id_ & ((uint64_t{1} << 40) - 1)) + 1;
}

Coordinator::~Coordinator() {
  save_bindings(); // last-seen of everyone still here
  groups_.reset(); // members detach from their streams before the connections go
  // Sessions close (best effort) with the endpoint; no callbacks reach us after.
  allocations_.clear();
  by_token_.clear();
  directory_.clear();
  conns_.clear();
  endpoint_.reset();
}

Result<std::unique_ptr<Coordinator>> Coordinator::create(loop::Loop &loop, CoordinatorOptions options,
                                                         CoordinatorHandler *handler) {
  tls::PeerVerification clients = tls::PeerVerification::any();
  if (!options.client_ca_pem.empty()) {
    clients.mode = tls::PeerVerification::Mode::ca;
    clients.ca_pem = options.client_ca_pem;
  }
  clients.require_peer_certificate = true;
  // In every mode, the default's any included: a server certificate from
  // the clients' CA must not log in as a client.
  clients.purpose = tls::Purpose::client;
  auto credentials = tls::Credentials::create(options.identity, clients);
  if (!credentials) return fail(credentials.error());

  std::unique_ptr<Coordinator> c(new Coordinator(loop, std::move(options), handler));
  if (auto r = c->open_bindings(); !r) return fail(r.error()); // before we listen
  net::EndpointOptions eo;
  eo.bind = c->options_.listen;
  eo.quic = c->options_.quic;
  // Stateless-reset secret derived from our key: after a restart we can still
  // tell clients of the old process that their connection is gone, at once
  // (they reconnect instead of waiting out the idle timeout).
  if (eo.quic.static_secret.empty())
    eo.quic.static_secret = tls::sha256(as_bytes("conec stateless reset v1\n" + c->options_.identity.key_pem));
  eo.server_credentials = *credentials;
  eo.admission = c->options_.admission;
  auto endpoint = net::Endpoint::create(loop, eo);
  if (!endpoint) return fail(endpoint.error());
  c->endpoint_ = std::move(*endpoint);
  Coordinator *self = c.get();
  c->endpoint_->on_accept = [self](std::unique_ptr<net::Session> s) { self->accept(std::move(s)); };
  c->endpoint_->on_relay_datagram = [self](const net::Datagram &d) { self->relay(d); };
  c->reaper_ = std::make_unique<loop::Deferred>(loop, [self] { self->reap(); });
  c->relay_flusher_ = std::make_unique<loop::Deferred>(loop, [self] { self->flush_relay(); });
  c->groups_ = std::make_unique<GroupHost>(loop, c->options_.limits, c->stats_);
  return c;
}

void Coordinator::accept(std::unique_ptr<net::Session> session) {
  CONEC_DEBUG("coordinator: connection from {}", session->remote_address().to_string());
  // Unregistered connections count too, so nobody can hold more than the
  // limit by never saying Hello.
  // It is refused once its handshake is done (an application close during
  // the handshake would lose its code and reason).
  bool over = conns_.size() - dead_.size() >= options_.limits.max_clients;
  auto conn = std::make_unique<ClientConn>(*this, std::move(session), over);
  conns_.emplace(conn.get(), std::move(conn));
}

void Coordinator::registered(ClientConn &client) {
  directory_[client.key()] = &client;
  ++stats_.clients_registered;
  bind(client);
  CONEC_INFO("coordinator: '{}' registered from {}", client.id(), client.address().to_string());
  ClientInfo info{client.id(), client.address(), tls::fingerprint_of_der(client.certificate()), 0};
  handler_->on_client_registered(info, client.channel());
}

void Coordinator::departed(ClientConn &client, const Error &error) {
  if (client.is_registered()) {
    auto it = directory_.find(client.key());
    if (it != directory_.end() && it->second == &client) directory_.erase(it); // the id is free again
    if (bindings_) bindings_->touch(client.key(), std::time(nullptr));
    CONEC_INFO("coordinator: '{}' left: {}", client.id(), error.message);
  }
  // A client that lost its connection (rather than closed it, or was
  // closed by us) may come back: its relayed channels wait for it
  // (resume.cpp). Otherwise they end now, and the other sides learn why.
  bool may_return = client.is_registered() && !client.closed_by_us() && error.category != ErrorCategory::peer &&
                    options_.limits.resume_grace > 0;
  std::vector<uint64_t> ids(client.allocations.begin(), client.allocations.end());
  for (uint64_t id : ids) {
    auto it = allocations_.find(id);
    if (it == allocations_.end()) continue;
    if (may_return && it->second->active) keep_for_return(*it->second, client);
    else drop_allocation(*it->second, "'" + client.id() + "' disconnected", proto::RefuseCode::unknown_peer);
  }
  if (client.is_registered()) handler_->on_client_left(client.id(), error);
  // Freed later: we may be inside the connection's own callbacks.
  dead_.push_back(&client);
  reaper_->schedule();
}

void Coordinator::reap() {
  for (ClientConn *c : dead_) conns_.erase(c);
  dead_.clear();
}

std::vector<ClientInfo> Coordinator::clients() const {
  std::vector<ClientInfo> out;
  for (const auto &[key, c] : directory_)
    out.push_back({c->id(), c->address(), tls::fingerprint_of_der(c->certificate()), channel_count(*c)});
  return out;
}

std::vector<GroupInfo> Coordinator::groups() const { return groups_->groups(); }

std::vector<ChannelInfo> Coordinator::channels() const {
  std::vector<ChannelInfo> out;
  for (const auto &[id, a] : allocations_)
    out.push_back({id, a->initiator_id, a->acceptor_id, a->active, a->relayed_datagrams, a->relayed_bytes});
  return out;
}

channel::Channel *Coordinator::client_channel(const std::string &id) {
  auto it = directory_.find(proto::canonical_id(id));
  return it == directory_.end() ? nullptr : &it->second->channel();
}

void Coordinator::shutdown() {
  for (auto &[ptr, conn] : conns_)
    if (!conn->gone()) conn->channel().close(0, "coordinator shutting down");
}

} // namespace conec::coord
