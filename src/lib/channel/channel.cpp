// Channel: connection events from the session, data streams' life cycle
// (open, incoming, end, close) and the channel's own end. The control
// stream is in control_stream.cpp, stream data handling in stream.cpp.
#include "channel/stream_state.hpp"

#include <algorithm>
#include <vector>

#include "util/log.hpp"

namespace conec::channel {

Channel::Channel(std::unique_ptr<net::Session> session, std::string peer, ChannelHandler &handler,
                 ChannelOptions options)
    : session_(std::move(session)), peer_(std::move(peer)), handler_(&handler), options_(options) {
  session_->set_handler(*this);
  // Built on an already established client session (against the advice in
  // the header): open the control stream now; on_open will not be reported.
  if (session_->is_client() && session_->handshake_completed() && session_->is_open()) {
    if (auto id = session_->open_stream(true)) control_id_ = *id;
  }
}

Channel::~Channel() {
  alive_.reset(); // callers up the stack see the Channel is gone
  streams_.clear();
  session_.reset(); // closes the connection (code 0) unless already closed
}

void Channel::silence() {
  for (auto &[id, state] : streams_) state->set_handler(nullptr);
}

Result<Stream> Channel::open_stream(bool bidirectional, const proto::StreamLabel &label) {
  if (!session_->is_open())
    return fail(ErrorCategory::transport, "channel", "cannot open a stream: the channel is closed");
  if (!session_->handshake_completed())
    return fail(ErrorCategory::usage, "channel", "cannot open a stream before the channel is open");
  auto id = session_->open_stream(bidirectional);
  if (!id) return fail(id.error());
  auto stream = std::make_shared<StreamState>(*this, *id, false, options_.max_message, label);
  streams_.emplace(*id, stream);
  Bytes frame;
  proto::append_frame(frame, proto::encode_label(label));
  if (auto r = session_->write(*id, std::move(frame)); !r) return fail(r.error());
  return stream->handle();
}

void Channel::close(uint64_t code, const std::string &reason) { session_->close(code, reason); }

void Channel::on_handshake_completed() {
  if (session_->is_client() && !control_id_) {
    // The first bidirectional stream of the QUIC client: stream id 0.
    auto id = session_->open_stream(true);
    if (!id) {
      protocol_failure("cannot open the control stream: " + id.error().message);
      return;
    }
    control_id_ = *id;
  }
  handler_->on_open(*this);
}

void Channel::on_stream_opened(quic::StreamId id) {
  if (!session_->is_client() && id == 0) {
    control_id_ = id; // the client's first bidirectional stream
    return;
  }
  // Reported to the application once its label arrived (StreamState::take_label).
  streams_.emplace(id, std::make_shared<StreamState>(*this, id, true, options_.max_message, std::nullopt));
}

void Channel::on_stream_data(quic::StreamId id, ByteView data, bool fin) {
  if (control_id_ && id == *control_id_) {
    control_data(data, fin);
    return;
  }
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    session_->consume(id, data.size());
    return;
  }
  it->second->receive(data, fin);
}

void Channel::on_stream_reset(quic::StreamId id, uint64_t code) {
  if (control_id_ && id == *control_id_) {
    protocol_failure("the peer reset the control stream (code " + std::to_string(code) + ")");
    return;
  }
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second->end_reading(Error{ErrorCategory::peer, static_cast<int64_t>(code), "channel",
                                "stream reset by peer (code " + std::to_string(code) + ")"});
}

void Channel::on_stream_writable(quic::StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end() || !it->second->handler_) return;
  Stream s = it->second->handle();
  it->second->handler_->on_writable(s);
}

void Channel::on_stream_closed(quic::StreamId id, std::optional<uint64_t> code) {
  if (control_id_ && id == *control_id_) {
    // Closing with the connection is expected; any other end is the peer's doing.
    if (session_->is_open())
      protocol_failure("the control stream closed" +
                       (code ? " (code " + std::to_string(*code) + ")" : std::string()));
    return;
  }
  finish_stream(id, stream_error(code));
}

bool Channel::finish_stream(quic::StreamId id, const std::optional<Error> &error) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return true;
  StreamState &s = *it->second;
  std::weak_ptr<bool> alive = alive_;
  if (!s.read_ended_) {
    // The read side never saw its end: it is cut short by this close.
    Error cut = error ? *error
                      : Error{ErrorCategory::transport, 0, "channel", "stream closed before its end arrived"};
    if (!s.end_reading(cut)) return false;
  }
  if (s.handler_) {
    Stream handle = s.handle();
    s.handler_->on_closed(handle, error);
    if (alive.expired()) return false;
  }
  // By id: the handler may have opened streams meanwhile (map nodes are stable).
  // Frees the state: every handle on the stream is inert from here on.
  if (auto it2 = streams_.find(id); it2 != streams_.end()) buffered_ -= std::min(buffered_, it2->second->buffered());
  streams_.erase(id);
  return true;
}

Error Channel::describe_close(const Error &quic_error) const {
  if (failure_) return *failure_;
  Error e = quic_error;
  // A peer that found our control data malformed closed with kErrorProtocol.
  if (e.category == ErrorCategory::peer && e.code == static_cast<int64_t>(kErrorProtocol))
    e.category = ErrorCategory::protocol;
  return e;
}

std::optional<Error> Channel::stream_error(std::optional<uint64_t> code) const {
  if (!code) return std::nullopt;
  if (*code == quic::kStreamErrorConnectionClosed && !session_->is_open()) {
    Error c = closed_error_ ? *closed_error_
                            : describe_close(session_->close_error().value_or(
                                  Error{ErrorCategory::transport, 0, "quic", "connection closed"}));
    return Error{c.category, c.code, "channel", "channel closed: " + c.message};
  }
  auto n = static_cast<int64_t>(*code);
  std::string text = std::to_string(*code);
  switch (*code) {
  case kErrorMessageTooLarge:
    return Error{ErrorCategory::limit, n, "channel",
                 "stream aborted: a message exceeded the reader's maximum message size (code " + text + ")"};
  case kErrorProtocol:
    return Error{ErrorCategory::protocol, n, "channel",
                 "stream aborted after a protocol error (code " + text + ")"};
  case kErrorCancelled:
    return Error{ErrorCategory::peer, n, "channel", "stream cancelled (code " + text + ")"};
  default: return Error{ErrorCategory::peer, n, "channel", "stream aborted with code " + text};
  }
}

void Channel::on_connection_closed(const Error &error) {
  closed_error_ = describe_close(error);
  CONEC_DEBUG("channel {}: closed: {}", peer_, closed_error_->describe());
  // quic reported every open stream through on_stream_closed already; any
  // left (none expected) end here with the channel's error.
  std::vector<quic::StreamId> ids;
  for (const auto &[id, s] : streams_) ids.push_back(id);
  Error cut{closed_error_->category, closed_error_->code, "channel",
            "channel closed: " + closed_error_->message};
  for (quic::StreamId id : ids)
    if (!finish_stream(id, cut)) return;
  handler_->on_closed(*this, *closed_error_);
}

} // namespace conec::channel
