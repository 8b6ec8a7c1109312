#pragma once
// `send @g`, `recv @g` and `open @g`: one membership of a group (SPEC §5,
// client/group.hpp) bridged to stdin/stdout with the subcommand's framing.
//   send  joins send-only, sends the input, leaves at its end; exit 0 once
//         the coordinator took every message.
//   recv  joins receive-only and prints what the group receives (--tag:
//         "SENDER: " first); without -k it exits 0 once the first member
//         it received from has left; with -k it runs until interrupted
//         (SIGINT/SIGTERM/SIGHUP: exit 0 after the output is flushed; a
//         second signal stops at once).
//   open  both: stdin goes to the group, the group to stdout (our own
//         messages too unless --no-echo); stdin's end leaves the group.
// A member that falls behind loses messages (drop-oldest groups): recv and
// open say "conec: warning: lost N messages from @g" and go on.

#include <string>

#include "client_run.hpp"
#include "transfer_args.hpp"

namespace conec::cli {

struct GroupMode {
  bool send = false, receive = false;
  bool keep = false;     // recv -k
  bool echo = true;      // open without --no-echo
  bool lossless = false; // --lossless
};

// Whether PEER names a group ("@name").
inline bool is_group(const std::string &peer) { return !peer.empty() && peer[0] == '@'; }

// Runs the subcommand for group `peer` ("@name"); `in_fd` is read when
// sending. Returns the exit code.
int run_group(const GlobalOptions &global, const ClientArgs &client, const TransferArgs &transfer,
              const std::string &peer, GroupMode mode, int in_fd);

} // namespace conec::cli
