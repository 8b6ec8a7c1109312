#include "client/group.hpp"

#include <algorithm>

#include "client/client.hpp"
#include "util/log.hpp"

namespace conec::client {

Result<std::unique_ptr<Group>> Group::join(Client &client, const std::string &name, GroupHandler &handler,
                                           GroupOptions options) {
  if (!proto::valid_id(name))
    return fail(ErrorCategory::usage, "group",
                "'@" + name + "' is not a valid group name (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)");
  if (!client.registered())
    return fail(ErrorCategory::usage, "group", "cannot join @" + name + ": not registered with the coordinator");
  channel::Channel *coordinator = client.coordinator_channel();
  if (!coordinator) return fail(ErrorCategory::transport, "group", "no coordinator connection");
  auto stream = coordinator->open_stream(true, {proto::StreamKind::group, name});
  if (!stream) return fail(stream.error());
  proto::GroupJoin join{options.receive, options.echo, options.lossless};
  if (auto r = stream->send(proto::encode(proto::GroupUpMessage{join})); !r) {
    stream->reset();
    return fail(r.error());
  }
  return std::unique_ptr<Group>(new Group(client.loop(), name, handler, *stream));
}

namespace {
constexpr size_t kBatchBytes = 64 * 1024; // posts pushed at once, at most (unless one is larger)
}

Group::Group(loop::Loop &loop, std::string name, GroupHandler &handler, channel::Stream stream)
    : name_(std::move(name)), handler_(handler), stream_(std::move(stream)), pusher_(loop, [this] { push(); }) {
  stream_.set_handler(*this);
}

Group::~Group() {
  alive_.reset();
  stream_.clear_handler();
  if (!closed_) stream_.reset(); // abandons the membership
}

Result<quic::WriteState> Group::send(ByteView message) {
  if (failed_) return fail(*failed_);
  if (closed_) return fail(ErrorCategory::usage, "group", "@" + name_ + " is closed");
  if (leaving_) return fail(ErrorCategory::usage, "group", "send after leave() on @" + name_);
  if (joined_ && message.size() > joined_->max_message)
    return fail(ErrorCategory::limit, "group",
                "message of " + std::to_string(message.size()) + " bytes exceeds @" + name_ + "'s limit of " +
                    std::to_string(joined_->max_message) + " bytes");
  if (message.size() > proto::kDefaultMaxMessage - 16)
    return fail(ErrorCategory::limit, "group", "message of " + std::to_string(message.size()) + " bytes is too large");
  proto::append_group_post_frame(batch_, message); // the one copy
  if (batch_.size() >= kBatchBytes)
    push();
  else
    pusher_.schedule();
  return blocked_ ? quic::WriteState::would_block : quic::WriteState::ok;
}

void Group::push() {
  if (batch_.empty() || closed_) return;
  auto frames = std::make_shared<const Bytes>(std::move(batch_));
  batch_ = Bytes();
  auto r = stream_.send_frames(frames);
  if (r && *r == quic::WriteState::would_block) blocked_ = true;
  if (r) return;
  // Refused (over the channel's message bound, or the stream is gone): the
  // posts in it are lost, so the membership ends with that error, never
  // with a clean close. on_closed follows the reset (never from in here).
  failed_ = Error{r.error().category, r.error().code, "group", "@" + name_ + ": cannot send: " + r.error().message};
  stream_.reset();
}

Result<void> Group::leave() {
  if (closed_) return fail(ErrorCategory::usage, "group", "@" + name_ + " is closed");
  if (leaving_) return {};
  leaving_ = true;
  push(); // every post before the end
  return stream_.finish();
}

void Group::on_message_view(channel::Stream &, ByteView message) {
  if (auto m = proto::peek_group_message(message); m && *m) // the usual case: no copy
    return handler_.on_message_view(*this, (*m)->sender, (*m)->payload);
  auto decoded = proto::decode_group_down(message);
  if (!decoded) {
    CONEC_DEBUG("group @{}: {}", name_, decoded.error().message);
    stream_.reset(channel::kErrorProtocol);
    return close(Error{ErrorCategory::protocol, 0, "group", "@" + name_ + ": " + decoded.error().message});
  }
  if (!*decoded) return; // a type this version does not know
  std::visit(
      [&](auto &m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, proto::GroupJoined>) {
          joined_ = m;
          handler_.on_joined(*this, m);
        } else if constexpr (std::is_same_v<T, proto::GroupRefused>) {
          refusal_ = Error{m.code == proto::RefuseCode::limit ? ErrorCategory::limit : ErrorCategory::peer,
                           static_cast<int64_t>(m.code), "group", "cannot join @" + name_ + ": " + m.reason};
        } else if constexpr (std::is_same_v<T, proto::GroupMessage>) {
          handler_.on_message(*this, m.sender, std::move(m.payload)); // not reached: peeked above
        } else if constexpr (std::is_same_v<T, proto::GroupLost>) {
          lost_ += m.count;
          handler_.on_lost(*this, m.count);
        } else {
          // One entry per membership: a client in the group twice is listed twice.
          if (m.event == proto::MemberEvent::joined) {
            members_.push_back(m.id);
          } else if (auto it = std::find(members_.begin(), members_.end(), m.id); it != members_.end()) {
            members_.erase(it);
          }
          handler_.on_member(*this, m.event, m.id);
        }
      },
      **decoded);
}

void Group::on_end(channel::Stream &, const std::optional<Error> &error) {
  if (!error) ended_clean_ = true;
  if (refusal_) {
    stream_.reset(); // nothing more to say either
    return close(refusal_);
  }
}

void Group::on_writable(channel::Stream &) {
  blocked_ = false;
  handler_.on_writable(*this);
}

void Group::on_closed(channel::Stream &, const std::optional<Error> &error) {
  if (failed_) return close(failed_);
  if (refusal_) return close(refusal_);
  if (error) return close(describe(*error));
  if (!leaving_ || !ended_clean_)
    return close(Error{ErrorCategory::peer, 0, "group", "the coordinator ended @" + name_ + " unexpectedly"});
  close(std::nullopt);
}

void Group::close(std::optional<Error> error) {
  if (closed_) return;
  closed_ = true;
  stream_.clear_handler();
  handler_.on_closed(*this, error); // may destroy us: last use of `this`
}

Error Group::describe(const Error &e) const {
  if (e.code == static_cast<int64_t>(proto::kGroupRemoved)) {
    std::string deadline = joined_ ? std::to_string(joined_->deadline_ms / 1000) + " s" : "its deadline";
    return Error{ErrorCategory::peer, e.code, "group",
                 "removed from @" + name_ + ": it took nothing for " + deadline + " while messages waited"};
  }
  if (e.code == static_cast<int64_t>(proto::kGroupTooLarge))
    return Error{ErrorCategory::limit, e.code, "group", "removed from @" + name_ + ": a message exceeded the group's limit"};
  return Error{e.category, e.code, "group", "@" + name_ + ": " + e.message};
}

} // namespace conec::client
