#pragma once
/// @file
/// @brief SockAddr: an IPv4 or IPv6 address and port, by value.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "conec/error.hpp"

namespace conec {

/// An IPv4 or IPv6 address and port, stored by value so it can be compared,
/// hashed and kept in maps. Empty when default-constructed.
class CONEC_API SockAddr {
public:
  /// An empty address.
  SockAddr() = default;
  /// Copies `len` bytes of `sa`; `len` must not exceed sizeof(sockaddr_storage).
  SockAddr(const sockaddr *sa, socklen_t len);

  /// Parses "1.2.3.4:port", "[::1]:port" or "host:port" (resolved with
  /// getaddrinfo, first UDP result); `default_port` applies when no port is
  /// given. Errors: usage, naming the text and what is wrong with it.
  static Result<SockAddr> parse(std::string_view text, uint16_t default_port);
  /// The wildcard address of `family` (AF_INET or AF_INET6) with `port`.
  static SockAddr any(int family, uint16_t port);
  /// The loopback address of `family` (AF_INET or AF_INET6) with `port`.
  static SockAddr loopback(int family, uint16_t port);

  /// The address as the socket API takes it.
  const sockaddr *get() const { return reinterpret_cast<const sockaddr *>(&storage_); }
  /// The address as the socket API fills it in (see reset_for_output()).
  sockaddr *get() { return reinterpret_cast<sockaddr *>(&storage_); }
  /// Length of the address in bytes (0 when empty).
  socklen_t size() const { return len_; }
  /// The length, for calls that write it (recvfrom, getsockname).
  socklen_t *size_ptr() { return &len_; }
  /// Sets the length to the whole storage, ready for recvfrom or getsockname.
  void reset_for_output() { len_ = sizeof(storage_); }
  /// AF_INET, AF_INET6, or AF_UNSPEC when empty.
  int family() const { return storage_.ss_family; }
  /// The port in host byte order.
  uint16_t port() const;
  /// Whether no address is held.
  bool empty() const { return len_ == 0; }

  /// "1.2.3.4:5" or "[::1]:5".
  std::string to_string() const;
  /// The IP address alone as bytes (4 or 16), e.g. for per-host accounting.
  std::string host_key() const;

  /// Same family, address and port.
  bool operator==(const SockAddr &other) const;
  /// A hash consistent with operator==.
  size_t hash() const;

private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

} // namespace conec

// Hashing for unordered containers (SockAddr::hash()). Hidden from the
// reference: doxygen cannot place a specialization in std.
/// @cond
template <> struct std::hash<conec::SockAddr> {
  size_t operator()(const conec::SockAddr &a) const noexcept { return a.hash(); }
};
/// @endcond
