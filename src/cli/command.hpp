#pragma once
// How subcommands plug into the conec binary: each file adds its CLI11
// subcommand and returns the function that runs it after parsing.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace conec::cli {

// Options every subcommand understands (before or after its name).
struct GlobalOptions {
  int verbose = 0;
  bool quiet = false;
  std::string log_format = "text";
};

struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run; // returns the process exit code
};

// Adds `-v/-q/--log-format` to `app` (the root and each subcommand).
void add_global_options(CLI::App &app, GlobalOptions &options);

// Prints "conec: error: <message>" to stderr and returns `code`.
int report_error(const std::string &message, int code);

Command add_coordinator_command(CLI::App &root, GlobalOptions &global);

} // namespace conec::cli
