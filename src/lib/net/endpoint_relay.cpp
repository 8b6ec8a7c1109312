// Endpoint: peer connections on their PeerPath (ARCHITECTURE D3/D4) and
// raw datagram forwarding for the coordinator.
#include "net/endpoint.hpp"
#include "net/entry.hpp"
#include "net/relay.hpp"

namespace conec::net {

namespace {
// Map keys of relay tokens and probe path ids: their bytes.
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
  auto it = relays_.find(token_key(token));
  if (it != relays_.end() && it->second->removed_ && it->second->users_ == 0) erase_path(token_key(token));
  auto &slot = relays_[std::string(token_key(token))];
  if (!slot) {
    // A candidate of the other address family cannot be reached from our socket.
    std::erase_if(options.candidates, [&](const SockAddr &a) { return a.family() != local_address().family(); });
    slot = std::make_unique<PeerPath>(std::string(token_key(token)), relay, relay_virtual_address(token),
                                      std::move(options));
    by_probe_id_[std::string(token_key(slot->probe_key_.path_id))] = slot.get();
  }
  return slot->virtual_addr_;
}

void Endpoint::erase_path(std::string_view token) {
  auto it = relays_.find(token);
  if (it == relays_.end()) return;
  by_probe_id_.erase(std::string(token_key(it->second->probe_key_.path_id)));
  relays_.erase(it);
}

void Endpoint::route_probe(const Datagram &d, Timestamp now) {
  auto id = probe_path_id(d.data);
  auto it = id ? by_probe_id_.find(token_key(*id)) : by_probe_id_.end();
  if (it == by_probe_id_.end() || it->second->removed_) {
    ++stats_.probes_dropped;
    return;
  }
  PeerPath &path = *it->second;
  std::vector<PeerPath::Outgoing> out;
  if (!path.on_probe(d.from, d.data, now, out)) ++stats_.probes_dropped;
  for (const auto &o : out) send_probe(path, o.to, o.datagram);
}

void Endpoint::send_probe(PeerPath &path, const SockAddr &to, ByteView datagram) {
  send_raw(to, datagram);
  ++path.direct_counters_.datagrams_sent;
  path.direct_counters_.bytes_sent += datagram.size();
}

void Endpoint::punch(Timestamp now) {
  Timestamp next = 0;
  std::vector<PeerPath::Outgoing> out;
  for (auto &[token, path] : relays_) {
    out.clear();
    Timestamp due = path->punch_due(now, out);
    for (const auto &o : out) send_probe(*path, o.to, o.datagram);
    if (due && (!next || due < next)) next = due;
  }
  if (!next) return punch_timer_->stop();
  punch_timer_->start(next <= now ? 0 : (next - now + kMillisecond - 1) / kMillisecond);
}

void Endpoint::remove_relay(ByteView token) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end()) return;
  if (it->second->users_ == 0) {
    erase_path(token_key(token));
  } else {
    it->second->removed_ = true;
    it->second->on_accept_ = nullptr;
    it->second->punching_ = false; // the channel is gone: no more probes
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
  PeerPath *path = it->second.get();
  auto session = attach(std::move(entry), std::move(*conn), &handler, path);
  path->start_punching(monotonic_now());
  punch(monotonic_now());
  return session;
}

Result<void> Endpoint::accept_relayed(ByteView token, std::shared_ptr<tls::Credentials> credentials,
                                      std::function<void(std::unique_ptr<Session>)> on_accept_relayed) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end() || it->second->removed_)
    return fail(ErrorCategory::usage, "net", "no such relay allocation");
  it->second->accept_credentials_ = std::move(credentials);
  it->second->on_accept_ = std::move(on_accept_relayed);
  // The acceptor hears first: its probes open its NAT for the initiator's.
  it->second->start_punching(monotonic_now());
  punch(monotonic_now());
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
