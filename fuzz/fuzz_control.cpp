// proto::decode on arbitrary bytes (a control-stream frame payload). Decoding
// must be total (a message or an Error, never a crash); whatever decodes must
// survive encode -> decode unchanged, and encoding must be deterministic.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "proto/control.hpp"

using namespace conec;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
