#include "proto/group.hpp"

#include <memory>
#include <utility>

#include "proto/framing.hpp"
#include "util/varint.hpp"

namespace conec::proto {

namespace {

enum : uint64_t { kJoin = 1, kPost = 2 };
enum : uint64_t { kJoined = 1, kRefused = 2, kMessage = 3, kLost = 4, kMember = 5 };

void text(Bytes &out, std::string_view s) {
  varint_append(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void rest(Bytes &out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

// Bounded cursor: the first failure sticks and names the field.
class Cursor {
public:
  Cursor(ByteView in, const char *message) : in_(in), message_(message) {}
  uint64_t num(const char *field) {
    if (error_) return 0;
    auto v = varint_decode(in_);
    if (!v) return problem(field, "truncated"), 0;
    in_ = in_.subspan(v->length);
    return v->value;
  }
  bool flag(const char *field) {
    uint64_t v = num(field);
    if (v > 1) problem(field, std::to_string(v) + " is not 0 or 1");
    return v == 1;
  }
  std::string_view text_view(const char *field, size_t max) {
    uint64_t n = num(field);
    if (error_) return {};
    if (n > max) return problem(field, std::to_string(n) + " bytes exceeds " + std::to_string(max)), std::string_view();
    if (n > in_.size()) return problem(field, "truncated"), std::string_view();
    std::string_view s = as_chars(in_.first(static_cast<size_t>(n)));
    in_ = in_.subspan(static_cast<size_t>(n));
    return s;
  }
  std::string text(const char *field, size_t max) { return std::string(text_view(field, max)); }
  ByteView rest_view() { return std::exchange(in_, ByteView()); }
  Bytes rest() {
    ByteView b = rest_view();
    return Bytes(b.begin(), b.end());
  }
  size_t left() const { return in_.size(); }
  template <class T> Result<std::optional<T>> done(T message) {
    if (error_) return fail(ErrorCategory::protocol, "proto", *error_);
    return std::optional<T>(std::move(message)); // later fields, if any, are ignored
  }

private:
  void problem(const char *field, const std::string &what) {
    if (!error_) error_ = std::string(message_) + "." + field + ": " + what;
  }
  ByteView in_;
  const char *message_;
  std::optional<std::string> error_;
};

} // namespace

std::string_view to_string(GroupPolicy policy) {
  return policy == GroupPolicy::lossless ? "lossless" : "drop-oldest";
}

Bytes encode(const GroupUpMessage &message) {
  Bytes out;
  if (auto *j = std::get_if<GroupJoin>(&message)) {
    varint_append(out, kJoin);
    varint_append(out, j->receive);
    varint_append(out, j->echo);
    varint_append(out, j->lossless);
  } else {
    varint_append(out, kPost);
    rest(out, std::get<GroupPost>(message).payload);
  }
  return out;
}

Bytes encode(const GroupDownMessage &message) {
  Bytes out;
  std::visit(
      [&](const auto &m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, GroupJoined>) {
          varint_append(out, kJoined);
          for (uint64_t v : {static_cast<uint64_t>(m.policy), m.members, m.max_message, m.queue_bytes,
                             m.queue_messages, m.deadline_ms})
            varint_append(out, v);
        } else if constexpr (std::is_same_v<T, GroupRefused>) {
          varint_append(out, kRefused);
          varint_append(out, static_cast<uint64_t>(m.code));
          text(out, m.reason);
        } else if constexpr (std::is_same_v<T, GroupMessage>) {
          varint_append(out, kMessage);
          text(out, m.sender);
          rest(out, m.payload);
        } else if constexpr (std::is_same_v<T, GroupLost>) {
          varint_append(out, kLost);
          varint_append(out, m.count);
        } else {
          varint_append(out, kMember);
          varint_append(out, static_cast<uint64_t>(m.event));
          text(out, m.id);
        }
      },
      message);
  return out;
}

Result<std::optional<GroupUpMessage>> decode_group_up(ByteView payload) {
  auto type = varint_decode(payload);
  if (!type) return fail(ErrorCategory::protocol, "proto", "group message: truncated type");
  ByteView body = payload.subspan(type->length);
  switch (type->value) {
  case kJoin: {
    Cursor c(body, "GroupJoin");
    GroupJoin j;
    j.receive = c.flag("receive");
    j.echo = c.flag("echo");
    j.lossless = c.flag("lossless");
    return c.done<GroupUpMessage>(j);
  }
  case kPost: return std::optional<GroupUpMessage>(GroupPost{Bytes(body.begin(), body.end())});
  default: return std::optional<GroupUpMessage>();
  }
}

Result<std::optional<GroupDownMessage>> decode_group_down(ByteView payload) {
  auto type = varint_decode(payload);
  if (!type) return fail(ErrorCategory::protocol, "proto", "group message: truncated type");
  ByteView body = payload.subspan(type->length);
  switch (type->value) {
  case kJoined: {
    Cursor c(body, "GroupJoined");
    GroupJoined j;
    uint64_t policy = c.num("policy");
    j.members = c.num("members");
    j.max_message = c.num("max_message");
    j.queue_bytes = c.num("queue_bytes");
    j.queue_messages = c.num("queue_messages");
    j.deadline_ms = c.num("deadline_ms");
    // An unknown policy is shown as drop-oldest: the weaker promise.
    j.policy = policy == 1 ? GroupPolicy::lossless : GroupPolicy::drop_oldest;
    return c.done<GroupDownMessage>(j);
  }
  case kRefused: {
    Cursor c(body, "GroupRefused");
    GroupRefused r;
    uint64_t code = c.num("code");
    r.reason = c.text("reason", kMaxReasonLength);
    r.code = code >= 1 ? static_cast<RefuseCode>(code) : RefuseCode::protocol; // later codes kept
    return c.done<GroupDownMessage>(r);
  }
  case kMessage: {
    Cursor c(body, "GroupMessage");
    GroupMessage m;
    m.sender = c.text("sender", kMaxIdLength);
    m.payload = c.rest();
    return c.done<GroupDownMessage>(m);
  }
  case kLost: {
    Cursor c(body, "GroupLost");
    GroupLost l;
    l.count = c.num("count");
    return c.done<GroupDownMessage>(l);
  }
  case kMember: {
    Cursor c(body, "GroupMember");
    GroupMember m;
    uint64_t event = c.num("event");
    m.id = c.text("id", kMaxIdLength);
    if (event > 2) return std::optional<GroupDownMessage>(); // an event this version does not know
    m.event = static_cast<MemberEvent>(event);
    return c.done<GroupDownMessage>(m);
  }
  default: return std::optional<GroupDownMessage>();
  }
}

Result<std::optional<GroupMessageView>> peek_group_message(ByteView payload) {
  auto type = varint_decode(payload);
  if (!type || type->value != kMessage) return std::optional<GroupMessageView>();
  Cursor c(payload.subspan(type->length), "GroupMessage");
  GroupMessageView m;
  m.sender = c.text_view("sender", kMaxIdLength);
  m.payload = c.rest_view();
  return c.done(m);
}

std::optional<ByteView> peek_group_post(ByteView payload) {
  auto type = varint_decode(payload);
  if (!type || type->value != kPost) return std::nullopt;
  return payload.subspan(type->length);
}

size_t group_message_frame_size(std::string_view sender, size_t payload_size) {
  size_t body = varint_size(kMessage) + varint_size(sender.size()) + sender.size() + payload_size;
  return varint_size(body) + body;
}

void append_group_post_frame(Bytes &out, ByteView payload) {
  append_frame_header(out, varint_size(kPost) + payload.size());
  varint_append(out, kPost);
  rest(out, payload);
}

void append_group_message_frame(Bytes &out, std::string_view sender, ByteView payload) {
  size_t body = varint_size(kMessage) + varint_size(sender.size()) + sender.size() + payload.size();
  append_frame_header(out, body);
  varint_append(out, kMessage);
  text(out, sender);
  rest(out, payload);
}

} // namespace conec::proto
