#pragma once
// Escaping for text that may contain bytes chosen by a remote peer (ids,
// close reasons, refusal reasons) before it reaches a log line or a terminal.
// A peer must not be able to forge a log record (a newline, or a quote in a
// JSON line) nor drive the reader's terminal (ESC sequences, CR, C1 controls,
// bidirectional overrides), whatever bytes it sends.

#include <string>
#include <string_view>

namespace conec {

// Appends `text` to `out` as the inside of a JSON string (RFC 8259): `"` and
// `\` get a backslash, every control character (< 0x20 and 0x7f) is written
// as \u00XX (\n, \r, \t as their short forms), and each byte that is not
// part of a well-formed UTF-8 sequence (stray continuation, overlong form,
// surrogate, above U+10FFFF, truncated) becomes \ufffd. Valid non-ASCII
// characters are copied as UTF-8. Never fails.
void append_json_escaped(std::string &out, std::string_view text);
std::string json_escaped(std::string_view text);

// Appends `text` to `out` made safe for a terminal or a text log line, kept
// readable: \n, \r, \t as those two characters, other C0 controls and 0x7f
// as \xNN, C1 controls (U+0080-U+009F, in UTF-8) and the Unicode line and
// paragraph separators and bidirectional controls as \uNNNN, and each byte
// of malformed UTF-8 as \xNN. Everything else, including backslash, is kept,
// so ordinary messages look unchanged. Never fails.
void append_printable(std::string &out, std::string_view text);
std::string printable(std::string_view text);

} // namespace conec
