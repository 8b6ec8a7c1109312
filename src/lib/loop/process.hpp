#pragma once
// Child processes on the loop (libuv uv_spawn): stdin and stdout as pipes
// whose parent ends the caller wraps in a StreamWriter / StreamReader,
// stderr inherited, an exit callback with the status or signal, and kill().
// Same lifetime rules as the wrappers in loop.hpp.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loop/loop.hpp"

namespace conec::loop {

struct ProcessOptions {
  // What the child's stdin / stdout is: a pipe to us (see
  // Process::take_stdin / take_stdout), our own descriptor, or /dev/null.
  enum class Stdio { pipe, inherit, null };

  std::vector<std::string> argv; // argv[0] is looked up in PATH unless it holds a '/'
  // Set in the child's environment on top of ours (replacing variables of
  // the same name).
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd; // empty: ours
  Stdio in = Stdio::pipe;
  Stdio out = Stdio::pipe;
  // stderr is always inherited.
  // Run the child in a new session and process group of its own (setsid):
  // kill() and the destructor then signal the whole group, so a shell's
  // pipeline goes with it, and a terminal's Ctrl-C no longer reaches it.
  bool own_group = false;
};

// How a child ended.
struct ProcessExit {
  int64_t status = 0; // exit status (0 when killed by a signal)
  int signal = 0;     // the signal that terminated it, or 0
  bool success() const { return status == 0 && signal == 0; }
  // "exit status 3", "killed by signal 15 (Terminated)".
  std::string describe() const;
};

// One child process. Every descriptor conec hands the child is close-on-exec
// on our side, so concurrent children never hold each other's pipes open.
// Signal dispositions are reset to their defaults in the child (libuv), so
// a parent that ignores SIGPIPE does not pass that on.
class Process {
public:
  // `on_exit` runs once on the loop when the child has ended (and been
  // reaped); never after the Process is destroyed. Destroying the Process
  // from inside on_exit is allowed.
  explicit Process(Loop &loop, std::function<void(const ProcessExit &)> on_exit = {});
  // A child still running is killed with SIGKILL (its group with
  // own_group) and reaped (a wait of a few milliseconds at most, bounded to
  // one second); pipe ends not taken are closed; no callback runs afterwards.
  ~Process();
  Process(const Process &) = delete;
  Process &operator=(const Process &) = delete;

  // Starts the child (once). Errors: usage (empty argv, spawned twice), io
  // (pipes, or the program cannot be executed: "cannot run 'prog': ...").
  Result<void> spawn(const ProcessOptions &options);

  // Our end of the child's stdin pipe (write to it; closing it gives the
  // child end-of-file) / of its stdout pipe (read it). Ownership passes to
  // the caller, typically a StreamWriter / StreamReader that adopts it. -1
  // when that stream is not a pipe, before spawn(), or once taken.
  int take_stdin();
  int take_stdout();

  // Sends `signum` to a running child (to its whole process group with
  // own_group). Error (usage) if it is not running; (io) if kill fails.
  Result<void> kill(int signum);
  bool running() const;
  int pid() const; // 0 before spawn()
  // How the child ended, once on_exit has run.
  const std::optional<ProcessExit> &exit_status() const;

private:
  struct Impl;
  Impl *impl_; // freed in the close callback
};

} // namespace conec::loop
