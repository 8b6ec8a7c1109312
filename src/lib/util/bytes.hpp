#pragma once
// Byte containers used across layers (the public ones: conec/bytes.hpp).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conec/bytes.hpp"

namespace conec {

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
