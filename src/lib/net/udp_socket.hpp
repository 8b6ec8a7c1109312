#pragma once
// UdpSocket: one non-blocking UDP socket used through a raw fd, so it can send
// with GSO (UDP_SEGMENT) and receive in batches (recvmmsg, and UDP_GRO where
// the kernel has it), with ECN and the DF bit set for path MTU discovery. No
// event loop here: net/endpoint polls fd() for readability/writability.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/sockaddr.hpp"

namespace conec::net {

// UdpSocketOptions: what UdpSocket::bind asks of the kernel. Buffer sizes are
// requests: root gets them exactly (SO_*BUFFORCE), others are capped at
// net.core.{r,w}mem_max; the kernel reports (and reserves) twice the value.
struct UdpSocketOptions {
  int recv_buffer = 4 << 20; // SO_RCVBUF request; <= 0 keeps the kernel default
  int send_buffer = 4 << 20; // SO_SNDBUF request; <= 0 keeps the kernel default
  bool reuse_port = false;   // SO_REUSEPORT (for future per-core workers)
  bool gso = true;           // use UDP_SEGMENT if the kernel supports it
  bool gro = true;           // enable UDP_GRO receive coalescing if supported
};

// Datagram: one received datagram. `data` views the socket's batch buffers and
// is valid only during the receive callback. `from` is never an IPv4-mapped
// IPv6 address: a dual-stack socket reports IPv4 peers as AF_INET.
struct Datagram {
  ByteView data;
  SockAddr from;
  uint8_t ecn = 0; // IP TOS / IPv6 traffic class & 3
};

// UdpSocket: move-only owner of the fd (closed in the destructor) and of the
// receive batch buffers (about 2 MiB, allocated once at bind).
class UdpSocket {
public:
  // Most segments one GSO sendmsg may carry (kernel UDP_MAX_SEGMENTS).
  static constexpr size_t max_gso_segments = 64;
  // Largest UDP payload one sendmsg may carry (IPv4 total length limit).
  static constexpr size_t max_send_bytes = 65507;

  ~UdpSocket();
  UdpSocket(UdpSocket &&) noexcept;
  UdpSocket &operator=(UdpSocket &&) noexcept;
  UdpSocket(const UdpSocket &) = delete;
  UdpSocket &operator=(const UdpSocket &) = delete;

  // Binds a new socket to `local` (port 0 = any). An IPv6 wildcard address
  // ([::]) makes a dual-stack socket that also serves IPv4 peers; any other
  // IPv6 address is IPv6-only. Errors: io, naming the address
  // ("bind 0.0.0.0:1719: Address already in use").
  static Result<UdpSocket> bind(const SockAddr &local, const UdpSocketOptions &options = {});

  int fd() const { return fd_; }
  // The bound address with the port the kernel chose.
  const SockAddr &local_address() const { return local_; }
  // Whether sends use UDP_SEGMENT. Can turn false after bind if the kernel
  // rejects GSO on a route (EIO); send() then falls back transparently.
  bool gso_supported() const { return gso_; }
  // Whether UDP_GRO is on, so one read may return several coalesced datagrams
  // (receive() splits them again).
  bool gro_enabled() const { return gro_; }

  // Sends `data` (not empty) to `to`. With 0 < segment_size < data.size(), `data` is
  // several datagrams of segment_size bytes (the last may be shorter): sent
  // with UDP_SEGMENT in calls of at most max_gso_segments and max_send_bytes,
  // or with sendmmsg when GSO is unavailable. `ecn` (0..3) is the ECN codepoint
  // for every datagram. Returns the bytes sent, always whole segments; less
  // than data.size() (possibly 0) means the socket buffer is full (EAGAIN or
  // ENOBUFS): wait for writability and send the rest. Errors: io with the
  // errno as code, only when nothing was sent (EMSGSIZE means a datagram is
  // larger than the path MTU with DF set: treat it as lost).
  Result<size_t> send(const SockAddr &to, ByteView data, size_t segment_size, uint8_t ecn = 0);

  // Receives one batch (recvmmsg of up to 32 reads), calling `on_datagram` for
  // each datagram, GRO-coalesced reads split back into datagrams. Returns how
  // many were delivered (0 = would block). ICMP-induced errors (refused,
  // unreachable) are skipped, not reported. Errors: io for anything else.
  Result<size_t> receive(const std::function<void(const Datagram &)> &on_datagram);

  // Reads the ICMP errors queued for earlier sends (IP_RECVERR; the fd polls
  // with POLLERR while any wait) and reports each "port unreachable" with
  // the destination it concerns: the host is up and nothing listens there.
  // Other kinds (host/net unreachable, may be transient; fragmentation
  // needed, PMTUD's business) are read and dropped. Returns how many were
  // read. receive() calls it too when an ICMP errno surfaces.
  size_t drain_errors();
  std::function<void(const SockAddr &destination)> on_port_unreachable;

private:
  UdpSocket();
  Result<void> configure(int family, const UdpSocketOptions &options);
  Result<void> set_ecn(uint8_t ecn);
  Result<size_t> send_gso(const SockAddr &to, ByteView data, size_t segment_size);
  Result<size_t> send_each(const SockAddr &to, ByteView data, size_t segment_size);
  void close() noexcept;

  int fd_ = -1;
  SockAddr local_;
  bool dual_stack_ = false;
  bool gso_ = false;
  bool gro_ = false;
  uint8_t last_ecn_ = 0;
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

} // namespace conec::net
