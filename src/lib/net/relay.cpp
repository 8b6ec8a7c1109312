#include "net/relay.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace conec::net {

SockAddr relay_virtual_address(ByteView token) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr.s6_addr[0] = 0xfd; // RFC 4193 unique local: never routable
  std::memcpy(&sin6.sin6_addr.s6_addr[1], token.data(), std::min<size_t>(token.size(), 15));
  sin6.sin6_port = htons(1);
  return SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
}

} // namespace conec::net
