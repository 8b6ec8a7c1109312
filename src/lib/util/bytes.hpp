#pragma once
// Byte containers used across layers.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace conec {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using MutableByteView = std::span<uint8_t>;
// Immutable bytes with shared ownership: one buffer several owners read
// (e.g. the same framed message queued on many streams). Nobody may modify
// the bytes once they are shared.
using SharedBytes = std::shared_ptr<const Bytes>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char *>(b.data()), b.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// A map keyed by byte strings (connection ids, relay tokens) that can be
// searched with a view, so per-packet lookups build no std::string (16-byte
// keys do not fit the small-string buffer: that would allocate per packet).
struct ByteKeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
};
template <class T> using ByteKeyMap = std::unordered_map<std::string, T, ByteKeyHash, std::equal_to<>>;

// Lower-case hex of `b`, e.g. for fingerprints and connection ids in logs.
std::string to_hex(ByteView b);

// Fills `out` with cryptographically secure random bytes (getrandom(2)).
void random_bytes(MutableByteView out);

} // namespace conec
