#pragma once
// Group: a Client's membership of group @name (ARCHITECTURE D6,
// proto/group.hpp). Join, then send messages (with backpressure) and
// receive every member's messages tagged with the sender's id, in the one
// order the coordinator gives the group.
//
// Ownership and lifetime: the application owns the Group; it needs its
// Client registered to join and ends with the Client's coordinator
// connection (membership is not resumed after a reconnection: on_closed
// reports the loss). The Group may be destroyed from inside any of its
// handler's callbacks; destroying it abandons the membership (the stream is
// reset) and reports nothing more. The GroupHandler must outlive the Group.
// It holds a loop handle (its posts are batched per loop iteration):
// destroy it before closing the loop, as the Client.
// Threading: the Client's loop.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "loop/loop.hpp"
#include "proto/group.hpp"

namespace conec::client {

class Client;
class Group;

using GroupOptions = conec::GroupOptions; // public (conec/group.hpp)

class GroupHandler {
public:
  virtual ~GroupHandler() = default;
  // The coordinator took us in: the group's policy and bounds.
  virtual void on_joined(Group &, const proto::GroupJoined &) {}
  virtual void on_message(Group &, const std::string & /*sender*/, Bytes /*payload*/) {}
  // The same message as views valid only during the call (no copies);
  // the default copies both and calls on_message.
  virtual void on_message_view(Group &g, std::string_view sender, ByteView payload) {
    on_message(g, std::string(sender), Bytes(payload.begin(), payload.end()));
  }
  // `count` messages were dropped for us (we fell behind; drop-oldest),
  // just before the next one.
  virtual void on_lost(Group &, uint64_t /*count*/) {}
  // Membership changed (on joining: one `joined` per member already there, us included).
  virtual void on_member(Group &, proto::MemberEvent, const std::string & /*id*/) {}
  // send() returned would_block earlier; more may be sent now.
  virtual void on_writable(Group &) {}
  // The membership is over: nullopt after leave() once every message we
  // sent was taken by the coordinator; else why (refused: category peer
  // or limit, code a proto::RefuseCode; removed: code proto::kGroupRemoved;
  // the coordinator connection lost). Last callback.
  virtual void on_closed(Group &, const std::optional<Error> &) {}
};

class Group final : private channel::ViewingHandler {
public:
  // Joins `name` (without '@'). Errors: usage (not registered, bad name),
  // transport (no coordinator connection). Refusals by the coordinator
  // come later, through on_closed.
  static Result<std::unique_ptr<Group>> join(Client &client, const std::string &name, GroupHandler &handler,
                                             GroupOptions options = {});
  ~Group() override;
  Group(const Group &) = delete;
  Group &operator=(const Group &) = delete;

  const std::string &name() const { return name_; }
  bool joined() const { return joined_.has_value(); }
  // The group's policy and bounds once joined.
  const std::optional<proto::GroupJoined> &info() const { return joined_; }
  // Current members (ids, in joining order) as the coordinator told us;
  // empty for a send-only member.
  const std::vector<std::string> &members() const { return members_; }
  uint64_t lost() const { return lost_; } // messages dropped for us so far
  bool closed() const { return closed_; }

  // Sends one message to every member (may be called right after join()).
  // Errors: limit (over the group's max_message), usage (after leave() or
  // once closed). would_block: accepted; wait for on_writable.
  Result<quic::WriteState> send(ByteView message);
  // Leaves after every message sent so far: on_closed(nullopt) once the
  // coordinator took them all. Messages for us still arrive until then.
  Result<void> leave();
  // Holds back (or lets in) what the coordinator delivers: while paused,
  // our queue at the coordinator fills and the group's policy applies.
  void pause_receiving() { stream_.pause_reading(); }
  void resume_receiving() { stream_.resume_reading(); }
  // The underlying group stream (for stats and flow control only).
  const channel::Stream &stream() const { return stream_; }

private:
  Group(loop::Loop &loop, std::string name, GroupHandler &handler, channel::Stream stream);
  // Hands the posts batched so far to the stream (one buffer for many).
  void push();
  void on_message_view(channel::Stream &, ByteView message) override;
  void on_end(channel::Stream &, const std::optional<Error> &error) override;
  void on_writable(channel::Stream &) override;
  void on_closed(channel::Stream &, const std::optional<Error> &error) override;
  void close(std::optional<Error> error); // reports on_closed once (a copy: the handler may destroy us)
  Error describe(const Error &stream_error) const;

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string name_;
  GroupHandler &handler_;
  channel::Stream stream_;
  std::optional<proto::GroupJoined> joined_;
  std::optional<Error> refusal_; // a GroupRefused, reported as on_closed's error
  std::optional<Error> failed_;  // a batch the stream refused: the membership is over
  std::vector<std::string> members_;
  uint64_t lost_ = 0;
  // Posts since the last push: small messages sent in one loop iteration
  // go out as one buffer (one stream write), not one each.
  Bytes batch_;
  loop::Deferred pusher_;
  bool blocked_ = false; // the stream said would_block; on_writable clears it
  bool leaving_ = false;
  bool ended_clean_ = false; // the coordinator ended its side cleanly
  bool closed_ = false;
};

} // namespace conec::client
