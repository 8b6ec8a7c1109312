// zsh completion: one _arguments function per command path, dispatching to
// the next one on the subcommand word (the usual `->args` state pattern).
#include <cctype>

#include "writers.hpp"

namespace conec::docgen {
namespace {

// Inside '...' (shell single quotes).
std::string sq(const std::string &s) {
  std::string out;
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out;
}

// The [explanation] part of an _arguments spec: brackets and backslashes
// would end or escape it.
std::string explanation(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return "[" + sq(out) + "]";
}

// A :message: part: colons separate the fields.
std::string message(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return sq(out);
}

// How the value completes: a list of choices, files, directories, or nothing
// (a single space: zsh shows the message and completes nothing).
std::string action(const OptionDoc &o) {
  if (!o.choices.empty()) {
    std::string list;
    for (const auto &c : o.choices) {
      std::string escaped;
      for (char ch : c) {
        if (ch == ' ' || ch == '(' || ch == ')' || ch == '\\') escaped += '\\';
        escaped += ch;
      }
      list += (list.empty() ? "" : " ") + sq(escaped);
    }
    return "(" + list + ")";
  }
  if (o.kind == ValueKind::file) return "_files";
  if (o.kind == ValueKind::dir) return "_files -/";
  return " ";
}

std::string function_name(const CommandDoc &cmd) {
  std::string name = "_conec";
  for (const auto &part : cmd.path) name += "_" + part;
  for (char &c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::string option_spec(const OptionDoc &o) {
  std::vector<std::string> names;
  for (const auto &s : o.shorts)
    names.push_back("-" + s + (o.takes_value ? (o.value_optional ? "-" : "+") : ""));
  for (const auto &l : o.longs)
    names.push_back("--" + l + (o.takes_value ? (o.value_optional ? "=-" : "=") : ""));
  // A repeatable option may follow itself; others exclude their other names.
  std::string prefix;
  if (o.repeatable)
    prefix = "*";
  else if (names.size() > 1)
    prefix = "(" + join(o.all_names(), " ") + ")";
  std::string rest = explanation(o.description);
  if (o.takes_value)
    rest += std::string(o.value_optional ? "::" : ":") + message(o.placeholder) + ":" + action(o);
  // Several names: brace expansion makes one spec per name.
  if (names.size() == 1) return "'" + prefix + names.front() + rest + "'";
  return "'" + prefix + "'{" + join(names, ",") + "}'" + rest + "'";
}

std::string positional_spec(const OptionDoc &p, size_t index) {
  std::string pos = p.repeatable ? "*" : std::to_string(index);
  return "'" + pos + (p.required ? ":" : "::") + message(p.positional) + ":" + action(p) + "'";
}

std::string command_function(const CommandDoc &cmd) {
  std::string fn = function_name(cmd);
  std::string out = fn + "() {\n";
  std::vector<std::string> specs;
  for (const auto &o : cmd.options) specs.push_back(option_spec(o));
  if (cmd.subcommands.empty()) {
    for (size_t i = 0; i < cmd.positionals.size(); ++i)
      specs.push_back(positional_spec(cmd.positionals[i], i + 1));
    out += "  _arguments -s \\\n";
    for (size_t i = 0; i < specs.size(); ++i)
      out += "    " + specs[i] + (i + 1 < specs.size() ? " \\\n" : "\n");
    return out + "}\n\n";
  }
  specs.push_back("'1: :" + fn + "_commands'");
  specs.push_back("'*:: :->args'");
  out += "  local curcontext=\"$curcontext\" state state_descr line ret=1\n"
         "  typeset -A opt_args\n"
         "  _arguments -C -s \\\n";
  for (size_t i = 0; i < specs.size(); ++i) out += "    " + specs[i] + (i + 1 < specs.size() ? " \\\n" : "");
  out += " && ret=0\n"
         "  case $state in\n"
         "    args)\n"
         "      curcontext=\"${curcontext%:*:*}:conec-" +
         join(cmd.path, "-") + (cmd.path.empty() ? "" : "-") +
         "$words[1]:\"\n"
         "      case $words[1] in\n";
  for (const auto &sub : cmd.subcommands) {
    std::vector<std::string> words{sub.name};
    for (const auto &alias : sub.aliases) words.push_back(alias);
    out += "        " + join(words, "|") + ") " + function_name(sub) + " && ret=0 ;;\n";
  }
  out += "      esac\n"
         "      ;;\n"
         "  esac\n"
         "  return ret\n"
         "}\n\n";
  out += fn + "_commands() {\n  local -a commands\n  commands=(\n";
  for (const auto &sub : cmd.subcommands) out += "    '" + message(sub.name) + ":" + sq(sub.summary) + "'\n";
  out +=
      "  )\n  _describe -t commands " + std::string("'") + sq(cmd.invocation()) + " command' commands\n}\n\n";
  for (const auto &sub : cmd.subcommands) out += command_function(sub);
  return out;
}

} // namespace

std::string zsh_completion(const CommandDoc &root) {
  std::string out = "#compdef conec\n"
                    "# zsh completion for conec.\n"
                    "# Generated by conec-docgen from the conec command tree; do not edit.\n"
                    "# Regenerate with: " +
                    std::string(kRegenerate) + "\n\n";
  out += command_function(root);
  // Loaded by compinit (autoload): run; sourced by hand: register.
  out += "if [ \"$funcstack[1]\" = \"_conec\" ]; then\n"
         "  _conec \"$@\"\n"
         "else\n"
         "  compdef _conec conec\n"
         "fi\n";
  return out;
}

} // namespace conec::docgen
