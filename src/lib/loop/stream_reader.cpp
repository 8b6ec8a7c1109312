#include <array>
#include <optional>

#include "loop/internal.hpp"
#include "util/guard.hpp"

namespace conec::loop {

// Two modes: a stream handle (TTY, FIFO, socket) read with uv_read_start, or
// a file read with one uv_fs_read request at a time. Flow control: a stream
// is paused with uv_read_stop; a file read already in flight when pause()
// is called completes into `buffer` and is held until resume().
struct StreamReader::Impl : detail::Owned {
  static constexpr size_t kChunk = size_t{64} << 10;

  uv_loop_t *loop = nullptr;
  int fd = -1;
  std::function<void(ByteView)> on_data;
  std::function<void(std::optional<Error>)> on_end;

  detail::Poster poster; // delivers what a file read held while paused
  detail::StreamHandle stream{};
  bool stream_open = false;
  bool stream_reading = false; // uv_read_start in effect (it fails if repeated)
  bool file = false;
  bool opened = false;
  bool paused = false;
  bool ended = false; // on_end ran or is held; nothing more is read

  uv_fs_t req{};
  bool reading = false;                         // req in flight
  size_t held = 0;                              // bytes in buffer held by pause()
  std::optional<std::optional<Error>> held_end; // end of file or error held by pause()
  std::array<uint8_t, kChunk> buffer{};

  void end(std::optional<Error> error) {
    ended = true;
    on_end(std::move(error));
  }

  // --- stream mode -------------------------------------------------------

  void start_stream() {
    if (stream_reading) return;
    int status = uv_read_start(&stream.stream, on_alloc, on_read);
    if (status != 0) {
      held_end = detail::uv_error("reading", status);
      ended = true;
      poster.arm();
      return;
    }
    stream_reading = true;
  }

  void stop_stream() {
    if (!stream_reading) return;
    stream_reading = false;
    uv_read_stop(&stream.stream);
  }

  static void on_alloc(uv_handle_t *handle, size_t, uv_buf_t *buf) {
    auto *self = of<Impl>(handle);
    *buf = uv_buf_init(reinterpret_cast<char *>(self->buffer.data()),
                       static_cast<unsigned>(self->buffer.size()));
  }

  static void on_read(uv_stream_t *handle, ssize_t nread, const uv_buf_t *buf) {
    guarded("read", [&] { read_event(handle, nread, buf); });
  }
  static void read_event(uv_stream_t *handle, ssize_t nread, const uv_buf_t *) {
    auto *self = of<Impl>(handle);
    if (self->retired() || self->ended) return;
    if (nread > 0) {
      self->on_data(ByteView(self->buffer.data(), static_cast<size_t>(nread)));
    } else if (nread < 0) {
      self->stop_stream();
      if (nread == UV_EOF) {
        self->end(std::nullopt);
      } else {
        self->end(detail::uv_error("reading", static_cast<int>(nread)));
      }
    }
  }

  // --- file mode ---------------------------------------------------------

  void submit_file_read() {
    if (reading || ended || paused || held > 0 || retired()) return;
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char *>(buffer.data()), static_cast<unsigned>(buffer.size()));
    req.data = static_cast<detail::Owned *>(this);
    hold();
    // Offset -1 reads at the descriptor's current position, so a stdin
    // redirected from a file continues where the shell left it.
    int status = uv_fs_read(loop, &req, fd, &buf, 1, -1, on_file_read);
    if (status != 0) {
      release();
      held_end = detail::uv_error("reading", status);
      ended = true;
      poster.arm();
      return;
    }
    reading = true;
  }

  static void on_file_read(uv_fs_t *request) {
    auto *self = of<Impl>(request);
    auto result = request->result;
    uv_fs_req_cleanup(request);
    self->reading = false;
    if (self->retired()) {
      detail::close_owned_fd(self->fd); // deferred from the destructor
    } else {
      guarded("read", [&] { self->file_read_done(result); });
    }
    self->release(); // may delete self
  }

  void file_read_done(ssize_t result) {
    if (result > 0) {
      held = static_cast<size_t>(result);
    } else {
      ended = true;
      held_end =
          result == 0 ? std::nullopt : std::optional(detail::uv_error("reading", static_cast<int>(result)));
    }
    if (!paused) deliver_held();
  }

  // Delivers a held chunk or end, then keeps reading.
  void deliver_held() {
    if (held > 0) {
      size_t n = held;
      held = 0;
      on_data(ByteView(buffer.data(), n));
      if (retired()) return;
    }
    if (held_end) {
      auto error = std::move(*held_end);
      held_end.reset();
      on_end(std::move(error));
      return;
    }
    submit_file_read();
  }

  void run_posted() override {
    if (!retired() && !paused) deliver_held();
  }
};

StreamReader::StreamReader(Loop &loop, int fd, std::function<void(ByteView)> on_data,
                           std::function<void(std::optional<Error>)> on_end)
    : impl_(new Impl) {
  impl_->loop = detail::uv(loop);
  impl_->fd = fd;
  impl_->on_data = std::move(on_data);
  impl_->on_end = std::move(on_end);
  impl_->poster.init(impl_->loop, impl_);
}

StreamReader::~StreamReader() {
  impl_->poster.close();
  if (impl_->stream_open) {
    impl_->close(&impl_->stream.handle); // libuv closes fd > 2
  } else if (impl_->file && impl_->opened) {
    if (impl_->reading) {
      uv_cancel(reinterpret_cast<uv_req_t *>(&impl_->req)); // fd closed on completion
    } else {
      detail::close_owned_fd(impl_->fd);
    }
  }
  impl_->retire();
}

Result<void> StreamReader::open() {
  if (impl_->opened) return {};
  auto kind = detail::open_fd(impl_->loop, impl_->fd, true, impl_->stream, impl_);
  if (!kind) return fail(kind.error());
  impl_->opened = true;
  impl_->file = *kind == detail::FdKind::file;
  impl_->stream_open = !impl_->file;
  if (!impl_->paused) resume();
  return {};
}

void StreamReader::resume() {
  impl_->paused = false;
  if (!impl_->opened) return;
  if (impl_->file) {
    if (impl_->held > 0 || impl_->held_end) {
      impl_->poster.arm(); // not from inside the caller's stack
    } else {
      impl_->submit_file_read();
    }
  } else if (impl_->held_end) {
    impl_->poster.arm();
  } else if (!impl_->ended) {
    impl_->start_stream();
  }
}

void StreamReader::pause() {
  impl_->paused = true;
  if (impl_->stream_open) impl_->stop_stream();
}

bool StreamReader::paused() const { return impl_->paused; }

} // namespace conec::loop
