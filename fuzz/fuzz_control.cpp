// proto::decode on arbitrary bytes (a control-stream frame payload). Decoding
// must be total (a message or an Error, never a crash); whatever decodes must
// survive encode -> decode unchanged, and encoding must be deterministic.
// The same bytes also go through the other frame codecs a peer controls:
// stream labels and both directions of group streams (whose decoders skip
// unknown types and ignore trailing fields, so only decode(encode(x)) == x
// is asked of them).
#include <algorithm>
#include <cstdlib>

#include "fuzz_common.hpp"
#include "proto/control.hpp"
#include "proto/group.hpp"
#include "proto/stream_label.hpp"

using namespace conec;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  return 0;
}

namespace {

// decode(encode(x)) == x for whatever `decode` accepts; errors say what is wrong.
template <class Decode> void round_trip(ByteView in, Decode decode) {
  auto first = decode(in);
  if (!first) {
    if (first.error().message.empty()) std::abort();
    return;
  }
  if (!*first) return; // an unknown type: skipped
  auto second = decode(proto::encode(**first));
  if (!second || !*second || !(**second == **first)) std::abort();
}

void other_codecs(ByteView in) {
  if (auto label = proto::decode_label(in)) {
    auto again = proto::decode_label(proto::encode_label(*label));
    if (!again || !(*again == *label)) std::abort();
    (void)proto::describe(*label);
  } else if (label.error().message.empty()) {
    std::abort();
  }
  round_trip(in, [](ByteView b) { return proto::decode_group_up(b); });
  round_trip(in, [](ByteView b) { return proto::decode_group_down(b); });
  // The zero-copy readers agree with the decoders.
  auto decoded = proto::decode_group_down(in);
  auto peeked = proto::peek_group_message(in);
  auto *message = decoded && *decoded ? std::get_if<proto::GroupMessage>(&**decoded) : nullptr;
  if (!decoded) {
    if (peeked && peeked->has_value()) std::abort(); // a malformed message is never read
  } else if (!peeked || peeked->has_value() != (message != nullptr)) {
    std::abort();
  } else if (message && ((*peeked)->sender != message->sender ||
                         !std::equal((*peeked)->payload.begin(), (*peeked)->payload.end(), message->payload.begin(),
                                     message->payload.end()))) {
    std::abort();
  }
  auto up = proto::decode_group_up(in);
  auto post = proto::peek_group_post(in);
  auto *posted = up && *up ? std::get_if<proto::GroupPost>(&**up) : nullptr;
  if (bool(post) != (posted != nullptr)) std::abort();
  if (post && !std::equal(post->begin(), post->end(), posted->payload.begin(), posted->payload.end())) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  other_codecs(ByteView(data, size));
  auto first = proto::decode(ByteView(data, size));
  if (!first) {
    if (first.error().message.empty()) std::abort(); // errors must say what is wrong
    return 0;
  }
  (void)proto::message_name(*first);
  Bytes encoded = proto::encode(*first);
  auto second = proto::decode(encoded);
  if (!second) std::abort();             // we cannot read what we wrote
  if (!(*second == *first)) std::abort(); // a field changed on the way
  if (proto::encode(*second) != encoded) std::abort();
  return 0;
}
