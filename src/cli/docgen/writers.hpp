#pragma once
// The generated documentation: man pages and shell completions, each a pure
// function of the command description (no dates, no host details), so that
// regenerating on any machine gives byte-identical files.

#include <map>
#include <string>

#include "model.hpp"

namespace conec::docgen {

// Relative path ("man/conec.1", "completions/_conec") -> file contents.
using FileSet = std::map<std::string, std::string>;

// man/conec.1 plus man/conec-<subcommand>.1 for every top-level subcommand
// (nested subcommands are documented on their top-level command's page).
FileSet man_pages(const CommandDoc &root);

// completions/conec.bash: a bash-completion function for `conec`.
std::string bash_completion(const CommandDoc &root);
// completions/_conec: a zsh #compdef file.
std::string zsh_completion(const CommandDoc &root);
// completions/conec.fish: fish `complete` commands.
std::string fish_completion(const CommandDoc &root);

// Everything above, keyed by path relative to the source tree.
FileSet generate(const CommandDoc &root);

// The command that regenerates the files, quoted in each file's header.
inline constexpr const char *kRegenerate = "build/src/cli/conec-docgen write .";

} // namespace conec::docgen
