// proto::decode on arbitrary bytes (a control-stream frame payload). Decoding
// must be total (a message or an Error, never a crash); whatever decodes must
// survive encode -> decode unchanged, and encoding must be deterministic.
// The same bytes also go through the other frame codecs a peer controls:
// stream labels and both directions of group streams (whose decoders skip
// unknown types and ignore trailing fields, so only decode(encode(x)) == x
// is asked of them).
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
  // The decoder that takes the buffer over agrees with the one that copies.
  auto copied = proto::decode_group_down(in);
  auto taken = proto::decode_group_down(Bytes(in.begin(), in.end()));
  if (bool(copied) != bool(taken)) std::abort();
  if (copied && (copied->has_value() != taken->has_value() || (*copied && !(**copied == **taken)))) std::abort();
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
