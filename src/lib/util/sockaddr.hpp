#pragma once
// SockAddr: an IPv4 or IPv6 address + port, stored by value so it can be
// compared, hashed and kept in maps (QUIC paths, relay bindings).

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "util/error.hpp"

namespace conec {

class SockAddr {
public:
  SockAddr() = default;
  // Copies `len` bytes of `sa`; len must not exceed sizeof(sockaddr_storage).
  SockAddr(const sockaddr *sa, socklen_t len);

  // Parses a numeric "1.2.3.4:port", "[::1]:port", or "host:port" (resolved
  // with getaddrinfo, first UDP result). `default_port` is used when no port is given.
  static Result<SockAddr> parse(std::string_view text, uint16_t default_port);
  // The wildcard or loopback address of `family` (AF_INET/AF_INET6) with `port`.
  static SockAddr any(int family, uint16_t port);
  static SockAddr loopback(int family, uint16_t port);

  const sockaddr *get() const { return reinterpret_cast<const sockaddr *>(&storage_); }
  sockaddr *get() { return reinterpret_cast<sockaddr *>(&storage_); }
  socklen_t size() const { return len_; }
  socklen_t *size_ptr() { return &len_; }
  // Resets length to the full storage size, ready for recvfrom/getsockname.
  void reset_for_output() { len_ = sizeof(storage_); }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  bool empty() const { return len_ == 0; }

  // "1.2.3.4:5" or "[::1]:5".
  std::string to_string() const;
  // The IP address alone as bytes (4 or 16), for per-host accounting.
  std::string host_key() const;

  bool operator==(const SockAddr &other) const;
  size_t hash() const;

private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

} // namespace conec

template <> struct std::hash<conec::SockAddr> {
  size_t operator()(const conec::SockAddr &a) const noexcept { return a.hash(); }
};
