// PeerPath: path naming, and hole punching (probe rounds, replies,
// validation of a direct address).
#include "net/peer_path.hpp"

#include <algorithm>

#include "util/log.hpp"

namespace conec::net {

namespace {
// Probes awaiting a reply: enough for every candidate over the last rounds.
constexpr size_t kMaxOutstanding = 64;

// Nothing to reach there: no address, no port, or a multicast group.
bool unreachable(const SockAddr &a) {
  if (a.empty() || a.port() == 0) return true;
  std::string host = a.host_key();
  auto first = host.empty() ? 0 : static_cast<uint8_t>(host[0]);
  return host.size() == 4 ? (first >= 224 && first <= 239) : first == 0xff;
}
} // namespace

std::string_view to_string(PathKind kind) { return kind == PathKind::direct ? "direct" : "relay"; }

std::string PeerPath::describe() const {
  if (current_ == PathKind::direct && direct_) return "direct " + direct_->to_string();
  return std::string(to_string(current_));
}

quic::Path PeerPath::quic_path(PathKind kind, bool server, const SockAddr &local) const {
  if (kind == PathKind::relay) return quic::Path{local, virtual_addr_};
  return server ? quic::Path{local, direct_virtual_} : quic::Path{direct_virtual_, virtual_addr_};
}

void PeerPath::start_punching(Timestamp now, bool persistent) {
  // Nothing to reach at an unspecified or multicast address.
  std::erase_if(options_.candidates, unreachable);
  if (options_.policy == PathPolicy::relay_only || removed_ || direct_validated_) return;
  if (direct_) learn_candidate(*direct_, now); // where the peer was last reached directly
  if (options_.candidates.empty()) return;
  persistent_ = persistent_ || persistent;
  if (punching_) return;
  punching_ = true;
  punch_started_ = next_probe_ = now;
  interval_ = kFirstProbeInterval;
}

void PeerPath::entered_direct() {
  current_ = PathKind::direct;
  migrating_since_ = 0;
  ++switches_to_direct_;
}

void PeerPath::left_direct(Timestamp now, bool initiator) {
  current_ = PathKind::relay;
  direct_validated_ = false;
  migrating_since_ = 0;
  if (initiator) {
    fallen_back_at_ = now;
    holdoff_ = std::min(holdoff_ ? 2 * holdoff_ : kFirstHoldoff, kMaxHoldoff);
    ++fallbacks_;
  }
  start_punching(now, true);
}

void PeerPath::peer_moved(const SockAddr &observed, Timestamp now) {
  if (options_.policy == PathPolicy::relay_only || removed_ || unreachable(observed)) return;
  auto &c = options_.candidates;
  std::erase(c, observed);
  c.insert(c.begin(), observed);
  CONEC_INFO("net: the peer is now seen at {}{}", observed.to_string(), punching_ ? ": probing it" : "");
  if (punching_) {
    next_probe_ = now;
    interval_ = kFirstProbeInterval;
  }
}

void PeerPath::learn_candidate(const SockAddr &from, Timestamp now) {
  if (unreachable(from) ||
      std::find(options_.candidates.begin(), options_.candidates.end(), from) != options_.candidates.end())
    return;
  if (learned_candidates_ >= kMaxLearnedCandidates) return;
  ++learned_candidates_;
  options_.candidates.push_back(from);
  if (punching_) next_probe_ = now; // at the next punch round
}

std::vector<SockAddr> PeerPath::probe_targets() const {
  if (!persistent_) return options_.candidates;
  std::vector<SockAddr> t;
  if (!options_.candidates.empty()) t.push_back(options_.candidates.front());
  if (direct_ && std::find(t.begin(), t.end(), *direct_) == t.end()) t.push_back(*direct_);
  return t;
}

bool PeerPath::accept_direct(const SockAddr &from, size_t bytes, Timestamp now) {
  if (removed_ || options_.policy == PathPolicy::relay_only) return false;
  if (!direct_ || !(*direct_ == from)) {
    if (std::find(heard_from_.begin(), heard_from_.end(), from) == heard_from_.end()) return false;
    // Maybe the peer's real direct address (its NAT mapped another port);
    // maybe a replay. Our own probe decides.
    learn_candidate(from, now);
    if (!direct_validated_) start_punching(now);
  }
  ++direct_counters_.datagrams_received;
  direct_counters_.bytes_received += bytes;
  return true;
}

Timestamp PeerPath::punch_due(Timestamp now, std::vector<Outgoing> &out) {
  if (!punching_) return 0;
  if (!persistent_ && now - punch_started_ >= kPunchGiveUp) {
    punching_ = false;
    sent_.clear();
    CONEC_INFO("net: no direct path after {} probes to {} candidate(s); the channel stays on the relay",
               probes_sent_, options_.candidates.size());
    return 0;
  }
  if (now < next_probe_) return next_probe_;
  for (const SockAddr &to : probe_targets()) {
    Probe probe = new_probe();
    out.push_back(Outgoing{to, encode_probe(probe_key_, options_.role, probe)});
    if (sent_.size() >= kMaxOutstanding) sent_.erase(sent_.begin());
    sent_.push_back(Sent{probe.nonce, to, now});
    ++probes_sent_;
  }
  next_probe_ = now + interval_;
  interval_ = std::min(interval_ * 2, persistent_ ? kMaxPersistentInterval : kMaxProbeInterval);
  return next_probe_;
}

bool PeerPath::on_probe(const SockAddr &from, ByteView datagram, Timestamp now, std::vector<Outgoing> &out) {
  auto probe = decode_probe(probe_key_, peer_role(), datagram);
  if (!probe) return false;
  ++direct_counters_.datagrams_received;
  direct_counters_.bytes_received += datagram.size();
  if (probe->kind == ProbeKind::reply) {
    auto it = std::find_if(sent_.begin(), sent_.end(), [&](const Sent &s) { return s.nonce == probe->echo; });
    if (it == sent_.end() || direct_validated_) return true; // stale, replayed, or already validated
    if (!(it->to == from)) {
      // The mac does not cover addresses: a copy of a genuine reply could
      // come from anywhere. The source may be real (the peer's NAT maps
      // another port towards us), so probe it as a candidate of its own:
      // only a reply from the very address a probe went to validates.
      learn_candidate(from, now);
      return true;
    }
    direct_ = from;
    direct_validated_ = true;
    migration_attempts_ = 0;
    direct_rtt_ = now > it->at ? now - it->at : 0;
    punching_ = persistent_ = false;
    sent_.clear();
    CONEC_INFO("net: direct path to {} works both ways (probe rtt {:.2f} ms, {} ms after punching began)",
               from.to_string(), double(direct_rtt_) / double(kMillisecond),
               (now - punch_started_) / kMillisecond);
    return true;
  }
  // A probe: its source may send us direct packets (see heard_from_), and
  // is worth a probe of ours (its NAT may map it to a port nobody told us).
  if (std::find(heard_from_.begin(), heard_from_.end(), from) == heard_from_.end()) {
    if (heard_from_.size() >= kMaxHeardFrom) heard_from_.erase(heard_from_.begin());
    heard_from_.push_back(from);
  }
  bool known = std::find(options_.candidates.begin(), options_.candidates.end(), from) != options_.candidates.end();
  if (!direct_validated_) learn_candidate(from, now);
  // Answer it, within a budget (a reply is never bigger).
  if (now - reply_window_ >= kSecond) {
    reply_window_ = now;
    replies_in_window_ = 0;
  }
  if (++replies_in_window_ > kMaxRepliesPerSecond) return true;
  out.push_back(Outgoing{from, encode_probe(probe_key_, options_.role, reply_to(*probe))});
  // Not validated yet, and it came from an address we were told of: probe
  // it back now rather than at our next round (the peer is there now, and
  // its QUIC packets wait for our validation). Never to an address only
  // this probe named, so a replayed probe cannot aim anything elsewhere.
  if (known && !direct_validated_ && punching_ && ++replies_in_window_ <= kMaxRepliesPerSecond) {
    Probe back = new_probe();
    out.push_back(Outgoing{from, encode_probe(probe_key_, options_.role, back)});
    if (sent_.size() >= kMaxOutstanding) sent_.erase(sent_.begin());
    sent_.push_back(Sent{back.nonce, from, now});
    ++probes_sent_;
  }
  return true;
}

} // namespace conec::net
