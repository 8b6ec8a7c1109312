#pragma once
// A plain UDP socket for tests that play a hostile or careless sender:
// whatever bytes, to any loopback address, bypassing QUIC entirely.

#include "util/bytes.hpp"
#include "util/sockaddr.hpp"

namespace conec::test {

class RawUdp {
public:
  explicit RawUdp(int family = AF_INET);
  // Bound to `bind`, e.g. 127.0.0.7:0 to send "from another host" on loopback.
  explicit RawUdp(const SockAddr &bind);
  ~RawUdp();
  RawUdp(const RawUdp &) = delete;
  RawUdp &operator=(const RawUdp &) = delete;
  // Sends one datagram (possibly empty); false if sendto failed.
  bool send(const SockAddr &to, ByteView data);
  SockAddr local_address() const;

private:
  int fd_ = -1;
};

} // namespace conec::test
