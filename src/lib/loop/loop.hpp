#pragma once
// RAII wrappers for libuv. Only loop/ includes <uv.h>; other layers see these
// classes. Handle rule (libuv): a handle's memory is freed only in its close
// callback, so every wrapper owns a heap block that outlives the C++ object
// until libuv is done with it, and never calls back after destruction.

#include <cstdint>
#include <functional>
#include <memory>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace conec::loop {

// An event loop: owns a uv_loop_t, or borrows one supplied by the embedding
// program (SPEC §6).
class Loop {
public:
  Loop();                         // owns a new loop
  explicit Loop(void *uv_loop);   // borrows `uv_loop_t *` (not closed by us)
  ~Loop();                        // owned: runs until handles are closed, then closes
  Loop(const Loop &) = delete;
  Loop &operator=(const Loop &) = delete;

  void run();       // until stop() or nothing is active
  bool run_once();  // one iteration, blocking for I/O if needed; false when nothing is active
  bool run_nowait();// one iteration without blocking; false when nothing is active
  void stop();

  // Closes the loop after letting pending close callbacks run. Error
  // (internal) naming the count if handles are still open — tests use it to
  // catch leaked handles.
  Result<void> close();

  uint64_t now_ms() const; // the loop's cached time
  void *native() const { return loop_; } // uv_loop_t*

private:
  void *loop_ = nullptr;
  bool owned_ = false;
  bool closed_ = false;
};

// One-shot or repeating timer.
class Timer {
public:
  Timer(Loop &loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;
  void start(uint64_t timeout_ms, uint64_t repeat_ms = 0);
  void stop();
  bool active() const;

private:
  struct Impl;
  Impl *impl_; // freed in the close callback
};

// Runs a callback once at the end of the current loop iteration (uv_idle +
// uv_check), coalescing repeated schedule() calls. Used to defer sends until
// the outermost callback returns.
class Deferred {
public:
  Deferred(Loop &loop, std::function<void()> fn);
  ~Deferred();
  Deferred(const Deferred &) = delete;
  Deferred &operator=(const Deferred &) = delete;
  void schedule();
  bool pending() const;

private:
  struct Impl;
  Impl *impl_;
};

// Delivers a POSIX signal on the loop.
class Signal {
public:
  Signal(Loop &loop, int signum, std::function<void(int)> on_signal);
  ~Signal();
  Signal(const Signal &) = delete;
  Signal &operator=(const Signal &) = delete;

private:
  struct Impl;
  Impl *impl_;
};

// Watches a raw file descriptor (e.g. a UDP socket used with GSO and
// recvmmsg, which libuv's own UDP handle lacks). The fd is not closed.
class FdPoll {
public:
  static constexpr int readable = 1;
  static constexpr int writable = 2;
  FdPoll(Loop &loop, int fd, std::function<void(int events)> on_ready);
  ~FdPoll();
  FdPoll(const FdPoll &) = delete;
  FdPoll &operator=(const FdPoll &) = delete;
  // Sets the events watched (readable|writable); 0 stops watching.
  void watch(int events);

private:
  struct Impl;
  Impl *impl_;
};

// Reads a pipe, TTY or file descriptor (stdin) with explicit flow control:
// nothing is read while paused, so a slow consumer holds the producer back.
class StreamReader {
public:
  // on_data gets each chunk; on_end gets nullopt at EOF or the error.
  StreamReader(Loop &loop, int fd, std::function<void(ByteView)> on_data,
               std::function<void(std::optional<Error>)> on_end);
  ~StreamReader();
  StreamReader(const StreamReader &) = delete;
  StreamReader &operator=(const StreamReader &) = delete;
  Result<void> open(); // errors: io (fd not readable)
  void resume();
  void pause();

private:
  struct Impl;
  Impl *impl_;
};

// Writes to a pipe, TTY or file descriptor (stdout). write() queues; the
// completion callback reports when the bytes reached the kernel. queued()
// lets callers stop reading from the network while it is large.
class StreamWriter {
public:
  StreamWriter(Loop &loop, int fd);
  ~StreamWriter();
  StreamWriter(const StreamWriter &) = delete;
  StreamWriter &operator=(const StreamWriter &) = delete;
  Result<void> open();
  // Takes ownership of `data`; `done` (optional) runs when written or failed.
  void write(Bytes data, std::function<void(std::optional<Error>)> done = {});
  size_t queued() const; // bytes accepted but not yet written
  // Closes the write side after queued data (half-close for pipes).
  void shutdown(std::function<void()> done = {});

private:
  struct Impl;
  Impl *impl_;
};

} // namespace conec::loop
