#include "util/bytes.hpp"

#include <cerrno>
#include <cstdlib>
#include <sys/random.h>

namespace conec {

std::string to_hex(ByteView b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (uint8_t v : b) {
    out.push_back(digits[v >> 4]);
    out.push_back(digits[v & 0xf]);
  }
  return out;
}

void random_bytes(MutableByteView out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort(); // no entropy source: nothing secure can continue
    }
    done += static_cast<size_t>(n);
  }
}

} // namespace conec
