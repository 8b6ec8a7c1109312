#pragma once
// Time as QUIC sees it: nanoseconds on the process's monotonic clock.
// quic/ never reads the clock itself; callers pass `now`, so tests can use a
// virtual clock.

#include <cstdint>
#include <ctime>

#include "conec/time.hpp"

namespace conec {

using Timestamp = uint64_t; // ns since an arbitrary monotonic epoch
inline constexpr Timestamp kNever = UINT64_MAX;

inline Timestamp monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Timestamp>(ts.tv_sec) * kSecond + static_cast<Timestamp>(ts.tv_nsec);
}

} // namespace conec
