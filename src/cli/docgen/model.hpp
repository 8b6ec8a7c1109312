#pragma once
// A neutral description of the conec command tree, extracted from the CLI11
// app that build_app() returns. The man page and completion writers read only
// this, so they cannot disagree with each other about which options exist, and
// the extraction is the one place that knows CLI11's API.

#include <string>
#include <vector>

#include "app.hpp"

namespace conec::docgen {

// What kind of value an option or positional takes, for completion: files
// and directories complete from the file system, choices from their list.
enum class ValueKind { none, text, file, dir };

// One option or positional argument of one command.
struct OptionDoc {
  std::vector<std::string> shorts; // without the leading '-'
  std::vector<std::string> longs;  // without the leading "--"
  std::string positional;          // positional name; empty for options
  bool takes_value = false;
  bool value_optional = false; // `--opt` alone is also accepted
  bool repeatable = false;     // may be given several times / takes several values
  bool required = false;
  bool global = false; // also an option of the root: works before the subcommand
  ValueKind kind = ValueKind::none;
  std::string placeholder;              // value name as --help shows it, validators stripped
  std::vector<std::string> choices;     // from IsMember-style validators
  std::vector<std::string> constraints; // other validator descriptions ("POSITIVE", ranges)
  std::string description;
  std::string default_value;
  std::string env;                          // environment variable that supplies a default
  std::string group;                        // CLI11 option group ("Options" unless set)
  std::vector<std::string> needs, excludes; // option names as spelled on the command line

  bool is_positional() const { return !positional.empty(); }
  // "-c, --coord" (or the positional name).
  std::string spelled() const;
  // Every spelling a shell would see: "-c", "--coord".
  std::vector<std::string> all_names() const;
};

// Hand-written text for one command (empty for commands without prose).
struct ProseDoc {
  std::string description;
  std::vector<std::pair<std::string, std::string>> examples; // command, explanation
};

// One command of the tree: the root ("conec") or a subcommand at any depth.
struct CommandDoc {
  std::vector<std::string> path; // {"cert", "issue"}; empty for the root
  std::string name;              // last element of path, "conec" for the root
  std::vector<std::string> aliases;
  std::string summary; // CLI11 description: the one-line --help text
  std::string footer;
  ProseDoc prose;
  std::vector<OptionDoc> options;     // in definition order (as --help lists them)
  std::vector<OptionDoc> positionals; // in command-line order
  std::vector<CommandDoc> subcommands;
  bool requires_subcommand = false;

  // "conec cert issue".
  std::string invocation() const;
  // Man page file name: "conec.1", "conec-cert.1" (nested commands share
  // their top-level subcommand's page).
  std::string man_name() const;
  // Environment variables named by options of this command and below.
  std::vector<std::string> env_vars() const;
};

// Walks the tree; hidden options (empty group) and hidden subcommands are
// left out, as --help leaves them out.
CommandDoc describe(cli::AppTree &tree);

// Joins `items` with `separator`.
std::string join(const std::vector<std::string> &items, const std::string &separator);

} // namespace conec::docgen
