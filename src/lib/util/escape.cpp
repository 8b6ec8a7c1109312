#include "util/escape.hpp"

#include <cstdint>

namespace conec {
namespace {

// One decoded character: its code point and how many bytes it took; length
// 0 when the bytes at the front are not well-formed UTF-8.
struct Utf8Char {
  uint32_t code_point = 0;
  size_t length = 0;
};

Utf8Char decode_utf8(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b0 = byte(0);
  if (b0 < 0x80) return {b0, 1};
  size_t n;
  uint32_t cp, min;
  if ((b0 & 0xe0) == 0xc0) n = 2, cp = b0 & 0x1f, min = 0x80;
  else if ((b0 & 0xf0) == 0xe0) n = 3, cp = b0 & 0x0f, min = 0x800;
  else if ((b0 & 0xf8) == 0xf0) n = 4, cp = b0 & 0x07, min = 0x10000;
  else return {}; // a continuation byte or 0xf8..0xff
  if (s.size() < n) return {};
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return {};
    cp = (cp << 6) | (byte(i) & 0x3f);
  }
  // Overlong forms could smuggle '"' or '\n' past a naive reader.
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, n};
}

constexpr char kHex[] = "0123456789abcdef";

void append_hex(std::string &out, const char *prefix, uint32_t value, int digits) {
  out += prefix;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xf];
}

// Characters that make a terminal or a reader see something other than what
// is there: C1 controls, line/paragraph separators, bidirectional controls.
bool invisible_control(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

} // namespace

void append_json_escaped(std::string &out, std::string_view text) {
  out.reserve(out.size() + text.size());
  while (!text.empty()) {
    Utf8Char c = decode_utf8(text);
    if (c.length == 0) {
      out += "\\ufffd";
      text.remove_prefix(1);
      continue;
    }
    switch (c.code_point) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c.code_point < 0x20 || c.code_point == 0x7f) append_hex(out, "\\u", c.code_point, 4);
      else out.append(text.substr(0, c.length));
    }
    text.remove_prefix(c.length);
  }
}

std::string json_escaped(std::string_view text) {
  std::string out;
  append_json_escaped(out, text);
  return out;
}

void append_printable(std::string &out, std::string_view text) {
  out.reserve(out.size() + text.size());
  while (!text.empty()) {
    Utf8Char c = decode_utf8(text);
    if (c.length == 0) {
      append_hex(out, "\\x", static_cast<uint8_t>(text[0]), 2);
      text.remove_prefix(1);
      continue;
    }
    if (c.code_point == '\n') out += "\\n";
    else if (c.code_point == '\r') out += "\\r";
    else if (c.code_point == '\t') out += "\\t";
    else if (c.code_point < 0x20 || c.code_point == 0x7f) append_hex(out, "\\x", c.code_point, 2);
    else if (invisible_control(c.code_point)) append_hex(out, "\\u", c.code_point, 4);
    else out.append(text.substr(0, c.length));
    text.remove_prefix(c.length);
  }
}

std::string printable(std::string_view text) {
  std::string out;
  append_printable(out, text);
  return out;
}

} // namespace conec
