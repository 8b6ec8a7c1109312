#include "loop/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "loop/internal.hpp"
#include "util/guard.hpp"

extern char **environ;

namespace conec::loop {

std::string ProcessExit::describe() const {
  if (signal != 0) {
    const char *name = ::strsignal(signal);
    return "killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : std::string());
  }
  return "exit status " + std::to_string(status);
}

// The uv_process_t lives here; the handle is open from spawn() until the
// Process is destroyed (libuv needs it until the close callback).
struct Process::Impl : detail::Owned {
  uv_loop_t *loop = nullptr;
  uv_process_t process{};
  std::function<void(const ProcessExit &)> on_exit;
  bool attempted = false; // spawn() was called (the handle cannot be reused)
  bool spawned = false;   // the handle is open (uv_spawn succeeded)
  bool running = false;
  bool own_group = false;
  int pid = 0;
  int stdin_fd = -1;  // our end of the child's stdin pipe, until taken
  int stdout_fd = -1; // our end of the child's stdout pipe, until taken
  std::optional<ProcessExit> exit;

  static void on_process_exit(uv_process_t *handle, int64_t status, int term_signal) {
    auto *self = of<Impl>(handle);
    self->running = false;
    self->exit = ProcessExit{status, term_signal};
    if (!self->retired() && self->on_exit) guarded("process exit", [&] { self->on_exit(*self->exit); });
  }

  void close_fds() {
    for (int *fd : {&stdin_fd, &stdout_fd}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

namespace {

void close_all(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0) ::close(fd);
}

// The child's environment: ours with `additions` set on top.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>> &additions) {
  std::vector<std::string> env;
  for (char **e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto &[key, value] : additions) replaced = replaced || name == key;
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto &[key, value] : additions) env.push_back(key + "=" + value);
  return env;
}

// Sets up one of the child's stdio descriptors; `child` is what the child
// gets, `ours` our end of a pipe (or -1).
Result<void> make_stdio(ProcessOptions::Stdio mode, int target, int &child, int &ours) {
  child = ours = -1;
  switch (mode) {
  case ProcessOptions::Stdio::inherit: child = target; return {};
  case ProcessOptions::Stdio::null:
    child = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (child < 0) return fail(errno_error("loop", "opening /dev/null", errno));
    return {};
  case ProcessOptions::Stdio::pipe: {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(errno_error("loop", "creating a pipe", errno));
    bool child_reads = target == STDIN_FILENO;
    child = child_reads ? fds[0] : fds[1];
    ours = child_reads ? fds[1] : fds[0];
    return {};
  }
  }
  return {};
}

} // namespace

Process::Process(Loop &loop, std::function<void(const ProcessExit &)> on_exit) : impl_(new Impl) {
  impl_->loop = detail::uv(loop);
  impl_->on_exit = std::move(on_exit);
}

Process::~Process() {
  if (impl_->spawned) {
    impl_->close(reinterpret_cast<uv_handle_t *>(&impl_->process)); // libuv stops watching the pid
    if (impl_->running) {
      // libuv no longer reaps it: kill and reap it here so no zombie stays.
      ::kill(impl_->own_group ? -impl_->pid : impl_->pid, SIGKILL);
      for (int i = 0; i < 1000; ++i) {
        int status = 0;
        pid_t r = ::waitpid(impl_->pid, &status, WNOHANG);
        if (r == impl_->pid || (r < 0 && errno != EINTR)) break;
        timespec pause{0, 1000000}; // 1 ms
        ::nanosleep(&pause, nullptr);
      }
      impl_->running = false;
    }
  }
  impl_->close_fds();
  impl_->retire();
}

Result<void> Process::spawn(const ProcessOptions &options) {
  if (impl_->attempted) return fail(ErrorCategory::usage, "loop", "process already spawned");
  if (options.argv.empty()) return fail(ErrorCategory::usage, "loop", "no program to run");

  int child_in = -1, child_out = -1, our_in = -1, our_out = -1;
  if (auto r = make_stdio(options.in, STDIN_FILENO, child_in, our_in); !r) return r;
  if (auto r = make_stdio(options.out, STDOUT_FILENO, child_out, our_out); !r) {
    if (options.in != ProcessOptions::Stdio::inherit) close_all({child_in});
    close_all({our_in});
    return r;
  }

  std::vector<char *> args;
  for (const auto &a : options.argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env = child_environment(options.env);
  std::vector<char *> envp;
  for (auto &e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_INHERIT_FD;
  stdio[0].data.fd = child_in;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = child_out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = STDERR_FILENO;

  uv_process_options_t uv_options{};
  uv_options.exit_cb = Impl::on_process_exit;
  uv_options.file = args[0];
  uv_options.args = args.data();
  uv_options.env = envp.data();
  uv_options.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  uv_options.stdio_count = 3;
  uv_options.stdio = stdio;
  if (options.own_group) uv_options.flags |= UV_PROCESS_DETACHED; // setsid() in the child

  impl_->process.data = static_cast<detail::Owned *>(impl_);
  impl_->hold(); // uv_spawn initialises the handle even when it fails
  impl_->attempted = true;
  int status = uv_spawn(impl_->loop, &impl_->process, &uv_options);
  impl_->process.data = static_cast<detail::Owned *>(impl_);

  // The child has its copies (dup2 clears close-on-exec on them).
  if (options.in != ProcessOptions::Stdio::inherit) close_all({child_in});
  if (options.out != ProcessOptions::Stdio::inherit) close_all({child_out});
  if (status != 0) {
    close_all({our_in, our_out});
    impl_->close(reinterpret_cast<uv_handle_t *>(&impl_->process));
    return fail(detail::uv_error("cannot run '" + options.argv[0] + "'", status));
  }
  impl_->spawned = true;
  impl_->running = true;
  impl_->pid = impl_->process.pid;
  impl_->own_group = options.own_group;
  impl_->stdin_fd = our_in;
  impl_->stdout_fd = our_out;
  return {};
}

int Process::take_stdin() { return std::exchange(impl_->stdin_fd, -1); }

int Process::take_stdout() { return std::exchange(impl_->stdout_fd, -1); }

Result<void> Process::kill(int signum) {
  if (!impl_->running) return fail(ErrorCategory::usage, "loop", "the process is not running");
  if (impl_->own_group) {
    // The leader is not reaped yet, so its pid still names its group.
    if (::kill(-impl_->pid, signum) != 0)
      return fail(errno_error("loop", "sending signal " + std::to_string(signum), errno));
    return {};
  }
  int status = uv_process_kill(&impl_->process, signum);
  if (status != 0) return fail(detail::uv_error("sending signal " + std::to_string(signum), status));
  return {};
}

bool Process::running() const { return impl_->running; }

int Process::pid() const { return impl_->pid; }

const std::optional<ProcessExit> &Process::exit_status() const { return impl_->exit; }

} // namespace conec::loop
