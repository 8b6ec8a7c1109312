#include "net/relay.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace conec::net {

namespace {
SockAddr virtual_address(ByteView token, uint8_t kind) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr.s6_addr[0] = 0xfd; // RFC 4193 unique local: never routable
  sin6.sin6_addr.s6_addr[1] = kind;
  std::memcpy(&sin6.sin6_addr.s6_addr[2], token.data(), std::min<size_t>(token.size(), 14));
  sin6.sin6_port = htons(uint16_t(1 + kind));
  return SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
}
} // namespace

SockAddr relay_virtual_address(ByteView token) { return virtual_address(token, 0); }
SockAddr direct_virtual_address(ByteView token) { return virtual_address(token, 1); }
SockAddr relay_alternate_local_address(ByteView token) { return virtual_address(token, 2); }

} // namespace conec::net
