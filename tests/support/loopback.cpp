#include "support/loopback.hpp"

#include <gnutls/crypto.h>

#include <cstring>
#include <random>

namespace conec::test {

bool run_until(loop::Loop &loop, const std::function<bool()> &done, double seconds) {
  bool expired = false;
  loop::Timer guard(loop, [&] { expired = true; });
  guard.start(static_cast<uint64_t>(seconds * 1000));
  while (!done() && !expired) loop.run_once();
  return done();
}

Sha256::Sha256() {
  gnutls_hash_hd_t h = nullptr;
  gnutls_hash_init(&h, GNUTLS_DIG_SHA256);
  state_ = h;
}
Sha256::~Sha256() {
  if (state_) gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(state_), nullptr);
}
void Sha256::update(ByteView data) { gnutls_hash(static_cast<gnutls_hash_hd_t>(state_), data.data(), data.size()); }
std::string Sha256::hex() {
  uint8_t digest[32];
  gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(state_), digest);
  state_ = nullptr;
  return to_hex(ByteView(digest, sizeof(digest)));
}

Bytes pattern_block(uint64_t seed, uint64_t index, size_t size) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + index);
  Bytes out(size);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (size_t i = size - size % 8; i < size; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

} // namespace conec::test

#include "support/quic_pair.hpp"

namespace conec::test {

LoopbackPair::LoopbackPair(Options opts) : options(std::move(opts)) {
  if (options.client_verifies.mode == tls::PeerVerification::Mode::system && options.client_verifies.pin.empty()) {
    options.client_verifies.mode = tls::PeerVerification::Mode::pin;
    options.client_verifies.pin = *tls::parse_pin(*server_identity().fingerprint());
  }
  auto server_creds = tls::Credentials::create(server_identity(), options.server_verifies);
  if (!server_creds) {
    error = server_creds.error();
    return;
  }
  net::EndpointOptions so;
  so.bind = SockAddr::loopback(AF_INET, 0);
  so.quic = options.config;
  so.server_credentials = *server_creds;
  auto s = net::Endpoint::create(loop, so);
  if (!s) {
    error = s.error();
    return;
  }
  server_endpoint = std::move(*s);
  server_endpoint->on_accept = [this](std::unique_ptr<net::Session> session) {
    server_session = std::move(session);
    server_session->set_handler(server_events);
  };
  net::EndpointOptions co;
  co.bind = SockAddr::loopback(AF_INET, 0);
  co.quic = options.config;
  auto c = net::Endpoint::create(loop, co);
  if (!c) {
    error = c.error();
    return;
  }
  client_endpoint = std::move(*c);
}

bool LoopbackPair::connect() {
  if (error) return false;
  std::optional<tls::Identity> id;
  if (options.client_has_identity) id = options.client_identity ? *options.client_identity : client_identity();
  auto creds = tls::Credentials::create(id, options.client_verifies);
  if (!creds) {
    error = creds.error();
    return false;
  }
  auto session = client_endpoint->connect(server_endpoint->local_address(), *creds, options.server_name, client_events);
  if (!session) {
    error = session.error();
    return false;
  }
  client_session = std::move(*session);
  return true;
}

bool LoopbackPair::handshake(double seconds) {
  if (!client_session && !connect()) return false;
  run_until(loop, [&] {
    return (client_events.handshake && server_events.handshake) || client_events.closed || server_events.closed;
  }, seconds);
  return client_events.handshake && server_events.handshake;
}

bool LoopbackPair::shutdown() {
  client_session.reset();
  server_session.reset();
  client_endpoint.reset();
  server_endpoint.reset();
  return bool(loop.close());
}

LoopbackPair::~LoopbackPair() { shutdown(); }

} // namespace conec::test
