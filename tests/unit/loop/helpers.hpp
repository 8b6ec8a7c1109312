#pragma once
// Shared by the loop tests: byte patterns, pipes, temporary files, and a
// watchdog that stops a loop which would otherwise hang the suite.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>

#include "loop/loop.hpp"

namespace conec::loop::test {

// Deterministic pseudo-random bytes, different per seed.
inline Bytes pattern(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(size);
  for (auto &b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// a followed by b.
inline Bytes concat(ByteView a, ByteView b) {
  Bytes out(a.size() + b.size());
  std::copy(a.begin(), a.end(), out.begin());
  std::copy(b.begin(), b.end(), out.begin() + static_cast<ptrdiff_t>(a.size()));
  return out;
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

inline Pipe make_pipe() {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  return {fds[0], fds[1]};
}

// Writes all of `data` to a blocking fd.
inline bool write_all(int fd, ByteView data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return false;
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

// Reads a blocking fd until end-of-file.
inline Bytes read_all(int fd) {
  Bytes out;
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

// A file under $TMPDIR, removed when the object goes.
class TempFile {
public:
  explicit TempFile(ByteView contents = {}) {
    const char *dir = std::getenv("TMPDIR");
    path_ = std::string(dir ? dir : "/tmp") + "/conec-loop-test-XXXXXX";
    int fd = ::mkstemp(path_.data());
    REQUIRE(fd >= 0);
    REQUIRE(write_all(fd, contents));
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::string &path() const { return path_; }
  int open(int flags) const {
    int fd = ::open(path_.c_str(), flags | O_CLOEXEC);
    REQUIRE(fd >= 0);
    return fd;
  }

private:
  std::string path_;
};

// Stops the loop and fails the test if it is still running after `ms`;
// does not itself keep the loop alive.
class Watchdog {
public:
  Watchdog(Loop &loop, uint64_t ms = 20000)
      : timer_(loop, [&loop] {
          FAIL_CHECK("watchdog: the loop was still running");
          loop.stop();
        }) {
    timer_.keep_alive(false);
    timer_.start(ms);
  }

private:
  Timer timer_;
};

} // namespace conec::loop::test
