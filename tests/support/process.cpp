#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace conec::test {

Process::Process(const std::vector<std::string> &argv, int stdin_fd) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return;
  pid = fork();
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL); // tests ignore it (StdinPipe); the program gets the default
    dup2(stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY), 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    std::vector<char *> args;
    for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
}

Process::~Process() {
  if (pid > 0 && status_ < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Process::drain(double seconds) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (poll(fds, 2, static_cast<int>(seconds * 1000)) <= 0) return;
  char buf[65536];
  for (int i = 0; i < 2; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = read(fds[i].fd, buf, sizeof(buf));
    if (n > 0) (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
    if (n == 0) {
      close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

static double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool Process::wait_for_stderr(const std::string &text, double seconds) {
  auto start = std::chrono::steady_clock::now();
  while (err.find(text) == std::string::npos && since(start) < seconds && (out_fd_ >= 0 || err_fd_ >= 0))
    drain(0.05);
  return err.find(text) != std::string::npos;
}

bool Process::wait_for_stdout(const std::string &text, double seconds) {
  auto start = std::chrono::steady_clock::now();
  auto found = [&] { return text.empty() ? out_fd_ < 0 : out.find(text) != std::string::npos; };
  while (!found() && since(start) < seconds && (out_fd_ >= 0 || err_fd_ >= 0)) drain(0.05);
  return found();
}

void Process::signal(int signum) {
  if (pid > 0 && status_ < 0) kill(pid, signum);
}

int Process::wait(double seconds) {
  auto start = std::chrono::steady_clock::now();
  while (status_ < 0 && since(start) < seconds) {
    if (out_fd_ >= 0 || err_fd_ >= 0) drain(0.05);
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) status_ = st;
    else if (out_fd_ < 0 && err_fd_ < 0) usleep(10000);
  }
  while (out_fd_ >= 0 || err_fd_ >= 0) drain(0.05);
  if (status_ < 0) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

int run(Process &p, double seconds) { return p.wait(seconds); }

} // namespace conec::test
