#pragma once
// Runs the real conec binary (or any program) as a child process with its
// stdout/stderr captured, for tests of what users see: output and exit codes.

#include <sys/types.h>

#include <string>
#include <vector>

namespace conec::test {

class Process {
public:
  // Starts `argv[0]` with `argv`; stdin is /dev/null, or `stdin_fd` if given
  // (the child gets a copy; the caller keeps and closes its own).
  explicit Process(const std::vector<std::string> &argv, int stdin_fd = -1);
  ~Process(); // kills the child if still running
  Process(const Process &) = delete;
  Process &operator=(const Process &) = delete;

  // Reads stderr until it contains `text` or `seconds` pass; returns whether it did.
  bool wait_for_stderr(const std::string &text, double seconds = 10);
  // Reads stdout until it contains `text` (empty: until its end) or
  // `seconds` pass; returns whether it did.
  bool wait_for_stdout(const std::string &text, double seconds = 10);
  bool stdout_ended() const { return out_fd_ < 0; }
  void signal(int signum);
  // Waits for exit (up to `seconds`); returns the exit code, 128+signal if
  // killed by one, or -1 on timeout. Collects the rest of stdout/stderr.
  int wait(double seconds = 10);

  std::string out, err;
  pid_t pid = -1;

private:
  void drain(double seconds);
  int out_fd_ = -1, err_fd_ = -1;
  int status_ = -1;
};

// Runs to completion and returns the exit code (output in `p.out`/`p.err`).
int run(Process &p, double seconds = 30);

} // namespace conec::test
