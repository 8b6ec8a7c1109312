#pragma once
/// @file
/// @brief Byte containers of the API: messages are Bytes, views are ByteView.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace conec {

/// An owned message or buffer.
using Bytes = std::vector<uint8_t>;
/// A read-only view of bytes the caller keeps alive for the call.
using ByteView = std::span<const uint8_t>;
/// A writable view of bytes the caller owns.
using MutableByteView = std::span<uint8_t>;
/// Immutable bytes with shared ownership: one buffer several owners read
/// (e.g. the same framed message queued on many streams). Nobody may modify
/// the bytes once they are shared.
using SharedBytes = std::shared_ptr<const Bytes>;

/// The characters of `s` as bytes (no copy).
inline ByteView as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t *>(s.data()), s.size()}; }
/// The bytes of `b` as characters (no copy).
inline std::string_view as_chars(ByteView b) { return {reinterpret_cast<const char *>(b.data()), b.size()}; }
/// A copy of the characters of `s`.
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

} // namespace conec
