#include "proto/framing.hpp"

#include <algorithm>
#include <string>

#include "util/varint.hpp"

namespace conec::proto {

namespace {

// A partial message reserves at most this much up front: a header alone must
// not make us allocate the whole declared length before its bytes arrive.
constexpr size_t kInitialReserve = size_t{64} << 10;

// Total length of the varint whose first byte is `first`.
size_t varint_length(uint8_t first) { return size_t{1} << (first >> 6); }

Error too_large(uint64_t length, size_t max) {
  return Error{ErrorCategory::limit, 0, "proto",
               "message of " + std::to_string(length) + " bytes exceeds the maximum message size of " +
                   std::to_string(max) + " bytes"};
}

} // namespace

void append_frame_header(Bytes &out, size_t length) { varint_append(out, length); }

void append_frame(Bytes &out, ByteView message) {
  // No exact reserve() here: it would defeat geometric growth and make a
  // caller appending many frames to one buffer quadratic.
  append_frame_header(out, message.size());
  out.insert(out.end(), message.begin(), message.end());
}

MessageReader::MessageReader(size_t max_message) : max_(max_message) {}

Result<void> MessageReader::feed(ByteView data) {
  if (failed_) return fail(*failed_);
  while (!data.empty()) {
    if (!expected_) {
      // Assemble the header in header_ (at most 8 bytes), then check the
      // declared length before accepting a single payload byte.
      size_t need = header_.empty() ? varint_length(data[0]) : varint_length(header_[0]);
      size_t take = std::min(need - header_.size(), data.size());
      header_.insert(header_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
      data = data.subspan(take);
      if (header_.size() < need) break;
      auto decoded = varint_decode(header_);
      header_.clear();
      // varint_decode cannot fail on a complete header; values are < 2^62.
      uint64_t length = decoded ? decoded->value : 0;
      if (length > max_) {
        failed_ = too_large(length, max_);
        return fail(*failed_);
      }
      if (length == 0) {
        ready_.emplace_back();
        continue;
      }
      expected_ = static_cast<size_t>(length);
      // Fast path: the whole payload is already here; copy it once.
      if (data.size() >= *expected_) {
        ready_.emplace_back(data.begin(), data.begin() + static_cast<ptrdiff_t>(*expected_));
        ready_bytes_ += *expected_;
        data = data.subspan(*expected_);
        expected_.reset();
        continue;
      }
      partial_.clear();
      partial_.reserve(std::min(*expected_, std::max(kInitialReserve, data.size())));
    }
    // Append to the partial message; vector growth is geometric, so a large
    // message fed in small chunks costs linear time overall.
    size_t take = std::min(*expected_ - partial_.size(), data.size());
    partial_.insert(partial_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
    data = data.subspan(take);
    if (partial_.size() == *expected_) {
      ready_bytes_ += partial_.size();
      ready_.push_back(std::move(partial_));
      partial_ = Bytes();
      expected_.reset();
    }
  }
  return {};
}

Result<std::optional<ByteView>> MessageReader::take(ByteView &data) {
  if (failed_) return fail(*failed_);
  if (expected_ || !header_.empty() || !ready_.empty() || data.empty()) return std::nullopt;
  size_t need = varint_length(data[0]);
  if (data.size() < need) return std::nullopt;
  auto decoded = varint_decode(data.first(need));
  uint64_t length = decoded ? decoded->value : 0;
  if (length > max_) {
    failed_ = too_large(length, max_);
    return fail(*failed_);
  }
  if (data.size() - need < length) return std::nullopt;
  ByteView message = data.subspan(need, static_cast<size_t>(length));
  data = data.subspan(need + static_cast<size_t>(length));
  return std::optional<ByteView>(message);
}

size_t MessageReader::completing(ByteView data) const {
  size_t n = data.size();
  if (expected_) n = *expected_ - partial_.size();
  else if (!header_.empty()) n = varint_length(header_[0]) - header_.size();
  return std::min(n, data.size());
}

std::optional<Bytes> MessageReader::next() {
  if (ready_.empty()) return std::nullopt;
  Bytes message = std::move(ready_.front());
  ready_.pop_front();
  ready_bytes_ -= message.size();
  return message;
}

Result<void> MessageReader::finish() const {
  if (failed_) return fail(*failed_);
  if (!header_.empty()) {
    return fail(ErrorCategory::protocol, "proto",
                "stream ended inside a message header: " + std::to_string(header_.size()) + " of " +
                    std::to_string(varint_length(header_[0])) + " bytes received");
  }
  if (expected_) {
    return fail(ErrorCategory::protocol, "proto",
                "stream ended inside a message: " + std::to_string(partial_.size()) + " of " +
                    std::to_string(*expected_) + " bytes received");
  }
  return {};
}

size_t MessageReader::buffered_bytes() const { return header_.size() + partial_.size() + ready_bytes_; }
size_t MessageReader::partial_bytes() const { return header_.size() + partial_.size(); }

} // namespace conec::proto
