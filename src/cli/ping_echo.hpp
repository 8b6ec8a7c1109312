#pragma once
// The answering side of `conec ping`, shared by every subcommand that
// accepts channels (recv, client): they hand each incoming data stream to
// maybe_answer_ping() before treating it as data.
//
// Wire convention (application level, on an ordinary peer channel; the
// streams say what they are for with their labels, proto/stream_label.hpp):
//   1. The pinger opens a unidirectional stream labelled `ping`; every
//      message on it is a probe of at most kMaxPingMessage bytes (conec ping
//      sends "seq=<n>").
//   2. The answering side opens a unidirectional stream labelled
//      `ping echo` back on the same channel and echoes every probe verbatim
//      and in order. When the pinger ends its stream the echo stream ends
//      too; a reset on either side resets the other.
// A stream labelled `size` carries one message, the decimal byte count of
// the data stream `send FILE` opens next (size_announce.hpp).
// Threading and lifetime: single-threaded, on the channel's loop. The echo
// state for a stream lives until both of its streams are closed (or, if the
// channel is destroyed first, until the process exits).

#include <cstddef>
#include <functional>
#include <string_view>

#include "channel/channel.hpp"

namespace conec::cli {

inline constexpr size_t kMaxPingMessage = 256; // larger probes reset the ping

// A size announcement arrived on `channel` (from a `size` stream).
using SizeAnnounced = std::function<void(channel::Channel &, uint64_t size)>;

// Call for every data stream a peer opens, before anything else touches it.
// Returns false for a bidirectional stream labelled `data`, which the
// caller handles. Every other stream is taken over (do not touch it again):
// a ping is answered; a size announcement goes to `size` if given; anything
// else (unidirectional data, an unknown kind) is reset.
bool maybe_answer_ping(const channel::Stream &incoming, SizeAnnounced size = {});

// Ping streams currently being answered (for tests and logs).
size_t ping_echoes_active();

} // namespace conec::cli
