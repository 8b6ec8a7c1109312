#include "util/sockaddr.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <string_view>

namespace conec {

SockAddr::SockAddr(const sockaddr *sa, socklen_t len) {
  if (len > sizeof(storage_)) len = sizeof(storage_);
  std::memcpy(&storage_, sa, len);
  len_ = len;
}

static Result<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return fail(ErrorCategory::usage, "addr", "bad port '" + std::string(text) + "'");
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fail(ErrorCategory::usage, "addr", "bad port '" + std::string(text) + "'");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return fail(ErrorCategory::usage, "addr", "port out of range: " + std::string(text));
  return static_cast<uint16_t>(value);
}

Result<SockAddr> SockAddr::parse(std::string_view text, uint16_t default_port) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail(ErrorCategory::usage, "addr", "missing ']' in '" + std::string(text) + "'");
    host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(ErrorCategory::usage, "addr", "expected ':PORT' after ']' in '" + std::string(text) + "'");
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    } else {
      host = std::string(text); // no port, or a bare IPv6 address
    }
  }
  uint16_t port = default_port;
  if (!port_text.empty() || (text.size() && text.back() == ':')) {
    auto p = parse_port(port_text);
    if (!p) return fail(p.error());
    port = *p;
  }
  if (host.empty()) return fail(ErrorCategory::usage, "addr", "missing host in '" + std::string(text) + "'");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo *res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    return fail(ErrorCategory::io, "addr", "cannot resolve '" + host + "': " + gai_strerror(rc), rc);
  SockAddr out(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (out.family() == AF_INET) reinterpret_cast<sockaddr_in *>(&out.storage_)->sin_port = htons(port);
  else reinterpret_cast<sockaddr_in6 *>(&out.storage_)->sin6_port = htons(port);
  return out;
}

SockAddr SockAddr::any(int family, uint16_t port) {
  SockAddr out;
  if (family == AF_INET6) {
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&out.storage_);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = htons(port);
    out.len_ = sizeof(sockaddr_in6);
  } else {
    auto *sin = reinterpret_cast<sockaddr_in *>(&out.storage_);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    sin->sin_port = htons(port);
    out.len_ = sizeof(sockaddr_in);
  }
  return out;
}

SockAddr SockAddr::loopback(int family, uint16_t port) {
  SockAddr out = any(family, port);
  if (family == AF_INET6) reinterpret_cast<sockaddr_in6 *>(&out.storage_)->sin6_addr = in6addr_loopback;
  else reinterpret_cast<sockaddr_in *>(&out.storage_)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return out;
}

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in *>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage_)->sin6_port);
  return 0;
}

std::string SockAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(&storage_)->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(&storage_)->sin6_addr, buf, sizeof(buf));
    // Appended piecewise: g++ 12 -O3 reports a false -Wrestrict for "[" + s.
    std::string text = "[";
    text.append(buf).append("]:").append(std::to_string(port()));
    return text;
  }
  return "<none>";
}

std::string SockAddr::host_key() const {
  if (family() == AF_INET) {
    auto *a = reinterpret_cast<const sockaddr_in *>(&storage_);
    return std::string(reinterpret_cast<const char *>(&a->sin_addr), sizeof(in_addr));
  }
  if (family() == AF_INET6) {
    auto *a = reinterpret_cast<const sockaddr_in6 *>(&storage_);
    return std::string(reinterpret_cast<const char *>(&a->sin6_addr), sizeof(in6_addr));
  }
  return {};
}

bool SockAddr::operator==(const SockAddr &other) const {
  if (family() != other.family()) return false;
  if (family() == AF_INET) {
    auto *a = reinterpret_cast<const sockaddr_in *>(&storage_);
    auto *b = reinterpret_cast<const sockaddr_in *>(&other.storage_);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    auto *a = reinterpret_cast<const sockaddr_in6 *>(&storage_);
    auto *b = reinterpret_cast<const sockaddr_in6 *>(&other.storage_);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return len_ == other.len_;
}

size_t SockAddr::hash() const {
  std::string_view key;
  if (family() == AF_INET) {
    auto *a = reinterpret_cast<const sockaddr_in *>(&storage_);
    size_t h = a->sin_addr.s_addr;
    return h * 65537u ^ a->sin_port;
  }
  if (family() == AF_INET6) {
    auto *a = reinterpret_cast<const sockaddr_in6 *>(&storage_);
    key = std::string_view(reinterpret_cast<const char *>(&a->sin6_addr), sizeof(in6_addr));
    return std::hash<std::string_view>{}(key) ^ a->sin6_port;
  }
  return 0;
}

} // namespace conec

namespace conec {

std::string host_part(std::string_view address) {
  if (!address.empty() && address.front() == '[') return std::string(address.substr(1, address.find(']') - 1));
  auto colon = address.rfind(':');
  bool one_colon = colon != std::string_view::npos && address.find(':') == colon;
  return std::string(one_colon ? address.substr(0, colon) : address);
}

} // namespace conec
