#pragma once
/// @file
/// @brief Durations in the API: nanoseconds as integers.

#include <cstdint>

namespace conec {

/// A span of time in nanoseconds.
using Duration = uint64_t;

/// One millisecond.
inline constexpr Duration kMillisecond = 1'000'000;
/// One second.
inline constexpr Duration kSecond = 1'000'000'000;

} // namespace conec
