#include "net/udp_socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include "util/log.hpp"

namespace conec::net {
namespace {

constexpr size_t batch_size = 32;    // reads per recvmmsg
constexpr size_t read_size = 65536;  // holds any datagram or GRO-coalesced read
constexpr size_t control_size = 128; // TOS + TCLASS + GRO cmsgs, with room to spare
static_assert(control_size % alignof(cmsghdr) == 0, "every control buffer must stay cmsghdr-aligned");
constexpr int max_skipped_errors = 16; // ICMP errors skipped per receive() call

bool set_int(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof(value)) == 0;
}

int get_int(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof(value);
  return ::getsockopt(fd, level, name, &value, &len) == 0 ? value : -1;
}

// Errors a UDP socket reports on receive because an earlier send drew an ICMP
// error: they concern one peer, not the socket, so receive() skips them.
bool is_icmp_error(int err) {
  switch (err) {
  case ECONNREFUSED:
  case EHOSTUNREACH:
  case ENETUNREACH:
  case EHOSTDOWN:
  case ENETDOWN:
  case ECONNRESET:
  case EPROTO:
  case EMSGSIZE:
  case ETIMEDOUT:
  case ENONET: return true;
  default: return false;
  }
}

bool is_blocked(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }
// With IP_RECVERR an ICMP error for an earlier datagram (port unreachable
// from a peer that left, a probe to an address that refuses) is also kept
// as the socket's pending error, and the next sendmsg to anyone fails with
// it, consuming it. Such a send is retried once; a repeated error is ours.
bool maybe_earlier_icmp(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == EMSGSIZE;
}

bool is_v6_wildcard(const SockAddr &a) {
  if (a.family() != AF_INET6) return false;
  const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(a.get());
  return std::memcmp(&sin6->sin6_addr, &in6addr_any, sizeof(in6_addr)) == 0;
}

// An IPv4 destination as the IPv4-mapped IPv6 address a dual-stack socket needs.
SockAddr to_mapped(const SockAddr &v4) {
  const auto *sin = reinterpret_cast<const sockaddr_in *>(v4.get());
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = sin->sin_port;
  sin6.sin6_addr.s6_addr[10] = 0xff;
  sin6.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&sin6.sin6_addr.s6_addr[12], &sin->sin_addr, 4);
  return SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
}

// A received source address, with IPv4-mapped IPv6 turned back into AF_INET.
SockAddr from_received(const sockaddr_storage &ss, socklen_t len) {
  if (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = sin6->sin6_port;
      std::memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
      return SockAddr(reinterpret_cast<const sockaddr *>(&sin), sizeof(sin));
    }
  }
  return SockAddr(reinterpret_cast<const sockaddr *>(&ss), len);
}

} // namespace

struct UdpSocket::Buffers {
  std::vector<uint8_t> data = std::vector<uint8_t>(batch_size * read_size);
  std::array<mmsghdr, batch_size> msgs{};
  std::array<iovec, batch_size> iovs{};
  std::array<sockaddr_storage, batch_size> names{};
  alignas(cmsghdr) std::array<std::array<uint8_t, control_size>, batch_size> controls{};
  // Send side of the no-GSO fallback (sendmmsg).
  std::array<mmsghdr, max_gso_segments> send_msgs{};
  std::array<iovec, max_gso_segments> send_iovs{};
};

UdpSocket::UdpSocket() : buffers_(std::make_unique<Buffers>()) {}

UdpSocket::~UdpSocket() { close(); }

UdpSocket::UdpSocket(UdpSocket &&other) noexcept
    : fd_(std::exchange(other.fd_, -1)), local_(other.local_), dual_stack_(other.dual_stack_),
      gso_(other.gso_), gro_(other.gro_), last_ecn_(other.last_ecn_), buffers_(std::move(other.buffers_)) {
  on_port_unreachable = std::move(other.on_port_unreachable);
}

UdpSocket &UdpSocket::operator=(UdpSocket &&other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    local_ = other.local_;
    dual_stack_ = other.dual_stack_;
    gso_ = other.gso_;
    gro_ = other.gro_;
    last_ecn_ = other.last_ecn_;
    buffers_ = std::move(other.buffers_);
    on_port_unreachable = std::move(other.on_port_unreachable);
  }
  return *this;
}

void UdpSocket::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UdpSocket> UdpSocket::bind(const SockAddr &local, const UdpSocketOptions &options) {
  const int family = local.family();
  if (family != AF_INET && family != AF_INET6)
    return fail(ErrorCategory::usage, "net", "bind: not an IPv4 or IPv6 address");
  UdpSocket sock;
  sock.fd_ = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock.fd_ < 0) return fail(errno_error("net", "socket", errno));
  sock.dual_stack_ = is_v6_wildcard(local);
  if (auto ok = sock.configure(family, options); !ok) return fail(ok.error());
  if (::bind(sock.fd_, local.get(), local.size()) != 0)
    return fail(errno_error("net", "bind " + local.to_string(), errno));
  sock.local_.reset_for_output();
  if (::getsockname(sock.fd_, sock.local_.get(), sock.local_.size_ptr()) != 0)
    return fail(errno_error("net", "getsockname " + local.to_string(), errno));
  log::get().debug("udp socket bound to {} (gso {}, gro {}, rcvbuf {}, sndbuf {})", sock.local_.to_string(),
                   sock.gso_, sock.gro_, get_int(sock.fd_, SOL_SOCKET, SO_RCVBUF),
                   get_int(sock.fd_, SOL_SOCKET, SO_SNDBUF));
  return sock;
}

// Sets every option before bind(). Only a failed IPV6_V6ONLY or
// SO_REUSEPORT is fatal; missing features (GSO, GRO, ECN, DF) degrade.
Result<void> UdpSocket::configure(int family, const UdpSocketOptions &options) {
  const bool is_v6 = family == AF_INET6;
  const bool want_v4 = !is_v6 || dual_stack_;

  if (is_v6 && !set_int(fd_, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack_ ? 0 : 1))
    return fail(errno_error("net", "setsockopt IPV6_V6ONLY", errno));
  if (options.reuse_port && !set_int(fd_, SOL_SOCKET, SO_REUSEPORT, 1))
    return fail(errno_error("net", "setsockopt SO_REUSEPORT", errno));
  // Buffers: FORCE ignores rmem_max/wmem_max but needs CAP_NET_ADMIN.
  if (options.recv_buffer > 0 && !set_int(fd_, SOL_SOCKET, SO_RCVBUFFORCE, options.recv_buffer))
    set_int(fd_, SOL_SOCKET, SO_RCVBUF, options.recv_buffer);
  if (options.send_buffer > 0 && !set_int(fd_, SOL_SOCKET, SO_SNDBUFFORCE, options.send_buffer))
    set_int(fd_, SOL_SOCKET, SO_SNDBUF, options.send_buffer);
  // DF on every packet: PMTUD probes must be dropped, not fragmented.
  if (want_v4 && !set_int(fd_, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO))
    log::get().warn("udp: cannot set IP_MTU_DISCOVER: {}", std::strerror(errno));
  if (is_v6 && !set_int(fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO))
    log::get().warn("udp: cannot set IPV6_MTU_DISCOVER: {}", std::strerror(errno));
  // ECN of received packets arrives as IP_TOS / IPV6_TCLASS cmsgs.
  if (want_v4 && !set_int(fd_, IPPROTO_IP, IP_RECVTOS, 1))
    log::get().warn("udp: cannot set IP_RECVTOS: {}", std::strerror(errno));
  if (is_v6 && !set_int(fd_, IPPROTO_IPV6, IPV6_RECVTCLASS, 1))
    log::get().warn("udp: cannot set IPV6_RECVTCLASS: {}", std::strerror(errno));
  // ICMP errors for our sends (a peer's port closed) queue on the socket
  // instead of being lost: a fast hint that a peer died (drain_errors).
  if (want_v4 && !set_int(fd_, IPPROTO_IP, IP_RECVERR, 1))
    log::get().warn("udp: cannot set IP_RECVERR: {}", std::strerror(errno));
  if (is_v6 && !set_int(fd_, IPPROTO_IPV6, IPV6_RECVERR, 1))
    log::get().warn("udp: cannot set IPV6_RECVERR: {}", std::strerror(errno));
  // GSO: the option is readable exactly when the kernel knows UDP_SEGMENT
  // (4.18+). A route that cannot offload still fails with EIO at send time.
  gso_ = options.gso && get_int(fd_, SOL_UDP, UDP_SEGMENT) >= 0;
  gro_ = options.gro && set_int(fd_, SOL_UDP, UDP_GRO, 1);
  return {};
}

Result<void> UdpSocket::set_ecn(uint8_t ecn) {
  if (ecn == last_ecn_) return {};
  const int tos = ecn & 3;
  bool ok = true;
  if (local_.family() == AF_INET6) ok = set_int(fd_, IPPROTO_IPV6, IPV6_TCLASS, tos);
  if (local_.family() == AF_INET || dual_stack_) ok = set_int(fd_, IPPROTO_IP, IP_TOS, tos) && ok;
  if (!ok) return fail(errno_error("net", "setsockopt IP_TOS/IPV6_TCLASS", errno));
  last_ecn_ = ecn;
  return {};
}

Result<size_t> UdpSocket::send(const SockAddr &to, ByteView data, size_t segment_size, uint8_t ecn) {
  if (fd_ < 0) return fail(ErrorCategory::internal, "net", "send on a closed socket");
  SockAddr dest = to;
  if (to.family() == AF_INET && local_.family() == AF_INET6) {
    if (!dual_stack_)
      return fail(ErrorCategory::usage, "net",
                  "send " + to.to_string() + ": IPv4 destination on IPv6-only socket " + local_.to_string());
    dest = to_mapped(to);
  }
  if (auto ok = set_ecn(ecn); !ok) return fail(ok.error());
  if (data.empty())
    return fail(ErrorCategory::usage, "net", "send to " + to.to_string() + ": empty datagram");
  if (segment_size == 0 || segment_size > data.size()) segment_size = data.size();
  if (gso_ && data.size() > segment_size) {
    auto sent = send_gso(dest, data, segment_size);
    if (sent || sent.error().code != EIO) return sent;
    // This kernel or route cannot offload UDP segmentation: stop trying.
    log::get().info("udp: GSO send to {} failed with EIO; sending datagrams one by one", to.to_string());
    gso_ = false;
  }
  return send_each(dest, data, segment_size);
}

// Sends with UDP_SEGMENT in chunks of at most max_gso_segments segments and
// max_send_bytes bytes; each chunk is all-or-nothing.
Result<size_t> UdpSocket::send_gso(const SockAddr &to, ByteView data, size_t segment_size) {
  const size_t per_call = std::min(max_gso_segments, std::max<size_t>(1, max_send_bytes / segment_size));
  alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(uint16_t))> control{};
  size_t sent = 0;
  bool retried = false;
  while (sent < data.size()) {
    const size_t chunk = std::min(data.size() - sent, per_call * segment_size);
    iovec iov{const_cast<uint8_t *>(data.data() + sent), chunk};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr *>(to.get());
    msg.msg_namelen = to.size();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (chunk > segment_size) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr *cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const auto gso_size = static_cast<uint16_t>(segment_size);
      std::memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
    }
    ssize_t n = ::sendmsg(fd_, &msg, 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR || (maybe_earlier_icmp(err) && !std::exchange(retried, true))) continue;
      if (is_blocked(err) || sent > 0) return sent;
      return fail(errno_error("net", "send to " + to.to_string(), err));
    }
    sent += chunk;
  }
  return sent;
}

// Sends one datagram per segment with sendmmsg, max_gso_segments per call.
Result<size_t> UdpSocket::send_each(const SockAddr &to, ByteView data, size_t segment_size) {
  auto &msgs = buffers_->send_msgs;
  auto &iovs = buffers_->send_iovs;
  size_t sent = 0;
  bool retried = false;
  do {
    size_t count = 0;
    for (size_t off = sent; count < msgs.size() && off < data.size(); off += segment_size, ++count) {
      const size_t len = std::min(segment_size, data.size() - off);
      iovs[count] = iovec{const_cast<uint8_t *>(data.data() + off), len};
      msgs[count] = mmsghdr{};
      msgs[count].msg_hdr.msg_name = const_cast<sockaddr *>(to.get());
      msgs[count].msg_hdr.msg_namelen = to.size();
      msgs[count].msg_hdr.msg_iov = &iovs[count];
      msgs[count].msg_hdr.msg_iovlen = 1;
    }
    int n = ::sendmmsg(fd_, msgs.data(), static_cast<unsigned>(count), 0);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR || (maybe_earlier_icmp(err) && !std::exchange(retried, true))) continue;
      if (is_blocked(err) || sent > 0) return sent;
      return fail(errno_error("net", "send to " + to.to_string(), err));
    }
    for (int i = 0; i < n; ++i) sent += iovs[static_cast<size_t>(i)].iov_len;
    if (static_cast<size_t>(n) < count) return sent; // the rest failed; next call reports why
  } while (sent < data.size());
  return sent;
}

Result<size_t> UdpSocket::receive(const std::function<void(const Datagram &)> &on_datagram) {
  if (fd_ < 0) return fail(ErrorCategory::internal, "net", "receive on a closed socket");
  Buffers &b = *buffers_;
  int n = -1;
  for (int skipped = 0; n < 0;) {
    for (size_t i = 0; i < batch_size; ++i) {
      b.iovs[i] = iovec{b.data.data() + i * read_size, read_size};
      msghdr &h = b.msgs[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &b.names[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &b.iovs[i];
      h.msg_iovlen = 1;
      h.msg_control = b.controls[i].data();
      h.msg_controllen = control_size;
      b.msgs[i].msg_len = 0;
    }
    n = ::recvmmsg(fd_, b.msgs.data(), batch_size, MSG_DONTWAIT, nullptr);
    if (n >= 0) break;
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return 0;
    if (err == EINTR) continue;
    if (is_icmp_error(err)) drain_errors();
    if (is_icmp_error(err) && ++skipped <= max_skipped_errors) {
      log::get().debug("udp: skipping receive error on {}: {}", local_.to_string(), std::strerror(err));
      continue;
    }
    if (is_icmp_error(err)) return 0; // a storm of ICMP errors: yield to the loop
    return fail(errno_error("net", "receive on " + local_.to_string(), err));
  }

  size_t delivered = 0;
  for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
    msghdr &h = b.msgs[i].msg_hdr;
    if (h.msg_flags & MSG_TRUNC) continue; // cannot happen with 64 KiB buffers
    Datagram dgram;
    dgram.from = from_received(b.names[i], h.msg_namelen);
    size_t segment = b.msgs[i].msg_len;
    for (cmsghdr *cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(&h, cm)) {
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS) {
        dgram.ecn = *CMSG_DATA(cm) & 3;
      } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_TCLASS) {
        int tclass = 0;
        std::memcpy(&tclass, CMSG_DATA(cm), sizeof(tclass));
        dgram.ecn = static_cast<uint8_t>(tclass & 3);
      } else if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
        int gso_size = 0;
        std::memcpy(&gso_size, CMSG_DATA(cm), sizeof(gso_size));
        if (gso_size > 0) segment = static_cast<size_t>(gso_size);
      }
    }
    const uint8_t *base = b.data.data() + i * read_size;
    const size_t total = b.msgs[i].msg_len;
    size_t off = 0;
    do { // one pass for a plain (or empty) datagram, several for a GRO read
      const size_t len = std::min(segment, total - off);
      dgram.data = ByteView(base + off, len);
      on_datagram(dgram);
      ++delivered;
      off += len;
    } while (off < total);
  }
  return delivered;
}

size_t UdpSocket::drain_errors() {
  size_t drained = 0;
  for (; drained < 256; ++drained) { // bounded: the rest waits for the next poll
    sockaddr_storage name{};
    alignas(cmsghdr) uint8_t control[512];
    uint8_t payload[64]; // the start of the datagram that drew the error; unused
    iovec iov{payload, sizeof(payload)};
    msghdr h{};
    h.msg_name = &name;
    h.msg_namelen = sizeof(name);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof(control);
    if (::recvmsg(fd_, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (cmsghdr *cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(&h, cm)) {
      bool v4 = cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR;
      bool v6 = cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
      bool icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6;
      if (icmp && ee.ee_errno == ECONNREFUSED && h.msg_namelen > 0 && on_port_unreachable)
        on_port_unreachable(from_received(name, h.msg_namelen));
    }
  }
  return drained;
}

} // namespace conec::net
