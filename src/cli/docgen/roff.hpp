#pragma once
// roff building blocks for the man pages (man(7) macros, man-pages(7)
// conventions): escaping of text that comes from the CLI11 tree and prose,
// and the font conventions for option names and placeholders.

#include <string>

#include "model.hpp"

namespace conec::docgen::roff {

// Running text. Backslashes become "\e"; a line that would start with '.' or
// '\'' (a roff request) is guarded with "\&"; option-like words ("-v",
// "--log-format", "/-q") get "\-" so they render as ASCII minus signs and
// survive copy and paste.
std::string text(const std::string &s);

// Literal command-line text (option names, commands, paths, defaults): as
// text(), and every '-' becomes "\-".
std::string code(const std::string &s);

// \fB...\fR and \fI...\fR around code(s).
std::string bold(const std::string &s);
std::string italic(const std::string &s);

// Paragraphs separated by blank lines -> ".PP" blocks.
std::string paragraphs(const std::string &prose);

// "\fB\-c\fR, \fB\-\-coord\fR \fIHOST[:PORT]\fR": an option's names and value,
// as the OPTIONS list shows them.
std::string option_tag(const OptionDoc &o);

// "[\fB\-c\fR \fIHOST[:PORT]\fR]": an option or positional as SYNOPSIS shows
// it (brackets unless required, "..." when repeatable).
std::string synopsis_item(const OptionDoc &o);

// The ".TP" entry of an option or positional: tag, description and what the
// tree knows about it (required, default, environment, values, checks).
std::string option_entry(const OptionDoc &o);

// "Run a coordinator" -> "run a coordinator" for the NAME line, keeping
// acronyms ("SIGINT ...") intact.
std::string lower_first(const std::string &s);

} // namespace conec::docgen::roff
