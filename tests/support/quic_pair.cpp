#include "support/quic_pair.hpp"

#include <algorithm>
#include <cstdlib>

namespace conec::test {

static tls::Identity must_generate(const std::string &name, tls::CertificateRole role) {
  tls::CertificateRequest request;
  request.name = name;
  request.role = role;
  request.validity_days = 30;
  auto id = tls::generate_self_signed(request);
  if (!id) std::abort();
  return *id;
}

const tls::Identity &server_identity() {
  static tls::Identity id = must_generate("server.test", tls::CertificateRole::server);
  return id;
}
const tls::Identity &client_identity() {
  static tls::Identity id = must_generate("client-a", tls::CertificateRole::client);
  return id;
}

QuicPair::QuicPair(quic::Config config, tls::PeerVerification client_verifies,
                   tls::PeerVerification server_verifies)
    : config_(std::move(config)), buffer_(64 * quic::kMaxUdpPayload) {
  if (client_verifies.mode == tls::PeerVerification::Mode::system && client_verifies.pin.empty()) {
    // Default for tests: pin the generated server certificate.
    client_verifies.mode = tls::PeerVerification::Mode::pin;
    client_verifies.pin = *tls::parse_pin(*server_identity().fingerprint());
  }
  client_path_ = {SockAddr::loopback(AF_INET, 40000), SockAddr::loopback(AF_INET, 1719)};
  server_path_ = {client_path_.remote, client_path_.local};
  auto server_creds = tls::Credentials::create(server_identity(), server_verifies);
  auto client_creds = tls::Credentials::create(client_identity(), client_verifies);
  if (!server_creds || !client_creds) {
    setup_error = server_creds ? client_creds.error() : server_creds.error();
    return;
  }
  server_creds_ = *server_creds;
  auto c = quic::Connection::connect(config_, *client_creds, "server.test", client_path_, client_events, now);
  if (!c) {
    setup_error = c.error();
    return;
  }
  client = std::move(*c);
  client_events.conn = client.get();
}

bool QuicPair::flush(bool from_client) {
  quic::Connection *src = from_client ? client.get() : server.get();
  if (!src) return false;
  bool sent = false;
  for (;;) {
    quic::PacketBatch batch = src->write(buffer_, 64, now);
    if (batch.size == 0) break;
    sent = true;
    for (size_t off = 0; off < batch.size; off += batch.segment_size) {
      size_t len = std::min(batch.segment_size, batch.size - off);
      ByteView dgram(buffer_.data() + off, len);
      size_t &index = from_client ? datagrams_from_client : datagrams_from_server;
      if (drop(from_client, index++)) continue;
      if (from_client) {
        if (!server) {
          auto s = quic::Connection::accept(config_, server_creds_, server_path_, dgram, server_events, now);
          if (!s) continue; // not an Initial: dropped, as an endpoint would
          server = std::move(*s);
          server_events.conn = server.get();
        }
        server->receive(server_path_, dgram, 0, now);
      } else {
        client->receive(client_path_, dgram, 0, now);
      }
    }
  }
  return sent;
}

bool QuicPair::step(Timestamp until) {
  if (!client) return false;
  bool sent = flush(true);
  sent |= flush(false);
  if (sent) return true;
  Timestamp next = std::min(client->expiry(), server ? server->expiry() : kNever);
  if (next == kNever) return false;
  if (next > until) {
    now = until; // time passes, but no timer fires yet
    return false;
  }
  now = std::max(now, next);
  if (client->expiry() <= now) client->handle_timeout(now);
  if (server && server->expiry() <= now) server->handle_timeout(now);
  return true;
}

bool QuicPair::run_until(const std::function<bool()> &done, Duration limit) {
  Timestamp deadline = now + limit;
  while (!done() && now < deadline)
    if (!step(deadline)) break;
  return done();
}

} // namespace conec::test
