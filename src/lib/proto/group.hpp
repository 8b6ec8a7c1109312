#pragma once
// Group streams (ARCHITECTURE D6): a member of group @name holds one
// bidirectional data stream to the coordinator, labelled {group, name}
// (proto/stream_label.hpp). Each direction carries frames whose payload is
// `type (varint)` followed by the type's fields (varints; strings as
// varint length + bytes; a payload is the rest of the frame).
//
// member -> coordinator: GroupJoin first, then GroupPost per message. The
//   member ends its sending side to leave (after its posts); the
//   coordinator then delivers what it still holds for it and ends its side
//   too, so a clean end in both directions means every post was taken.
// coordinator -> member: GroupJoined (or GroupRefused, then the end) first,
//   then GroupMember, GroupMessage and GroupLost in the group's one order.
//
// Unknown types are skipped by both sides (a later version may add some);
// fields after the known ones are ignored. Malformed known types are a
// protocol error for the stream.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "conec/group.hpp"
#include "proto/control.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::proto {

// GroupPolicy, MemberEvent, GroupSettings and the removal codes are public
// (conec/group.hpp).
using GroupPolicy = conec::GroupPolicy;
using MemberEvent = conec::MemberEvent;
using GroupJoined = conec::GroupSettings; // coordinator -> member: joined
using conec::kGroupRemoved;
using conec::kGroupTooLarge;
std::string_view to_string(GroupPolicy policy);

// Member -> coordinator, first message.
struct GroupJoin {
  bool receive = true;  // false: send only (nothing is delivered to it)
  bool echo = true;     // deliver our own posts back to us
  bool lossless = false; // the policy asked for if this join creates the group

  bool operator==(const GroupJoin &) const = default;
};
// Member -> coordinator: one message for every member.
struct GroupPost {
  Bytes payload;

  bool operator==(const GroupPost &) const = default;
};

// Coordinator -> member: the join was refused; the stream ends after it.
struct GroupRefused {
  RefuseCode code = RefuseCode::protocol;
  std::string reason;

  bool operator==(const GroupRefused &) const = default;
};
// Coordinator -> member: a post, tagged with its sender's id.
struct GroupMessage {
  std::string sender;
  Bytes payload;

  bool operator==(const GroupMessage &) const = default;
};
// Coordinator -> member: `count` messages were dropped for it (it fell
// behind: drop-oldest) just before the next one delivered.
struct GroupLost {
  uint64_t count = 0;

  bool operator==(const GroupLost &) const = default;
};
// Coordinator -> member: membership changed (on joining, one `joined` for
// every member, in joining order, the new one last).
struct GroupMember {
  MemberEvent event = MemberEvent::joined;
  std::string id;

  bool operator==(const GroupMember &) const = default;
};

using GroupUpMessage = std::variant<GroupJoin, GroupPost>;
using GroupDownMessage = std::variant<GroupJoined, GroupRefused, GroupMessage, GroupLost, GroupMember>;

Bytes encode(const GroupUpMessage &message);
Bytes encode(const GroupDownMessage &message);
// nullopt: a type this version does not know (skip it). Errors: protocol.
Result<std::optional<GroupUpMessage>> decode_group_up(ByteView payload);
Result<std::optional<GroupDownMessage>> decode_group_down(ByteView payload);

// Zero-copy reads of the two messages that carry data, as views into
// `payload` (the frequent case: no allocation). nullopt: another type
// (decode it with the functions above). Errors as decode_group_down.
struct GroupMessageView {
  std::string_view sender;
  ByteView payload;
};
Result<std::optional<GroupMessageView>> peek_group_message(ByteView payload);
// A GroupPost's payload (a post has no other field), or nullopt.
std::optional<ByteView> peek_group_post(ByteView payload);

// Appends a whole GroupPost frame (header included) to `out`.
void append_group_post_frame(Bytes &out, ByteView payload);
// Appends one GroupMessage as a whole frame (length header included) to
// `out`; the coordinator frames a batch of posts into one buffer shared by
// every member's stream (channel::Stream::send_frames).
void append_group_message_frame(Bytes &out, std::string_view sender, ByteView payload);
// Frame bytes a GroupMessage of `payload_size` bytes from `sender` takes.
size_t group_message_frame_size(std::string_view sender, size_t payload_size);

// Stream error codes on group streams (the coordinator resets with them).

} // namespace conec::proto
