#pragma once
// RAII wrappers for libuv. Only loop/ includes <uv.h>; other layers see these
// classes. Handle rule (libuv): a handle's memory is freed only in its close
// callback, so every wrapper owns a heap block that outlives the C++ object
// until libuv is done with it, and never calls back after destruction.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>

#include "util/bytes.hpp"
#include "conec/loop.hpp"
#include "util/error.hpp"

namespace conec::loop {

// The event loop is public (conec/loop.hpp); these handles run on it.
using Loop = conec::Loop;

// One-shot or repeating timer. Destroying it stops it: on_fire never runs
// afterwards.
class Timer {
public:
  Timer(Loop &loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;
  // (Re)starts: fires after timeout_ms, then every repeat_ms if non-zero.
  void start(uint64_t timeout_ms, uint64_t repeat_ms = 0);
  void stop();
  bool active() const; // started and not yet fired (one-shot) or stopped
  // Whether an active timer keeps Loop::run() from returning (default true).
  void keep_alive(bool on);

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
  ~Deferred(); // a pending run is dropped
  Deferred(const Deferred &) = delete;
  Deferred &operator=(const Deferred &) = delete;
  // Arms the callback (no-op if already pending). Called from inside the
  // callback, it runs again on the next iteration. While pending, the loop
  // polls without blocking.
  void schedule();
  bool pending() const;

private:
  struct Impl;
  Impl *impl_;
};

// Runs `destroy` at the end of the current loop iteration, or in
// Loop::close() (or ~Loop) at the latest, whichever comes first. For an
// object destroyed by its owner from inside a callback that its own code is
// still running (api/: Client, Coordinator): it is silenced at once and
// freed once that code has returned. `destroy` must not call the application.
void destroy_later(Loop &loop, std::function<void()> destroy);

// Delivers a POSIX signal on the loop (libuv installs the process-wide
// handler while at least one Signal for signum exists, and restores the
// default disposition after the last one). An invalid signum is logged as an
// error and the Signal never fires.
class Signal {
public:
  Signal(Loop &loop, int signum, std::function<void(int)> on_signal);
  ~Signal();
  Signal(const Signal &) = delete;
  Signal &operator=(const Signal &) = delete;
  // Whether the watcher keeps Loop::run() from returning (default true).
  void keep_alive(bool on);

private:
  struct Impl;
  Impl *impl_;
};

// Starts libuv's worker threads (file reads and writes run on them) with
// `signals` blocked in them, so those signals are only ever delivered to
// threads that run loops. A program that blocks a signal in its loop
// thread once its outcome is decided (cli::hold_exit_signals) then holds
// it for good; otherwise a worker would take it, and with no watcher left
// its default action would kill the process. Call once, early, before any
// file I/O, from the main thread; the calling thread's mask is unchanged.
void start_workers_without(std::initializer_list<int> signals);

// Watches a raw file descriptor (e.g. a UDP socket used with GSO and
// recvmmsg, which libuv's own UDP handle lacks). The fd is not closed, but
// libuv puts it in non-blocking mode. Destroying the FdPoll removes the fd
// from the poll set at once, so the caller may close it right after.
class FdPoll {
public:
  static constexpr int readable = 1;
  static constexpr int writable = 2;
  static constexpr int error = 4; // POLLERR: e.g. a socket's error queue holds entries
  // on_ready gets the subset of the watched events that are ready; on
  // POLLERR (libuv reports it as a failed poll) it gets every watched event
  // plus `error`, so the caller's own recv/send reports or drains it, and
  // watching goes on while the fd is open.
  FdPoll(Loop &loop, int fd, std::function<void(int events)> on_ready);
  ~FdPoll();
  FdPoll(const FdPoll &) = delete;
  FdPoll &operator=(const FdPoll &) = delete;
  // Sets the events watched (readable|writable); 0 stops watching. Error
  // (io) if the fd cannot be polled (closed, already watched by this loop,
  // or a regular file).
  Result<void> watch(int events);
  int watching() const; // the events currently watched

private:
  struct Impl;
  Impl *impl_;
};

// Reads a pipe, TTY, socket or file descriptor (stdin) with explicit flow
// control: nothing is read while paused, so a slow consumer holds the
// producer back. Pipes, TTYs and stream sockets are read with libuv stream
// handles; regular files and character devices such as /dev/null with
// threadpool reads at the descriptor's current offset, so `< file`
// redirections work. Once open() succeeds the reader owns fd and closes it
// when destroyed, unless it is 0, 1 or 2 (stdio stays open).
class StreamReader {
public:
  // on_data gets each chunk (the view is valid during the call only); on_end
  // runs once, with nullopt at end-of-file or the read error, and nothing
  // runs after it.
  StreamReader(Loop &loop, int fd, std::function<void(ByteView)> on_data,
               std::function<void(std::optional<Error>)> on_end);
  ~StreamReader(); // no callback runs afterwards
  StreamReader(const StreamReader &) = delete;
  StreamReader &operator=(const StreamReader &) = delete;
  // Adopts fd and starts reading unless pause() was called first. Errors
  // (io): fd not open, not open for reading, or not a readable kind (a
  // directory, a datagram socket).
  Result<void> open();
  // Reading resumes on the loop; callbacks never run inside resume().
  void resume();
  // No on_data or on_end runs until resume(). Safe inside on_data.
  void pause();
  bool paused() const;

private:
  struct Impl;
  Impl *impl_;
};

// Writes to a pipe, TTY, socket or file descriptor (stdout). write() queues;
// the completion callback reports when the bytes reached the kernel.
// queued() lets callers stop reading from the network while it is large.
// Same descriptor kinds and ownership rule as StreamReader. Writing to a
// pipe whose reader is gone raises SIGPIPE: the program should ignore it
// (the write then fails with EPIPE).
class StreamWriter {
public:
  StreamWriter(Loop &loop, int fd);
  ~StreamWriter(); // drops unwritten data; no callback runs afterwards
  StreamWriter(const StreamWriter &) = delete;
  StreamWriter &operator=(const StreamWriter &) = delete;
  // Adopts fd. Errors (io) as StreamReader::open(), for writing.
  Result<void> open();
  // Takes ownership of `data`; `done` (optional) runs on the loop, never
  // inside write(), with nullopt once written or the error (io); writing
  // before open() or after shutdown() fails that way too.
  void write(Bytes data, std::function<void(std::optional<Error>)> done = {});
  size_t queued() const; // bytes accepted but not yet written
  // After the queued data: half-closes a socket (SHUT_WR); closes a pipe so
  // its reader gets end-of-file (stdout/stderr are pointed at /dev/null
  // instead, keeping the descriptor number taken); closes a file (fd > 2); a
  // TTY is only flushed. `done` runs on the loop afterwards.
  void shutdown(std::function<void()> done = {});

private:
  struct Impl;
  Impl *impl_;
};

} // namespace conec::loop
