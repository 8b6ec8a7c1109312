// Endpoint: socket I/O, routing by connection id, per-connection timers and
// deferred, batched sending.
#include "net/endpoint.hpp"

#include <algorithm>
#include <chrono>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cstring>

#include "net/entry.hpp"
#include "net/relay.hpp"
#include "quic/packet.hpp"
#include "util/log.hpp"

namespace conec::net {

namespace {
constexpr size_t kMaxBatch = 64;            // datagrams per GSO send (kernel limit)
constexpr size_t kReadBatchesPerWakeup = 8; // then yield to timers and sends
std::string_view cid_key(ByteView cid) { return as_chars(cid); }
} // namespace


void Entry::on_cid_added(ByteView cid) { ep.register_cid(cid, *this); }
void Entry::on_handshake_completed() {
  ep.handshake_ended(*this);
  if (app) app->on_handshake_completed();
}
void Entry::on_cid_removed(ByteView cid) { ep.unregister_cid(cid); }

Endpoint::Endpoint(loop::Loop &loop, EndpointOptions options, UdpSocket socket)
    : loop_(loop), options_(std::move(options)), socket_(std::move(socket)),
      send_buffer_(kMaxBatch * quic::kMaxUdpPayload),
      wrap_buffer_(kMaxBatch * (quic::kMaxUdpPayload + kRelayHeaderLength)) {}

Result<std::unique_ptr<Endpoint>> Endpoint::create(loop::Loop &loop, EndpointOptions options) {
  if (options.quic.static_secret.empty()) {
    options.quic.static_secret.resize(32);
    random_bytes(options.quic.static_secret);
  }
  auto socket = UdpSocket::bind(options.bind, options.socket);
  if (!socket) return fail(socket.error());
  std::unique_ptr<Endpoint> ep(new Endpoint(loop, std::move(options), std::move(*socket)));
  Endpoint *self = ep.get();
  ep->socket_.on_port_unreachable = [self](const SockAddr &to) { self->port_unreachable(to); };
  ep->poll_ = std::make_unique<loop::FdPoll>(loop, ep->socket_.fd(), [self](int events) {
    if (events & loop::FdPoll::error) self->socket_.drain_errors();
    if (events & loop::FdPoll::writable) self->on_writable();
    if (events & loop::FdPoll::readable) self->on_readable();
  });
  ep->poll_->watch(loop::FdPoll::readable);
  ep->flusher_ = std::make_unique<loop::Deferred>(loop, [self] { self->flush_all(); });
  ep->trim_timer_ = std::make_unique<loop::Timer>(loop, [self] { self->maybe_trim(monotonic_now()); });
  ep->trim_timer_->keep_alive(false);
  ep->path_timer_ = std::make_unique<loop::Timer>(loop, [self] { self->tend_paths(monotonic_now()); });
  ep->path_timer_->keep_alive(false);
  CONEC_DEBUG("net: endpoint on {} (GSO {})", ep->local_address().to_string(),
              ep->socket_.gso_supported() ? "on" : "off");
  return ep;
}

Endpoint::~Endpoint() {
  // Tell peers we are gone (best effort), then detach surviving Sessions.
  Timestamp now = monotonic_now();
  for (auto &[key, e] : entries_) {
    if (e->conn && !e->conn->is_closed()) {
      e->conn->close(0, "endpoint shutting down");
      flush(*e, now);
    }
    if (e->session) e->session->entry_ = nullptr;
    e->app = nullptr;
  }
}

// Every connection starts here: the entry is its handler from the first
// moment, routes its ids, and gets its Session handle.
std::unique_ptr<Session> Endpoint::attach(std::unique_ptr<Entry> owned, std::unique_ptr<quic::Connection> conn,
                                          quic::ConnectionHandler *app, PeerPath *via) {
  Entry &e = *owned;
  e.app = app;
  e.conn = std::move(conn);
  e.timer = std::make_unique<loop::Timer>(loop_, [this, &e] {
    Timestamp now = monotonic_now();
    if (e.path) hold_if_cut_off(e, now);
    e.conn->handle_timeout(now);
    if (e.path) poke_relay_if_stalled(e, now);
    schedule(e);
  });
  if (via) {
    e.path = via;
    ++via->users_;
  }
  entries_.emplace(&e, std::move(owned));
  for (const Bytes &cid : e.conn->local_cids()) register_cid(cid, e);
  std::unique_ptr<Session> session(new Session());
  session->entry_ = &e;
  e.session = session.get();
  schedule(e);
  return session;
}

Result<std::unique_ptr<Session>> Endpoint::connect(const SockAddr &remote,
                                                   std::shared_ptr<tls::Credentials> credentials,
                                                   const std::string &server_name,
                                                   quic::ConnectionHandler &handler, const quic::Config *config) {
  if (remote.family() != local_address().family())
    return fail(ErrorCategory::usage, "net",
                "cannot reach " + remote.to_string() + " from a socket bound to " + local_address().to_string());
  auto entry = std::make_unique<Entry>(*this);
  auto conn = quic::Connection::connect(config ? *config : options_.quic, std::move(credentials), server_name,
                                        quic::Path{local_address(), remote}, *entry, monotonic_now());
  if (!conn) return fail(conn.error());
  return attach(std::move(entry), std::move(*conn), &handler, nullptr);
}

void Endpoint::close_all(const std::string &reason) {
  for (auto &[key, e] : entries_) {
    e->conn->close(0, reason);
    schedule(*e);
  }
}

bool Endpoint::closes_sent() const {
  if (!dirty_.empty() || socket_full_) return false;
  for (const auto &[key, e] : entries_) {
    quic::State s = e->conn->state();
    if (s == quic::State::handshaking || s == quic::State::established || !e->pending.empty()) return false;
  }
  return true;
}

void Endpoint::register_cid(ByteView cid, Entry &e) {
  by_cid_[std::string(cid_key(cid))] = &e;
  e.cids.emplace_back(cid.begin(), cid.end());
}

void Endpoint::unregister_cid(ByteView cid) {
  if (auto it = by_cid_.find(cid_key(cid)); it != by_cid_.end()) by_cid_.erase(it);
}

void Endpoint::on_readable() {
  Timestamp now = monotonic_now();
  for (size_t i = 0; i < kReadBatchesPerWakeup; ++i) {
    auto n = socket_.receive([&](const Datagram &d) { route(d, now); });
    if (!n) {
      CONEC_WARN("net: receive on {}: {}", local_address().to_string(), n.error().message);
      break;
    }
    if (*n == 0) break;
    stats_.datagrams_received += *n;
  }
}

// ICMP port unreachable for `to`: every connection whose peer is there
// checks at once whether it still answers (a cheap hint, so a forged ICMP
// costs a live peer one probe and nothing more).
void Endpoint::port_unreachable(const SockAddr &to) {
  ++stats_.port_unreachable;
  Timestamp now = monotonic_now();
  for (auto &[ptr, e] : entries_) {
    if (!e->conn || !(e->conn->path().remote == to)) continue;
    e->conn->note_unreachable(now);
    schedule(*e);
  }
}

void Endpoint::route(const Datagram &d, Timestamp now, PeerPath *via) {
  if (!via && is_probe(d.data) && !on_relay_datagram) return route_probe(d, now);
  if (!via && is_relayed(d.data)) {
    if (on_relay_datagram) on_relay_datagram(d);
    else route_relayed(d, now);
    return;
  }
  auto header = quic::parse_header(d.data);
  if (!header) {
    ++stats_.dropped_malformed;
    return;
  }
  auto it = by_cid_.find(cid_key(header->dcid));
  if (it == by_cid_.end()) {
    if (via) {
      // Only the connection an introduction announced may arrive this way.
      if (header->long_header && via->on_accept_) accept(d, now, via);
      else ++stats_.relayed_dropped;
    } else if (header->long_header && !header->needs_version_negotiation && options_.server_credentials) {
      accept(d, now, nullptr);
    } else {
      answer_unknown(d, *header);
    }
    return;
  }
  Entry &e = *it->second;
  if (!e.path) {
    Timestamp waited = e.conn->awaiting_since();
    e.conn->receive(quic::Path{local_address(), d.from}, d.data, d.ecn, now);
    schedule(e);
    // Heard from the coordinator after a stall (our pokes went unanswered):
    // the way out works again, relayed channels need not wait out PTOs.
    if (!relays_.empty() && waited && e.conn->awaiting_since() != waited && now - waited >= stall_threshold(*e.conn))
      way_out_back(d.from, now);
    return;
  }
  // A peer connection: relayed packets arrive on the relay's virtual path;
  // direct ones only from addresses the path knows, on the direct one.
  if (!via) {
    bool was_punching = e.path->punching();
    if (!e.path->accept_direct(d.from, d.data.size(), now)) {
      ++stats_.direct_dropped;
      return;
    }
    if (e.path->punching() && !was_punching) watch_paths();
  }
  PathKind kind = via ? PathKind::relay : PathKind::direct;
  quic::Path path = e.path->quic_path(kind, e.conn->is_server(), local_address());
  // The initiator's relay path may be on its alternate local address
  // (Endpoint::relay_restored): relayed packets arrive on the one in use.
  if (kind == PathKind::relay && !e.conn->is_server() && e.path->kind_of(e.conn->path()) == PathKind::relay)
    path = e.conn->path();
  e.conn->receive(path, d.data, d.ecn, now);
  after_peer_receive(e, now);
  schedule(e);
}

namespace {
// Handshakes are counted per host: an IPv4 address, or an IPv6 /64 (one
// site's hosts commonly get a whole /64, so per-/128 would be no cap).
std::string admission_key(const SockAddr &a) {
  std::string k = a.host_key();
  static const char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, char(0xff), char(0xff)};
  if (k.size() == 16 && k.compare(0, 12, std::string(v4mapped, 12)) != 0) k.resize(8);
  return k;
}

uint64_t wall_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}
} // namespace

bool Endpoint::admit(const Datagram &d, std::optional<Bytes> &retried_from) {
  const AdmissionOptions &a = options_.admission;
  auto initial = quic::parse_initial(d.data);
  if (!initial) {
    ++stats_.dropped_unroutable;
    return false;
  }
  uint8_t out[quic::kMaxUdpPayload];
  ByteView secret = options_.quic.static_secret;
  if (quic::has_retry_token(*initial)) {
    retried_from = quic::verify_retry_token(*initial, d.from, secret, a.retry_token_lifetime, wall_ns());
    if (!retried_from) {
      // Forged, expired or from another address: say so (smaller than the
      // Initial, so no amplification) rather than let the client time out.
      ++stats_.retry_tokens_refused;
      if (take_answer_token())
        if (size_t n = quic::write_invalid_token_close(out, *initial)) send_raw(d.from, ByteView(out, n));
      return false;
    }
  }
  size_t in_progress = stats_.handshakes_in_progress;
  bool want_retry = a.retry == RetryPolicy::always || (a.retry == RetryPolicy::automatic && in_progress >= a.retry_above);
  if (!retried_from && want_retry) {
    if (size_t n = quic::write_retry(out, *initial, d.from, secret, wall_ns())) {
      ++stats_.retries_sent;
      send_raw(d.from, ByteView(out, n));
    }
    return false;
  }
  auto per_ip = handshakes_by_ip_.find(admission_key(d.from));
  if (in_progress >= a.max_handshakes ||
      (per_ip != handshakes_by_ip_.end() && per_ip->second >= a.max_handshakes_per_address)) {
    // The client retransmits its Initial after a PTO; it gets in once
    // handshakes end, or times out.
    ++stats_.initials_over_limit;
    return false;
  }
  return true;
}

// Stateless answers (resets, INVALID_TOKEN closes) cost us CPU and reflect
// 1:1: a small token bucket (10, refilled 10/s) bounds them.
bool Endpoint::take_answer_token() {
  Timestamp now = monotonic_now();
  reset_tokens_ = std::min(10.0, reset_tokens_ + double(now - reset_refill_) / double(100 * kMillisecond));
  reset_refill_ = now;
  if (reset_tokens_ < 1) return false;
  reset_tokens_ -= 1;
  return true;
}

void Endpoint::handshake_ended(Entry &e) {
  if (!e.counted_handshake) return;
  e.counted_handshake = false;
  --stats_.handshakes_in_progress;
  if (auto it = handshakes_by_ip_.find(e.handshake_ip); it != handshakes_by_ip_.end() && --it->second == 0)
    handshakes_by_ip_.erase(it);
}

void Endpoint::accept(const Datagram &d, Timestamp now, PeerPath *via) {
  std::optional<Bytes> retried_from;
  if (!via && !admit(d, retried_from)) return;
  auto entry = std::make_unique<Entry>(*this);
  quic::Path path{local_address(), d.from};
  quic::Config config = via ? peer_config() : options_.quic;
  auto credentials = via ? via->accept_credentials_ : options_.server_credentials;
  auto conn = quic::Connection::accept(config, credentials, path, d.data, *entry, now,
                                       retried_from ? &*retried_from : nullptr);
  if (!conn) {
    ++stats_.dropped_unroutable;
    return;
  }
  Entry &e = *entry;
  if (!via) {
    e.counted_handshake = true;
    e.handshake_ip = admission_key(d.from);
    ++stats_.handshakes_in_progress;
    ++handshakes_by_ip_[e.handshake_ip];
  }
  std::unique_ptr<Session> session = attach(std::move(entry), std::move(*conn), nullptr, via);
  auto hand_over = via ? std::move(via->on_accept_) : on_accept;
  if (via) via->on_accept_ = nullptr; // one connection per introduction
  if (hand_over) hand_over(std::move(session));
  else session.reset(); // nobody takes connections: close it
  e.conn->receive(path, d.data, d.ecn, now);
}

void Endpoint::answer_unknown(const Datagram &d, const quic::PacketHeader &h) {
  ++stats_.dropped_unroutable;
  uint8_t out[quic::kMaxUdpPayload];
  if (h.needs_version_negotiation) {
    if (size_t n = quic::write_version_negotiation(out, h)) send_raw(d.from, ByteView(out, n));
    return;
  }
  if (h.long_header) return;
  // A stateless reset looks like a short-header packet for an unknown id. On
  // a client endpoint (few connections) let the connections to that address
  // check it against their reset tokens; answering it with our own reset
  // would only start a ping-pong.
  if (!options_.server_credentials) {
    bool claimed = false;
    Timestamp now = monotonic_now();
    for (auto &[key, e] : entries_) {
      if (!e->conn->is_closed() && !e->path && e->conn->path().remote == d.from) {
        e->conn->receive(quic::Path{local_address(), d.from}, d.data, d.ecn, now);
        claimed |= e->conn->state() == quic::State::draining;
        schedule(*e);
      }
    }
    if (claimed) return;
  }
  // A short-header packet for a connection we do not have: the peer lost
  // track of it (we restarted). A stateless reset tells it at once.
  if (!take_answer_token()) return;
  if (size_t n = quic::write_stateless_reset(out, h.dcid, options_.quic.static_secret, d.data.size())) {
    ++stats_.stateless_resets_sent;
    CONEC_DEBUG("net: stateless reset to {} for an unknown connection", d.from.to_string());
    send_raw(d.from, ByteView(out, n));
  }
}

// Relayed data waiting unanswered may mean that our NAT gave us a new
// public address: the relay forwards only from the address the coordinator
// validated, which it learns from our coordinator link — idle, it would
// speak only at its next keepalive (seconds). A PING on it now shows the
// coordinator our current address, which it validates in one round trip.
//
// The PING goes even while earlier ones are unanswered (every
// kRelayStallPoke while the stall lasts): its own retransmissions back off
// too, and its answer is how we learn that the way out works again
// (way_out_back).
void Endpoint::poke_relay_if_stalled(Entry &e, Timestamp now) {
  Timestamp waiting = e.conn->awaiting_since();
  if (!waiting || now - waiting < kRelayStallPoke || now - e.path->last_poke_ < kRelayStallPoke) return;
  e.path->last_poke_ = now;
  if (Entry *link = coordinator_link(e.path->relay_)) {
    link->conn->poke(true);
    schedule(*link);
  }
  watch_paths(); // tend_paths keeps the pace while the stall lasts
}

Entry *Endpoint::coordinator_link(const SockAddr &relay) {
  for (auto &[key, other] : entries_)
    if (!other->path && !other->conn->is_closed() && other->conn->path().remote == relay) return other.get();
  return nullptr;
}

bool Endpoint::cut_off_from(const SockAddr &relay, Timestamp now) {
  Entry *link = coordinator_link(relay);
  if (!link || link->conn->state() != quic::State::established) return true;
  Timestamp waited = link->conn->awaiting_since();
  return waited && now - waited >= stall_threshold(*link->conn);
}

// Waiting this long for any answer is a stall, not a round trip.
Duration Endpoint::stall_threshold(const quic::Connection &conn) {
  return std::max<Duration>(kRelayStallPoke, 4 * conn.stats().smoothed_rtt);
}

void Endpoint::hold_if_cut_off(Entry &e, Timestamp now) {
  bool held = e.path->current_ == PathKind::relay && cut_off_from(e.path->relay_, now);
  if (held == e.conn->liveness_held()) return;
  CONEC_DEBUG("net: relayed channel: {}", held ? "the coordinator does not answer either: waiting for the way out, "
                                                 "not giving the peer up"
                                               : "the coordinator answers: the peer must answer too");
  e.conn->hold_liveness(held, now);
}

// Sends a batch, through the entry's relay if it has one. Returns false when
// the socket is full (the rest is kept in e.pending).
bool Endpoint::send_batch(Entry &e, ByteView data, size_t segment_size, const quic::Path &path, uint8_t ecn) {
  SockAddr dest = path.remote;
  PathCounters *counters = nullptr;
  if (e.path && e.path->kind_of(path) == PathKind::direct) {
    // Straight to the peer. Without a direct address (the peer's first
    // direct packet has not come yet) the batch is lost, as on any path.
    if (!e.path->direct_) return true;
    dest = *e.path->direct_;
    counters = &e.path->direct_counters_;
  } else if (e.path) {
    dest = e.path->relay_;
    counters = &e.path->relay_counters_;
    // Each segment gets its own header, so the batch stays one GSO send.
    size_t out = 0;
    for (size_t off = 0; off < data.size(); off += segment_size) {
      size_t n = std::min(segment_size, data.size() - off);
      wrap_buffer_[out] = kRelayMarker;
      std::memcpy(&wrap_buffer_[out + 1], e.path->token_.data(), kRelayTokenLength);
      std::memcpy(&wrap_buffer_[out + kRelayHeaderLength], data.data() + off, n);
      out += kRelayHeaderLength + n;
    }
    data = ByteView(wrap_buffer_.data(), out);
    segment_size += kRelayHeaderLength;
  }
  auto sent = socket_.send(dest, data, segment_size, ecn);
  if (!sent) {
    // Unreachable destination and the like: QUIC treats it as loss.
    CONEC_DEBUG("net: send to {}: {}", dest.to_string(), sent.error().message);
    return true;
  }
  ++stats_.send_calls;
  stats_.datagrams_sent += (*sent + segment_size - 1) / segment_size;
  if (counters) counters->count_sent(*sent, segment_size);
  if (*sent < data.size()) {
    e.pending.assign(data.begin() + static_cast<ptrdiff_t>(*sent), data.end());
    e.pending_segment = segment_size;
    e.pending_to = dest;
    e.pending_ecn = ecn;
    e.pending_counters = counters;
    socket_full_ = true;
    ++stats_.send_blocked;
    poll_->watch(loop::FdPoll::readable | loop::FdPoll::writable);
    return false;
  }
  return true;
}

void Endpoint::send_raw(const SockAddr &to, ByteView data) {
  auto r = socket_.send(to, data, data.size());
  if (!r) CONEC_DEBUG("net: send to {}: {}", to.to_string(), r.error().message);
  else if (!*r) CONEC_DEBUG("net: send to {}: socket buffer full", to.to_string());
  if (r && *r) {
    ++stats_.datagrams_sent;
    ++stats_.send_calls;
  }
}

void Endpoint::schedule(Entry &e) {
  if (!e.dirty) {
    e.dirty = true;
    dirty_.push_back(&e);
  }
  flusher_->schedule();
}

void Endpoint::flush_all() {
  if (socket_full_) return; // on_writable resumes
  Timestamp now = monotonic_now();
  std::vector<Entry *> work;
  work.swap(dirty_);
  size_t i = 0;
  for (; i < work.size(); ++i) {
    Entry &e = *work[i];
    e.dirty = false;
    if (!flush(e, now)) {
      // Socket full: keep this and the rest for when it drains.
      for (size_t j = i; j < work.size(); ++j) {
        if (!work[j]->dirty) {
          work[j]->dirty = true;
          dirty_.push_back(work[j]);
        }
      }
      break;
    }
    arm_timer(e, now);
    if (e.conn->is_closed()) reap(e);
  }
  maybe_trim(now);
}

bool Endpoint::flush(Entry &e, Timestamp now) {
  if (!e.pending.empty()) {
    auto sent = socket_.send(e.pending_to, e.pending, e.pending_segment, e.pending_ecn);
    if (sent && e.path && e.pending_counters) e.pending_counters->count_sent(*sent, e.pending_segment);
    if (sent && *sent < e.pending.size()) {
      e.pending.erase(e.pending.begin(), e.pending.begin() + static_cast<ptrdiff_t>(*sent));
      socket_full_ = true;
      ++stats_.send_blocked;
      poll_->watch(loop::FdPoll::readable | loop::FdPoll::writable);
      return false;
    }
    e.pending.clear();
  }
  for (;;) {
    quic::PacketBatch batch = e.conn->write(send_buffer_, kMaxBatch, now);
    if (batch.size == 0) return true;
    if (!send_batch(e, ByteView(send_buffer_.data(), batch.size), batch.segment_size, batch.path, batch.ecn))
      return false;
  }
}

void Endpoint::on_writable() {
  socket_full_ = false;
  poll_->watch(loop::FdPoll::readable);
  flush_all();
}

void Endpoint::arm_timer(Entry &e, Timestamp now) {
  Timestamp expiry = e.conn->expiry();
  if (expiry == kNever) {
    e.timer->stop();
    return;
  }
  uint64_t ms = expiry <= now ? 0 : (expiry - now + kMillisecond - 1) / kMillisecond;
  e.timer->start(ms);
}

void Endpoint::reap(Entry &e) {
  handshake_ended(e); // a handshake that failed or timed out
  for (const Bytes &cid : e.cids) {
    auto it = by_cid_.find(cid_key(cid));
    if (it != by_cid_.end() && it->second == &e) by_cid_.erase(it);
  }
  e.cids.clear();
  e.timer->stop();
  if (e.path) {
    PeerPath *path = std::exchange(e.path, nullptr);
    if (--path->users_ == 0 && path->removed_) erase_path(path->token_);
  }
  if (e.session) return; // the Session still refers to it
  if (e.dirty) std::erase(dirty_, &e);
  entries_.erase(&e);
  ++freed_since_trim_;
}

// After many connections were freed (a flood or churn), give the memory back
// to the system: glibc keeps freed heap pages otherwise, and a coordinator's
// RSS would stay at its peak after every attack.
// At most once a second; frees that come later are trimmed by a timer.
void Endpoint::maybe_trim(Timestamp now) {
  if (freed_since_trim_ < 64) return;
  if (now - last_trim_ < kSecond) {
    if (!trim_timer_->active()) trim_timer_->start(1000);
    return;
  }
  freed_since_trim_ = 0;
  last_trim_ = now;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

} // namespace conec::net
