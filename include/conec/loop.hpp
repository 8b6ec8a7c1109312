#pragma once
/// @file
/// @brief Loop: the event loop every conec object runs on.

#include <cstdint>

#include "conec/error.hpp"

struct uv_loop_s;

namespace conec {

/// An event loop (libuv): owns a loop, or borrows one the embedding program
/// runs itself. Single-threaded: every conec object is used on the thread
/// that runs its loop, and destroyed before its Loop. Callbacks never run
/// inside the call that caused them, only from the loop.
class CONEC_API Loop {
public:
  /// Owns a new libuv loop (aborts if libuv cannot create one).
  Loop();
  /// Borrows `uv_loop` (a `uv_loop_t *`), which the caller runs and closes;
  /// conec adds its handles to it.
  explicit Loop(struct uv_loop_s *uv_loop);
  /// Borrows a `uv_loop_t *` given as void * (as above).
  explicit Loop(void *uv_loop) : Loop(static_cast<struct uv_loop_s *>(uv_loop)) {}
  /// An owned loop is closed; if handles are still open it logs a warning
  /// and leaks the libuv loop rather than free memory libuv still uses.
  ~Loop();
  Loop(const Loop &) = delete;
  Loop &operator=(const Loop &) = delete;

  /// Runs until stop() or until nothing is active.
  void run();
  /// One iteration, blocking for I/O if needed; false when nothing is active.
  bool run_once();
  /// One iteration without blocking; false when nothing is active.
  bool run_nowait();
  /// Makes run() return after the current iteration.
  void stop();

  /// Closes the loop after letting pending close callbacks finish; no
  /// callback of a live object runs. Error (internal) naming the count and
  /// types of handles still open, e.g. "cannot close the event loop: 1
  /// handle still open (1 timer)"; the loop stays usable then. A borrowed
  /// loop is only detached: its owner closes it. Call it outside run().
  Result<void> close();

  /// The loop's cached time in milliseconds (monotonic).
  uint64_t now_ms() const;
  /// Refreshes the cached time.
  void update_time();
  /// The `uv_loop_t *` (null after close()).
  void *native() const { return loop_; }

private:
  void *loop_ = nullptr;
  bool owned_ = false;
  bool closed_ = false;
};

} // namespace conec
