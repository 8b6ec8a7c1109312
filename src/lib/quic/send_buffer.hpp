#pragma once
// SendBuffer: the bytes of one stream's sending side that ngtcp2 may still
// need. ngtcp2 does not copy STREAM data, and retransmissions re-read it, so
// every byte stays here until acknowledged (or the stream closes).
//
// Chunks are views on immutable, reference-counted storage (SharedBytes), so
// several SendBuffers (the streams of one broadcast) may hold the same bytes:
// the storage lives until the last of them has released its chunk.

#include <cstddef>
#include <cstdint>
#include <deque>

#include "util/bytes.hpp"

struct ngtcp2_vec;

namespace conec::quic {

class SendBuffer {
public:
  // Queues `data` (taking ownership) after everything queued so far. One
  // allocation: the vector's storage moves into the shared chunk.
  void append(Bytes data);
  // Queues shared, immutable bytes after everything queued so far; the
  // buffer keeps a reference until they are acknowledged or it is destroyed.
  // Null or empty `data` queues nothing.
  void append(SharedBytes data);

  // Up to `max` vectors covering unsent bytes from the send cursor; returns
  // how many were filled (0 when everything queued has been handed out).
  size_t unsent(ngtcp2_vec *out, size_t max) const;
  // Moves the send cursor past `n` bytes just given to ngtcp2.
  void mark_sent(size_t n);
  // Releases acknowledged bytes [offset, offset+length); acknowledgements
  // arrive in increasing, non-overlapping order (ngtcp2 guarantee).
  void acknowledge(uint64_t offset, uint64_t length);

  uint64_t unsent_bytes() const { return end_offset_ - sent_offset_; }
  // Queued but not yet acknowledged: what counts against the stream's budget.
  uint64_t unacked_bytes() const { return end_offset_ - acked_offset_; }
  uint64_t end_offset() const { return end_offset_; }

private:
  // A view on shared storage; `bytes` points into *storage and is never empty.
  struct Chunk {
    SharedBytes storage;
    ByteView bytes;
  };

  std::deque<Chunk> chunks_;    // front chunk starts at front_offset_
  uint64_t front_offset_ = 0;   // stream offset of chunks_.front().bytes[0]
  uint64_t acked_offset_ = 0;   // everything below is acknowledged
  uint64_t sent_offset_ = 0;    // everything below was handed to ngtcp2
  uint64_t end_offset_ = 0;     // offset after the last queued byte
  // Send cursor: chunk index and position inside it for sent_offset_.
  size_t cursor_chunk_ = 0;
  size_t cursor_pos_ = 0;
};

} // namespace conec::quic
