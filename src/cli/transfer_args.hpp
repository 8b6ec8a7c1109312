#pragma once
// Options of the data-moving subcommands: framing, tags, progress, stats.

#include <unistd.h>

#include "command.hpp"
#include "stdio_bridge.hpp"

namespace conec::cli {

struct TransferArgs {
  bool lines = false, null = false, tag = false;
  bool progress = false, no_progress = false, stats = false;

  Framing framing() const { return lines ? Framing::lines : null ? Framing::null : Framing::bytes; }
  // --progress forces, --no-progress disables, else only on a terminal.
  bool show_progress() const { return progress || (!no_progress && isatty(2)); }
};

// `with_tag`: subcommands that print what peers send.
inline void add_transfer_options(CLI::App &app, TransferArgs &a, bool with_tag) {
  auto *lines = app.add_flag("--lines", a.lines, "Each input line is one message; print each message as a line");
  app.add_flag("--null", a.null, "Like --lines with NUL-terminated records")->excludes(lines);
  if (with_tag) app.add_flag("--tag", a.tag, "Prefix each received message with 'SENDER: '");
  auto *p = app.add_flag("--progress", a.progress, "Show a progress line on stderr even if it is not a terminal");
  app.add_flag("--no-progress", a.no_progress, "Never show a progress line")->excludes(p);
  app.add_flag("--stats", a.stats, "Print bytes, time, throughput and path on stderr at the end");
}

} // namespace conec::cli
