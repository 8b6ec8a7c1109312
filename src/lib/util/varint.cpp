#include "util/varint.hpp"

namespace conec {

size_t varint_size(uint64_t value) {
  if (value < (1u << 6)) return 1;
  if (value < (1u << 14)) return 2;
  if (value < (1u << 30)) return 4;
  return 8;
}

void varint_append(Bytes &out, uint64_t value) {
  size_t n = varint_size(value);
  uint8_t prefix = n == 1 ? 0x00 : n == 2 ? 0x40 : n == 4 ? 0x80 : 0xc0;
  for (size_t i = 0; i < n; ++i) {
    uint8_t byte = static_cast<uint8_t>(value >> (8 * (n - 1 - i)));
    if (i == 0) byte = static_cast<uint8_t>((byte & 0x3f) | prefix);
    out.push_back(byte);
  }
}

std::optional<VarintDecoded> varint_decode(ByteView in) {
  if (in.empty()) return std::nullopt;
  size_t n = size_t{1} << (in[0] >> 6);
  if (in.size() < n) return std::nullopt;
  uint64_t value = in[0] & 0x3f;
  for (size_t i = 1; i < n; ++i) value = (value << 8) | in[i];
  return VarintDecoded{value, n};
}

} // namespace conec
