#pragma once
// QUIC variable-length integers (RFC 9000 §16): 1, 2, 4 or 8 bytes, values
// below 2^62. Used by proto/ framing.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "util/bytes.hpp"

namespace conec {

inline constexpr uint64_t kVarintMax = (uint64_t{1} << 62) - 1;

// Bytes needed to encode `value` (value must be <= kVarintMax).
size_t varint_size(uint64_t value);

// Appends the encoding of `value` to `out`.
void varint_append(Bytes &out, uint64_t value);

// Result of decoding: the value and how many bytes it took.
struct VarintDecoded {
  uint64_t value;
  size_t length;
};

// Decodes one varint from the front of `in`; nullopt if `in` is too short.
std::optional<VarintDecoded> varint_decode(ByteView in);

} // namespace conec
