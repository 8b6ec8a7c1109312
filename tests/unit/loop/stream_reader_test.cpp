#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <thread>

#include "helpers.hpp"
#include "loop/loop.hpp"

using namespace conec;
using namespace conec::loop;
using namespace conec::loop::test;

namespace {

// Collects everything a StreamReader delivers.
struct Sink {
  Bytes data;
  int chunks = 0;
  int ends = 0;
  std::optional<Error> error;

  std::function<void(ByteView)> on_data() {
    return [this](ByteView chunk) {
      CHECK(ends == 0);
      data.insert(data.end(), chunk.begin(), chunk.end());
      ++chunks;
    };
  }
  std::function<void(std::optional<Error>)> on_end() {
    return [this](std::optional<Error> e) {
      ++ends;
      error = std::move(e);
    };
  }
};

} // namespace

TEST_CASE("StreamReader reads a pipe written by another thread until EOF", "[loop]") {
  const Bytes expected = pattern(700 * 1024 + 13, 1);
  Pipe pipe = make_pipe();
  std::thread writer([&] {
    std::mt19937 rng(7);
    std::uniform_int_distribution<size_t> chunk(1, 50000);
    for (size_t pos = 0; pos < expected.size();) {
      size_t n = std::min(chunk(rng), expected.size() - pos);
      if (!write_all(pipe.write_end, ByteView(expected).subspan(pos, n))) break;
      pos += n;
    }
    ::close(pipe.write_end);
  });
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    StreamReader reader(loop, pipe.read_end, sink.on_data(), sink.on_end());
    REQUIRE(reader.open());
    loop.run();
    writer.join();
    CHECK(sink.ends == 1);
    CHECK_FALSE(sink.error);
    CHECK(sink.data.size() == expected.size());
    CHECK(sink.data == expected);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader reads a forked child's output until EOF", "[loop]") {
  const Bytes expected = pattern(300 * 1024, 2);
  Pipe pipe = make_pipe();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe.read_end);
    _exit(write_all(pipe.write_end, expected) ? 0 : 1);
  }
  ::close(pipe.write_end);
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    StreamReader reader(loop, pipe.read_end, sink.on_data(), sink.on_end());
    REQUIRE(reader.open());
    loop.run();
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(sink.ends == 1);
    CHECK_FALSE(sink.error);
    CHECK(sink.data == expected);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader::pause stops reading a pipe until resume", "[loop]") {
  const Bytes first = pattern(1000, 3), second = pattern(1000, 4);
  Pipe pipe = make_pipe();
  REQUIRE(write_all(pipe.write_end, first));
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    std::unique_ptr<StreamReader> reader;
    reader = std::make_unique<StreamReader>(
        loop, pipe.read_end,
        [&](ByteView chunk) {
          sink.on_data()(chunk);
          reader->pause();
        },
        sink.on_end());
    REQUIRE(reader->open());
    loop.run(); // returns once paused: nothing is active any more
    CHECK(sink.chunks == 1);
    CHECK(reader->paused());

    REQUIRE(write_all(pipe.write_end, second));
    for (int i = 0; i < 5; ++i) loop.run_nowait();
    CHECK(sink.chunks == 1);
    CHECK(sink.data == first);

    ::close(pipe.write_end);
    reader->resume();
    CHECK(sink.chunks == 1); // never inside resume()
    while (sink.ends == 0) {
      loop.run();
      if (sink.ends == 0) reader->resume(); // on_data paused it again
    }
    CHECK_FALSE(sink.error);
    CHECK(sink.data == concat(first, second));
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader reads a regular file, as for stdin redirected from one", "[loop]") {
  const Bytes contents = pattern(1024 * 1024 + 77, 5);
  TempFile file(contents);
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    StreamReader reader(loop, file.open(O_RDONLY), sink.on_data(), sink.on_end());
    REQUIRE(reader.open());
    loop.run();
    CHECK(sink.ends == 1);
    CHECK_FALSE(sink.error);
    CHECK(sink.data == contents);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader starts at the file offset it is given", "[loop]") {
  TempFile file(as_bytes("skipped|kept"));
  int fd = file.open(O_RDONLY);
  REQUIRE(::lseek(fd, 8, SEEK_SET) == 8);
  Loop loop;
  {
    Sink sink;
    StreamReader reader(loop, fd, sink.on_data(), sink.on_end());
    REQUIRE(reader.open());
    loop.run();
    CHECK(as_chars(sink.data) == "kept");
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader::pause holds file data until resume", "[loop]") {
  const Bytes contents = pattern(300 * 1024, 6);
  TempFile file(contents);
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    std::unique_ptr<StreamReader> reader;
    reader = std::make_unique<StreamReader>(
        loop, file.open(O_RDONLY),
        [&](ByteView chunk) {
          sink.on_data()(chunk);
          if (sink.chunks == 1) reader->pause();
        },
        sink.on_end());
    Timer check(loop, [&] {
      CHECK(sink.chunks == 1);
      CHECK(sink.ends == 0);
      reader->resume();
    });
    // Paused before open(): nothing is read until resume().
    reader->pause();
    REQUIRE(reader->open());
    for (int i = 0; i < 5; ++i) loop.run_nowait();
    CHECK(sink.chunks == 0);
    reader->resume();
    check.start(50);
    loop.run();
    CHECK(sink.ends == 1);
    CHECK_FALSE(sink.error);
    CHECK(sink.data == contents);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader may be destroyed from on_data or mid-read", "[loop]") {
  Loop loop;
  SECTION("from on_data on a pipe") {
    Pipe pipe = make_pipe();
    REQUIRE(write_all(pipe.write_end, pattern(5000, 7)));
    int calls = 0;
    std::unique_ptr<StreamReader> reader;
    reader = std::make_unique<StreamReader>(
        loop, pipe.read_end,
        [&](ByteView) {
          ++calls;
          reader.reset();
        },
        [&](std::optional<Error>) { ++calls; });
    REQUIRE(reader->open());
    loop.run();
    CHECK(calls == 1);
    ::close(pipe.write_end);
  }
  SECTION("with a file read in flight") {
    TempFile file(pattern(100000, 8));
    int calls = 0;
    auto reader = std::make_unique<StreamReader>(
        loop, file.open(O_RDONLY), [&](ByteView) { ++calls; }, [&](std::optional<Error>) { ++calls; });
    REQUIRE(reader->open());
    reader.reset();
    loop.run();
    CHECK(calls == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader::open rejects descriptors it cannot read", "[loop]") {
  Loop loop;
  {
    Pipe pipe = make_pipe();
    StreamReader wrong_end(
        loop, pipe.write_end, [](ByteView) {}, [](std::optional<Error>) {});
    auto opened = wrong_end.open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().category == ErrorCategory::io);
    CHECK(opened.error().message == "fd " + std::to_string(pipe.write_end) + " is not open for reading");

    int closed_fd = pipe.read_end;
    ::close(pipe.read_end);
    ::close(pipe.write_end);
    StreamReader not_open(
        loop, closed_fd, [](ByteView) {}, [](std::optional<Error>) {});
    auto failed = not_open.open();
    REQUIRE_FALSE(failed);
    CHECK(failed.error().category == ErrorCategory::io);

    int dir = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dir >= 0);
    StreamReader directory(
        loop, dir, [](ByteView) {}, [](std::optional<Error>) {});
    auto rejected = directory.open();
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error().message.find("is not a pipe, terminal") != std::string::npos);
    ::close(dir);
  }
  REQUIRE(loop.close());
}

TEST_CASE("StreamReader on /dev/null ends at once", "[loop]") {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  Loop loop;
  {
    Watchdog watchdog(loop);
    Sink sink;
    StreamReader reader(loop, fd, sink.on_data(), sink.on_end());
    REQUIRE(reader.open());
    loop.run();
    CHECK(sink.ends == 1);
    CHECK_FALSE(sink.error);
    CHECK(sink.chunks == 0);
  }
  REQUIRE(loop.close());
}
