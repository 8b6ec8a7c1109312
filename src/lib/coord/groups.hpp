#pragma once
// GroupHost: the coordinator's groups (ARCHITECTURE D6, proto/group.hpp).
// Each member holds one group stream; every post is framed once
// (proto::append_group_message_frame) and that one buffer is queued on every
// member's stream, in the order the coordinator read the posts: one total
// order per group. Consecutive posts of one sender within a loop iteration
// share one buffer (a batch of frames, up to kBatchBytes), so a burst of
// small messages costs one queue entry per member, not one per message.
//
// No member stalls the others: a member's stream takes what its flow
// control allows; the rest waits in that member's own bounded queue
// (Limits::group_queue_bytes / group_queue_messages). On overflow a
// drop-oldest group drops that member's oldest messages and tells it how
// many (GroupLost) when it catches up; a lossless group instead stops
// reading every member's posts until the queue drains (the senders' QUIC
// credit runs out: they are paced to the slowest member). Either way a
// member that takes nothing for Limits::group_member_deadline while
// messages wait for it is removed (reset with proto::kGroupRemoved), so a
// stopped process does not hold a lossless group forever.
//
// Lifetime: the host owns its Members; a Member is freed only in its own
// stream's on_closed (or with the host, which detaches every handler
// first), so no callback reaches a freed one. Internal to coord/.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coord/coordinator.hpp"
#include "proto/group.hpp"

namespace conec::coord {

class ClientConn;
class GroupHost;
struct Group;

class Member final : public channel::ViewingHandler {
public:
  Member(GroupHost &host, ClientConn &client, const channel::Stream &stream);
  ~Member() override;

  void on_message_view(channel::Stream &, ByteView message) override;
  void on_end(channel::Stream &, const std::optional<Error> &error) override;
  void on_writable(channel::Stream &) override;
  void on_closed(channel::Stream &, const std::optional<Error> &error) override;

  // Queues frames for this member: `messages` GroupMessages (a batch, as
  // one shared buffer), or an event (messages 0).
  void deliver(const SharedBytes &frames, size_t messages);
  // Removes the member: its stream is reset with `code`; freed on on_closed.
  void remove(uint64_t code, const std::string &why);
  // The same from inside a delivery (which must not change member lists):
  // it takes nothing more now and is removed at the end of the iteration.
  void remove_later(uint64_t code, std::string why);
  void remove_now() { doomed_ = false, remove(doom_.first, doom_.second); }
  // Whether messages have waited this long with nothing taken.
  bool stuck(Timestamp now, Duration deadline) const { return blocked_ && now - blocked_since_ >= deadline; }
  bool over_bound() const;
  bool under_low_water() const;
  void pause_posts() { stream_.pause_reading(); }
  void resume_posts() { stream_.resume_reading(); }

  const std::string id; // the client's id, as registered
  ClientConn *const client;
  Group *group = nullptr; // set once joined
  bool receive = true, echo = true;

private:
  void join(const proto::GroupJoin &join);
  void post(ByteView payload);
  // Writes queued frames until the stream blocks; ends the stream once a
  // leaving member's queue is empty.
  void drain();
  Result<quic::WriteState> write(const SharedBytes &frame);
  void send_event(const proto::GroupDownMessage &event);

  GroupHost &host_;
  channel::Stream stream_;
  struct Item {
    SharedBytes frames;
    size_t messages; // 0: an event
  };
  std::deque<Item> queue_;
  size_t queue_bytes_ = 0, queue_messages_ = 0; // of its queued messages
  size_t event_bytes_ = 0;                        // of its queued events (never dropped)
  uint64_t lost_ = 0;          // dropped since the last GroupLost
  bool blocked_ = false;       // the stream returned would_block
  Timestamp blocked_since_ = 0; // ... or last took something while blocked
  bool leaving_ = false;        // its sending side ended: finish once drained
  bool refused_ = false;        // its join was refused (the stream is ending)
  bool doomed_ = false;         // remove_later() was called
  std::pair<uint64_t, std::string> doom_;
  bool removed_ = false;
};

struct Group {
  // Posts not yet delivered: frames of consecutive posts by one sender in
  // this loop iteration (GroupHost::flush delivers them).
  struct Batch {
    Member *sender = nullptr;
    Bytes frames;
    size_t messages = 0;
  };

  std::string name; // as the creator spelled it
  std::string key;  // canonical
  proto::GroupPolicy policy = proto::GroupPolicy::drop_oldest;
  std::vector<Member *> members; // in joining order
  bool posts_paused = false;     // lossless: a member's queue is full
  Batch batch;
};

class GroupHost {
public:
  GroupHost(loop::Loop &loop, const Limits &limits, CoordinatorStats &stats);
  ~GroupHost();

  // A registered client opened a stream labelled {group, name}.
  void open(ClientConn &client, const channel::Stream &stream);
  std::vector<GroupInfo> groups() const;

private:
  friend class Member;
  // A GroupJoin arrived: the refusal, or nullopt once `m` is a member.
  std::optional<proto::GroupRefused> admit(Member &m, const std::string &name, const proto::GroupJoin &join);
  void fan_out(Member &from, ByteView payload);
  // Delivers `g`'s batch to its members (before anything else reaches them).
  void flush(Group &g);
  void flush_all();
  void start_batch(Group &g); // `g` has a batch now: flush it at the end of the iteration
  // `m` leaves its group (cleanly or not); others hear `event`.
  void leave(Member &m, proto::MemberEvent event);
  void announce(Group &g, proto::MemberEvent event, const std::string &id, const Member *except);
  void queue_grew(Group &g);
  void queue_shrank(Group &g);
  void closed(Member &m); // frees it
  void tick();
  proto::GroupJoined joined_message(const Group &g) const;

  loop::Loop &loop_;
  const Limits &limits_;
  CoordinatorStats &stats_;
  const size_t max_message_; // largest post: group_max_message, within the channels' max_message
  std::map<Member *, std::unique_ptr<Member>> members_;
  std::map<std::string, std::unique_ptr<Group>> groups_; // canonical name -> group
  std::map<const ClientConn *, size_t> per_client_;      // memberships (joined) per client
  std::unique_ptr<loop::Timer> ticker_;                  // deadline checks while a member is blocked
  std::unique_ptr<loop::Deferred> flusher_;              // batches go out at the end of the loop iteration
  std::vector<Group *> batching_;                        // groups with a batch
  std::vector<Member *> doomed_;                         // to remove at the end of the iteration
};

} // namespace conec::coord
