#include "api/client_impl.hpp"
#include "api/retire.hpp"
#include "proto/control.hpp"
#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec {

Result<std::unique_ptr<Client>> Client::create(Loop &loop, ClientOptions options, ClientHandler &handler) {
  auto internal = api::internal_options(std::move(options));
  if (!internal) return fail(internal.error());
  auto client = std::make_unique<api::ClientImpl>(handler);
  if (auto r = client->start(loop, std::move(*internal)); !r) return fail(r.error());
  return std::unique_ptr<Client>(std::move(client));
}

} // namespace conec

namespace conec::api {

namespace {
Failure option_error(const std::string &option, const std::string &why) {
  return fail(ErrorCategory::usage, "client", "ClientOptions::" + option + ": " + why);
}
} // namespace

Result<client::ClientOptions> internal_options(ClientOptions o) {
  client::ClientOptions c;
  auto address = SockAddr::parse(o.coordinator, 1719);
  if (!address) return option_error("coordinator", address.error().message);
  c.coordinator = *address;
  c.coordinator_name = o.coordinator_name.empty() ? host_part(o.coordinator) : o.coordinator_name;
  switch (o.trust.mode) {
  case CoordinatorTrust::Mode::system:
    c.verify_coordinator.mode = tls::PeerVerification::Mode::system;
    c.verify_coordinator.expected_name = c.coordinator_name;
    break;
  case CoordinatorTrust::Mode::ca:
    c.verify_coordinator.mode = tls::PeerVerification::Mode::ca;
    c.verify_coordinator.ca_pem = o.trust.ca_pem;
    c.verify_coordinator.expected_name = c.coordinator_name;
    break;
  case CoordinatorTrust::Mode::pin: {
    auto pin = tls::parse_pin(o.trust.pin);
    if (!pin) return option_error("trust.pin", pin.error().message);
    c.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
    c.verify_coordinator.pin = *pin;
    break;
  }
  }
  if (!proto::valid_id(o.id))
    return option_error("id", "invalid id '" + o.id.substr(0, 80) +
                                  "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  c.id = o.id;
  if (o.identity.cert_pem.empty() != o.identity.key_pem.empty())
    return option_error("identity", "give both a certificate and its key, or neither");
  if (o.identity.cert_pem.empty()) {
    auto generated = Identity::generate_client(o.id);
    if (!generated) return fail(generated.error());
    c.identity = *generated;
  } else {
    c.identity = std::move(o.identity);
  }
  c.max_message = o.max_message;
  c.request_timeout = o.request_timeout;
  c.reconnect = o.reconnect;
  c.reconnect_delay = o.reconnect_delay;
  c.reconnect_max_delay = o.reconnect_max_delay;
  // One knob for liveness, as the CLI's --idle-timeout: keepalives and the
  // unresponsive cut at a third of it.
  c.quic.idle_timeout = o.idle_timeout;
  c.quic.keepalive = o.idle_timeout / 3;
  c.quic.unresponsive_timeout = o.idle_timeout / 3;
  for (const auto &[peer, pin_text] : o.peer_pins) {
    auto pin = tls::parse_pin(pin_text);
    if (!pin) return option_error("peer_pins[" + peer + "]", pin.error().message);
    c.peer_trust.pins.emplace(proto::canonical_id(peer), "sha256:" + to_hex(*pin));
  }
  c.peer_trust.ca_pem = std::move(o.peer_ca_pem);
  c.peer_trust.known_peers_path = std::move(o.known_peers_path);
  c.peer_trust.coordinator = o.coordinator;
  c.path_policy = o.paths;
  return c;
}

// Destroyed from inside a callback (ours, a stream handler's, a timer's),
// the internal Client is still running below us: retire() defers it.
ClientImpl::~ClientImpl() {
  if (!inner_) return;
  Loop &loop = inner_->loop(); // before the move: argument order is unspecified
  retire(loop, std::move(inner_));
}

Result<void> ClientImpl::start(Loop &loop, client::ClientOptions options) {
  auto created = client::Client::create(loop, std::move(options), *this);
  if (!created) return fail(created.error());
  inner_ = std::move(*created);
  return {};
}

void ClientImpl::open_channel(const std::string &peer, OpenCallback done) {
  inner_->open_channel(peer, [this, done = std::move(done)](Result<channel::Channel *> r) {
    if (!r) return done(fail(r.error()));
    done(static_cast<conec::Channel *>(*r));
  });
}

std::string ClientImpl::observed_address() const {
  const SockAddr &a = inner_->observed_address();
  return a.empty() ? std::string() : a.to_string();
}

void ClientImpl::on_registered(client::Client &) {
  handler_.on_registered(*this);
}
void ClientImpl::on_disconnected(client::Client &, const Error &error) {
  handler_.on_disconnected(*this, error);
}
void ClientImpl::on_coordinator_lost(client::Client &, const Error &error) {
  handler_.on_coordinator_lost(*this, error);
}
bool ClientImpl::on_channel_offer(client::Client &, const std::string &peer) {
  return handler_.on_channel_offer(*this, peer);
}
void ClientImpl::on_peer_channel(client::Client &, channel::Channel &ch) {
  handler_.on_channel(*this, ch);
}
void ClientImpl::on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) {
  handler_.on_stream(*this, ch, s);
}
void ClientImpl::on_peer_closed(client::Client &, channel::Channel &ch, const Error &error) {
  handler_.on_channel_closed(*this, ch, error);
}

} // namespace conec::api
