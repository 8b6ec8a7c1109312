#pragma once
// The conec command tree: every subcommand registered on one CLI11 app. The
// binary parses with it; the docs generator walks it to write man pages and
// completions, so the three never disagree.

#include <memory>
#include <vector>

#include "command.hpp"

namespace conec::cli {

struct AppTree {
  std::unique_ptr<CLI::App> app;
  GlobalOptions global;
  std::vector<Command> commands;
};

std::unique_ptr<AppTree> build_app();

} // namespace conec::cli
