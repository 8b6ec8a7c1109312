#pragma once
// How `send FILE` tells `recv` the size of what follows, for its progress
// line (total, percent, ETA).
//
// Wire convention (application level, beside the data stream on the same
// channel): the sender opens a unidirectional stream labelled `size`
// (proto/stream_label.hpp) before its data stream, sends one message, the
// size in decimal digits, and finishes it. The size is only displayed: a
// wrong one (more or fewer bytes arrive) changes nothing but the percentage
// and the ETA.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace conec::cli {

// At most 20 digits: anything longer is not a size.
inline constexpr size_t kMaxSizeAnnouncement = 20;

std::string size_announcement(uint64_t size);
// The announced size, or nullopt for anything that is not exactly
// 1-20 decimal digits that fit in 64 bits.
std::optional<uint64_t> parse_size_announcement(ByteView message);

} // namespace conec::cli
