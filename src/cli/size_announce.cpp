#include "size_announce.hpp"

#include <charconv>

namespace conec::cli {

std::string size_announcement(uint64_t size) { return std::to_string(size); }

std::optional<uint64_t> parse_size_announcement(ByteView message) {
  if (message.empty() || message.size() > kMaxSizeAnnouncement) return std::nullopt;
  std::string_view digits = as_chars(message);
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt; // no sign, space or other junk
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt; // overflow
  return value;
}

} // namespace conec::cli
