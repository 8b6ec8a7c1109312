#pragma once
// StreamState: what one data stream of a Channel is — framing, flow-control
// credit, the handler, how far each side got. Internal to channel/: the
// Channel owns each one (shared_ptr, sole owner) and the application only
// sees Stream handles, which hold a weak reference and so go inert the
// moment the Channel frees the state.

#include <memory>
#include <optional>

#include "channel/channel.hpp"
#include "proto/stream_label.hpp"

namespace conec::channel {

class StreamState : public std::enable_shared_from_this<StreamState> {
public:
  // An incoming stream is unlabelled until its first frame (the label)
  // arrives; only then does the application hear of it (on_stream).
  StreamState(Channel &channel, quic::StreamId id, bool incoming, size_t max_message,
              std::optional<proto::StreamLabel> label);
  StreamState(const StreamState &) = delete;
  StreamState &operator=(const StreamState &) = delete;

  // A new handle on this stream (for the application or a callback).
  Stream handle() { return Stream(weak_from_this(), id_, incoming_); }

  // The operations behind Stream's (see channel.hpp for their contracts).
  Result<quic::WriteState> send(ByteView message);
  Result<quic::WriteState> send_frames(const SharedBytes &frames);
  Result<void> finish();
  void reset(uint64_t code);
  void stop_reading(uint64_t code);
  void pause_reading() { paused_ = true; }
  void resume_reading();

  // Stream bytes from the session (Channel::on_stream_data).
  void receive(ByteView data, bool fin);
  // Ends the read side once: gives back held credit, reports on_end.
  // Returns false if the Channel was destroyed by the callback.
  bool end_reading(const std::optional<Error> &error);

  // Bytes of the partial message its reader holds. (Whole messages waiting
  // while paused are bounded by the credit held back, so they do not count.)
  size_t buffered() const { return reader_.partial_bytes(); }

  Channel &channel_;
  const quic::StreamId id_;
  const bool incoming_;
  StreamHandler *handler_ = nullptr;
  ViewingHandler *viewer_ = nullptr; // handler_, if it takes views
  void set_handler(StreamHandler *handler) {
    handler_ = handler;
    viewer_ = dynamic_cast<ViewingHandler *>(handler);
  }
  bool read_ended_ = false; // on_end delivered (or no read side)
  bool paused_ = false;
  std::optional<proto::StreamLabel> label_; // nullopt until an incoming stream's label arrived

private:
  // Handles the first frame of an incoming stream. Returns false if the
  // stream was refused (bad label) and must not be read further.
  bool take_label(const Bytes &frame);
  void refuse(const std::string &why);
  bool has_read_side() const { return quic::Connection::is_bidirectional(id_) || incoming_; }
  bool has_write_side() const { return quic::Connection::is_bidirectional(id_) || !incoming_; }
  void return_credit(size_t bytes);
  // Why a message of `size` bytes may not be sent now, if it may not.
  std::optional<Error> cannot_send(size_t size) const;

  proto::MessageReader reader_;
  bool finished_ = false; // we ended our side
  bool reset_ = false;    // reset() called
  size_t unconsumed_ = 0; // bytes received while paused
};

} // namespace conec::channel
