#pragma once
// How `send FILE` tells `recv` the size of what follows, for its progress
// line (total, percent, ETA).
//
// Wire convention (application level, beside the data stream on the same
// channel): the sender opens a *unidirectional* stream before its data
// stream, sends one message "conec-size/1 <decimal bytes>" on it and
// finishes it. Receivers that do not know the convention reset it (every
// unidirectional stream that is not a ping is reset: ping_echo.hpp), so
// older receivers are unaffected, and a receiver of an older sender simply
// shows no total. The size is only displayed: a wrong one (more or fewer
// bytes arrive) changes nothing but the percentage and the ETA.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace conec::cli {

inline constexpr std::string_view kSizeMagic = "conec-size/1";
// "conec-size/1 " plus at most 20 digits: anything longer is not ours.
inline constexpr size_t kMaxSizeAnnouncement = kSizeMagic.size() + 1 + 20;

std::string size_announcement(uint64_t size);
// The announced size, or nullopt for anything that is not exactly
// "conec-size/1 <1-20 decimal digits that fit in 64 bits>".
std::optional<uint64_t> parse_size_announcement(ByteView message);

} // namespace conec::cli
