#include "net/local_addresses.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace conec::net {

namespace {
bool wildcard(const SockAddr &a) {
  std::string host = a.host_key();
  return std::all_of(host.begin(), host.end(), [](char c) { return c == 0; });
}

SockAddr with_port(const sockaddr *sa, uint16_t port) {
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof(sin));
    sin.sin_port = htons(port);
    return SockAddr(reinterpret_cast<const sockaddr *>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6;
  std::memcpy(&sin6, sa, sizeof(sin6));
  sin6.sin6_port = htons(port);
  sin6.sin6_flowinfo = 0;
  sin6.sin6_scope_id = 0;
  return SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
}

bool link_local_v6(const sockaddr *sa) {
  const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(sa);
  return IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
}
} // namespace

bool is_loopback_or_unspecified(const SockAddr &a) {
  std::string h = a.host_key();
  static const std::string v4mapped("\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
  if (h.size() == 16 && h.compare(0, 12, v4mapped) == 0) h = h.substr(12);
  if (h.size() == 4) return uint8_t(h[0]) == 127 || h == std::string(4, '\0');
  if (h.size() == 16) return h == std::string(16, '\0') || h == std::string(15, '\0') + '\x01';
  return true;
}

bool is_broadcast(const SockAddr &a) { return a.host_key() == std::string(4, '\xff'); }

std::vector<SockAddr> local_addresses(const SockAddr &bound, size_t max) {
  std::vector<SockAddr> out;
  if (bound.empty() || bound.port() == 0 || max == 0) return out;
  if (!wildcard(bound)) {
    out.push_back(bound);
    return out;
  }
  ifaddrs *list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs *i = list; i && out.size() < max; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    if (bound.family() == AF_INET && family != AF_INET) continue;
    if (family == AF_INET6 && link_local_v6(i->ifa_addr)) continue;
    SockAddr a = with_port(i->ifa_addr, bound.port());
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

} // namespace conec::net
