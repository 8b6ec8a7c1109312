#pragma once
// Channel: one QUIC connection (net::Session) seen as the seed document's
// channel: one control stream plus any number of data streams carrying
// framed messages (SPEC §2). Used on both sides of client<->coordinator and
// client<->client connections.
//
// The control stream is the first bidirectional stream of the QUIC client
// side (stream id 0). The QUIC client opens it as soon as the handshake
// completes; control messages (proto/control.hpp) travel on it, one frame
// each. Every other stream is a data stream: messages up to
// Options::max_message bytes, delivered whole and in order.
//
// Lifetime: the Channel owns the state of its data streams; the
// application only ever holds a Stream, a copyable handle on that state
// (it never keeps the stream alive). A stream exists until its handler's
// on_closed() returns, or until the Channel is destroyed, whichever comes
// first; after that every handle on it is inert: send() and finish() fail
// with category usage ("stream N has ended"), reset(), pause/resume and
// set_handler() do nothing, alive() is false, channel() is nullptr. So a
// handle kept past the stream's end (in a pump, a queue, a lambda) cannot
// reach freed memory. The Stream& a callback receives is a handle owned by
// the caller for that call: copy it to keep it (its address cannot be
// taken, so it cannot be kept by pointer).
//
// The Channel may be destroyed from any of its handlers' callbacks (it
// defers nothing to a later time: the underlying net::Session allows
// that). Destroying it is silent: no further callback reaches any handler,
// and the connection closes with code 0. Internally every call into the
// application is followed by a check of a liveness token (Channel::alive_)
// before the Channel or a stream is touched again.
//
// A StreamHandler object must stay valid until its on_closed() returns, or
// until the application detaches it with Stream::clear_handler() (also
// allowed from inside its own callbacks). Do not run the event loop from
// inside a callback.
//
// Flow control (SPEC §2): a data stream returns QUIC credit for received
// bytes once the messages they complete have been handed to on_message
// (bytes of a partial message right away: the reader buffers at most one
// message of max_message bytes). While a stream is paused, credit is held
// back, so the peer's writer stops once its window is used up.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "conec/channel.hpp"
#include "net/endpoint.hpp"
#include "proto/control.hpp"
#include "proto/framing.hpp"
#include "proto/stream_label.hpp"

namespace conec::channel {

// Error codes, StreamHandler and the Stream handle are public
// (conec/stream.hpp); the Channel implements the public conec::Channel.
using conec::kErrorCancelled;
using conec::kErrorMessageTooLarge;
using conec::kErrorProtocol;
using Stream = conec::Stream;
using StreamHandler = conec::StreamHandler;
class Channel;
class StreamState; // internal (stream_state.hpp)

// The internal Channel a handle's stream belongs to (null once it is gone).
Channel *channel_of(const Stream &stream);

// A StreamHandler that takes each message as a view, valid only during the
// call: no copy into a Bytes of its own (group fan-out, output sinks). Set
// with Stream::set_handler like any handler; the stream notices the kind
// once, there. Messages a paused stream buffered arrive the same way.
class ViewingHandler : public StreamHandler {
public:
  virtual void on_message_view(Stream &, ByteView message) = 0;
  void on_message(Stream &s, Bytes message) final { on_message_view(s, message); }
};

// Events of a channel.
class ChannelHandler {
public:
  virtual ~ChannelHandler() = default;
  // Handshake done; the control stream can be used. On the QUIC server
  // side the control stream exists once the client's first control
  // message arrived (the client speaks first); send_control fails before.
  virtual void on_open(Channel &) {}
  // The peer opened a data stream and its label arrived (Stream::label()
  // says what it is for): set its handler now (else its messages are
  // discarded). A stream whose label is malformed or too long is refused
  // (reset with kErrorProtocol) and never reported.
  virtual void on_stream(Channel &, Stream &) {}
  // A control message arrived (malformed ones close the channel instead).
  virtual void on_control(Channel &, proto::ControlMessage) {}
  // The channel is over (every stream got on_closed first). A malformed
  // control stream on either side gives category protocol, code
  // kErrorProtocol and a message naming the problem.
  virtual void on_closed(Channel &, const Error &) {}
};

// Per-channel settings. max_message bounds the messages this side sends
// and those it accepts on data streams (SPEC §7).
struct ChannelOptions {
  size_t max_message = proto::kDefaultMaxMessage;
  // Bytes of partial messages buffered across all data streams at once
  // (their credit is returned as they arrive, so only this bounds them). A
  // peer that starts more large messages than this without finishing them
  // (each stream may hold up to max_message) gets the channel closed with
  // kErrorProtocol and a reason naming the bound.
  size_t max_buffered = 64 << 20;
};

class Channel final : public conec::Channel, private quic::ConnectionHandler {
public:
  // Takes over `session` (its handler becomes this Channel). `peer` is the
  // peer's id (for coordinator connections: "coordinator" on the client side).
  // Construct it before the handshake completes (right after connect() or
  // in on_accept): on_open and the control stream depend on that event.
  Channel(std::unique_ptr<net::Session> session, std::string peer, ChannelHandler &handler,
          ChannelOptions options = {});
  ~Channel() override;

  // conec::Channel
  const std::string &peer() const override { return peer_; }
  bool is_open() const override { return session_->handshake_completed() && session_->is_open(); }
  bool direct() const override { return session_->on_direct_path(); }
  size_t stream_count() const override { return streams_.size(); }

  void set_handler(ChannelHandler &handler) { handler_ = &handler; }
  // Detaches every stream's handler: no StreamHandler hears of this channel
  // again (client::Client::silence()).
  void silence();
  net::Session &session() { return *session_; }
  // Why the channel ended, once on_closed has been reported.
  const std::optional<Error> &closed_error() const { return closed_error_; }

  // Opens a data stream labelled `label` (its first frame, sent now) and
  // returns a handle on it. Errors: usage (before on_open), limit (peer's
  // stream credit; retry later), transport (channel closed).
  Result<Stream> open_stream(bool bidirectional = true, const proto::StreamLabel &label = {}) override;
  // Sends a control message. Error if the control stream is not open yet
  // (before on_open) or the channel is closed.
  Result<void> send_control(const proto::ControlMessage &message);
  // Control bytes sent and not yet acknowledged: grows without bound if the
  // peer withholds credit on the control stream, so a server bounds it.
  uint64_t control_backlog() const { return control_id_ ? session_->unacked_bytes(*control_id_) : 0; }
  // Closes the channel: every stream fails on both sides with an error.
  // Takes effect when the session next sends (never inside this call).
  void close(uint64_t code = 0, const std::string &reason = {}) override;

private:
  // quic::ConnectionHandler (events from the session)
  void on_handshake_completed() override;
  void on_stream_opened(quic::StreamId id) override;
  void on_stream_data(quic::StreamId id, ByteView data, bool fin) override;
  void on_stream_reset(quic::StreamId id, uint64_t code) override;
  void on_stream_writable(quic::StreamId id) override;
  void on_stream_closed(quic::StreamId id, std::optional<uint64_t> code) override;
  void on_connection_closed(const Error &error) override;

  friend class StreamState;
  void control_data(ByteView data, bool fin);
  void protocol_failure(const std::string &why);
  // A stream's reader now holds `delta` more (or fewer) bytes.
  void buffered_changed(ptrdiff_t delta);
  // The channel's end as the application sees it (protocol closes mapped).
  Error describe_close(const Error &quic_error) const;
  // Why a stream the session closed with `code` ended (nullopt: cleanly).
  std::optional<Error> stream_error(std::optional<uint64_t> code) const;
  // Reports on_end (if due) and on_closed, then destroys the stream's
  // state (its handles become inert).
  // Returns false if the Channel was destroyed by a callback.
  bool finish_stream(quic::StreamId id, const std::optional<Error> &error);

  // Expires when the Channel is destroyed: checked after every callback.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<net::Session> session_;
  std::string peer_;
  ChannelHandler *handler_;
  ChannelOptions options_;
  // Sole owners of the streams' state: handles hold weak references.
  std::map<quic::StreamId, std::shared_ptr<StreamState>> streams_;
  std::optional<quic::StreamId> control_id_;
  proto::MessageReader control_reader_{proto::kMaxControlMessage};
  std::optional<Error> failure_; // our protocol_failure(), if any
  std::optional<Error> closed_error_;
  size_t buffered_ = 0; // partial-message bytes held by all streams' readers
};

} // namespace conec::channel
