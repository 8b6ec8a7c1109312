#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "loop/loop.hpp"

using namespace conec;
using namespace conec::loop;
using namespace conec::loop::test;

TEST_CASE("StreamWriter writes 1 MiB into a pipe and shutdown() gives EOF", "[loop]") {
  const size_t chunk = 64 * 1024, chunks = 16;
  const Bytes expected = pattern(chunk * chunks, 11);
  Pipe pipe = make_pipe();
  Bytes received;
  std::thread reader([&] {
    received = read_all(pipe.read_end); // returns at EOF only
    ::close(pipe.read_end);
  });
  Loop loop;
  {
    Watchdog watchdog(loop);
    StreamWriter writer(loop, pipe.write_end);
    REQUIRE(writer.open());
    std::vector<std::optional<Error>> results;
    for (size_t i = 0; i < chunks; ++i) {
      Bytes part(expected.begin() + static_cast<ptrdiff_t>(i * chunk),
                 expected.begin() + static_cast<ptrdiff_t>((i + 1) * chunk));
      writer.write(std::move(part), [&](std::optional<Error> e) { results.push_back(std::move(e)); });
    }
    CHECK(writer.queued() == expected.size()); // completions only come from the loop
    CHECK(results.empty());
    bool shut = false;
    writer.shutdown([&] {
      CHECK(results.size() == chunks); // after every queued write
      shut = true;
    });
    loop.run();
    CHECK(shut);
    CHECK(writer.queued() == 0);
    REQUIRE(results.size() == chunks);
    for (const auto &r : results) CHECK_FALSE(r);
  }
  reader.join();
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
  REQUIRE(loop.close());
}

TEST_CASE("StreamWriter::shutdown half-closes a socket", "[loop]") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  Loop loop;
  {
    Watchdog watchdog(loop);
    StreamWriter writer(loop, fds[0]);
    REQUIRE(writer.open());
    Bytes received;
    bool eof = false;
    StreamReader reader(
        loop, fds[1], [&](ByteView b) { received.insert(received.end(), b.begin(), b.end()); },
        [&](std::optional<Error> e) {
          CHECK_FALSE(e);
          eof = true;
          // Only our direction is closed: the other one still works.
          CHECK(::write(fds[1], "x", 1) == 1);
        });
    REQUIRE(reader.open());
    std::vector<int> order;
    writer.write(to_bytes("hel"), [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      order.push_back(1);
    });
    writer.write({}, [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      order.push_back(2);
    });
    writer.write(to_bytes("lo"), [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      order.push_back(3);
    });
    writer.shutdown();
    loop.run();
    CHECK(eof);
    CHECK(as_chars(received) == "hello");
    CHECK(order == std::vector<int>{1, 2, 3});
    char c = 0;
    CHECK(::read(fds[0], &c, 1) == 1);
    CHECK(c == 'x');
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamWriter writes a regular file, as for stdout redirected to one", "[loop]") {
  TempFile file;
  const Bytes a = pattern(200000, 12), b = pattern(3, 13);
  Loop loop;
  {
    Watchdog watchdog(loop);
    StreamWriter writer(loop, file.open(O_WRONLY | O_APPEND));
    REQUIRE(writer.open());
    int done = 0;
    writer.write(a, [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      ++done;
    });
    writer.write(b, [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      CHECK(done == 1); // in order
      ++done;
    });
    writer.write({}, [&](std::optional<Error> e) {
      CHECK_FALSE(e);
      ++done;
    });
    CHECK(writer.queued() == a.size() + b.size());
    bool shut = false;
    writer.shutdown([&] { shut = true; });
    loop.run();
    CHECK(done == 3);
    CHECK(shut);
    CHECK(writer.queued() == 0);
  }
  int fd = file.open(O_RDONLY);
  Bytes contents = read_all(fd);
  ::close(fd);
  CHECK(contents == concat(a, b));
  REQUIRE(loop.close());
}

TEST_CASE("StreamWriter reports misuse through the loop, not inside the call", "[loop]") {
  Pipe pipe = make_pipe();
  Loop loop;
  {
    StreamWriter writer(loop, pipe.write_end);
    std::vector<std::string> errors;
    auto record = [&](std::optional<Error> e) { errors.push_back(e ? e->message : "ok"); };
    writer.write(to_bytes("early"), record);
    REQUIRE(writer.open());
    writer.write(to_bytes("fine"), record);
    writer.shutdown();
    writer.write(to_bytes("late"), record);
    CHECK(errors.empty());
    loop.run();
    REQUIRE(errors.size() == 3);
    // "fine" completes from libuv; the two errors were posted in call order.
    CHECK(std::count(errors.begin(), errors.end(), "ok") == 1);
    CHECK(std::count(errors.begin(), errors.end(), "write before the writer was opened") == 1);
    CHECK(std::count(errors.begin(), errors.end(), "write after shutdown") == 1);
  }
  CHECK(as_chars(read_all(pipe.read_end)) == "fine"); // EOF: shutdown closed the pipe
  ::close(pipe.read_end);
  REQUIRE(loop.close());
}

TEST_CASE("StreamWriter::open rejects descriptors it cannot write", "[loop]") {
  Pipe pipe = make_pipe();
  Loop loop;
  {
    StreamWriter wrong_end(loop, pipe.read_end);
    auto opened = wrong_end.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().category == ErrorCategory::io);
    CHECK(opened.error().message == "fd " + std::to_string(pipe.read_end) + " is not open for writing");
  }
  REQUIRE(loop.close());
  ::close(pipe.read_end);
  ::close(pipe.write_end);
}

TEST_CASE("a StreamWriter destroyed with writes pending reports nothing", "[loop]") {
  Pipe pipe = make_pipe();
  Loop loop;
  int calls = 0;
  {
    auto writer = std::make_unique<StreamWriter>(loop, pipe.write_end);
    REQUIRE(writer->open());
    // Nobody reads: the pipe fills (64 KiB) and the rest stays queued.
    writer->write(pattern(1 << 20, 14), [&](std::optional<Error>) { ++calls; });
    writer->shutdown([&] { ++calls; });
    loop.run_nowait();
    CHECK(writer->queued() > 0);
    writer.reset();
    loop.run();
  }
  CHECK(calls == 0);
  REQUIRE(loop.close());
  ::close(pipe.read_end); // the writer closed the write end
}

TEST_CASE("StreamWriter reports EPIPE when the reader is gone", "[loop]") {
  std::signal(SIGPIPE, SIG_IGN); // as the conec binary does
  Pipe pipe = make_pipe();
  ::close(pipe.read_end);
  Loop loop;
  {
    StreamWriter writer(loop, pipe.write_end);
    REQUIRE(writer.open());
    std::optional<Error> error;
    writer.write(to_bytes("nobody listens"), [&](std::optional<Error> e) { error = std::move(e); });
    loop.run();
    REQUIRE(error);
    CHECK(error->category == ErrorCategory::io);
    CHECK(error->message.find("broken pipe") != std::string::npos);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamWriter::shutdown on stdout gives its pipe EOF and keeps fd 1 taken", "[loop]") {
  // In a child, so the test's own stdout is untouched.
  Pipe data = make_pipe(), release = make_pipe();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(data.write_end, STDOUT_FILENO);
    ::close(data.write_end);
    ::close(data.read_end);
    ::close(release.write_end);
    bool ok = false;
    {
      Loop loop;
      {
        StreamWriter writer(loop, STDOUT_FILENO);
        if (writer.open()) {
          writer.write(to_bytes("to stdout"));
          writer.shutdown([&] { ok = true; });
          loop.run();
        }
      }
      ok = ok && loop.close().has_value();
    }
    struct stat st {};
    ok = ok && ::fstat(STDOUT_FILENO, &st) == 0 && S_ISCHR(st.st_mode); // /dev/null
    char c;
    (void)::read(release.read_end, &c, 1); // stay alive until the parent saw EOF
    _exit(ok ? 0 : 1);
  }
  ::close(data.write_end);
  ::close(release.read_end);
  // EOF arrives while the child still runs: read_all returns.
  pollfd pfd{data.read_end, POLLIN, 0};
  Bytes received;
  bool eof = false;
  while (!eof && ::poll(&pfd, 1, 10000) == 1) {
    uint8_t buf[256];
    ssize_t n = ::read(data.read_end, buf, sizeof buf);
    if (n <= 0)
      eof = true;
    else
      received.insert(received.end(), buf, buf + n);
  }
  CHECK(eof);
  CHECK(as_chars(received) == "to stdout");
  ::close(release.write_end);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(data.read_end);
}
