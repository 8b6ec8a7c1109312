#pragma once
// Bridges between file descriptors (stdin/stdout/files) and data streams,
// with flow control both ways: a slow network pauses reading the input; a
// slow output pauses reading the stream (so the peer's writer is held back).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "channel/channel.hpp"
#include "loop/loop.hpp"
#include "progress.hpp"

namespace conec::cli {

// How bytes map to messages (SPEC §5): a byte stream in chunks, or one
// message per line / per NUL-terminated record.
enum class Framing { bytes, lines, null };

// Where an InputPump's messages go: a data stream, or a group.
struct MessageOut {
  std::function<Result<quic::WriteState>(ByteView)> send;
  std::function<Result<void>()> finish;
  // A data stream: a handle, so a stream that ends first (closed, reset,
  // its channel gone) only makes the next send or finish fail.
  static MessageOut to(channel::Stream stream);
};

// Reads `fd` to its end and sends it as messages, then finishes.
class InputPump {
public:
  InputPump(loop::Loop &loop, int fd, Framing framing, size_t max_message, MessageOut out,
            std::function<void(std::optional<Error>)> done);
  // `done` runs once: nullopt after the whole input was handed to the
  // stream (and the stream finished), or the read/send error (usage if the
  // stream had already ended).
  InputPump(loop::Loop &loop, int fd, Framing framing, size_t max_message, channel::Stream stream,
            std::function<void(std::optional<Error>)> done)
      : InputPump(loop, fd, framing, max_message, MessageOut::to(std::move(stream)), std::move(done)) {}
  Result<void> start();
  void writable(); // call from the stream's on_writable
  uint64_t bytes() const { return bytes_; }
  bool done() const { return done_; }

private:
  void data(ByteView chunk);
  void end(std::optional<Error> error);
  bool send(ByteView message);

  Framing framing_;
  size_t max_message_;
  MessageOut out_;
  std::function<void(std::optional<Error>)> on_done_;
  loop::StreamReader reader_;
  Bytes partial_; // lines/null: the record not yet terminated
  uint64_t bytes_ = 0;
  bool done_ = false;
};

// Writes received messages to `fd`, framed for the output mode, optionally
// tagged with the sender's id.
class OutputSink {
public:
  OutputSink(loop::Loop &loop, int fd, Framing framing, bool tag);
  Result<void> open();
  // Queues `message` from `stream`; pauses that stream while the output
  // lags by more than a few MiB.
  void write(const channel::Stream &stream, std::string_view sender, ByteView message);
  // The stream is going away: stop tracking it (resuming an ended stream
  // would be harmless, this only keeps the list short).
  void forget(const channel::Stream &stream) { std::erase(paused_, stream); }
  // Runs `flushed` once everything queued so far has been written (or
  // failed: see error()).
  void flush(std::function<void()> flushed);
  // Closes the output (EOF for a pipe) after the queued data.
  void close(std::function<void()> closed);
  uint64_t bytes() const { return bytes_; }
  const std::optional<Error> &error() const { return error_; }

private:
  void written(std::optional<Error> error);
  void push(); // hands the batch to the writer
  Framing framing_;
  bool tag_;
  loop::StreamWriter writer_;
  // Small messages (lines, group chatter) are batched: one write per loop
  // iteration or per kBatch bytes, not one system call per message.
  Bytes batch_;
  loop::Deferred pusher_;
  std::vector<channel::Stream> paused_; // streams this sink paused (few)
  uint64_t bytes_ = 0;
  std::optional<Error> error_;
};

} // namespace conec::cli
