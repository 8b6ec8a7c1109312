#include "quic/send_buffer.hpp"

#include <ngtcp2/ngtcp2.h>

#include <algorithm>
#include <cassert>

namespace conec::quic {

void SendBuffer::append(Bytes data) {
  if (data.empty()) return;
  // make_shared: control block and vector in one allocation; the vector's
  // heap storage is moved, not copied.
  append(std::make_shared<const Bytes>(std::move(data)));
}

void SendBuffer::append(SharedBytes data) {
  if (!data || data->empty()) return;
  ByteView view(*data);
  end_offset_ += view.size();
  chunks_.push_back(Chunk{std::move(data), view});
}

size_t SendBuffer::unsent(ngtcp2_vec *out, size_t max) const {
  size_t n = 0;
  size_t chunk = cursor_chunk_;
  size_t pos = cursor_pos_;
  while (n < max && chunk < chunks_.size()) {
    ByteView c = chunks_[chunk].bytes;
    out[n].base = const_cast<uint8_t *>(c.data() + pos); // ngtcp2 only reads it
    out[n].len = c.size() - pos;
    ++n;
    ++chunk;
    pos = 0;
  }
  return n;
}

void SendBuffer::mark_sent(size_t n) {
  assert(sent_offset_ + n <= end_offset_);
  sent_offset_ += n;
  while (n > 0) {
    size_t left = chunks_[cursor_chunk_].bytes.size() - cursor_pos_;
    size_t step = std::min(left, n);
    cursor_pos_ += step;
    n -= step;
    if (cursor_pos_ == chunks_[cursor_chunk_].bytes.size()) {
      ++cursor_chunk_;
      cursor_pos_ = 0;
    }
  }
}

void SendBuffer::acknowledge(uint64_t offset, uint64_t length) {
  uint64_t end = offset + length;
  if (end <= acked_offset_) return;
  acked_offset_ = std::min(end, sent_offset_);
  // Drop whole chunks below the acknowledged offset; a partly acknowledged
  // chunk stays until all of it is acknowledged.
  while (!chunks_.empty() && front_offset_ + chunks_.front().bytes.size() <= acked_offset_) {
    front_offset_ += chunks_.front().bytes.size();
    chunks_.pop_front();
    assert(cursor_chunk_ > 0 || (cursor_chunk_ == 0 && cursor_pos_ == 0));
    if (cursor_chunk_ > 0) --cursor_chunk_;
  }
}

} // namespace conec::quic
