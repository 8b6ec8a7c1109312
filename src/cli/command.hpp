#pragma once
// How subcommands plug into the conec binary: each file adds its CLI11
// subcommand and returns the function that runs it after parsing.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace conec::cli {

// Options every subcommand understands (before or after its name).
struct GlobalOptions {
  int verbose = 0;
  bool quiet = false;
  std::string log_format = "text";
};

// Hand-written text for a subcommand's man page (options, synopsis, exit
// codes and environment come from the CLI11 tree itself).
struct Example {
  std::string command;
  std::string explanation;
};
struct Prose {
  std::string description; // paragraphs separated by blank lines
  std::vector<Example> examples;
};

struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run; // returns the process exit code
  Prose prose;
};

// Adds `-v/-q/--log-format` to `app` (the root and each subcommand).
void add_global_options(CLI::App &app, GlobalOptions &options);

// Prints "conec: error: <message>" to stderr (a JSON record with
// --log-format json), control characters in `message` made visible
// (log::error_line), and returns `code`.
int report_error(const std::string &message, int code);

Command add_coordinator_command(CLI::App &root, GlobalOptions &global);
Command add_send_command(CLI::App &root, GlobalOptions &global);
Command add_recv_command(CLI::App &root, GlobalOptions &global);
Command add_open_command(CLI::App &root, GlobalOptions &global);
Command add_client_command(CLI::App &root, GlobalOptions &global);
Command add_cert_command(CLI::App &root, GlobalOptions &global);
Command add_ping_command(CLI::App &root, GlobalOptions &global);

} // namespace conec::cli
