#pragma once
// Options of the data-moving subcommands: framing, tags, progress, stats.

#include <unistd.h>

#include "command.hpp"
#include "stdio_bridge.hpp"

namespace conec::cli {

struct TransferArgs {
  bool lines = false, null = false, tag = false;
  bool progress = false, no_progress = false, stats = false;
  // send and recv draw the line by default on a terminal; open and client
  // never do unless asked (their stderr is often someone else's screen:
  // an ssh session, scp's own meter, a chat pane).
  bool progress_by_default = false;

  Framing framing() const { return lines ? Framing::lines : null ? Framing::null : Framing::bytes; }
  // --progress forces it (even with -q), --no-progress and -q hide it, else
  // the subcommand's default on a terminal.
  bool show_progress(bool quiet = false) const {
    if (progress) return true;
    return progress_by_default && !no_progress && !quiet && isatty(2) == 1;
  }
};

// `with_tag`: subcommands that print what peers send. `progress_by_default`:
// see TransferArgs.
inline void add_transfer_options(CLI::App &app, TransferArgs &a, bool with_tag, bool progress_by_default = false) {
  a.progress_by_default = progress_by_default;
  auto *lines = app.add_flag("--lines", a.lines, "Each input line is one message; print each message as a line");
  app.add_flag("--null", a.null, "Like --lines with NUL-terminated records")->excludes(lines);
  if (with_tag) app.add_flag("--tag", a.tag, "Prefix each received message with 'SENDER: '");
  auto *p = app.add_flag("--progress", a.progress,
                         progress_by_default ? "Show the progress line on stderr even if it is not a terminal, or with -q"
                                             : "Show a progress line on stderr (off by default)");
  app.add_flag("--no-progress", a.no_progress,
               progress_by_default ? "Never show the progress line (default: shown when stderr is a terminal)"
                                   : "Never show a progress line (the default)")
      ->excludes(p);
  app.add_flag("--stats", a.stats, "Print bytes, time, throughput and path on stderr at the end");
}

// --lossless on send, recv and open: the policy of a group this member creates.
inline void add_lossless_option(CLI::App &app, bool &lossless) {
  app.add_flag("--lossless", lossless,
               "With @GROUP: if this creates the group, pace every sender to the slowest member instead of dropping "
               "a slow member's oldest messages");
}

} // namespace conec::cli
