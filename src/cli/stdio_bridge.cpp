#include "stdio_bridge.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace conec::cli {

namespace {
constexpr size_t kChunk = 64 * 1024;            // bytes mode: message size
constexpr size_t kOutputHigh = size_t{4} << 20; // pause streams above this much queued output
constexpr size_t kOutputLow = size_t{1} << 20;  // and resume below this
constexpr size_t kBatch = 64 * 1024;            // output written at once, at most (unless one message is larger)
} // namespace

MessageOut MessageOut::to(channel::Stream stream) {
  return {[stream](ByteView m) { return stream.send(m); }, [stream] { return stream.finish(); }};
}

InputPump::InputPump(loop::Loop &loop, int fd, Framing framing, size_t max_message, MessageOut out,
                     std::function<void(std::optional<Error>)> done)
    : framing_(framing), max_message_(max_message), out_(std::move(out)), on_done_(std::move(done)),
      reader_(loop, fd, [this](ByteView d) { data(d); }, [this](std::optional<Error> e) { end(std::move(e)); }) {}

Result<void> InputPump::start() { return reader_.open(); }

void InputPump::writable() {
  if (!done_) reader_.resume();
}

bool InputPump::send(ByteView message) {
  auto state = out_.send(message);
  if (!state) {
    end(state.error());
    return false;
  }
  bytes_ += message.size();
  if (*state == quic::WriteState::would_block) reader_.pause();
  return true;
}

void InputPump::data(ByteView chunk) {
  if (done_) return;
  if (framing_ == Framing::bytes) {
    for (size_t off = 0; off < chunk.size(); off += kChunk)
      if (!send(chunk.subspan(off, std::min(kChunk, chunk.size() - off)))) return;
    return;
  }
  uint8_t separator = framing_ == Framing::lines ? '\n' : '\0';
  size_t start = 0;
  for (size_t i = 0; i < chunk.size(); ++i) {
    if (chunk[i] != separator) continue;
    ByteView piece = chunk.subspan(start, i - start);
    if (partial_.empty()) {
      if (!send(piece)) return;
    } else {
      partial_.insert(partial_.end(), piece.begin(), piece.end());
      if (!send(partial_)) return;
      partial_.clear();
    }
    start = i + 1;
  }
  partial_.insert(partial_.end(), chunk.begin() + static_cast<ptrdiff_t>(start), chunk.end());
  if (partial_.size() > max_message_)
    end(Error{ErrorCategory::limit, 0, "cli",
              "an input record is longer than the maximum message size of " + std::to_string(max_message_) + " bytes"});
}

void InputPump::end(std::optional<Error> error) {
  if (done_) return;
  if (!error && !partial_.empty()) {
    // A last line without its newline is still a message.
    Bytes last = std::move(partial_);
    partial_.clear();
    if (!send(last)) return;
  }
  done_ = true;
  reader_.pause();
  if (!error) {
    if (auto r = out_.finish(); !r) error = r.error();
  }
  on_done_(std::move(error));
}

OutputSink::OutputSink(loop::Loop &loop, int fd, Framing framing, bool tag)
    : framing_(framing), tag_(tag), writer_(loop, fd), pusher_(loop, [this] { push(); }) {}

Result<void> OutputSink::open() { return writer_.open(); }

void OutputSink::write(const channel::Stream &stream, std::string_view sender, ByteView message) {
  if (batch_.capacity() == 0) batch_.reserve(kBatch); // a fresh batch: no growing copies
  if (tag_) {
    batch_.insert(batch_.end(), sender.begin(), sender.end());
    batch_.push_back(':');
    batch_.push_back(' ');
  }
  batch_.insert(batch_.end(), message.begin(), message.end());
  if (framing_ == Framing::lines) batch_.push_back('\n');
  if (framing_ == Framing::null) batch_.push_back('\0');
  bytes_ += message.size();
  if (batch_.size() >= kBatch)
    push();
  else
    pusher_.schedule();
  if (writer_.queued() + batch_.size() > kOutputHigh && std::find(paused_.begin(), paused_.end(), stream) == paused_.end()) {
    stream.pause_reading();
    paused_.push_back(stream);
  }
}

void OutputSink::push() {
  if (batch_.empty()) return;
  Bytes out = std::move(batch_);
  batch_ = Bytes();
  writer_.write(std::move(out), [this](std::optional<Error> e) { written(std::move(e)); });
}

void OutputSink::written(std::optional<Error> error) {
  if (error && !error_) error_ = error;
  if (writer_.queued() < kOutputLow) {
    auto streams = std::move(paused_);
    paused_.clear();
    for (const channel::Stream &s : streams) s.resume_reading();
  }
}

void OutputSink::flush(std::function<void()> flushed) {
  push();
  writer_.write(Bytes{}, [flushed = std::move(flushed)](std::optional<Error>) { flushed(); });
}

void OutputSink::close(std::function<void()> closed) {
  push();
  writer_.shutdown(std::move(closed));
}

} // namespace conec::cli
