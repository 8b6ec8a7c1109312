// Stream: one data stream of a Channel. Sending frames messages; receiving
// turns stream bytes back into whole messages and returns flow-control
// credit as the application takes them.
#include <string>

#include "channel/channel.hpp"
#include "util/log.hpp"
#include "util/varint.hpp"

namespace conec::channel {

Stream::Stream(Channel &channel, quic::StreamId id, bool incoming, size_t max_message)
    : channel_(channel), id_(id), incoming_(incoming), reader_(max_message) {
  // A stream we may only send on has no read side to end: no on_end.
  read_ended_ = !has_read_side();
}

bool Stream::bidirectional() const { return quic::Connection::is_bidirectional(id_); }

Result<quic::WriteState> Stream::send(ByteView message) {
  if (!has_write_side())
    return fail(ErrorCategory::usage, "channel", "stream " + std::to_string(id_) + " is receive-only");
  if (finished_)
    return fail(ErrorCategory::usage, "channel", "send after finish() on stream " + std::to_string(id_));
  if (reset_)
    return fail(ErrorCategory::usage, "channel", "send after reset() on stream " + std::to_string(id_));
  size_t max = reader_.max_message();
  if (message.size() > max)
    return fail(ErrorCategory::limit, "channel",
                "message of " + std::to_string(message.size()) +
                    " bytes exceeds the maximum message size of " + std::to_string(max) + " bytes");
  // One allocation, one copy of the payload: header then message.
  Bytes frame;
  frame.reserve(varint_size(message.size()) + message.size());
  proto::append_frame(frame, message);
  return channel_.session_->write(id_, std::move(frame));
}

Result<void> Stream::finish() {
  if (!has_write_side())
    return fail(ErrorCategory::usage, "channel", "stream " + std::to_string(id_) + " is receive-only");
  if (finished_)
    return fail(ErrorCategory::usage, "channel", "stream " + std::to_string(id_) + " already finished");
  if (reset_)
    return fail(ErrorCategory::usage, "channel", "finish() after reset() on stream " + std::to_string(id_));
  auto r = channel_.session_->write(id_, Bytes(), true);
  if (!r) return fail(r.error());
  finished_ = true;
  return {};
}

void Stream::reset(uint64_t code) {
  if (reset_) return;
  reset_ = true;
  net::Session &session = *channel_.session_;
  if (has_write_side()) session.reset_stream(id_, code);
  if (has_read_side() && !read_ended_) {
    session.stop_reading(id_, code);
    // The application abandoned the stream: nothing more to report but on_closed.
    read_ended_ = true;
    paused_ = false;
    return_credit(0);
  }
}

void Stream::pause_reading() { paused_ = true; }

void Stream::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  return_credit(0);
}

void Stream::return_credit(size_t bytes) {
  if (paused_) {
    unconsumed_ += bytes;
    return;
  }
  bytes += unconsumed_;
  unconsumed_ = 0;
  if (bytes) channel_.session_->consume(id_, bytes);
}

bool Stream::end_reading(const std::optional<Error> &error) {
  if (read_ended_) return true;
  read_ended_ = true;
  paused_ = false; // nothing more can arrive: holding credit would only starve other streams
  return_credit(0);
  if (!handler_) return true;
  std::weak_ptr<bool> alive = channel_.alive_;
  handler_->on_end(*this, error);
  return !alive.expired();
}

void Stream::receive(ByteView data, bool fin) {
  if (read_ended_) {
    // After our reset() or a refused message: drop, but keep the window open.
    channel_.session_->consume(id_, data.size());
    return;
  }
  std::weak_ptr<bool> alive = channel_.alive_;
  auto fed = reader_.feed(data);
  // Messages completed before any error are delivered first, in order. The
  // handler may pause, reset, detach itself or destroy the Channel.
  while (!read_ended_) {
    std::optional<Bytes> message = reader_.next();
    if (!message) break;
    if (!handler_) continue; // nobody listens: discard, keep framing in step
    handler_->on_message(*this, std::move(*message));
    if (alive.expired()) return;
  }
  // The bytes of this chunk have been handed over (or are a partial message
  // the reader holds): their credit is due unless the reader paused.
  if (read_ended_) { // reset() from a callback
    channel_.session_->consume(id_, data.size());
    return;
  }
  return_credit(data.size());
  if (!fed) {
    CONEC_DEBUG("channel {}: stream {}: {}", channel_.peer_, id_, fed.error().message);
    net::Session &session = *channel_.session_;
    session.stop_reading(id_, kErrorMessageTooLarge);
    if (has_write_side()) session.reset_stream(id_, kErrorMessageTooLarge);
    Error error = fed.error();
    error.layer = "channel";
    error.code = static_cast<int64_t>(kErrorMessageTooLarge);
    end_reading(error);
    return;
  }
  if (fin) {
    auto done = reader_.finish();
    if (done)
      end_reading(std::nullopt);
    else {
      Error error = done.error();
      error.layer = "channel";
      end_reading(error);
    }
  }
}

} // namespace conec::channel
