#pragma once
// Stream labels: the first frame of every data stream says what the stream
// is for, so the coordinator and peers dispatch it without guessing from
// its contents (docs/protocol.md). The Channel writes the label when it
// opens a stream and reads it before the application sees the stream
// (channel::ChannelHandler::on_stream runs once it arrived).
//
// Frame payload: `kind (varint)` then `name` (varint length + bytes, at
// most kMaxLabelName). Bytes after the name are ignored, so later versions
// may add fields; a kind this side does not know is handed up as is (the
// application resets streams it does not understand).

#include <cstdint>
#include <string>

#include "conec/stream.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::proto {

// StreamKind and StreamLabel are public (conec/stream.hpp).
using StreamKind = conec::StreamKind;
using StreamLabel = conec::StreamLabel;

inline constexpr size_t kMaxLabelName = 128;
// Largest label frame payload a reader waits for before giving up on a stream.
inline constexpr size_t kMaxLabel = 1024;

Bytes encode_label(const StreamLabel &label);
// Errors: protocol, naming what is wrong.
Result<StreamLabel> decode_label(ByteView payload);
// For logs: "data", "ping", "group @name", "kind 9".
std::string describe(const StreamLabel &label);

} // namespace conec::proto
