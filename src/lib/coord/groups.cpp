// Groups at the coordinator: membership, fan-out of one shared frame per
// post, per-member bounded queues, the lossless pacing and the deadline.
#include "coord/groups.hpp"

#include <algorithm>

#include "coord/client_conn.hpp"
#include "proto/framing.hpp"
#include "util/log.hpp"

namespace conec::coord {

namespace {
SharedBytes event_frame(const proto::GroupDownMessage &event) {
  Bytes frame;
  proto::append_frame(frame, proto::encode(event));
  return std::make_shared<const Bytes>(std::move(frame));
}
std::string seconds_text(Duration d) {
  if (d < kSecond) return std::to_string(d / kMillisecond) + " ms";
  return std::to_string(d / kSecond) + " s";
}
constexpr size_t kBatchBytes = 64 * 1024; // a batch is delivered once this big
} // namespace

// --- Member -----------------------------------------------------------------

Member::Member(GroupHost &host, ClientConn &c, const channel::Stream &stream)
    : id(c.id()), client(&c), host_(host), stream_(stream) {
  stream_.set_handler(*this);
}

Member::~Member() { stream_.clear_handler(); } // with the host: no callback may reach us

void Member::on_message_view(channel::Stream &, ByteView message) {
  if (removed_ || leaving_ || doomed_) return;
  if (auto payload = proto::peek_group_post(message); payload && group) return post(*payload); // the usual case
  auto decoded = proto::decode_group_up(message);
  if (!decoded) {
    ++host_.stats_.protocol_errors;
    return remove(channel::kErrorProtocol, decoded.error().message);
  }
  if (!*decoded) return; // a type a later version added: skipped
  if (auto *j = std::get_if<proto::GroupJoin>(&**decoded)) {
    if (group || refused_) {
      ++host_.stats_.protocol_errors;
      return remove(channel::kErrorProtocol, "a second GroupJoin on one stream");
    }
    return join(*j);
  }
  if (refused_) return; // posts sent before the refusal arrived
  if (!group) {
    ++host_.stats_.protocol_errors;
    return remove(channel::kErrorProtocol, "a post before GroupJoin");
  }
  post(std::get<proto::GroupPost>(**decoded).payload);
}

void Member::join(const proto::GroupJoin &join) {
  receive = join.receive;
  echo = join.echo;
  if (auto refusal = host_.admit(*this, stream_.label().name, join)) {
    refused_ = true;
    CONEC_INFO("coordinator: '{}' may not join @{}: {}", id, stream_.label().name, refusal->reason);
    (void)write(event_frame(*refusal));
    (void)stream_.finish();
    stream_.stop_reading(channel::kErrorCancelled); // nothing it sends matters now: the stream closes

  }
}

void Member::post(ByteView payload) {
  if (payload.size() > host_.max_message_)
    return remove(proto::kGroupTooLarge, "a message of " + std::to_string(payload.size()) +
                                             " bytes exceeds the group limit of " + std::to_string(host_.max_message_));
  host_.fan_out(*this, payload);
}

void Member::on_end(channel::Stream &, const std::optional<Error> &error) {
  if (removed_) return;
  if (error) {
    host_.leave(*this, proto::MemberEvent::left);
    return stream_.reset();
  }
  leaving_ = true; // every post arrived: deliver what waits for it, then end
  host_.leave(*this, proto::MemberEvent::left);
  if (!blocked_) drain();
}

void Member::on_writable(channel::Stream &) {
  blocked_ = false;
  drain();
}

void Member::on_closed(channel::Stream &, const std::optional<Error> &) {
  host_.closed(*this); // frees this Member: last use of `this`
}

bool Member::over_bound() const {
  return queue_bytes_ > host_.limits_.group_queue_bytes || queue_messages_ > host_.limits_.group_queue_messages;
}
bool Member::under_low_water() const {
  return queue_bytes_ <= host_.limits_.group_queue_bytes / 2 &&
         queue_messages_ <= host_.limits_.group_queue_messages / 2;
}

void Member::deliver(const SharedBytes &frames, size_t messages) {
  if (removed_ || doomed_) return;
  queue_.push_back({frames, messages});
  if (messages) {
    queue_bytes_ += frames->size();
    queue_messages_ += messages;
  } else {
    event_bytes_ += frames->size();
  }
  if (!blocked_) drain();
  if (removed_) return;
  // Events are never dropped (member lists stay right), so a member that
  // falls this far behind on them alone (join/leave churn) is removed.
  if (event_bytes_ > host_.limits_.group_queue_bytes)
    return remove_later(proto::kGroupRemoved, "it fell " + std::to_string(event_bytes_ >> 10) +
                                                  " KiB behind on membership events");
  if (!over_bound()) return;
  if (group && group->policy == proto::GroupPolicy::lossless) return host_.queue_grew(*group);
  // Drop-oldest: the oldest messages go (events stay: they are few and
  // keep the member list right); the member hears how many when it catches up.
  for (auto it = queue_.begin(); it != queue_.end() && over_bound();) {
    if (!it->messages) {
      ++it;
      continue;
    }
    queue_bytes_ -= it->frames->size();
    queue_messages_ -= it->messages;
    lost_ += it->messages;
    host_.stats_.group_dropped += it->messages;
    it = queue_.erase(it);
  }
}

void Member::drain() {
  while (!queue_.empty() && !blocked_) {
    if (lost_ && queue_.front().messages) {
      // Where the gap is: just before the next message it gets.
      auto r = write(event_frame(proto::GroupLost{lost_}));
      if (!r) return;
      lost_ = 0;
      if (*r == quic::WriteState::would_block) break;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    (item.messages ? queue_bytes_ : event_bytes_) -= item.frames->size();
    queue_messages_ -= item.messages;
    auto r = write(item.frames);
    // The stream refuses data (the member stopped reading it, or a frame
    // is over the channel's bound): nothing more can reach this member.
    if (!r) return remove_later(channel::kErrorCancelled, "its stream takes no more: " + r.error().message);
  }
  if (group && group->posts_paused) host_.queue_shrank(*group);
  if (queue_.empty() && !blocked_ && leaving_ && !removed_) (void)stream_.finish();
}

Result<quic::WriteState> Member::write(const SharedBytes &frame) {
  auto r = stream_.send_frames(frame);
  if (r && *r == quic::WriteState::would_block) {
    blocked_ = true;
    blocked_since_ = monotonic_now();
  }
  return r;
}

void Member::remove_later(uint64_t code, std::string why) {
  if (removed_ || doomed_) return;
  doomed_ = true;
  doom_ = {code, std::move(why)};
  queue_.clear();
  queue_bytes_ = queue_messages_ = event_bytes_ = 0;
  host_.doomed_.push_back(this);
  host_.flusher_->schedule();
}

void Member::remove(uint64_t code, const std::string &why) {
  if (removed_) return;
  CONEC_INFO("coordinator: '{}' removed from @{}: {}", id, stream_.label().name, why);
  ++host_.stats_.group_members_removed;
  host_.leave(*this, proto::MemberEvent::removed);
  removed_ = true;
  queue_.clear();
  queue_bytes_ = queue_messages_ = event_bytes_ = 0;
  stream_.reset(code); // on_closed follows (never from inside reset)
}

// --- GroupHost ----------------------------------------------------------------

GroupHost::GroupHost(loop::Loop &loop, const Limits &limits, CoordinatorStats &stats)
    : loop_(loop), limits_(limits), stats_(stats),
      // A post must fit a GroupMessage frame on the members' channels too.
      max_message_(std::min(limits.group_max_message, limits.max_message - proto::kMaxIdLength - 16)) {
  ticker_ = std::make_unique<loop::Timer>(loop_, [this] { tick(); });
  ticker_->keep_alive(false);
  uint64_t every = std::clamp<uint64_t>(limits_.group_member_deadline / kMillisecond / 4, 10, 1000);
  ticker_->start(every, every);
  flusher_ = std::make_unique<loop::Deferred>(loop_, [this] { flush_all(); });
}

GroupHost::~GroupHost() = default; // each Member detaches its handler

void GroupHost::open(ClientConn &client, const channel::Stream &stream) {
  auto m = std::make_unique<Member>(*this, client, stream);
  Member *raw = m.get();
  members_.emplace(raw, std::move(m));
}

std::optional<proto::GroupRefused> GroupHost::admit(Member &m, const std::string &name, const proto::GroupJoin &join) {
  using proto::RefuseCode;
  if (!proto::valid_id(name))
    return proto::GroupRefused{RefuseCode::bad_id, "'@" + name.substr(0, proto::kMaxIdLength) +
                                                       "' is not a valid group name (1-64 of A-Z a-z 0-9 . _ -, "
                                                       "starting with a letter or digit)"};
  auto counted = per_client_.find(m.client);
  size_t mine = counted == per_client_.end() ? 0 : counted->second;
  if (mine >= limits_.max_groups_per_client)
    return proto::GroupRefused{RefuseCode::limit, "'" + m.id + "' is in " + std::to_string(mine) +
                                                      " groups already (the coordinator's limit per client)"};
  std::string key = proto::canonical_id(name);
  auto it = groups_.find(key);
  if (it != groups_.end() && it->second->members.size() >= limits_.max_group_members)
    return proto::GroupRefused{RefuseCode::limit, "@" + it->second->name + " has " +
                                                      std::to_string(it->second->members.size()) +
                                                      " members (the coordinator's limit per group)"};
  if (it == groups_.end()) {
    if (groups_.size() >= limits_.max_groups)
      return proto::GroupRefused{RefuseCode::limit, "the coordinator hosts " + std::to_string(groups_.size()) +
                                                        " groups (its limit); @" + name + " cannot be created"};
    auto g = std::make_unique<Group>();
    g->name = name;
    g->key = key;
    g->policy = join.lossless ? proto::GroupPolicy::lossless : proto::GroupPolicy::drop_oldest;
    it = groups_.emplace(key, std::move(g)).first;
    ++stats_.groups_created;
    CONEC_INFO("coordinator: '{}' created @{} ({})", m.id, name, proto::to_string(it->second->policy));
  }
  Group &g = *it->second;
  flush(g); // what was posted before it joined is not for it
  ++per_client_[m.client];
  m.group = &g;
  g.members.push_back(&m);
  CONEC_INFO("coordinator: '{}' joined @{} ({} member{})", m.id, g.name, g.members.size(),
             g.members.size() == 1 ? "" : "s");
  m.deliver(event_frame(joined_message(g)), 0);
  if (m.receive) {
    auto present = g.members; // a failed delivery removes m from the list
    for (Member *other : present) m.deliver(event_frame(proto::GroupMember{proto::MemberEvent::joined, other->id}), 0);
  }
  if (!m.group) return std::nullopt; // removed at once (its stream took nothing): the group may be gone
  announce(g, proto::MemberEvent::joined, m.id, &m);
  if (g.posts_paused) m.pause_posts();
  return std::nullopt;
}

proto::GroupJoined GroupHost::joined_message(const Group &g) const {
  proto::GroupJoined j;
  j.policy = g.policy;
  j.members = g.members.size();
  j.max_message = max_message_;
  j.queue_bytes = limits_.group_queue_bytes;
  j.queue_messages = limits_.group_queue_messages;
  j.deadline_ms = limits_.group_member_deadline / kMillisecond;
  return j;
}

void GroupHost::fan_out(Member &from, ByteView payload) {
  Group &g = *from.group;
  ++stats_.group_posts;
  Group::Batch &batch = g.batch;
  if (batch.sender != &from) flush(g); // one sender per batch: its echo choice applies to all of it
  if (batch.frames.empty()) {
    start_batch(g);
    batch.sender = &from;
    // Room for a whole batch at once (growing it post by post would copy it each time).
    batch.frames.reserve(std::max(kBatchBytes, proto::group_message_frame_size(from.id, payload.size())));
  }
  proto::append_group_message_frame(batch.frames, from.id, payload);
  ++batch.messages;
  if (batch.frames.size() >= kBatchBytes) flush(g);
}

void GroupHost::start_batch(Group &g) {
  batching_.push_back(&g);
  flusher_->schedule();
}

void GroupHost::flush(Group &g) {
  Group::Batch &batch = g.batch;
  if (!batch.messages) return;
  // One buffer for everyone: each member's stream holds a reference.
  SharedBytes frames = std::make_shared<const Bytes>(std::move(batch.frames));
  size_t messages = batch.messages;
  Member *sender = batch.sender;
  batch = Group::Batch{};
  // A copy: a delivery may remove a member (its stream refused the data),
  // though never free one (that waits for its stream's on_closed).
  auto targets = g.members;
  for (Member *m : targets) {
    if (m->group != &g || !m->receive || (m == sender && !m->echo)) continue;
    m->deliver(frames, messages);
    stats_.group_deliveries += messages;
  }
}

void GroupHost::flush_all() {
  // Removals decided during deliveries first (made here, where no
  // delivery loop is running: a removal changes member lists).
  auto doomed = std::move(doomed_);
  doomed_.clear();
  for (Member *m : doomed) m->remove_now();
  auto groups = std::move(batching_);
  batching_.clear();
  for (Group *g : groups) flush(*g);
}

void GroupHost::announce(Group &g, proto::MemberEvent event, const std::string &id, const Member *except) {
  SharedBytes frame;
  auto targets = g.members; // a delivery may remove a member (see flush)
  for (Member *m : targets) {
    if (m == except || !m->receive || m->group != &g) continue;
    if (!frame) frame = event_frame(proto::GroupMember{event, id});
    m->deliver(frame, 0);
  }
}

void GroupHost::leave(Member &m, proto::MemberEvent event) {
  Group *g = m.group;
  if (!g) return;
  flush(*g); // its posts come before its leaving, in everyone's order
  m.group = nullptr;
  std::erase(g->members, &m);
  if (auto it = per_client_.find(m.client); it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  if (event != proto::MemberEvent::removed)
    CONEC_INFO("coordinator: '{}' left @{} ({} member{} left)", m.id, g->name, g->members.size(),
               g->members.size() == 1 ? "" : "s");
  if (g->members.empty()) {
    CONEC_INFO("coordinator: @{} has no members: closed", g->name);
    std::erase(batching_, g);
    groups_.erase(g->key);
    return;
  }
  announce(*g, event, m.id, nullptr);
  if (g->posts_paused) queue_shrank(*g); // its queue no longer holds the group back
}

void GroupHost::queue_grew(Group &g) {
  if (g.posts_paused) return;
  g.posts_paused = true;
  for (Member *m : g.members) m->pause_posts();
}

void GroupHost::queue_shrank(Group &g) {
  if (!g.posts_paused) return;
  for (Member *m : g.members)
    if (!m->under_low_water()) return;
  g.posts_paused = false;
  for (Member *m : g.members) m->resume_posts();
}

void GroupHost::closed(Member &m) {
  leave(m, proto::MemberEvent::left);
  std::erase(doomed_, &m);
  members_.erase(&m);
}

void GroupHost::tick() {
  Timestamp now = monotonic_now();
  std::vector<Member *> stuck;
  for (const auto &[raw, m] : members_)
    // Members leaving (or refused) too: their queues hold memory until they read.
    if (m->stuck(now, limits_.group_member_deadline)) stuck.push_back(raw);
  for (Member *m : stuck)
    m->remove(proto::kGroupRemoved,
              "it took nothing for " + seconds_text(limits_.group_member_deadline) + " while messages waited");
}

std::vector<GroupInfo> GroupHost::groups() const {
  std::vector<GroupInfo> out;
  for (const auto &[key, g] : groups_) {
    GroupInfo info{g->name, g->policy, {}};
    for (const Member *m : g->members) info.members.push_back(m->id);
    out.push_back(std::move(info));
  }
  return out;
}

} // namespace conec::coord
