#pragma once
// Application error codes that `conec client` resets peers' streams with and
// that `conec open` explains (the channel layer's own codes are in
// channel/channel.hpp).

#include <cstdint>

namespace conec::cli {

// `client --exec` runs its --max-procs commands and --max-queued streams
// already wait: this one is refused ("BY", busy).
inline constexpr uint64_t kStreamErrorBusy = 0x4259;

// `client --exec`: the command exited after its output ended, so nothing
// reads the rest of the peer's side ("EX"). Our side ended cleanly first:
// `conec open` takes it as the end of the session, like ssh when the remote
// command exits.
inline constexpr uint64_t kStreamErrorExited = 0x4558;

} // namespace conec::cli
