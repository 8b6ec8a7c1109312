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
  kExitSigint = 130,
  kExitSigterm = 143,
};

} // namespace conec::cli
