// Client: channels to peers. The coordinator's Introduction carries the
// peer's certificate and a relay token; the initiator connects through the
// relay, the acceptor accepts exactly that one connection, and each side
// pins the other's certificate, so the channel is end to end. Before that,
// each side checks the certificate itself (PeerTrust): pins, CA, known peers.
#include "client/client.hpp"

#include <algorithm>

#include "client/peer_link.hpp"
#include "net/local_addresses.hpp"
#include "net/relay.hpp"
#include "util/log.hpp"

namespace conec::client {

namespace {
quic::ConnectionHandler placeholder_handler; // replaced by the Channel at once
} // namespace

std::shared_ptr<tls::Credentials> Client::peer_credentials(const Bytes &peer_certificate, std::optional<Error> &error) {
  tls::PeerVerification v;
  v.mode = tls::PeerVerification::Mode::pin;
  auto pin = tls::parse_pin(tls::fingerprint_of_der(peer_certificate));
  if (!pin) {
    error = pin.error();
    return nullptr;
  }
  v.pin = *pin;
  v.require_peer_certificate = true;
  auto creds = tls::Credentials::create(options_.identity, v);
  if (!creds) {
    error = creds.error();
    return nullptr;
  }
  return *creds;
}

// Where the peer might be reached directly (for hole punching), and whether
// we may try.
net::PeerPathOptions Client::path_options(const proto::Introduction &intro) const {
  net::PeerPathOptions o;
  o.policy = options_.path_policy;
  o.role = intro.role == 0 ? net::ProbeRole::initiator : net::ProbeRole::acceptor;
  if (!intro.peer_observed.empty()) o.candidates.push_back(intro.peer_observed);
  // The peer's own claims: never our loopback (a peer elsewhere cannot be
  // there; on this host the observed address already says so), a wildcard
  // or a broadcast address.
  for (const auto &a : intro.peer_local)
    if (!a.empty() && a.port() != 0 && !net::is_loopback_or_unspecified(a) && !net::is_broadcast(a))
      o.candidates.push_back(a);
  return o;
}

void Client::introduced(const proto::Introduction &intro) {
  if (links_.contains({intro.channel_id, intro.role == 0}))
    return coordinator_->close(channel::kErrorProtocol, "second introduction for one channel");
  // The name goes into logs, handlers and the known-peers file: only ids.
  if (!proto::valid_id(intro.peer))
    return coordinator_->close(channel::kErrorProtocol, "introduction of an invalid peer id");
  if (intro.role == 0) { // initiator: the answer to one of our requests
    auto req = requests_.find(intro.request_id);
    if (req == requests_.end()) return; // given up on (timed out)
    // The certificate is judged for the id we asked for, never for a name
    // the coordinator chose (an unknown name would pass as a first use).
    if (proto::canonical_id(req->second.peer) != proto::canonical_id(intro.peer))
      return fail_request(intro.request_id,
                          Error{ErrorCategory::peer, kPeerNotTrusted, "client",
                                "the coordinator answered our request for '" + req->second.peer +
                                    "' with a channel to '" + intro.peer.substr(0, proto::kMaxIdLength) + "'"});
  }
  // Our own verdict first: the coordinator's word is not enough (SPEC §3).
  auto verdict = trust_.check(intro.peer, intro.peer_certificate);
  if (!verdict) {
    CONEC_WARN("client: refusing the channel {} '{}': {}", intro.role == 1 ? "from" : "to", intro.peer,
               verdict.error().message);
    if (intro.role == 1)
      (void)coordinator_->send_control(proto::IntroductionReply{intro.channel_id, false, verdict.error().message});
    else
      fail_request(intro.request_id, verdict.error());
    return;
  }
  std::optional<Error> error;
  auto creds = peer_credentials(intro.peer_certificate, error);
  if (!creds) {
    if (intro.role == 1) (void)coordinator_->send_control(proto::IntroductionReply{intro.channel_id, false, error->message});
    else fail_request(intro.request_id, *error);
    return;
  }
  channel::ChannelOptions co;
  co.max_message = options_.max_message;

  if (intro.role == 1) { // acceptor: the coordinator offers a channel from intro.peer
    bool wanted = false;
    for (auto &[id, req] : requests_) wanted |= proto::canonical_id(req.peer) == proto::canonical_id(intro.peer);
    if (!wanted && !handler_->on_channel_offer(*this, intro.peer)) {
      (void)coordinator_->send_control(proto::IntroductionReply{intro.channel_id, false, "declined"});
      return;
    }
    auto link = std::make_unique<PeerLink>(*this, intro.channel_id, intro.peer, intro.relay_token, false);
    link->check = *verdict;
    PeerLink *l = link.get();
    endpoint_->add_relay(intro.relay_token, options_.coordinator, path_options(intro));
    auto r = endpoint_->accept_relayed(intro.relay_token, creds, [l, co](std::unique_ptr<net::Session> s) {
      l->channel = std::make_unique<channel::Channel>(std::move(s), l->peer, *l, co);
    });
    links_.emplace(std::pair{intro.channel_id, false}, std::move(link));
    (void)coordinator_->send_control(proto::IntroductionReply{intro.channel_id, bool(r), r ? "" : r.error().message});
    return;
  }

  // initiator: our request was accepted (checked above)
  auto link = std::make_unique<PeerLink>(*this, intro.channel_id, intro.peer, intro.relay_token, true);
  link->request_id = intro.request_id;
  link->check = *verdict;
  endpoint_->add_relay(intro.relay_token, options_.coordinator, path_options(intro));
  auto session = endpoint_->connect_relayed(intro.relay_token, creds, "", placeholder_handler);
  if (!session) {
    endpoint_->remove_relay(intro.relay_token);
    return fail_request(intro.request_id, session.error());
  }
  link->channel = std::make_unique<channel::Channel>(std::move(*session), intro.peer, *link, co);
  links_.emplace(std::pair{intro.channel_id, true}, std::move(link));
}

void Client::joined(const proto::ChannelJoined &joined) {
  auto req = requests_.find(joined.request_id);
  if (req == requests_.end()) return;
  req->second.channel_id = joined.channel_id;
  auto link = links_.find({joined.channel_id, false}); // we were offered it
  if (link != links_.end() && link->second->open) link_open(*link->second);
}

void Client::link_open(PeerLink &link) {
  if (link.check.first_use) {
    // The handshake proved the peer holds this key: now it is worth recording.
    link.check.first_use = false;
    if (auto r = trust_.remember(link.peer, link.check.key_fingerprint); !r) {
      if (r.error().category == ErrorCategory::peer) return link.channel->close(channel::kErrorProtocol, r.error().message);
      CONEC_WARN("client: cannot record '{}' as a known peer: {}", link.peer, r.error().message);
    } else {
      CONEC_INFO("client: '{}' is now a known peer (key {}) in {}", link.peer, link.check.key_fingerprint,
                 trust_.options().known_peers_path);
    }
  }
  link.open = true;
  CONEC_INFO("client: channel {} to '{}' open ({}), peer key {}", link.channel_id, link.peer,
             link.initiator ? "initiator" : "acceptor", link.check.key_fingerprint);
  if (await_direct(link)) return;
  hand_over(link);
}

// --direct-only: a channel is of use only once its data goes direct. It is
// watched until then; when hole punching gave up (or the switch did not
// happen in time) it closes, and whoever waited for it learns why.
bool Client::await_direct(PeerLink &link) {
  if (options_.path_policy != net::PathPolicy::direct_only) return false;
  const net::PeerPath *path = link.channel->session().path();
  if (!path || link.channel->session().on_direct_path()) return false;
  Timestamp now = monotonic_now();
  if (!link.direct_wait) {
    link.direct_deadline = now + net::PeerPath::kPunchGiveUp + net::PeerPath::kMigrationRetry;
    PeerLink *l = &link;
    link.direct_wait = std::make_unique<loop::Timer>(loop_, [this, l] {
      if (l->closed) return;
      if (!await_direct(*l)) {
        l->direct_wait->stop();
        hand_over(*l);
      }
    });
    link.direct_wait->start(10, 10);
    return true;
  }
  bool gave_up = !path->punching() && !path->direct_validated();
  if (!gave_up && now < link.direct_deadline) return true;
  link.direct_wait->stop();
  std::string why = path->probes_sent() == 0
                        ? "there was no address to try"
                        : std::to_string(path->probes_sent()) + " probes to " +
                              std::to_string(path->options().candidates.size()) +
                              " address(es) went unanswered (a NAT on the way allows no direct path)";
  Error e{ErrorCategory::peer, kNoDirectPath, "client",
          "no direct path to '" + link.peer + "' could be made (--direct-only): " + why};
  CONEC_INFO("client: channel {} to '{}': {}", link.channel_id, link.peer, e.message);
  for (uint64_t id : requests_for(link)) fail_request(id, e);
  link.open = false; // never handed over: nobody hears of its end
  link.channel->close(0, e.message);
  return true;
}

void Client::hand_over(PeerLink &link) {
  if (link.handed_over) return; // --direct-only: a ChannelJoined may get here before the watch does
  link.handed_over = true;
  if (link.direct_wait) link.direct_wait->stop();
  // Hand the channel to every request it answers; otherwise it is an
  // unsolicited channel for on_peer_channel.
  // A joined channel answers a request only if it is with the peer asked
  // for (the coordinator could join a request for bob to anyone's channel).
  std::vector<uint64_t> answered, mismatched;
  for (auto &[id, req] : requests_) {
    bool initiated = link.initiator && id == link.request_id;
    if (!initiated && req.channel_id != link.channel_id) continue;
    if (initiated || proto::canonical_id(req.peer) == proto::canonical_id(link.peer)) answered.push_back(id);
    else mismatched.push_back(id);
  }
  for (uint64_t id : mismatched)
    fail_request(id, Error{ErrorCategory::peer, kPeerNotTrusted, "client",
                           "the coordinator answered our request for '" + requests_.at(id).peer +
                               "' with a channel to '" + link.peer + "'"});
  for (uint64_t id : answered) {
    auto it = requests_.find(id);
    OpenCallback done = std::move(it->second.done);
    requests_.erase(it);
    done(link.channel.get());
  }
  if (answered.empty() && !link.initiator) handler_->on_peer_channel(*this, *link.channel);
}

// Requests this channel answers: the one it was opened for, and those the
// coordinator joined to it.
std::vector<uint64_t> Client::requests_for(const PeerLink &link) const {
  std::vector<uint64_t> ids;
  for (const auto &[id, req] : requests_)
    if ((link.initiator && id == link.request_id) || req.channel_id == link.channel_id) ids.push_back(id);
  return ids;
}

bool Client::has_direct_channel() const {
  return std::any_of(links_.begin(), links_.end(), [](const auto &entry) {
    const PeerLink &link = *entry.second;
    return link.channel && !link.closed && link.channel->session().on_direct_path();
  });
}

void Client::channel_closed(const proto::ChannelClosed &closed) {
  for (bool initiator : {false, true}) {
    auto it = links_.find({closed.channel_id, initiator});
    if (it != links_.end()) relay_lost(*it->second, "channel closed by the coordinator: " + closed.reason);
  }
}

void Client::relay_lost(PeerLink &link, const std::string &why) {
  if (link.channel && link.channel->session().on_direct_path()) {
    // Only the relay is gone (the peer lost its coordinator connection,
    // say); the channel does not need it. Should the peer itself be gone,
    // its close or the direct path's liveness ends the channel.
    CONEC_INFO("client: channel {} to '{}' lost its relay ({}); it goes on over its direct path", link.channel_id,
               link.peer, why);
  } else if (link.channel) {
    link.channel->close(0, why);
  } else {
    // Never connected: nothing else will report it.
    auto it = links_.find({link.channel_id, link.initiator});
    if (it == links_.end() || it->second.get() != &link) return;
    endpoint_->remove_relay(link.token);
    dead_links_.push_back(std::move(it->second));
    links_.erase(it);
    reaper_->schedule();
  }
}

// Registered again after a lost connection: the coordinator learns which
// relays we still use (it may have restarted and know none of them).
void Client::resume_relays() {
  proto::RelayResume resume;
  size_t total = 0;
  auto send = [&] {
    if (resume.relays.empty()) return;
    total += resume.relays.size();
    (void)coordinator_->send_control(resume);
    resume.relays.clear();
  };
  for (const auto &[key, link] : links_) {
    if (link->closed) continue;
    resume.relays.push_back({link->token, link->peer, uint8_t(link->initiator ? 0 : 1)});
    if (resume.relays.size() == proto::kMaxResumedRelays) send();
  }
  send();
  if (total) CONEC_INFO("client: re-presented the relays of {} peer channel(s)", total);
}

void Client::relay_resumed(const proto::RelayResumed &resumed) {
  std::vector<PeerLink *> matching;
  for (const auto &[key, link] : links_)
    if (link->token == resumed.relay_token && !link->closed) matching.push_back(link.get());
  for (PeerLink *link : matching) {
    if (resumed.channel_id == 0) {
      relay_lost(*link, "the coordinator could not restore its relay: " + resumed.reason);
      continue;
    }
    if (resumed.channel_id != link->channel_id) {
      // The coordinator restarted and numbers channels anew.
      auto it = links_.find({link->channel_id, link->initiator});
      std::pair<uint64_t, bool> renamed{resumed.channel_id, link->initiator};
      if (it == links_.end() || links_.contains(renamed)) {
        CONEC_WARN("client: the coordinator renumbered channel {} to '{}' as {}, which is taken", link->channel_id,
                   link->peer, resumed.channel_id);
        continue;
      }
      auto owned = std::move(it->second);
      links_.erase(it);
      link->channel_id = resumed.channel_id;
      links_.emplace(renamed, std::move(owned));
    }
    CONEC_INFO("client: {} channel {} to '{}'", resumed.relaying ? "the coordinator relays again for" : "the coordinator holds our end of the relay of", link->channel_id, link->peer);
  }
  if (resumed.relaying && !matching.empty()) endpoint_->relay_restored(resumed.relay_token);
}

void Client::link_closed(PeerLink &link, const Error &error) {
  if (link.closed) return;
  link.closed = true;
  endpoint_->remove_relay(link.token);
  for (uint64_t id : requests_for(link)) fail_request(id, error);
  if (link.open) handler_->on_peer_closed(*this, *link.channel, error);
  auto it = links_.find({link.channel_id, link.initiator});
  if (it != links_.end() && it->second.get() == &link) {
    dead_links_.push_back(std::move(it->second));
    links_.erase(it);
    reaper_->schedule(); // destroyed after this callback returns
  }
}

} // namespace conec::client
