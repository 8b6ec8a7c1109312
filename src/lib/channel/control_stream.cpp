// Channel: the control stream. One frame per proto::ControlMessage; any
// malformed, oversized or prematurely ended control data closes the whole
// connection with kErrorProtocol (SPEC §7), with a reason naming the problem.
#include <string>

#include "channel/channel.hpp"
#include "util/log.hpp"
#include "util/varint.hpp"

namespace conec::channel {

namespace {
// The reason travels in CONNECTION_CLOSE, which must fit one packet.
constexpr size_t kMaxCloseReason = 400;
} // namespace

Result<void> Channel::send_control(const proto::ControlMessage &message) {
  if (failure_ || closed_error_ || (session_->handshake_completed() && !session_->is_open()))
    return fail(ErrorCategory::transport, "channel", "cannot send a control message: the channel is closed");
  if (!control_id_)
    return fail(ErrorCategory::usage, "channel",
                "cannot send a control message: the control stream is not open yet");
  Bytes payload = proto::encode(message);
  if (payload.size() > proto::kMaxControlMessage)
    return fail(ErrorCategory::limit, "channel",
                "control message " + std::string(proto::message_name(message)) + " of " +
                    std::to_string(payload.size()) + " bytes exceeds the maximum of " +
                    std::to_string(proto::kMaxControlMessage) + " bytes");
  Bytes frame;
  frame.reserve(varint_size(payload.size()) + payload.size());
  proto::append_frame(frame, payload);
  // Control messages are small and rare: would_block is no reason to refuse.
  if (auto r = session_->write(*control_id_, std::move(frame)); !r) return fail(r.error());
  return {};
}

void Channel::control_data(ByteView data, bool fin) {
  // Control messages are handled as they arrive: the credit is due at once.
  session_->consume(*control_id_, data.size());
  if (failure_) return; // closing: ignore whatever else the peer sends
  if (auto fed = control_reader_.feed(data); !fed) {
    protocol_failure("control message too large: " + fed.error().message);
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  while (auto payload = control_reader_.next()) {
    auto message = proto::decode(*payload);
    if (!message && message.error().code == proto::kUnknownControlType) {
      // A later version's message: skipped, so conec/1 can grow.
      CONEC_DEBUG("channel {}: skipping a control message: {}", peer_, message.error().message);
      continue;
    }
    if (!message) {
      protocol_failure("malformed control message: " + message.error().message);
      return;
    }
    handler_->on_control(*this, std::move(*message));
    if (alive.expired() || failure_) return;
  }
  if (fin) {
    auto done = control_reader_.finish();
    protocol_failure(done ? std::string("the peer ended the control stream")
                          : "the peer ended the control stream: " + done.error().message);
  }
}

void Channel::buffered_changed(ptrdiff_t delta) {
  buffered_ = size_t(ptrdiff_t(buffered_) + delta);
  if (buffered_ > options_.max_buffered)
    protocol_failure("partial messages over " + std::to_string(options_.max_buffered >> 20) +
                     " MiB across streams (max_buffered): too many large messages started at once");
}

void Channel::protocol_failure(const std::string &why) {
  if (failure_) return;
  failure_ = Error{ErrorCategory::protocol, static_cast<int64_t>(kErrorProtocol), "channel", why};
  CONEC_WARN("channel {}: protocol error, closing: {}", peer_.empty() ? std::string("?") : peer_, why);
  std::string reason = why.size() > kMaxCloseReason ? why.substr(0, kMaxCloseReason) : why;
  session_->close(kErrorProtocol, std::move(reason));
}

} // namespace conec::channel
