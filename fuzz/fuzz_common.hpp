#pragma once
// Shared by the fuzz targets: a cursor over the fuzz input, the one TLS
// identity every target uses (generating keys per input would dominate the
// run time), and quiet logs (a warning per input drowns libFuzzer's output).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tls/identity.hpp"
#include "tls/session.hpp"
#include "util/bytes.hpp"

namespace conec::fuzz {

// Reads the input front to back; reads past the end yield zeros / empty views,
// so every input is a valid script.
class Input {
public:
  Input(const uint8_t *data, size_t size) : data_(data, size) {}
  bool empty() const { return data_.empty(); }
  uint8_t byte();
  uint16_t u16(); // big endian
  ByteView take(size_t n); // up to n bytes
  // One datagram of the endpoint targets: a 2-byte length (modulo
  // `max + 1`) and that many bytes (fewer at the end of the input).
  ByteView datagram(size_t max);

private:
  ByteView data_;
};

// A self-signed identity ("fuzz.test"), generated once per process.
const tls::Identity &identity();
// Credentials for `identity()` that accept any peer.
std::shared_ptr<tls::Credentials> credentials();
// Logs off (call from LLVMFuzzerInitialize).
void quiet_logs();

} // namespace conec::fuzz
