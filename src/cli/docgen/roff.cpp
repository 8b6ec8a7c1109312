// roff escaping and the option formatting shared by every man page.
#include "roff.hpp"

#include <cctype>

namespace conec::docgen::roff {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

// Escapes backslashes and guards line starts; `all_minus` turns every '-'
// into "\-", otherwise only those of option-like words.
std::string escape(const std::string &s, bool all_minus) {
  std::string out;
  bool line_start = true;
  bool in_option = false; // inside a word that began with an escaped '-'
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      char prev = i ? s[i - 1] : ' ';
      char next = i + 1 < s.size() ? s[i + 1] : ' ';
      bool starts_word = !word_char(prev) && (std::isalnum(static_cast<unsigned char>(next)) || next == '-');
      if (starts_word) in_option = true;
      out += (all_minus || in_option) ? "\\-" : "-";
    } else {
      if (!word_char(c)) in_option = false;
      out += c;
    }
  }
  return out;
}

} // namespace

std::string text(const std::string &s) { return escape(s, false); }
std::string code(const std::string &s) { return escape(s, true); }
std::string bold(const std::string &s) { return "\\fB" + code(s) + "\\fR"; }
std::string italic(const std::string &s) { return "\\fI" + code(s) + "\\fR"; }

std::string paragraphs(const std::string &prose) {
  std::string out;
  size_t start = 0;
  while (start < prose.size()) {
    size_t end = prose.find("\n\n", start);
    std::string para = prose.substr(start, end == std::string::npos ? std::string::npos : end - start);
    while (!para.empty() && para.back() == '\n') para.pop_back();
    while (!para.empty() && para.front() == '\n') para.erase(0, 1);
    if (!para.empty()) out += ".PP\n" + text(para) + "\n";
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return out;
}

namespace {

// The value part: " \fIFILE\fR", "[=\fIN\fR]", or " \fBtext\fR|\fBjson\fR";
// `space` is "\\ " (unbreakable) in SYNOPSIS so a line never ends between an
// option and its value.
std::string value_part(const OptionDoc &o, const std::string &space = " ") {
  if (!o.takes_value) return "";
  std::string v;
  if (!o.choices.empty()) {
    for (size_t i = 0; i < o.choices.size(); ++i) v += (i ? "|" : "") + bold(o.choices[i]);
  } else {
    v = italic(o.placeholder);
  }
  return o.value_optional ? "[=" + v + "]" : space + v;
}

} // namespace

std::string option_tag(const OptionDoc &o) {
  if (o.is_positional()) return italic(o.positional) + (o.repeatable ? "\\ ...\\&" : "");
  std::string tag;
  for (const auto &name : o.all_names()) tag += (tag.empty() ? "" : ", ") + bold(name);
  return tag + value_part(o);
}

std::string synopsis_item(const OptionDoc &o) {
  std::string item;
  if (o.is_positional()) {
    item = italic(o.positional);
  } else {
    // The short spelling keeps the synopsis compact, as SPEC §5 writes it.
    item = bold(o.shorts.empty() ? "--" + o.longs.front() : "-" + o.shorts.front()) + value_part(o, "\\ ");
  }
  if (!o.required) item = "[" + item + "]";
  if (o.repeatable) item += "...\\&"; // \& : not the end of a sentence
  return "\\%" + item;                // \% : never hyphenated
}

std::string option_entry(const OptionDoc &o) {
  std::string out = ".TP\n" + option_tag(o) + "\n";
  std::string desc = o.description.empty() ? "(no description)" : o.description;
  if (desc.back() != '.') desc += '.';
  out += text(desc) + "\n";
  std::string facts;
  auto add = [&facts](const std::string &fact) { facts += (facts.empty() ? "" : "\n") + fact; };
  if (o.required) add("Required.");
  if (!o.choices.empty()) {
    std::string values;
    for (size_t i = 0; i < o.choices.size(); ++i) values += (i ? ", " : "") + bold(o.choices[i]);
    add("Values: " + values + ".");
  }
  for (const auto &c : o.constraints) add("Accepted values: " + code(c) + ".");
  if (!o.default_value.empty() && o.takes_value) add("Default: " + bold(o.default_value) + ".");
  if (!o.env.empty()) add("Environment: " + bold(o.env) + " supplies the default.");
  if (o.repeatable && !o.is_positional()) add("May be given more than once.");
  auto names = [](const std::vector<std::string> &list) {
    std::string s;
    for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + bold(list[i]);
    return s;
  };
  if (!o.needs.empty()) add("Requires " + names(o.needs) + ".");
  if (!o.excludes.empty()) add("Cannot be combined with " + names(o.excludes) + ".");
  if (!facts.empty()) out += ".br\n" + facts + "\n";
  return out;
}

std::string lower_first(const std::string &s) {
  if (s.size() >= 2 && std::isupper(static_cast<unsigned char>(s[0])) &&
      std::islower(static_cast<unsigned char>(s[1])))
    return static_cast<char>(std::tolower(static_cast<unsigned char>(s[0]))) + s.substr(1);
  return s;
}

} // namespace conec::docgen::roff
