// Endpoint: peer connections on their PeerPath (ARCHITECTURE D3/D4) and
// raw datagram forwarding for the coordinator.
#include "net/endpoint.hpp"

#include <algorithm>

#include "net/entry.hpp"
#include "net/relay.hpp"
#include "util/log.hpp"

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
                                      direct_virtual_address(token), relay_alternate_local_address(token),
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
  if (path.options_.policy == PathPolicy::relay_only) {
    ++stats_.probes_dropped; // no answer: a relay-only peer is not reachable directly
    return;
  }
  std::vector<PeerPath::Outgoing> out;
  now = std::max(now, monotonic_now()); // probes of this read batch may have gone out after it was read
  bool was_validated = path.direct_validated_;
  CONEC_DEBUG("net: probe from {}", d.from.to_string());
  if (!path.on_probe(d.from, d.data, now, out)) ++stats_.probes_dropped;
  for (const auto &o : out) send_probe(path, o.to, o.datagram);
  if (path.direct_validated_ && !was_validated)
    for (auto &[key, e] : entries_)
      if (e->path == &path) go_direct_if_ready(*e, now);
  if (path.punching_) watch_paths(); // a learned candidate is due a probe
}

void Endpoint::send_probe(PeerPath &path, const SockAddr &to, ByteView datagram) {
  // One budget for the whole endpoint: however many channels (and however
  // many candidates their peers announced), probes stay a trickle.
  Timestamp now = monotonic_now();
  probe_tokens_ = std::min<double>(kProbeBurst, probe_tokens_ + double(now - probe_refill_) * kProbesPerSecond / double(kSecond));
  probe_refill_ = now;
  if (probe_tokens_ < 1) {
    ++stats_.probes_over_budget;
    return;
  }
  probe_tokens_ -= 1;
  CONEC_DEBUG("net: probe to {}", to.to_string());
  send_raw(to, datagram);
  ++path.direct_counters_.datagrams_sent;
  path.direct_counters_.bytes_sent += datagram.size();
}

void Endpoint::tend_paths(Timestamp now) {
  Timestamp next = 0;
  auto sooner = [&](Timestamp t) {
    if (t && (!next || t < next)) next = t;
  };
  // Direct paths first: a fallback starts probing, due in this same round.
  if (!relays_.empty()) {
    for (auto &[key, e] : entries_) {
      if (!e->path || e->conn->is_closed()) continue;
      tend_direct(*e, now);
      const PeerPath &p = *e->path;
      // Watched while direct, while moving there, and while a proven path
      // waits for the handshake's confirmation or the holdoff after a fallback.
      bool waiting = p.direct_validated_ && !e->conn->is_server() && p.current_ == PathKind::relay;
      if (p.current_ == PathKind::direct || p.migrating_since_ || waiting) sooner(now + kTendInterval);
      // And while relayed data stalls: the coordinator link is probed at a
      // steady pace (not the backed-off one of retransmissions), so its
      // answer tells at once that the way out works again.
      if (p.current_ == PathKind::relay && e->conn->state() == quic::State::established) {
        Timestamp w = e->conn->awaiting_since();
        if ((w && now - w >= kRelayStallPoke) || e->conn->liveness_held()) {
          hold_if_cut_off(*e, now);
          poke_relay_if_stalled(*e, now);
          sooner(now + kTendInterval);
        }
      }
    }
  }
  std::vector<PeerPath::Outgoing> out;
  for (auto &[token, path] : relays_) {
    out.clear();
    Timestamp due = path->punch_due(now, out);
    for (const auto &o : out) send_probe(*path, o.to, o.datagram);
    sooner(due);
  }
  if (!next) return path_timer_->stop();
  path_timer_->start(next <= now ? 0 : (next - now + kMillisecond - 1) / kMillisecond);
}

// The initiator's side of a direct path: go there once it is proven and
// the handshake confirmed; keep it answering; leave it when it stops.
void Endpoint::go_direct_if_ready(Entry &e, Timestamp now) {
  PeerPath &p = *e.path;
  if (e.conn->is_server() || p.removed_ || p.current_ == PathKind::direct || !p.direct_validated_ ||
      p.options_.policy == PathPolicy::relay_only || e.conn->state() != quic::State::established ||
      !e.conn->handshake_confirmed())
    return;
  if (p.fallen_back_at_ && now - p.fallen_back_at_ < p.holdoff_) return;
  if (p.migrating_since_ && now - p.migrating_since_ < PeerPath::kMigrationRetry) return;
  if (p.migration_attempts_ >= PeerPath::kMaxMigrationAttempts) {
    // The probes pass but QUIC's path validation never does: stay relayed
    // (probing again only after a fallback or a new validation).
    CONEC_INFO("net: path validation to {} failed {} times; the channel stays on the relay",
               p.direct_ ? p.direct_->to_string() : "?", p.migration_attempts_);
    p.direct_validated_ = false;
    p.migrating_since_ = 0;
    return;
  }
  ++p.migration_attempts_;
  p.migrating_since_ = now;
  // The probe round trip just made the path (make before break), so the
  // data moves at once; ngtcp2 validates it in parallel and returns to the
  // relay by itself should that fail. (Validating first lost the race with
  // a busy relay: the acceptor followed our relayed packets back while our
  // PATH_CHALLENGE's answer went the other way.)
  if (auto r = e.conn->migrate(p.quic_path(PathKind::direct, false, local_address()), false, now); !r) {
    CONEC_DEBUG("net: cannot move the channel to its direct path yet: {}", r.error().message);
    return;
  }
  p.entered_direct();
  CONEC_INFO("net: channel now direct to {}", p.direct_ ? p.direct_->to_string() : "?");
  schedule(e);
  watch_paths();
}

void Endpoint::tend_direct(Entry &e, Timestamp now) {
  PeerPath &p = *e.path;
  if (e.conn->is_server() || e.conn->state() != quic::State::established) return;
  if (p.current_ != PathKind::direct) return go_direct_if_ready(e, now);
  Timestamp waiting = e.conn->awaiting_since();
  Duration stall = std::max<Duration>(PeerPath::kDirectStall, 4 * e.conn->stats().smoothed_rtt);
  if (waiting && now - waiting >= stall)
    return fall_back_to_relay(e, now, "no answer on it for " + std::to_string((now - waiting) / kMillisecond) + " ms");
  if (!waiting && now - e.conn->last_received() >= PeerPath::kDirectKeepalive) {
    e.conn->poke(); // an idle direct path still answers, or we learn it does not
    schedule(e);
  }
}

void Endpoint::fall_back_to_relay(Entry &e, Timestamp now, const std::string &why) {
  PeerPath &p = *e.path;
  // At once: the direct path is presumed dead, the relay known to work.
  if (auto r = e.conn->migrate(p.quic_path(PathKind::relay, false, local_address()), false, now); !r) {
    CONEC_WARN("net: cannot fall back to the relay: {}", r.error().message);
    return;
  }
  CONEC_INFO("net: direct path to {} lost ({}); back on the relay", p.direct_ ? p.direct_->to_string() : "?", why);
  p.left_direct(now, true); // and back to direct when it answers again
  schedule(e);
  watch_paths();
}

// After a packet on a peer connection: the path QUIC uses may have changed
// (the initiator's migration validated; the acceptor following the
// initiator's packets).
void Endpoint::after_peer_receive(Entry &e, Timestamp now) {
  PeerPath &p = *e.path;
  PathKind kind = p.kind_of(e.conn->path());
  if (kind == p.current_) {
    if (kind == PathKind::relay && p.direct_validated_ && !e.conn->is_server() && !p.migrating_since_)
      go_direct_if_ready(e, now); // e.g. the handshake has just been confirmed
    return;
  }
  if (kind == PathKind::direct) {
    p.entered_direct();
    CONEC_INFO("net: channel now direct to {}", p.direct_ ? p.direct_->to_string() : "?");
  } else {
    // The acceptor sees the initiator fall back; the initiator sees QUIC
    // give the direct path up (its validation failed). Either way probing
    // resumes, so our NAT lets the other side's probes in.
    CONEC_INFO("net: channel back on the relay");
    p.left_direct(now, !e.conn->is_server());
  }
  watch_paths();
}

quic::Config Endpoint::peer_config() const {
  quic::Config config = options_.quic;
  config.max_udp_payload = kRelayedMaxUdpPayload;
  config.keepalive = config.keepalive ? std::min(config.keepalive, PeerPath::kPeerKeepalive) : PeerPath::kPeerKeepalive;
  return config;
}

void Endpoint::restart_transmission(Entry &e, Timestamp now) {
  PeerPath &p = *e.path;
  e.conn->hold_liveness(false, now);
  if (!e.conn->is_server() && p.current_ == PathKind::relay && e.conn->awaiting_since() &&
      e.conn->handshake_confirmed()) {
    if (auto r = e.conn->migrate(p.other_relay_path(e.conn->path(), local_address()), false, now); !r) {
      CONEC_DEBUG("net: cannot restart the relayed channel's transmission: {}", r.error().message);
      e.conn->refresh_liveness(now);
    } else {
      CONEC_INFO("net: the relay works again: the channel's transmission restarts at once");
    }
  } else {
    e.conn->refresh_liveness(now);
  }
  schedule(e);
}

void Endpoint::relay_restored(ByteView token) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end()) return;
  Timestamp now = monotonic_now();
  for (auto &[key, e] : entries_)
    if (e->path == it->second.get() && e->conn->state() == quic::State::established) restart_transmission(*e, now);
}

void Endpoint::peer_moved(ByteView token, const SockAddr &observed) {
  auto it = relays_.find(token_key(token));
  if (it == relays_.end() || observed.family() != local_address().family()) return;
  it->second->peer_moved(observed, monotonic_now());
  watch_paths();
}

void Endpoint::way_out_back(const SockAddr &relay, Timestamp now) {
  for (auto &[key, e] : entries_) {
    if (!e->path || !(e->path->relay_ == relay) || e->path->current_ != PathKind::relay ||
        e->conn->state() != quic::State::established)
      continue;
    Timestamp waited = e->conn->awaiting_since();
    if (waited && now - waited >= stall_threshold(*e->conn)) restart_transmission(*e, now);
    else e->conn->hold_liveness(false, now);
  }
}

void Endpoint::watch_paths() {
  if (!path_timer_->active()) path_timer_->start(0);
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
  quic::Config config = peer_config();
  auto conn = quic::Connection::connect(config, std::move(credentials), server_name,
                                        quic::Path{local_address(), it->second->virtual_addr_}, *entry,
                                        monotonic_now());
  if (!conn) return fail(conn.error());
  PeerPath *path = it->second.get();
  auto session = attach(std::move(entry), std::move(*conn), &handler, path);
  path->start_punching(monotonic_now());
  tend_paths(monotonic_now());
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
  tend_paths(monotonic_now());
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
