#include <fcntl.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <vector>

#include "loop/internal.hpp"
#include "util/guard.hpp"

namespace conec::loop {

namespace {

using Done = std::function<void(std::optional<Error>)>;

Error not_writable(bool opened) {
  return Error{ErrorCategory::io, 0, "loop",
               opened ? "write after shutdown" : "write before the writer was opened"};
}

} // namespace

// Two modes: a stream handle (TTY, FIFO, socket) where libuv queues the
// writes, or a file written with one uv_fs_write request at a time from our
// own queue. Completions the caller must not see inside its own call (errors
// found by write(), shutdown completion) are posted to the loop.
struct StreamWriter::Impl : detail::Owned {
  // One uv_write in flight; owns the bytes until libuv is done with them.
  struct WriteReq {
    uv_write_t req{};
    Impl *impl = nullptr;
    Bytes data;
    Done done;
  };
  // One queued file write; `offset` bytes of it are already written.
  struct FileItem {
    Bytes data;
    size_t offset = 0;
    Done done;
  };
  enum class Shut { no, pending, done };

  uv_loop_t *loop = nullptr;
  int fd = -1;
  detail::Poster poster;
  std::deque<std::function<void()>> posted;

  detail::StreamHandle stream{};
  bool stream_open = false;
  detail::FdKind kind = detail::FdKind::file;
  bool opened = false;
  size_t queued = 0;
  size_t writes_in_flight = 0; // stream mode

  Shut shut = Shut::no;
  std::vector<std::function<void()>> shutdown_done;
  uv_shutdown_t shutdown_req{};

  std::deque<FileItem> file_queue; // file mode; front is being written
  bool file_writing = false;
  uv_fs_t fs_req{};

  void post(std::function<void()> fn) {
    posted.push_back(std::move(fn));
    poster.arm();
  }

  void run_posted() override {
    auto batch = std::move(posted);
    posted.clear();
    for (auto &fn : batch) {
      if (retired()) return;
      fn();
    }
  }

  void post_done(Done done, std::optional<Error> error) {
    if (done) post([done = std::move(done), error = std::move(error)] { done(error); });
  }

  // --- stream mode -------------------------------------------------------

  void write_stream(Bytes data, Done done) {
    auto w = std::make_unique<WriteReq>();
    w->impl = this;
    w->data = std::move(data);
    w->done = std::move(done);
    uv_buf_t buf =
        uv_buf_init(reinterpret_cast<char *>(w->data.data()), static_cast<unsigned>(w->data.size()));
    w->req.data = w.get();
    int status = uv_write(&w->req, &stream.stream, &buf, 1, on_write);
    if (status != 0) {
      post_done(std::move(w->done), detail::uv_error("writing", status));
      return;
    }
    queued += w->data.size();
    ++writes_in_flight;
    hold();
    w.release(); // owned by the request until on_write
  }

  static void on_write(uv_write_t *req, int status) {
    std::unique_ptr<WriteReq> w(static_cast<WriteReq *>(req->data));
    Impl *self = w->impl;
    self->queued -= w->data.size();
    --self->writes_in_flight;
    // Writes cancelled by closing the handle (ECANCELED) belong to a
    // destroyed writer and report nothing.
    if (!self->retired()) {
      guarded("write", [&] {
        if (w->done) w->done(status == 0 ? std::nullopt : std::optional(detail::uv_error("writing", status)));
        if (!self->retired()) self->continue_shutdown();
      });
    }
    self->release();
  }

  static void on_shutdown(uv_shutdown_t *req, int) {
    auto *self = of<Impl>(req);
    if (!self->retired()) guarded("shutdown", [&] { self->finish_shutdown(); });
    self->release();
  }

  // --- file mode ---------------------------------------------------------

  void pump_file() {
    while (!file_writing && !file_queue.empty() && !retired()) {
      FileItem &item = file_queue.front();
      if (item.data.empty()) {
        post_done(std::move(item.done), std::nullopt);
        file_queue.pop_front();
        continue;
      }
      uv_buf_t buf = uv_buf_init(reinterpret_cast<char *>(item.data.data() + item.offset),
                                 static_cast<unsigned>(item.data.size() - item.offset));
      fs_req.data = static_cast<detail::Owned *>(this);
      hold();
      int status = uv_fs_write(loop, &fs_req, fd, &buf, 1, -1, on_file_write);
      if (status == 0) {
        file_writing = true;
        return;
      }
      release();
      queued -= item.data.size() - item.offset;
      post_done(std::move(item.done), detail::uv_error("writing", status));
      file_queue.pop_front();
    }
    continue_shutdown();
  }

  static void on_file_write(uv_fs_t *req) {
    auto *self = of<Impl>(req);
    auto result = req->result;
    uv_fs_req_cleanup(req);
    self->file_writing = false;
    if (self->retired()) {
      detail::close_owned_fd(self->fd); // deferred from the destructor
    } else {
      guarded("write", [&] { self->file_write_done(result); });
    }
    self->release(); // may delete self
  }

  void file_write_done(ssize_t result) {
    FileItem &item = file_queue.front();
    size_t remaining = item.data.size() - item.offset;
    if (result > 0 && static_cast<size_t>(result) < remaining) {
      item.offset += static_cast<size_t>(result); // short write: go on
      queued -= static_cast<size_t>(result);
      pump_file();
      return;
    }
    queued -= remaining;
    std::optional<Error> error;
    if (result < 0) error = detail::uv_error("writing", static_cast<int>(result));
    if (result == 0) error = Error{ErrorCategory::io, 0, "loop", "writing: no progress"};
    Done done = std::move(item.done);
    file_queue.pop_front();
    if (done) done(std::move(error));
    pump_file();
  }

  // --- shutdown ----------------------------------------------------------

  // Finishes a pending shutdown once everything queued is written. Sockets
  // use uv_shutdown (SHUT_WR) instead; a FIFO's reader sees end-of-file only
  // when the last write end closes, so the handle is closed.
  void continue_shutdown() {
    if (shut != Shut::pending || retired()) return;
    switch (kind) {
    case detail::FdKind::socket: return; // on_shutdown finishes
    case detail::FdKind::file:
      if (file_writing || !file_queue.empty()) return;
      detail::close_owned_fd(fd);
      fd = -1;
      finish_shutdown();
      return;
    case detail::FdKind::tty:
      if (writes_in_flight == 0) finish_shutdown();
      return;
    case detail::FdKind::fifo:
      if (writes_in_flight > 0 || !stream_open) return;
      stream_open = false;
      uv_close(&stream.handle, on_fifo_closed); // libuv closes fd > 2
      return;
    }
  }

  static void on_fifo_closed(uv_handle_t *handle) {
    auto *self = static_cast<Impl *>(static_cast<detail::Owned *>(handle->data));
    if (self->fd <= STDERR_FILENO) {
      // libuv never closes stdio descriptors; point this one at /dev/null so
      // the pipe's write end is released and its reader gets end-of-file,
      // while the descriptor number stays taken.
      int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null_fd >= 0) {
        ::dup2(null_fd, self->fd);
        ::close(null_fd);
      }
    }
    if (!self->retired()) guarded("shutdown", [&] { self->finish_shutdown(); });
    self->release();
  }

  void finish_shutdown() {
    shut = Shut::done;
    auto callbacks = std::move(shutdown_done);
    shutdown_done.clear();
    for (auto &cb : callbacks) {
      if (cb) post(std::move(cb));
    }
  }
};

StreamWriter::StreamWriter(Loop &loop, int fd) : impl_(new Impl) {
  impl_->loop = detail::uv(loop);
  impl_->fd = fd;
  impl_->poster.init(impl_->loop, impl_);
}

StreamWriter::~StreamWriter() {
  impl_->poster.close();
  impl_->posted.clear();
  if (impl_->stream_open) {
    impl_->close(&impl_->stream.handle); // cancels queued writes; closes fd > 2
  } else if (impl_->kind == detail::FdKind::file && impl_->opened && impl_->fd >= 0) {
    if (impl_->file_writing) {
      uv_cancel(reinterpret_cast<uv_req_t *>(&impl_->fs_req)); // fd closed on completion
    } else {
      detail::close_owned_fd(impl_->fd);
    }
  }
  impl_->retire();
}

Result<void> StreamWriter::open() {
  if (impl_->opened) return {};
  auto kind = detail::open_fd(impl_->loop, impl_->fd, false, impl_->stream, impl_);
  if (!kind) return fail(kind.error());
  impl_->opened = true;
  impl_->kind = *kind;
  impl_->stream_open = *kind != detail::FdKind::file;
  return {};
}

void StreamWriter::write(Bytes data, std::function<void(std::optional<Error>)> done) {
  if (!impl_->opened || impl_->shut != Impl::Shut::no) {
    impl_->post_done(std::move(done), not_writable(impl_->opened));
    return;
  }
  // Empty writes take the normal path too, so completions stay in order.
  if (impl_->stream_open) {
    impl_->write_stream(std::move(data), std::move(done));
    return;
  }
  impl_->queued += data.size();
  impl_->file_queue.push_back(Impl::FileItem{std::move(data), 0, std::move(done)});
  impl_->pump_file();
}

size_t StreamWriter::queued() const { return impl_->queued; }

void StreamWriter::shutdown(std::function<void()> done) {
  if (impl_->shut == Impl::Shut::done || !impl_->opened) {
    impl_->shut = Impl::Shut::done;
    if (done) impl_->post(std::move(done));
    return;
  }
  impl_->shutdown_done.push_back(std::move(done));
  if (impl_->shut == Impl::Shut::pending) return;
  impl_->shut = Impl::Shut::pending;
  if (impl_->kind == detail::FdKind::socket) {
    impl_->shutdown_req.data = static_cast<detail::Owned *>(impl_);
    int status = uv_shutdown(&impl_->shutdown_req, &impl_->stream.stream, Impl::on_shutdown);
    if (status == 0) {
      impl_->hold();
    } else {
      impl_->finish_shutdown();
    }
    return;
  }
  impl_->continue_shutdown();
}

} // namespace conec::loop
