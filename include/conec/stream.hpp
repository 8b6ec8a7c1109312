#pragma once
/// @file
/// @brief Stream: one data stream of a Channel, carrying whole messages in
/// order, with backpressure.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "conec/bytes.hpp"
#include "conec/error.hpp"

namespace conec {

class Channel;
class Stream;
namespace channel {
class StreamState; // internal
}

/// Application error code of a stream reset by default (Stream::reset).
inline constexpr uint64_t kErrorCancelled = 0x434e;
/// Stream reset by a reader that refused a message over its max_message.
inline constexpr uint64_t kErrorMessageTooLarge = 0x4d53;
/// Channel or stream closed for malformed conec data.
inline constexpr uint64_t kErrorProtocol = 0x5052;

/// What a stream is for, as its opener labelled it (docs/protocol.md §6).
enum class StreamKind : uint64_t {
  data = 0,      ///< application data
  ping = 1,      ///< conec ping's probes
  ping_echo = 2, ///< the answering side's echo of them
  size = 3,      ///< one message: the byte count of the data stream that follows (progress)
  group = 4,     ///< membership of group `name` (client to coordinator)
};

/// The label a stream carries in its first frame.
struct CONEC_API StreamLabel {
  StreamKind kind = StreamKind::data; ///< what it is for
  std::string name;                   ///< at most 128 bytes; free for data streams, the group for group streams

  /// Same kind and name.
  bool operator==(const StreamLabel &) const = default;
};

/// What a send left behind.
enum class WriteState {
  ok,          ///< accepted; more may follow
  would_block, ///< accepted, but the stream's buffer is full: wait for StreamHandler::on_writable
};

/// Events of one data stream. A handler must stay valid until its
/// on_closed() returns, or until Stream::clear_handler() detaches it (also
/// allowed from inside its callbacks). Any callback may destroy the stream's
/// Channel or Client; nothing more is reported then.
class CONEC_API StreamHandler {
public:
  virtual ~StreamHandler() = default;
  /// One whole message, in order.
  virtual void on_message(Stream &, Bytes) {}
  /// The peer's sending side ended: cleanly (nullopt: every message arrived)
  /// or not (reset by the peer, cut by the channel's end, or an oversized
  /// message refused). No on_message follows.
  virtual void on_end(Stream &, const std::optional<Error> &) {}
  /// A send() answered would_block earlier, and the stream can take more.
  virtual void on_writable(Stream &) {}
  /// The stream is gone in both directions; the Error says why when it ended
  /// abnormally. Last callback: every handle on the stream is inert after it.
  virtual void on_closed(Stream &, const std::optional<Error> &) {}
};

/// A handle on one data stream of a Channel: framed messages in order, one
/// way (unidirectional) or both (bidirectional).
///
/// Copyable and cheap; copies name the same stream. A handle never keeps the
/// stream alive: once the stream ended (its on_closed returned) or its Channel
/// is gone, every call is inert: send() and finish() fail with category
/// usage, the others do nothing, alive() is false. So a handle kept in a
/// queue or a lambda cannot reach freed memory. The `Stream &` a callback
/// gets is owned by the caller: copy it to keep it.
///
/// Flow control: a stream returns QUIC credit once its messages reached
/// on_message; while paused it returns none, so the peer's writer stops once
/// its window is used up. send() accepts a message whole and says would_block
/// when the sender should wait for on_writable.
class CONEC_API Stream {
public:
  /// A handle naming no stream (inert).
  Stream() = default;

  /// Whether the stream still exists.
  bool alive() const { return !state_.expired(); }
  /// alive().
  explicit operator bool() const { return alive(); }
  /// Same stream (stays true after it ended; two empty handles are equal).
  friend bool operator==(const Stream &a, const Stream &b) {
    return !a.state_.owner_before(b.state_) && !b.state_.owner_before(a.state_);
  }
  /// Handles are kept by value: a pointer to one a callback received would
  /// dangle once the callback returns.
  Stream *operator&() = delete;
  /// As above.
  const Stream *operator&() const = delete;

  /// The QUIC stream id (known for the handle's whole life).
  int64_t id() const { return id_; }
  /// Whether both sides may send on it.
  bool bidirectional() const { return (id_ & 0x2) == 0; }
  /// Whether the peer opened it.
  bool incoming() const { return incoming_; }
  /// What the stream is for (a default label once it is gone).
  StreamLabel label() const;
  /// The Channel it belongs to; null once the stream is gone.
  Channel *channel() const;
  /// Sets who receives the stream's events (not owned).
  void set_handler(StreamHandler &handler) const;
  /// Detaches the handler: later messages are dropped, no event (on_closed
  /// included) is reported.
  void clear_handler() const;
  /// Whether a handler receives the stream's events.
  bool has_handler() const;
  /// Whether pause_reading() holds the stream's credit back.
  bool paused() const;

  /// Sends one message. Errors: limit (over max_message: nothing is sent),
  /// usage (after finish() or reset(), on a receive-only stream, or once the
  /// stream is gone), peer (the peer stopped reading). would_block: the
  /// message was accepted; wait for on_writable before sending more.
  Result<WriteState> send(ByteView message) const;
  /// Sends already framed messages (whole frames, headers included) without
  /// copying them: one buffer may go out on many streams. Errors as send().
  Result<WriteState> send_frames(const SharedBytes &frames) const;
  /// Ends our sending side cleanly after the messages sent so far; the peer
  /// gets on_end(nullopt) once it has them all. Errors as send().
  Result<void> finish() const;
  /// Abandons the stream both ways with `code`. No on_message or on_end
  /// follows; on_closed still comes, later (never inside this call).
  void reset(uint64_t code = kErrorCancelled) const;
  /// Reads no more of the peer's side (the peer is asked to stop with `code`)
  /// while our sending side goes on.
  void stop_reading(uint64_t code) const;
  /// Holds back flow-control credit: the peer's writer stops once its window fills.
  void pause_reading() const;
  /// Returns credit again after pause_reading().
  void resume_reading() const;

private:
  friend class channel::StreamState;
  Stream(std::weak_ptr<channel::StreamState> state, int64_t id, bool incoming)
      : state_(std::move(state)), id_(id), incoming_(incoming) {}

  std::weak_ptr<channel::StreamState> state_;
  int64_t id_ = 0;
  bool incoming_ = false;
};

} // namespace conec
