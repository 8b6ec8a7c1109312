// Coordinator: forwarding relayed datagrams (ARCHITECTURE D3). One lookup
// and one send per datagram; the inner packet is never decrypted, so the
// coordinator cannot read or alter what clients say to each other.
#include "coord/client_conn.hpp"
#include "net/relay.hpp"

namespace conec::coord {

void Coordinator::relay(const net::Datagram &d) {
  auto it = by_token_.find(std::string(as_chars(net::relay_token_of(d.data))));
  if (it == by_token_.end() || !it->second->active) {
    ++stats_.relay_dropped_token;
    return;
  }
  Allocation &a = *it->second;
  // Only the two authenticated clients may use it, from the addresses their
  // coordinator connections currently have (so NAT rebinding follows).
  SockAddr initiator = a.initiator->address(), acceptor = a.acceptor->address();
  const SockAddr *to = nullptr;
  if (d.from == initiator) to = &acceptor;
  else if (d.from == acceptor) to = &initiator;
  if (!to) {
    ++stats_.relay_dropped_address;
    return;
  }
  Timestamp now = monotonic_now();
  const Limits &limits = options_.limits;
  a.tokens = std::min(double(limits.relay_burst_bytes),
                      a.tokens + double(now - a.refilled) * double(limits.relay_bytes_per_second) / 1e9);
  a.refilled = now;
  if (a.tokens < double(d.data.size())) {
    ++stats_.relay_dropped_rate;
    return;
  }
  a.tokens -= double(d.data.size());
  handler_->on_relayed(d.data);
  if (endpoint_->send_datagram(*to, d.data)) {
    ++stats_.relayed_datagrams;
    stats_.relayed_bytes += d.data.size();
  }
}

} // namespace conec::coord
