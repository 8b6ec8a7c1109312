// Endpoint: peer connections on their PeerPath (ARCHITECTURE D3/D4) and
// raw datagram forwarding for the coordinator.
#include "net/endpoint.hpp"
#include "net/entry.hpp"
#include "net/relay.hpp"

namespace conec::net {

namespace {
std::string_view token_key(ByteView token) { return as_chars(token); }
} // namespace

void Endpoint::route_relayed(const Datagram &d, Timestamp now) {
  auto it = relays_.find(token_key(relay_token_of(d.data)));
  if (it == relays_.end() || !(d.from == it->second->relay_)) {
    ++stats_.relayed_dropped;
    return;
  }
  PeerPath &path = *it->second;
  ++path.relay_counters_.datagrams_received;
  path.relay_counters_.bytes_received += d.data.size();
  route(Datagram{relay_payload_of(d.data), path.virtual_addr_, d.ecn}, now, &path);
}

SockAddr Endpoint::add_relay(ByteView token, const SockAddr &relay, PeerPathOptions options) {
  auto &slot = relays_[std::string(token_key(token))];
  if (slot && slot->removed_ && slot->users_ == 0) slot.reset();
  if (!slot)
    slot = std::make_unique<PeerPath>(std::string(token_key(token)), relay, relay_virtual_address(token),
                                      std::move(options));
  return slot->virtual_addr_;
}

void Endpoint::remove_relay(ByteView token) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end()) return;
  if (it->second->users_ == 0) {
    relays_.erase(it);
  } else {
    it->second->removed_ = true;
    it->second->on_accept_ = nullptr;
  }
}

Result<std::unique_ptr<Session>> Endpoint::connect_relayed(ByteView token,
                                                           std::shared_ptr<tls::Credentials> credentials,
                                                           const std::string &server_name,
                                                           quic::ConnectionHandler &handler) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end() || it->second->removed_)
    return fail(ErrorCategory::usage, "net", "no such relay allocation");
  auto entry = std::make_unique<Entry>(*this);
  quic::Config config = options_.quic;
  config.max_udp_payload = kRelayedMaxUdpPayload;
  auto conn = quic::Connection::connect(config, std::move(credentials), server_name,
                                        quic::Path{local_address(), it->second->virtual_addr_}, *entry,
                                        monotonic_now());
  if (!conn) return fail(conn.error());
  return attach(std::move(entry), std::move(*conn), &handler, it->second.get());
}

Result<void> Endpoint::accept_relayed(ByteView token, std::shared_ptr<tls::Credentials> credentials,
                                      std::function<void(std::unique_ptr<Session>)> on_accept_relayed) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end() || it->second->removed_)
    return fail(ErrorCategory::usage, "net", "no such relay allocation");
  it->second->accept_credentials_ = std::move(credentials);
  it->second->on_accept_ = std::move(on_accept_relayed);
  return {};
}

size_t Endpoint::send_datagrams(const SockAddr &to, ByteView data, size_t segment_size) {
  auto r = socket_.send(to, data, segment_size);
  if (!r || *r < data.size()) ++stats_.send_blocked;
  if (!r) return 0;
  ++stats_.send_calls;
  stats_.datagrams_sent += (*r + segment_size - 1) / segment_size;
  return *r;
}

bool Endpoint::send_datagram(const SockAddr &to, ByteView data) {
  auto r = socket_.send(to, data, data.size());
  if (!r || *r == 0) {
    ++stats_.send_blocked;
    return false;
  }
  ++stats_.datagrams_sent;
  ++stats_.send_calls;
  return true;
}

} // namespace conec::net
