#pragma once
// Exit codes of the conec command (SPEC §5), documented in man/conec.1.

namespace conec::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // runtime failure
  kExitUsage = 2,        // bad option, bad id, unreadable certificate or key
  kExitCoordinator = 3,  // cannot reach or trust the coordinator
  kExitRefused = 4,      // refused by the coordinator
  kExitPeer = 5,         // peer not connected or refused
  kExitIncomplete = 6,   // transfer incomplete
  kExitTimeout = 7,      // --timeout expired
  kExitSighup = 129,
  kExitSigint = 130,
  kExitSigterm = 143,
};

// The exit status of a graceful stop on SIGHUP, SIGINT or SIGTERM: 128 plus
// the signal's number, as a shell reports a process killed by it.
inline int signal_exit_code(int signum) { return 128 + signum; }

} // namespace conec::cli
