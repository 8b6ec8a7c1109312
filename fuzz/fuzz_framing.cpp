// proto::MessageReader fed the input in chunks whose sizes come from the
// input, with a small max_message. Checked against a direct parse of the
// same bytes: the same messages in the same order, the same failure point,
// buffered_bytes() within its documented bound, and finish() agreeing on
// whether the stream ended inside a message.
#include <cstdlib>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "proto/framing.hpp"
#include "util/varint.hpp"

using namespace conec;

namespace {

constexpr size_t kMax = 300;

// The reference: QUIC varint lengths read directly from the whole stream.
struct Reference {
  std::vector<Bytes> messages;
  bool too_long = false; // a declared length over kMax
  bool clean_end = true; // the stream ended between messages
};

Reference parse(ByteView s) {
  Reference r;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len_size = size_t{1} << (s[pos] >> 6);
    if (s.size() - pos < len_size) {
      r.clean_end = false;
      return r;
    }
    uint64_t len = s[pos] & 0x3f;
    for (size_t i = 1; i < len_size; ++i) len = len << 8 | s[pos + i];
    pos += len_size;
    if (len > kMax) {
      r.too_long = true;
      return r;
    }
    if (s.size() - pos < len) {
      r.clean_end = false;
      return r;
    }
    r.messages.emplace_back(s.begin() + pos, s.begin() + pos + len);
    pos += len;
  }
  return r;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  return 0;
}

// Input: 1 byte with the number of chunk sizes n, n bytes of chunk sizes,
// then the stream. Chunks cycle through the sizes (0: take messages, then feed 1 byte).
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  size_t n = in.byte() % 16;
  ByteView sizes = in.take(n);
  ByteView stream = in.take(size);
  Reference want = parse(stream);

  proto::MessageReader reader(kMax);
  std::vector<Bytes> got;
  bool failed = false;
  size_t pos = 0, turn = 0;
  size_t taken = 0; // payload bytes returned by next()
  auto drain = [&] {
    while (auto m = reader.next()) {
      taken += m->size();
      got.push_back(std::move(*m));
    }
    // Nothing untaken: at most one partial message (and a partial header).
    if (reader.buffered_bytes() > kMax + 8) std::abort();
  };
  while (pos < stream.size() && !failed) {
    size_t chunk = sizes.empty() ? stream.size() : sizes[turn++ % sizes.size()];
    if (chunk == 0) { // take messages, then feed a single byte
      drain();
      chunk = 1;
    }
    chunk = std::min(chunk, stream.size() - pos);
    auto fed = reader.feed(stream.subspan(pos, chunk));
    pos += chunk;
    if (!fed) {
      if (fed.error().category != ErrorCategory::limit) std::abort();
      failed = true;
      if (reader.feed(stream.first(1))) std::abort(); // stays failed
    }
    // It cannot hold more than it was given and has not handed out.
    if (reader.buffered_bytes() > pos - taken) std::abort();
    if (!failed && sizes.size() > 1 && turn % 3 == 0) drain();
  }
  drain();
  if (failed != want.too_long) std::abort();
  if (got != want.messages) std::abort();
  if (!failed) {
    if (bool(reader.finish()) != want.clean_end) std::abort();
  }
  return 0;
}
