#include "proto/stream_label.hpp"

#include "util/varint.hpp"

namespace conec::proto {

Bytes encode_label(const StreamLabel &label) {
  Bytes out;
  varint_append(out, static_cast<uint64_t>(label.kind));
  varint_append(out, label.name.size());
  out.insert(out.end(), label.name.begin(), label.name.end());
  return out;
}

Result<StreamLabel> decode_label(ByteView payload) {
  auto kind = varint_decode(payload);
  if (!kind) return fail(ErrorCategory::protocol, "proto", "stream label: truncated kind");
  payload = payload.subspan(kind->length);
  auto length = varint_decode(payload);
  if (!length) return fail(ErrorCategory::protocol, "proto", "stream label: truncated name length");
  payload = payload.subspan(length->length);
  if (length->value > kMaxLabelName)
    return fail(ErrorCategory::protocol, "proto",
                "stream label: name of " + std::to_string(length->value) + " bytes exceeds " +
                    std::to_string(kMaxLabelName));
  if (length->value > payload.size()) return fail(ErrorCategory::protocol, "proto", "stream label: truncated name");
  StreamLabel label;
  label.kind = static_cast<StreamKind>(kind->value);
  label.name.assign(reinterpret_cast<const char *>(payload.data()), length->value);
  return label; // later fields, if any, are not ours to read
}

std::string describe(const StreamLabel &label) {
  switch (label.kind) {
  case StreamKind::data: return "data";
  case StreamKind::ping: return "ping";
  case StreamKind::ping_echo: return "ping echo";
  case StreamKind::size: return "size";
  case StreamKind::group: return "group @" + label.name;
  }
  return "kind " + std::to_string(static_cast<uint64_t>(label.kind));
}

} // namespace conec::proto
