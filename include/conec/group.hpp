#pragma once
/// @file
/// @brief Group: membership of a group `@name`, which broadcasts every
/// member's messages to every member through the coordinator.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conec/bytes.hpp"
#include "conec/error.hpp"
#include "conec/stream.hpp"

namespace conec {

class Client;
class Group;

/// What a group does with a member that falls behind (its creator chooses).
enum class GroupPolicy : uint64_t {
  drop_oldest = 0, ///< the member loses its oldest messages and is told how many
  lossless = 1,    ///< every sender is paced to the slowest member
};

/// A change of membership.
enum class MemberEvent : uint64_t {
  joined = 0,  ///< a member joined
  left = 1,    ///< a member left
  removed = 2, ///< the coordinator removed a member (stuck past the deadline, or misbehaving)
};

/// Error::code (category peer) of a member removed for taking nothing past the deadline.
inline constexpr uint64_t kGroupRemoved = 0x4752;
/// Error::code of a member removed for a post over the group's max_message.
inline constexpr uint64_t kGroupTooLarge = 0x474c;

/// A group's policy and bounds, as the coordinator tells a member that joined.
struct CONEC_API GroupSettings {
  GroupPolicy policy = GroupPolicy::drop_oldest; ///< the creator's choice
  uint64_t members = 0;        ///< members, the new one included
  uint64_t max_message = 0;    ///< largest post accepted
  uint64_t queue_bytes = 0;    ///< held per member before its policy acts
  uint64_t queue_messages = 0; ///< as queue_bytes, in messages
  uint64_t deadline_ms = 0;    ///< a member that takes nothing this long is removed

  /// Same settings.
  bool operator==(const GroupSettings &) const = default;
};

/// How to join.
struct CONEC_API GroupOptions {
  bool receive = true;   ///< false: send only (nothing is delivered to us)
  bool echo = true;      ///< our own messages come back to us too
  bool lossless = false; ///< if our join creates the group: GroupPolicy::lossless
};

/// Events of a membership; every callback has a default. Any callback may
/// destroy the Group (nothing more is reported then).
class CONEC_API GroupHandler {
public:
  virtual ~GroupHandler() = default;
  /// The coordinator took us in.
  virtual void on_joined(Group &, const GroupSettings &) {}
  /// One member's message, in the group's one order.
  virtual void on_message(Group &, const std::string & /*sender*/, Bytes /*payload*/) {}
  /// `count` messages were dropped for us (we fell behind), just before the next one.
  virtual void on_lost(Group &, uint64_t /*count*/) {}
  /// Membership changed (on joining: one `joined` per member already there, us included).
  virtual void on_member(Group &, MemberEvent, const std::string & /*id*/) {}
  /// send() answered would_block earlier; more may be sent now.
  virtual void on_writable(Group &) {}
  /// The membership is over: nullopt after leave() once the coordinator took
  /// every message we sent; else why (refused: category peer or limit with a
  /// RefuseCode; removed: kGroupRemoved; the coordinator connection lost).
  /// Last callback.
  virtual void on_closed(Group &, const std::optional<Error> &) {}
};

/// A Client's membership of one group. The application owns it; destroy it
/// before its Client (destroying it abandons the membership at once).
/// Membership is not carried across a coordinator reconnection: on_closed
/// reports the loss and the application may join again.
class CONEC_API Group {
public:
  /// Joins `name` (without '@'; the id rules apply) on a registered Client.
  /// Errors: usage (not registered, bad name), transport (no coordinator
  /// connection). Refusals (limits) come later, through on_closed.
  /// `handler` must outlive the Group.
  static Result<std::unique_ptr<Group>> join(Client &client, const std::string &name, GroupHandler &handler,
                                             GroupOptions options = {});
  /// Abandons the membership if it is still on.
  virtual ~Group() = default;

  /// The group's name (without '@').
  virtual const std::string &name() const = 0;
  /// Whether the coordinator took us in (and we are still in).
  virtual bool joined() const = 0;
  /// The policy and bounds, once joined.
  virtual std::optional<GroupSettings> settings() const = 0;
  /// Members now (ids in joining order), as the coordinator told us; empty
  /// for a send-only member.
  virtual std::vector<std::string> members() const = 0;
  /// Messages dropped for us so far.
  virtual uint64_t lost() const = 0;
  /// Sends one message to every member (allowed right after join()). Errors:
  /// limit (over max_message), usage (after leave(), or once closed).
  /// would_block: accepted; wait for on_writable.
  virtual Result<WriteState> send(ByteView message) = 0;
  /// Leaves after every message sent so far; on_closed(nullopt) follows.
  virtual Result<void> leave() = 0;
  /// Holds back what the coordinator delivers (our queue there fills and the
  /// group's policy applies) / lets it in again.
  virtual void pause_receiving(bool paused) = 0;

protected:
  Group() = default;
  Group(const Group &) = delete;
  Group &operator=(const Group &) = delete;
};

} // namespace conec
