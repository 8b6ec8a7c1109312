#include "support/raw_udp.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace conec::test {

RawUdp::RawUdp(int family) : RawUdp(SockAddr::loopback(family, 0)) {}

RawUdp::RawUdp(const SockAddr &bind) {
  fd_ = ::socket(bind.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  if (::bind(fd_, bind.get(), bind.size()) != 0) throw std::runtime_error("bind() failed");
}

RawUdp::~RawUdp() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawUdp::send(const SockAddr &to, ByteView data) {
  return ::sendto(fd_, data.data(), data.size(), 0, to.get(), to.size()) == ssize_t(data.size());
}

SockAddr RawUdp::local_address() const {
  SockAddr a;
  a.reset_for_output();
  ::getsockname(fd_, a.get(), a.size_ptr());
  return a;
}

} // namespace conec::test
