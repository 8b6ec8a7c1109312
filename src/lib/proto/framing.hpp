#pragma once
// Message framing on data streams: each message is a QUIC varint length
// followed by that many bytes. MessageReader turns a byte stream back into
// whole messages: a read yields a full message or nothing (SPEC §2).

#include <cstddef>
#include <deque>
#include <optional>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::proto {

inline constexpr size_t kDefaultMaxMessage = size_t{16} << 20; // 16 MiB (SPEC §7)

// Appends the frame header (varint length) for a message of `length` bytes.
void append_frame_header(Bytes &out, size_t length);
// Appends a whole frame (header + message).
void append_frame(Bytes &out, ByteView message);

// Incremental decoder. Bounded: never buffers more than one partial message
// of at most `max_message` bytes plus its header, plus the whole messages not
// yet taken with next().
class MessageReader {
public:
  explicit MessageReader(size_t max_message = kDefaultMaxMessage);

  // Adds stream bytes. Error category `limit` if a declared length exceeds the
  // maximum ("message of N bytes exceeds the maximum message size of M bytes");
  // after an error the reader stays failed and accepts nothing.
  Result<void> feed(ByteView data);
  // The next whole message, or nullopt if none is complete.
  std::optional<Bytes> next();
  // Zero-copy alternative to feed() + next(): while the reader holds
  // nothing, the next whole message in `data` as a view into it (`data`
  // moves past it); nullopt, `data` untouched, if the reader holds bytes or
  // `data` does not hold a whole message (feed() it then). Errors as feed()
  // (the reader fails).
  Result<std::optional<ByteView>> take(ByteView &data);
  // How many bytes of `data` feed() needs to finish the message (or the
  // header) being assembled; all of `data` if nothing is being assembled.
  size_t completing(ByteView data) const;
  // Call at the stream's clean end: error (protocol) if the stream ended
  // inside a message, naming how many of its bytes arrived.
  Result<void> finish() const;

  size_t max_message() const { return max_; }
  size_t buffered_bytes() const; // partial + complete-but-untaken bytes
  size_t partial_bytes() const;  // of the message being assembled only

private:
  size_t max_;
  std::deque<Bytes> ready_;
  Bytes header_;            // partial varint
  std::optional<size_t> expected_; // length of the message being assembled
  Bytes partial_;
  size_t ready_bytes_ = 0;
  std::optional<Error> failed_;
};

} // namespace conec::proto
