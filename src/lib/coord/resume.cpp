// Coordinator: relays that outlive a client connection. A client that loses
// its connection (its network went away, or this coordinator restarted)
// registers again and re-presents the relay tokens of its live channels
// (proto::RelayResume). A relay we still hold waits resume_grace for its
// missing end; one we never saw (we restarted) is rebuilt once both ends
// presented its token, each naming the other in the opposite role. The
// token is the proof: 16 random bytes that only the two clients and the
// coordinator that made them ever knew, sent over TLS. Whoever lacks it can
// claim nothing but a relay of its own that nobody joins (bounded by its
// channel quota, and gone after resume_grace).
#include "coord/client_conn.hpp"
#include "util/log.hpp"

namespace conec::coord {

namespace {
std::string seconds(Duration d) {
  if (d % kSecond == 0) return std::to_string(d / kSecond) + " s";
  return std::to_string(d / kMillisecond) + " ms";
}
} // namespace

void Coordinator::keep_for_return(Allocation &a, ClientConn &client) {
  if (a.initiator == &client) a.initiator = nullptr;
  if (a.acceptor == &client) a.acceptor = nullptr;
  client.allocations.erase(a.channel_id);
  if (!a.initiator && !a.acceptor) {
    // Nobody is left for it to relay for, and no connected client's quota
    // holds it: kept, the claims of a client that keeps losing its
    // connections would pile up beyond its quota until their grace ran
    // out. Ends that come back re-present the token and rebuild it, as
    // after a restart.
    return drop_allocation(a, "both ends lost their connections", proto::RefuseCode::timeout);
  }
  CONEC_INFO("coordinator: channel {}: '{}' lost its connection; its relay waits {} for it to come back",
             a.channel_id, client.id(), seconds(options_.limits.resume_grace));
  start_grace(a);
}

void Coordinator::start_grace(Allocation &a) {
  if (a.grace && a.grace->active()) return; // the first end to go sets the deadline
  uint64_t channel_id = a.channel_id;
  a.grace = std::make_unique<loop::Timer>(loop_, [this, channel_id] {
    auto it = allocations_.find(channel_id);
    if (it == allocations_.end()) return;
    Allocation &x = *it->second;
    std::string away = !x.initiator && !x.acceptor ? "'" + x.initiator_id + "' and '" + x.acceptor_id + "'"
                       : !x.initiator              ? "'" + x.initiator_id + "'"
                                                   : "'" + x.acceptor_id + "'";
    drop_allocation(x, away + " did not come back within " + seconds(options_.limits.resume_grace),
                    proto::RefuseCode::timeout);
  });
  a.grace->start(options_.limits.resume_grace / kMillisecond);
}

void Coordinator::resume_relays(ClientConn &from, const proto::RelayResume &resume) {
  for (const proto::ResumedRelay &relay : resume.relays) {
    if (from.gone()) return; // a protocol violation closed it
    resume_relay(from, relay);
  }
}

void Coordinator::resume_relay(ClientConn &from, const proto::ResumedRelay &relay) {
  if (!proto::valid_id(relay.peer)) return from.protocol_violation("RelayResume names an invalid peer id");
  auto refuse = [&](const std::string &why) { from.send(proto::RelayResumed{relay.relay_token, 0, false, why}); };
  const size_t max = options_.limits.max_channels_per_client;
  bool initiator = relay.role == 0;
  std::string peer_key = proto::canonical_id(relay.peer);

  if (auto it = by_token_.find(as_chars(relay.relay_token)); it != by_token_.end()) {
    Allocation &a = *it->second;
    ClientConn *&end = initiator ? a.initiator : a.acceptor;
    const std::string &mine = initiator ? a.initiator_id : a.acceptor_id;
    const std::string &theirs = initiator ? a.acceptor_id : a.initiator_id;
    // One refusal, in the same words, whatever is wrong (role, id or
    // peer): a token holder learns nothing about the relay's ends.
    if (!a.active || proto::canonical_id(mine) != from.key() || proto::canonical_id(theirs) != peer_key)
      return refuse("no relay of yours has this token");
    if (end == &from) // said twice
      return from.send(proto::RelayResumed{a.token, a.channel_id, a.initiator && a.acceptor, ""});
    if (end) return refuse("the relay is in use by another connection of '" + from.id() + "'");
    // A channel to oneself counts once: its first end back already did.
    if (!from.allocations.contains(a.channel_id) && channel_count(from) >= max)
      return refuse("you have the maximum of " + std::to_string(max) + " channels");
    end = &from;
    from.allocations.insert(a.channel_id);
    CONEC_INFO("coordinator: channel {}: '{}' is back", a.channel_id, from.id());
    if (a.initiator && a.acceptor) return relay_restored(a);
    return from.send(proto::RelayResumed{a.token, a.channel_id, false, ""});
  }

  // A token we never made: we restarted (or it is made up). It becomes a
  // relay with one end, waiting for the other end to present it too.
  if (channel_count(from) >= max) return refuse("you have the maximum of " + std::to_string(max) + " channels");
  auto a = std::make_unique<Allocation>();
  a->channel_id = next_channel_id_++;
  a->token = relay.relay_token;
  a->active = true;
  (initiator ? a->initiator : a->acceptor) = &from;
  a->initiator_id = initiator ? from.id() : relay.peer;
  a->acceptor_id = initiator ? relay.peer : from.id();
  a->tokens = double(options_.limits.relay_burst_bytes);
  a->refilled = monotonic_now();
  from.allocations.insert(a->channel_id);
  by_token_[std::string(as_chars(a->token))] = a.get();
  CONEC_INFO("coordinator: channel {}: '{}' re-presents its relay with '{}'; waiting {} for '{}'", a->channel_id,
             from.id(), relay.peer, seconds(options_.limits.resume_grace), relay.peer);
  Allocation &ref = *a;
  allocations_.emplace(ref.channel_id, std::move(a));
  start_grace(ref);
  from.send(proto::RelayResumed{ref.token, ref.channel_id, false, ""});
}

void Coordinator::relay_restored(Allocation &a) {
  if (a.grace) a.grace->stop();
  ++stats_.relays_resumed;
  CONEC_INFO("coordinator: channel {} between '{}' and '{}' relays again", a.channel_id, a.initiator_id,
             a.acceptor_id);
  // Both ends hear it, so their connections stop waiting out backed-off
  // retransmission timers (net::Endpoint::relay_restored).
  a.initiator->send(proto::RelayResumed{a.token, a.channel_id, true, ""});
  if (a.acceptor != a.initiator) a.acceptor->send(proto::RelayResumed{a.token, a.channel_id, true, ""});
}

} // namespace conec::coord
