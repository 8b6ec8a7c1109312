#include <fcntl.h>

#include <optional>
#include <string>

#include "loop/internal.hpp"
#include "util/guard.hpp"

namespace conec::loop {

struct FdPoll::Impl : detail::Owned {
  uv_poll_t poll{};
  std::function<void(int)> on_ready;
  std::optional<Error> init_error; // the handle was never initialised
  int watched = 0;
  int fd = -1;

  static void on_poll(uv_poll_t *handle, int status, int events) {
    guarded("poll", [&] { poll_event(handle, status, events); });
  }
  static void poll_event(uv_poll_t *handle, int status, int events) {
    auto *self = of<Impl>(handle);
    if (self->retired()) return;
    if (status < 0) {
      // libuv stops the handle on POLLERR and reports EBADF (a socket with
      // IP_RECVERR raises it for every queued ICMP error). Report the fd
      // ready for what is watched, plus `error`, so the caller's recv/send
      // surfaces or drains it; then watch again unless the fd is really gone.
      int watched = self->watched;
      self->on_ready(watched | error);
      if (self->retired() || self->watched != watched || watched == 0) return;
      if (::fcntl(self->fd, F_GETFD) == -1) return;
      int flags = (watched & readable ? UV_READABLE : 0) | (watched & writable ? UV_WRITABLE : 0);
      uv_poll_start(&self->poll, flags, on_poll);
      return;
    }
    int ready = 0;
    if (events & (UV_READABLE | UV_DISCONNECT)) ready |= readable;
    if (events & UV_WRITABLE) ready |= writable;
    ready &= self->watched;
    if (ready != 0) self->on_ready(ready);
  }
};

FdPoll::FdPoll(Loop &loop, int fd, std::function<void(int events)> on_ready) : impl_(new Impl) {
  impl_->on_ready = std::move(on_ready);
  impl_->fd = fd;
  int status = uv_poll_init(detail::uv(loop), &impl_->poll, fd);
  if (status != 0) {
    impl_->init_error = detail::uv_error("watching fd " + std::to_string(fd), status);
    return;
  }
  impl_->poll.data = static_cast<detail::Owned *>(impl_);
  impl_->hold();
}

FdPoll::~FdPoll() {
  if (!impl_->init_error) impl_->close(reinterpret_cast<uv_handle_t *>(&impl_->poll));
  impl_->retire();
}

Result<void> FdPoll::watch(int events) {
  if (impl_->init_error) return fail(*impl_->init_error);
  impl_->watched = events & (readable | writable);
  if (impl_->watched == 0) {
    uv_poll_stop(&impl_->poll);
    return {};
  }
  int flags = 0;
  if (impl_->watched & readable) flags |= UV_READABLE;
  if (impl_->watched & writable) flags |= UV_WRITABLE;
  int status = uv_poll_start(&impl_->poll, flags, Impl::on_poll);
  if (status != 0) {
    impl_->watched = 0;
    return fail(detail::uv_error("watching fd", status));
  }
  return {};
}

int FdPoll::watching() const { return impl_->watched; }

} // namespace conec::loop
