#include "support/coord_fixture.hpp"

#include "support/quic_pair.hpp"

namespace conec::test {

const tls::Identity &identity_for(const std::string &name) {
  static std::map<std::string, tls::Identity> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    tls::CertificateRequest request;
    request.name = name;
    request.validity_days = 30;
    it = cache.emplace(name, *tls::generate_self_signed(request)).first;
  }
  return it->second;
}

CoordFixture::CoordFixture(coord::CoordinatorOptions options, coord::CoordinatorHandler *handler) {
  if (options.listen.empty()) options.listen = SockAddr::loopback(AF_INET, 0);
  if (options.identity.cert_pem.empty()) options.identity = server_identity();
  auto c = coord::Coordinator::create(loop, std::move(options), handler);
  if (!c) error = c.error();
  else coordinator = std::move(*c);
}

CoordFixture::~CoordFixture() { shutdown(); }

bool CoordFixture::restart_coordinator(coord::CoordinatorOptions options) {
  SockAddr address = coordinator->local_address();
  coordinator.reset();
  options.listen = address;
  if (options.identity.cert_pem.empty()) options.identity = server_identity();
  auto c = coord::Coordinator::create(loop, std::move(options));
  if (!c) {
    error = c.error();
    return false;
  }
  coordinator = std::move(*c);
  return true;
}

client::Client *CoordFixture::start(const std::string &id, ClientEvents &events,
                                    std::optional<tls::Identity> identity) {
  client::ClientOptions o;
  o.coordinator = coordinator->local_address();
  o.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
  o.verify_coordinator.pin = *tls::parse_pin(*server_identity().fingerprint());
  o.id = id;
  o.path_policy = path_policy;
  o.reconnect = reconnect;
  o.identity = identity ? *identity : identity_for(id);
  auto c = client::Client::create(loop, o, events);
  if (!c) {
    error = c.error();
    return nullptr;
  }
  auto *raw = c->get();
  clients[id + "#" + std::to_string(clients.size())] = std::move(*c);
  return raw;
}

bool CoordFixture::join(const std::string &id, ClientEvents &events, std::optional<tls::Identity> identity) {
  if (!start(id, events, std::move(identity))) return false;
  run_until([&] { return events.registered || events.disconnected.has_value(); });
  return events.registered;
}

Result<channel::Channel *> CoordFixture::open(client::Client &from, const std::string &peer, double seconds) {
  std::optional<Result<channel::Channel *>> outcome;
  from.open_channel(peer, [&](Result<channel::Channel *> r) { outcome = std::move(r); });
  run_until([&] { return outcome.has_value(); }, seconds);
  if (!outcome) return fail(ErrorCategory::timeout, "test", "no outcome");
  return *outcome;
}

client::Client *CoordFixture::client(const std::string &id) {
  for (size_t i = 0; i < clients.size(); ++i) {
    auto it = clients.find(id + "#" + std::to_string(i));
    if (it != clients.end()) return it->second.get();
  }
  return nullptr;
}

bool CoordFixture::shutdown() {
  clients.clear();
  coordinator.reset();
  return bool(loop.close());
}

} // namespace conec::test
