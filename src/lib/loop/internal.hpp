#pragma once
// Private to loop/: the only header that includes <uv.h>. Holds the lifetime
// scheme shared by every wrapper and small libuv helpers.

#include <uv.h>

#include <string_view>

#include "loop/loop.hpp"

namespace conec::loop::detail {

// The uv_loop_t behind `loop`.
inline uv_loop_t *uv(Loop &loop) { return static_cast<uv_loop_t *>(loop.native()); }

// Error (io, layer "loop") for a negative libuv status: "<what>: <uv_strerror>".
Error uv_error(std::string_view what, int status);

// Base of every wrapper's heap state. libuv may still use a handle's memory
// after the C++ wrapper is gone (until the close callback), and a request's
// memory until its completion callback, so the state lives on its own:
//  - hold() once per handle initialised and per request submitted;
//    release() from the close / completion callback;
//  - the wrapper's destructor calls retire(): from then on no user callback
//    runs, and the state deletes itself when the last hold is released.
// Every handle's `data` points at its Owned (see close()), so close callbacks
// need nothing else. Deletion never happens inside a user callback of the
// same state: a wrapper destroyed from its own callback still has a handle
// closing, so the state outlives the callback.
class Owned {
public:
  Owned() = default;
  Owned(const Owned &) = delete;
  Owned &operator=(const Owned &) = delete;
  virtual ~Owned() = default;

  bool retired() const { return retired_; }
  void hold() { ++holds_; }
  void release();
  // Marks the wrapper gone; deletes this at once if nothing is held.
  void retire();
  // Closes `handle` (initialised with hold(), data == this) unless it is
  // already closing; its close callback releases the hold.
  void close(uv_handle_t *handle);

  // The Owned a handle or request belongs to.
  template <class Derived, class UvObject> static Derived *of(UvObject *object) {
    return static_cast<Derived *>(static_cast<Owned *>(object->data));
  }

  // Runs when a Poster owned by this state fires (see Poster).
  virtual void run_posted() {}

private:
  bool retired_ = false;
  int holds_ = 0;
};

// Runs its owner's run_posted() once at the end of the current (or next) loop
// iteration: a uv_check handle does the work and a uv_idle handle keeps the
// poll phase from blocking while armed. arm() coalesces; arming again from
// inside run_posted() runs it again on the next iteration. Used by Deferred
// and to deliver stream events outside the caller's stack.
class Poster {
public:
  // Initialises both handles (two holds on `owner`).
  void init(uv_loop_t *loop, Owned *owner);
  void arm();
  bool armed() const { return armed_; }
  // Closes both handles; nothing runs afterwards.
  void close();

private:
  static void on_check(uv_check_t *check);
  static void on_idle(uv_idle_t *) {}
  void disarm();

  uv_check_t check_{};
  uv_idle_t idle_{};
  Owned *owner_ = nullptr;
  bool armed_ = false;
  bool open_ = false;
};

// The libuv object streaming one descriptor.
union StreamHandle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tty_t tty;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
};

// What a descriptor is, as far as reading and writing it goes. `file` means
// no handle: regular files and non-terminal character devices (/dev/null)
// cannot be polled, so they are served by uv_fs_* requests on the threadpool.
enum class FdKind { tty, fifo, socket, file };

// Classifies `fd` and, for every kind but `file`, initialises `h` on it with
// one hold on `owner` and h.handle.data == owner. Errors (io): fd not open,
// open in the wrong direction, or of a kind that cannot be streamed.
Result<FdKind> open_fd(uv_loop_t *loop, int fd, bool for_reading, StreamHandle &h, Owned *owner);

// Closes a descriptor the caller owns unless it is stdin/stdout/stderr
// (libuv's rule for stream handles, applied to file-mode descriptors too).
void close_owned_fd(int fd);

} // namespace conec::loop::detail

namespace conec::loop {
// Destroys what destroy_later() still holds for `loop` (Loop::close()).
void flush_graves(Loop &loop);
} // namespace conec::loop
