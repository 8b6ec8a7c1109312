// Coordinator: forwarding relayed datagrams (ARCHITECTURE D3). One lookup
// and one send per datagram; the inner packet is never decrypted, so the
// coordinator cannot read or alter what clients say to each other.
#include "coord/client_conn.hpp"
#include "net/relay.hpp"
#include "util/log.hpp"

namespace conec::coord {

void Coordinator::relay(const net::Datagram &d) {
  auto it = by_token_.find(as_chars(net::relay_token_of(d.data)));
  if (it == by_token_.end() || !it->second->active) {
    ++stats_.relay_dropped_token;
    return;
  }
  Allocation &a = *it->second;
  if (!a.initiator || !a.acceptor) {
    ++stats_.relay_dropped_away; // QUIC retransmits once the end is back
    return;
  }
  // Only the two authenticated clients may use it, from the addresses their
  // coordinator connections validated last: a NAT rebinding is followed
  // once QUIC has validated the new path, and a relay packet's own source
  // never moves anything (it can be spoofed).
  SockAddr initiator = a.initiator->relay_address(), acceptor = a.acceptor->relay_address();
  const SockAddr *to = nullptr;
  ClientConn *sender = nullptr;
  if (d.from == initiator) {
    to = &acceptor;
    sender = a.initiator;
  } else if (d.from == acceptor) {
    to = &initiator;
    sender = a.acceptor;
  }
  if (!to || to->empty()) {
    ++stats_.relay_dropped_address;
    return;
  }
  if (!(sender->announced == d.from)) announce_move(*sender, d.from);
  Timestamp now = monotonic_now();
  const Limits &limits = options_.limits;
  double size = double(d.data.size());
  a.tokens = std::min(double(limits.relay_burst_bytes),
                      a.tokens + double(now - a.refilled) * double(limits.relay_bytes_per_second) / 1e9);
  a.refilled = now;
  ClientConn &c = *sender;
  c.relay_tokens = std::min(double(limits.relay_burst_bytes),
                            c.relay_tokens + double(now - c.relay_refilled) *
                                                 double(limits.relay_client_bytes_per_second) / 1e9);
  c.relay_refilled = now;
  if (a.tokens < size || c.relay_tokens < size) {
    ++stats_.relay_dropped_rate;
    if (c.relay_tokens < size && now - c.relay_warned > 10 * kSecond) {
      c.relay_warned = now;
      CONEC_WARN("coordinator: '{}' exceeds its relay rate of {:.1f} MB/s: dropping its excess", c.id(),
                 double(limits.relay_client_bytes_per_second) / 1e6);
    }
    return;
  }
  a.tokens -= size;
  c.relay_tokens -= size;
  ++a.relayed_datagrams;
  a.relayed_bytes += d.data.size();
  handler_->on_relayed(d.data);
  // Datagrams of one burst from one sender go to one destination: batch
  // them into a single GSO send instead of a system call each.
  RelayBatch &b = relay_batch_;
  if (b.count && (!(b.to == *to) || b.closed || d.data.size() > b.segment || b.count == 64 ||
                  b.data.size() + d.data.size() > 65000))
    flush_relay();
  if (b.count == 0) {
    b.to = *to;
    b.segment = d.data.size();
  }
  b.data.insert(b.data.end(), d.data.begin(), d.data.end());
  b.closed = d.data.size() < b.segment;
  ++b.count;
  relay_flusher_->schedule();
}

// A client relays from a new (validated) address: its NAT gave it a new
// mapping, which ends any direct path of its channels. Its peers learn the
// address as a candidate to punch to again (their old one is dead).
void Coordinator::announce_move(ClientConn &client, const SockAddr &to) {
  client.announced = to;
  size_t told = 0;
  for (uint64_t id : client.allocations) {
    auto it = allocations_.find(id);
    if (it == allocations_.end() || !it->second->active) continue;
    Allocation &a = *it->second;
    for (ClientConn *other : {a.initiator, a.acceptor}) {
      if (!other || other == &client) continue;
      other->send(proto::PeerMoved{a.channel_id, to});
      ++told;
    }
  }
  ++stats_.peer_moves;
  CONEC_INFO("coordinator: '{}' is now seen at {}; told the other end of {} channel(s)", client.id(), to.to_string(),
             told);
}

void Coordinator::flush_relay() {
  RelayBatch &b = relay_batch_;
  if (b.count == 0) return;
  size_t sent = endpoint_->send_datagrams(b.to, b.data, b.segment);
  if (sent) {
    stats_.relayed_datagrams += (sent + b.segment - 1) / b.segment;
    stats_.relayed_bytes += sent;
  }
  b.data.clear();
  b.count = 0;
  b.closed = false;
}

} // namespace conec::coord
