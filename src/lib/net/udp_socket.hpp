#pragma once
// UdpSocket: one non-blocking UDP socket used through a raw fd, so it can send
// with GSO (UDP_SEGMENT) and receive in batches (recvmmsg), with ECN and the
// DF bit set for path MTU discovery. No event loop here: net/endpoint polls it.

#include <cstddef>
#include <cstdint>
#include <functional>

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/sockaddr.hpp"

namespace conec::net {

struct UdpSocketOptions {
  int recv_buffer = 4 << 20; // SO_RCVBUF request (the kernel may cap it)
  int send_buffer = 4 << 20;
  bool reuse_port = false;
};

// One received datagram (views into the socket's batch buffers, valid only
// during the receive callback).
struct Datagram {
  ByteView data;
  SockAddr from;
  uint8_t ecn = 0; // IP TOS & 3
};

class UdpSocket {
public:
  ~UdpSocket();
  UdpSocket(UdpSocket &&) noexcept;
  UdpSocket &operator=(UdpSocket &&) noexcept;

  // Binds to `local` (port 0 = any). Errors: io, naming the address
  // ("bind 0.0.0.0:1719: Address already in use").
  static Result<UdpSocket> bind(const SockAddr &local, const UdpSocketOptions &options = {});

  int fd() const { return fd_; }
  const SockAddr &local_address() const { return local_; }
  bool gso_supported() const { return gso_; }

  // Sends `data` to `to`. With segment_size < data.size(), `data` is several
  // datagrams of segment_size bytes (the last may be shorter) sent with one
  // GSO call (or one sendmsg each if GSO is unavailable). Returns the number of
  // bytes sent (whole segments), 0 if the socket buffer is full (EAGAIN: wait
  // for writability), or an io error.
  Result<size_t> send(const SockAddr &to, ByteView data, size_t segment_size, uint8_t ecn = 0);

  // Receives up to a batch of datagrams (recvmmsg), calling `on_datagram` for
  // each; returns how many were delivered (0 = would block).
  Result<size_t> receive(const std::function<void(const Datagram &)> &on_datagram);

private:
  UdpSocket() = default;
  int fd_ = -1;
  SockAddr local_;
  bool gso_ = false;
  uint8_t last_ecn_ = 0;
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;
};

} // namespace conec::net
