#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>
#include <uv.h> // only to play the embedder of a borrowed loop

#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>

#include "helpers.hpp"
#include "loop/loop.hpp"

using namespace conec;
using namespace conec::loop;
using conec::loop::test::Watchdog;

TEST_CASE("a Timer fires once", "[loop]") {
  Loop loop;
  {
    int fired = 0;
    Timer timer(loop, [&] { ++fired; });
    timer.start(5);
    CHECK(timer.active());
    uint64_t started = loop.now_ms();
    loop.run();
    CHECK(fired == 1);
    CHECK_FALSE(timer.active());
    CHECK(loop.now_ms() >= started + 5);
  }
  REQUIRE(loop.close());
}

TEST_CASE("a repeating Timer fires until stopped", "[loop]") {
  Loop loop;
  {
    int fired = 0;
    std::unique_ptr<Timer> timer;
    timer = std::make_unique<Timer>(loop, [&] {
      if (++fired == 3) timer->stop();
    });
    timer->start(1, 1);
    loop.run(); // returns once the stopped timer leaves nothing active
    CHECK(fired == 3);
    CHECK_FALSE(timer->active());
  }
  REQUIRE(loop.close());
}

TEST_CASE("a Timer destroyed before it fires never calls back and leaks nothing", "[loop]") {
  Loop loop;
  bool fired = false;
  {
    auto timer = std::make_unique<Timer>(loop, [&] { fired = true; });
    timer->start(5);
    timer.reset();
    Timer later(loop, [] {});
    later.start(20); // let the destroyed timer's deadline pass
    loop.run();
  }
  CHECK_FALSE(fired);
  REQUIRE(loop.close());
}

TEST_CASE("a Timer may destroy itself from its callback", "[loop]") {
  Loop loop;
  int fired = 0;
  {
    std::unique_ptr<Timer> timer;
    timer = std::make_unique<Timer>(loop, [&] {
      ++fired;
      timer.reset();
    });
    timer->start(0, 1);
    loop.run();
    CHECK_FALSE(timer);
  }
  CHECK(fired == 1);
  REQUIRE(loop.close());
}

TEST_CASE("a Timer that does not keep the loop alive lets run() return", "[loop]") {
  Loop loop;
  {
    bool fired = false;
    Timer timer(loop, [&] { fired = true; });
    timer.keep_alive(false);
    timer.start(10000);
    loop.run();
    CHECK_FALSE(fired);
    CHECK(timer.active());
  }
  REQUIRE(loop.close());
}

TEST_CASE("Loop::close names handles that are still open", "[loop]") {
  Loop loop;
  auto timer = std::make_unique<Timer>(loop, [] {});
  auto closed = loop.close();
  REQUIRE_FALSE(closed);
  CHECK(closed.error().category == ErrorCategory::internal);
  CHECK(closed.error().message == "cannot close the event loop: 1 handle still open (1 timer)");
  timer.reset();
  REQUIRE(loop.close());
  REQUIRE(loop.close()); // idempotent
}

TEST_CASE("a Deferred coalesces schedule() calls into one run", "[loop]") {
  Loop loop;
  {
    int runs = 0;
    Deferred deferred(loop, [&] { ++runs; });
    deferred.schedule();
    deferred.schedule();
    deferred.schedule();
    CHECK(deferred.pending());
    CHECK(runs == 0); // never inside schedule()
    loop.run();
    CHECK(runs == 1);
    CHECK_FALSE(deferred.pending());
  }
  REQUIRE(loop.close());
}

TEST_CASE("a Deferred rescheduled from its callback runs once per iteration", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    int runs = 0;
    std::unique_ptr<Deferred> deferred;
    deferred = std::make_unique<Deferred>(loop, [&] {
      ++runs;
      if (runs < 3) {
        deferred->schedule();
        CHECK(deferred->pending());
      }
    });
    deferred->schedule();
    loop.run_once();
    CHECK(runs == 1);
    loop.run_once();
    CHECK(runs == 2);
    loop.run_once();
    CHECK(runs == 3);
    CHECK_FALSE(deferred->pending());
    loop.run();
    CHECK(runs == 3);
  }
  REQUIRE(loop.close());
}

TEST_CASE("a Deferred scheduled from a callback runs at the end of that iteration", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    bool timer_ran = false, deferred_ran = false;
    Deferred deferred(loop, [&] {
      CHECK(timer_ran);
      deferred_ran = true;
    });
    Timer timer(loop, [&] {
      timer_ran = true;
      deferred.schedule();
      CHECK_FALSE(deferred_ran);
    });
    timer.start(0);
    loop.run_once();
    CHECK(timer_ran);
    CHECK(deferred_ran);
  }
  REQUIRE(loop.close());
}

TEST_CASE("a Deferred destroyed while pending never runs", "[loop]") {
  Loop loop;
  bool ran = false;
  {
    auto deferred = std::make_unique<Deferred>(loop, [&] { ran = true; });
    deferred->schedule();
    deferred.reset();
    loop.run();
  }
  CHECK_FALSE(ran);
  REQUIRE(loop.close());
}

TEST_CASE("a Signal delivers raise(SIGUSR1) on the loop", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    int received = 0;
    std::unique_ptr<Signal> signal;
    signal = std::make_unique<Signal>(loop, SIGUSR1, [&](int signum) {
      received = signum;
      signal.reset(); // nothing else keeps the loop running
    });
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(received == 0); // delivered on the loop, not in the handler
    loop.run();
    CHECK(received == SIGUSR1);
  }
  REQUIRE(loop.close());
}

TEST_CASE("FdPoll reports a socketpair end writable, then readable", "[loop]") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::vector<int> seen;
    std::string received;
    std::unique_ptr<FdPoll> poll;
    poll = std::make_unique<FdPoll>(loop, fds[0], [&](int events) {
      seen.push_back(events);
      if (events & FdPoll::writable) {
        CHECK(poll->watch(FdPoll::readable));
        CHECK(::write(fds[1], "x", 1) == 1);
      }
      if (events & FdPoll::readable) {
        char c = 0;
        CHECK(::read(fds[0], &c, 1) == 1);
        received += c;
        CHECK(poll->watch(0));
      }
    });
    REQUIRE(poll->watch(FdPoll::writable));
    CHECK(poll->watching() == FdPoll::writable);
    loop.run();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == FdPoll::writable);
    CHECK(seen[1] == FdPoll::readable);
    CHECK(received == "x");
    CHECK(poll->watching() == 0);
  }
  REQUIRE(loop.close());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("FdPoll reports an fd it cannot poll", "[loop]") {
  test::TempFile file(as_bytes("regular files cannot be polled"));
  int fd = file.open(O_RDONLY);
  Loop loop;
  {
    FdPoll poll(loop, fd, [](int) {});
    auto watched = poll.watch(FdPoll::readable);
    REQUIRE_FALSE(watched);
    CHECK(watched.error().category == ErrorCategory::io);
    CHECK(watched.error().message.find("fd " + std::to_string(fd)) != std::string::npos);
  }
  REQUIRE(loop.close());
  ::close(fd);
}

TEST_CASE("a borrowed loop is run but not closed by Loop", "[loop]") {
  uv_loop_t raw;
  REQUIRE(uv_loop_init(&raw) == 0);
  {
    Loop loop(&raw);
    CHECK(loop.native() == &raw);
    {
      int fired = 0;
      Timer timer(loop, [&] { ++fired; });
      timer.start(1);
      loop.run();
      CHECK(fired == 1);
    }
    REQUIRE(loop.close()); // detaches only
  }
  // The embedder finishes the close callbacks and closes its own loop.
  uv_run(&raw, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&raw) == 0);
}

TEST_CASE("an exception from a callback stops at the C boundary: the loop goes on", "[loop]") {
  Loop loop;
  {
    int later = 0;
    Timer thrower(loop, [] { throw std::runtime_error("boom from a timer"); });
    Deferred deferred(loop, [] { throw 42; }); // not even a std::exception
    Timer after(loop, [&] { ++later; });
    thrower.start(1);
    deferred.schedule();
    after.start(10);
    loop.run();
    CHECK(later == 1); // the loop survived both and ran the next callback
  }
  REQUIRE(loop.close());
}
