#pragma once
// Application error codes that `conec client` resets peers' streams with and
// that `conec open` explains (the channel layer's own codes are in
// channel/channel.hpp).

#include <cstdint>

namespace conec::cli {

// `client --exec` runs its --max-procs commands and --max-queued streams
// already wait: this one is refused ("BY", busy).
inline constexpr uint64_t kStreamErrorBusy = 0x4259;

} // namespace conec::cli
