#pragma once
// The answering side of `conec ping`, shared by every subcommand that
// accepts channels (recv, client): they hand each incoming data stream to
// maybe_answer_ping() before treating it as data.
//
// Wire convention (application level, on an ordinary peer channel):
//   1. The pinger opens a *unidirectional* data stream whose first message is
//      exactly kPingMagic ("conec-ping/1"); every later message is a probe of
//      at most kMaxPingMessage bytes (conec ping sends "seq=<n>").
//   2. The answering side opens a unidirectional stream back on the same
//      channel, sends kPongMagic ("conec-pong/1") first, then echoes every
//      probe verbatim and in order. When the pinger ends its stream the echo
//      stream ends too; a reset on either side resets the other.
// conec's data subcommands only use bidirectional streams, so claiming the
// unidirectional ones costs them nothing and needs no change to how they
// handle their own streams. A unidirectional stream whose first message is
// not kPingMagic is reset, as those subcommands did before.
//
// Threading and lifetime: single-threaded, on the channel's loop. The echo
// state for a stream lives until both of its streams are closed (or, if the
// channel is destroyed first, until the process exits).

#include <cstddef>
#include <functional>
#include <string_view>

#include "channel/channel.hpp"

namespace conec::cli {

inline constexpr std::string_view kPingMagic = "conec-ping/1";
inline constexpr std::string_view kPongMagic = "conec-pong/1";
inline constexpr size_t kMaxPingMessage = 256; // larger probes reset the ping

// Sees the first message of an incoming unidirectional stream that is not a
// ping; returns true to keep the stream open (its later messages are then
// dropped), false to have it reset. Called from the stream's on_message.
using OtherUniStream = std::function<bool(const channel::Stream &, ByteView first)>;

// Call for every data stream a peer opens, before anything else touches it.
// Returns true if the stream is an incoming unidirectional stream: it is
// then taken over (answered if it turns out to be a ping, else shown to
// `other` if given, else reset; do not touch it again). Returns false for
// any other stream, which the caller handles as before.
bool maybe_answer_ping(const channel::Stream &incoming, OtherUniStream other = {});

// Ping streams currently being answered (for tests and logs).
size_t ping_echoes_active();

} // namespace conec::cli
