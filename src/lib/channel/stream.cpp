// Stream handles and the StreamState behind them. Sending frames messages;
// receiving turns stream bytes back into whole messages and returns
// flow-control credit as the application takes them.
#include <string>

#include "channel/stream_state.hpp"
#include "util/log.hpp"
#include "util/varint.hpp"

namespace conec::channel {

// What every operation on a handle whose stream is gone answers.
static Error gone(quic::StreamId id, const char *what) {
  return Error{ErrorCategory::usage, 0, "channel",
               std::string(what) + " on stream " + std::to_string(id) + ", which has ended"};
}

Channel *channel_of(const Stream &stream) { return static_cast<Channel *>(stream.channel()); }

} // namespace conec::channel

// The public handle (conec/stream.hpp): each call reaches the state only if
// the Channel still has it.
namespace conec {
using channel::gone;

conec::Channel *Stream::channel() const {
  auto s = state_.lock();
  return s ? &s->channel_ : nullptr;
}
void Stream::set_handler(StreamHandler &handler) const {
  if (auto s = state_.lock()) s->set_handler(&handler);
}
void Stream::clear_handler() const {
  if (auto s = state_.lock()) s->set_handler(nullptr);
}
bool Stream::has_handler() const {
  auto s = state_.lock();
  return s && s->handler_;
}
StreamLabel Stream::label() const {
  auto s = state_.lock();
  return s && s->label_ ? *s->label_ : StreamLabel{};
}
bool Stream::paused() const {
  auto s = state_.lock();
  return s && s->paused_;
}
Result<WriteState> Stream::send(ByteView message) const {
  if (auto s = state_.lock()) return s->send(message);
  return fail(gone(id_, "send"));
}
Result<WriteState> Stream::send_frames(const SharedBytes &frames) const {
  if (auto s = state_.lock()) return s->send_frames(frames);
  return fail(gone(id_, "send"));
}
Result<void> Stream::finish() const {
  if (auto s = state_.lock()) return s->finish();
  return fail(gone(id_, "finish"));
}
void Stream::reset(uint64_t code) const {
  if (auto s = state_.lock()) s->reset(code);
}
void Stream::stop_reading(uint64_t code) const {
  if (auto s = state_.lock()) s->stop_reading(code);
}
void Stream::pause_reading() const {
  if (auto s = state_.lock()) s->pause_reading();
}
void Stream::resume_reading() const {
  if (auto s = state_.lock()) s->resume_reading();
}

} // namespace conec

namespace conec::channel {

StreamState::StreamState(Channel &channel, quic::StreamId id, bool incoming, size_t max_message,
                         std::optional<proto::StreamLabel> label)
    : channel_(channel), id_(id), incoming_(incoming), label_(std::move(label)), reader_(max_message) {
  // A stream we may only send on has no read side to end: no on_end.
  read_ended_ = !has_read_side();
}

std::optional<Error> StreamState::cannot_send(size_t size) const {
  auto refuse = [](ErrorCategory c, std::string text) { return Error{c, 0, "channel", std::move(text)}; };
  if (!has_write_side()) return refuse(ErrorCategory::usage, "stream " + std::to_string(id_) + " is receive-only");
  if (finished_) return refuse(ErrorCategory::usage, "send after finish() on stream " + std::to_string(id_));
  if (reset_) return refuse(ErrorCategory::usage, "send after reset() on stream " + std::to_string(id_));
  size_t max = reader_.max_message();
  if (size > max)
    return refuse(ErrorCategory::limit, "message of " + std::to_string(size) +
                                            " bytes exceeds the maximum message size of " + std::to_string(max) +
                                            " bytes");
  return std::nullopt;
}

Result<quic::WriteState> StreamState::send(ByteView message) {
  if (auto e = cannot_send(message.size())) return fail(*e);
  // One allocation, one copy of the payload: header then message.
  Bytes frame;
  frame.reserve(varint_size(message.size()) + message.size());
  proto::append_frame(frame, message);
  return channel_.session_->write(id_, std::move(frame));
}

Result<quic::WriteState> StreamState::send_frames(const SharedBytes &frames) {
  if (!frames || frames->empty()) return fail(ErrorCategory::usage, "channel", "send_frames: no frames");
  // Whole frames, each within the bounds send() enforces.
  for (ByteView rest(*frames); !rest.empty();) {
    auto length = varint_decode(rest);
    if (!length || length->value > rest.size() - length->length)
      return fail(ErrorCategory::usage, "channel", "send_frames: not whole frames");
    if (auto e = cannot_send(length->value)) return fail(*e);
    rest = rest.subspan(length->length + length->value);
  }
  return channel_.session_->write_shared(id_, frames);
}

Result<void> StreamState::finish() {
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

void StreamState::reset(uint64_t code) {
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

void StreamState::stop_reading(uint64_t code) {
  if (!has_read_side() || read_ended_) return;
  channel_.session_->stop_reading(id_, code);
  read_ended_ = true; // the application chose to stop: nothing more to report but on_closed
  paused_ = false;
  return_credit(0);
}

void StreamState::resume_reading() {
  if (!paused_) return;
  paused_ = false;
  return_credit(0);
}

void StreamState::return_credit(size_t bytes) {
  if (paused_) {
    unconsumed_ += bytes;
    return;
  }
  bytes += unconsumed_;
  unconsumed_ = 0;
  if (bytes) channel_.session_->consume(id_, bytes);
}

bool StreamState::end_reading(const std::optional<Error> &error) {
  if (read_ended_) return true;
  read_ended_ = true;
  paused_ = false; // nothing more can arrive: holding credit would only starve other streams
  return_credit(0);
  if (!handler_) return true;
  std::weak_ptr<bool> alive = channel_.alive_;
  Stream self = handle();
  handler_->on_end(self, error);
  return !alive.expired();
}

bool StreamState::take_label(const Bytes &frame) {
  auto label = proto::decode_label(frame);
  if (!label) {
    refuse(label.error().message);
    return false;
  }
  label_ = std::move(*label);
  return true;
}

void StreamState::refuse(const std::string &why) {
  CONEC_DEBUG("channel {}: stream {} refused: {}", channel_.peer_, id_, why);
  net::Session &session = *channel_.session_;
  session.stop_reading(id_, kErrorProtocol);
  if (has_write_side()) session.reset_stream(id_, kErrorProtocol);
  read_ended_ = true; // nobody was told of the stream: nothing to report
}

void StreamState::receive(ByteView data, bool fin) {
  if (read_ended_ || channel_.failure_) {
    // After our reset(), a refused message or the channel's protocol
    // failure (its close is on its way): drop, but keep the window open.
    channel_.session_->consume(id_, data.size());
    return;
  }
  std::weak_ptr<bool> alive = channel_.alive_;
  Stream self = handle();
  // Partial messages count against the channel-wide max_buffered: every
  // stream may hold up to max_message, but not all of them at once.
  size_t before = buffered();
  struct Account {
    StreamState &s;
    size_t before;
    std::weak_ptr<bool> alive;
    ~Account() {
      if (!alive.expired()) s.channel_.buffered_changed(ptrdiff_t(s.buffered()) - ptrdiff_t(before));
    }
  } account{*this, before, alive};
  // A viewing handler gets whole messages inside this chunk as views of the
  // packet's buffer (zero-copy) whenever the reader holds nothing; the
  // reader assembles only messages that cross chunks (fed just up to their
  // end, then back to views). Other handlers get every message from the
  // reader. Order is kept either way: views are taken only when the reader
  // has nothing before them.
  ByteView rest = data;
  Result<void> fed;
  do {
    while (viewer_ && label_ && !read_ended_ && !rest.empty()) {
      auto view = reader_.take(rest);
      if (!view || !*view) break; // a message crossing the chunk, or an error: feed() has it
      viewer_->on_message_view(self, **view);
      if (alive.expired()) return;
    }
    size_t n = viewer_ && label_ ? reader_.completing(rest) : rest.size();
    fed = reader_.feed(rest.first(n));
    rest = rest.subspan(n);
    // Messages completed before any error are delivered first, in order.
    // The handler may pause, reset, detach itself or destroy the Channel.
    while (!read_ended_) {
      std::optional<Bytes> message = reader_.next();
      if (!message) break;
      if (!label_) {
        if (!take_label(*message)) break; // refused: read_ended_ now
        channel_.handler_->on_stream(channel_, self); // the application meets the stream
        if (alive.expired()) return;
        continue;
      }
      if (!handler_) continue; // nobody listens: discard, keep framing in step
      handler_->on_message(self, std::move(*message));
      if (alive.expired()) return;
    }
  } while (fed && !read_ended_ && !rest.empty());
  // The bytes of this chunk have been handed over (or are a partial message
  // the reader holds): their credit is due unless the reader paused.
  if (read_ended_) { // reset() from a callback
    channel_.session_->consume(id_, data.size());
    return;
  }
  if (!label_ && fed && reader_.buffered_bytes() > proto::kMaxLabel + 8) {
    refuse("its label exceeds " + std::to_string(proto::kMaxLabel) + " bytes");
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
