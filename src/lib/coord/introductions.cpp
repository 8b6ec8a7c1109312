// Coordinator: introducing clients to each other ("sending a channel").
// A request from A for B creates a relay allocation and offers it to B
// first; when B accepts, A gets everything it needs to connect.
#include "coord/client_conn.hpp"
#include "util/log.hpp"

namespace conec::coord {

using proto::RefuseCode;

// What counts against a client's quota: channels it has open (either role)
// and introductions it asked for; offers to it count once it accepts.
size_t Coordinator::channel_count(const ClientConn &c) const {
  size_t n = 0;
  for (uint64_t id : c.allocations) {
    auto it = allocations_.find(id);
    if (it != allocations_.end() && (it->second->active || it->second->initiator == &c)) ++n;
  }
  return n;
}

size_t Coordinator::pending_count(const ClientConn &c) const {
  size_t n = 0;
  for (uint64_t id : c.allocations) {
    auto it = allocations_.find(id);
    if (it != allocations_.end() && !it->second->active && it->second->initiator == &c) ++n;
  }
  return n;
}

static proto::Introduction introduce(const Allocation &a, const ClientConn &peer, uint8_t role, uint64_t request_id) {
  proto::Introduction intro;
  intro.request_id = request_id;
  intro.channel_id = a.channel_id;
  intro.peer = peer.id();
  intro.peer_certificate = peer.certificate();
  intro.role = role;
  intro.relay_token = a.token;
  intro.peer_observed = peer.relay_address(); // validated: never a rewritten source
  intro.peer_local = peer.local_addresses();  // as the peer claims them (probes are tiny and bounded)
  return intro;
}

proto::Introduction Coordinator::tampered(proto::Introduction intro) const {
  if (options_.tamper_introduction) options_.tamper_introduction(intro);
  return intro;
}

void Coordinator::request_channel(ClientConn &from, const proto::ChannelRequest &request) {
  auto error = [&](RefuseCode code, const std::string &reason) {
    from.send(proto::ChannelError{request.request_id, code, reason});
  };
  if (!proto::valid_id(request.peer)) return error(RefuseCode::bad_id, "invalid peer id '" + request.peer + "'");
  std::string target = options_.tamper_route ? options_.tamper_route(request.peer) : request.peer;
  auto it = directory_.find(proto::canonical_id(target));
  if (it == directory_.end()) return error(RefuseCode::unknown_peer, "no client '" + request.peer + "' is connected");
  ClientConn &peer = *it->second;

  // B asked for A while A's request for B waits on B: one channel answers both.
  for (auto &[id, a] : allocations_) {
    if (!a->active && a->initiator == &peer && a->acceptor == &from && &peer != &from) {
      a->joined_requests.push_back(request.request_id);
      from.send(proto::ChannelJoined{request.request_id, a->channel_id});
      return;
    }
  }
  const Limits &limits = options_.limits;
  if (channel_count(from) >= limits.max_channels_per_client)
    return error(RefuseCode::limit, "you have the maximum of " + std::to_string(limits.max_channels_per_client) +
                                        " channels");
  if (channel_count(peer) >= limits.max_channels_per_client)
    return error(RefuseCode::limit, "'" + peer.id() + "' has the maximum of " +
                                        std::to_string(limits.max_channels_per_client) + " channels");
  if (pending_count(from) >= limits.max_pending_per_client)
    return error(RefuseCode::limit, "you have the maximum of " + std::to_string(limits.max_pending_per_client) +
                                        " introductions waiting for an answer");
  if (pending_ >= limits.max_pending_introductions)
    return error(RefuseCode::limit, "too many introductions in progress; retry shortly");

  auto a = std::make_unique<Allocation>();
  a->channel_id = next_channel_id_++;
  a->token.resize(proto::kRelayTokenLength);
  random_bytes(a->token);
  a->initiator = &from;
  a->acceptor = &peer;
  a->initiator_id = from.id();
  a->acceptor_id = peer.id();
  a->request_id = request.request_id;
  a->tokens = double(limits.relay_burst_bytes);
  a->refilled = monotonic_now();
  uint64_t channel_id = a->channel_id;
  a->timeout = std::make_unique<loop::Timer>(loop_, [this, channel_id] { introduction_timed_out(channel_id); });
  a->timeout->start(limits.introduction_timeout / kMillisecond);
  from.allocations.insert(channel_id);
  peer.allocations.insert(channel_id);
  by_token_[std::string(as_chars(a->token))] = a.get();
  ++pending_;
  ++stats_.introductions;
  CONEC_INFO("coordinator: channel {}: '{}' asks for '{}'", channel_id, from.id(), peer.id());
  Allocation &ref = *a;
  allocations_.emplace(channel_id, std::move(a));
  peer.send(tampered(introduce(ref, from, 1, 0)));
}

void Coordinator::introduction_reply(ClientConn &from, const proto::IntroductionReply &reply) {
  auto it = allocations_.find(reply.channel_id);
  if (it == allocations_.end()) return; // already gone (timeout, departure): not the client's fault
  Allocation &a = *it->second;
  if (a.acceptor != &from || a.active)
    return from.protocol_violation("IntroductionReply for channel " + std::to_string(reply.channel_id) +
                                   " that was not offered to it");
  a.timeout.reset();
  if (!reply.accept) {
    std::string reason = "'" + from.id() + "' refused the channel" + (reply.reason.empty() ? "" : ": " + reply.reason);
    return drop_allocation(a, reason, RefuseCode::peer_refused);
  }
  // Offers did not count against the acceptor; the accepted channel does.
  size_t max = options_.limits.max_channels_per_client;
  if (&from != a.initiator && channel_count(from) >= max)
    return drop_allocation(a, "'" + from.id() + "' has the maximum of " + std::to_string(max) + " channels",
                           RefuseCode::limit);
  --pending_;
  a.active = true;
  CONEC_INFO("coordinator: channel {}: '{}' accepted '{}'", a.channel_id, from.id(), a.initiator->id());
  a.initiator->send(tampered(introduce(a, from, 0, a.request_id)));
  for (uint64_t joined : a.joined_requests) from.send(proto::ChannelJoined{joined, a.channel_id});
}

void Coordinator::introduction_timed_out(uint64_t channel_id) {
  auto it = allocations_.find(channel_id);
  if (it == allocations_.end()) return;
  Allocation &a = *it->second;
  std::string reason = "'" + a.acceptor_id + "' did not answer the introduction within " +
                       std::to_string(options_.limits.introduction_timeout / kSecond) + " s";
  drop_allocation(a, reason, RefuseCode::timeout);
}

void Coordinator::drop_allocation(Allocation &a, const std::string &reason, proto::RefuseCode code) {
  if (a.active)
    CONEC_INFO("coordinator: channel {} between '{}' and '{}' ended ({}); relayed {} datagrams, {} bytes",
               a.channel_id, a.initiator_id, a.acceptor_id, reason, a.relayed_datagrams, a.relayed_bytes);
  if (!a.active) { // both ends are here: only active channels wait for an end
    // Requests still waiting for this channel fail with the reason.
    --pending_;
    if (!a.initiator->gone()) a.initiator->send(proto::ChannelError{a.request_id, code, reason});
    if (!a.acceptor->gone())
      for (uint64_t joined : a.joined_requests) a.acceptor->send(proto::ChannelError{joined, code, reason});
  }
  for (ClientConn *side : {a.initiator, a.acceptor}) {
    if (!side || !side->allocations.erase(a.channel_id)) continue; // away, or a channel to oneself: tell once
    if (!side->gone()) side->send(proto::ChannelClosed{a.channel_id, reason});
  }
  if (auto it = by_token_.find(as_chars(a.token)); it != by_token_.end()) by_token_.erase(it);
  allocations_.erase(a.channel_id); // destroys `a`
}

} // namespace conec::coord
