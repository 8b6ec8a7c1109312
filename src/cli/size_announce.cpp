#include "size_announce.hpp"

#include <charconv>

namespace conec::cli {

std::string size_announcement(uint64_t size) { return std::string(kSizeMagic) + " " + std::to_string(size); }

std::optional<uint64_t> parse_size_announcement(ByteView message) {
  if (message.size() > kMaxSizeAnnouncement || message.size() <= kSizeMagic.size() + 1) return std::nullopt;
  std::string_view text = as_chars(message);
  if (!text.starts_with(kSizeMagic) || text[kSizeMagic.size()] != ' ') return std::nullopt;
  std::string_view digits = text.substr(kSizeMagic.size() + 1);
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt; // no sign, space or other junk
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt; // overflow
  return value;
}

} // namespace conec::cli
