#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "loop/internal.hpp"

namespace conec::loop::detail {

namespace {

// Checks that `fd` is open in the direction we need; libuv itself would only
// fail later, on the first read or write.
Result<void> check_access(int fd, bool for_reading) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return fail(errno_error("loop", "fd " + std::to_string(fd), errno));
  int mode = flags & O_ACCMODE;
  if (for_reading && mode == O_WRONLY)
    return fail(ErrorCategory::io, "loop", "fd " + std::to_string(fd) + " is not open for reading");
  if (!for_reading && mode == O_RDONLY)
    return fail(ErrorCategory::io, "loop", "fd " + std::to_string(fd) + " is not open for writing");
  return {};
}

bool is_socket(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

} // namespace

Result<FdKind> open_fd(uv_loop_t *loop, int fd, bool for_reading, StreamHandle &h, Owned *owner) {
  auto access = check_access(fd, for_reading);
  if (!access) return fail(access.error());
  const std::string what = "opening fd " + std::to_string(fd);

  FdKind kind;
  int status = 0;
  switch (uv_guess_handle(fd)) {
  case UV_FILE: return FdKind::file;
  case UV_TTY:
    kind = FdKind::tty;
    status = uv_tty_init(loop, &h.tty, fd, for_reading ? 1 : 0);
    if (status != 0) return fail(uv_error(what, status));
    break;
  case UV_NAMED_PIPE: // FIFOs and UNIX-domain sockets
    kind = is_socket(fd) ? FdKind::socket : FdKind::fifo;
    uv_pipe_init(loop, &h.pipe, 0);
    h.handle.data = owner;
    owner->hold();
    status = uv_pipe_open(&h.pipe, fd);
    break;
  case UV_TCP:
    kind = FdKind::socket;
    uv_tcp_init(loop, &h.tcp);
    h.handle.data = owner;
    owner->hold();
    status = uv_tcp_open(&h.tcp, fd);
    break;
  default:
    return fail(ErrorCategory::io, "loop",
                "fd " + std::to_string(fd) + " is not a pipe, terminal, stream socket or file");
  }
  if (kind == FdKind::tty) {
    h.handle.data = owner;
    owner->hold();
  }
  if (status != 0) {
    owner->close(&h.handle); // fd was not adopted, so it is not closed either
    return fail(uv_error(what, status));
  }
  return kind;
}

void close_owned_fd(int fd) {
  if (fd > STDERR_FILENO) ::close(fd);
}

} // namespace conec::loop::detail
