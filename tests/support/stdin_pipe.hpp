#pragma once
// StdinPipe: a pipe for a child process's stdin — the child gets read_end,
// the test writes to write_end and closes it to send EOF.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <string>

namespace conec::test {

struct StdinPipe {
  StdinPipe() {
    // A child that exits before reading everything must fail send(), not
    // kill the test (Process restores the default for the programs it runs).
    std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~StdinPipe() {
    close_read();
    close_write();
  }
  StdinPipe(const StdinPipe &) = delete;
  StdinPipe &operator=(const StdinPipe &) = delete;
  // After the child started: it holds its own copy.
  void close_read() {
    if (read_end >= 0) ::close(read_end);
    read_end = -1;
  }
  void close_write() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
  // Writes all of `data`; false if the reader is gone.
  bool send(const std::string &data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::write(write_end, data.data() + off, data.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  int read_end = -1, write_end = -1;
};

} // namespace conec::test
