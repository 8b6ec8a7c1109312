#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <memory>
#include <optional>

#include "helpers.hpp"
#include "loop/loop.hpp"
#include "loop/process.hpp"

using namespace conec;
using namespace conec::loop;
using namespace conec::loop::test;

namespace {

ProcessOptions shell(const std::string &command) {
  ProcessOptions o;
  o.argv = {"/bin/sh", "-c", command};
  return o;
}

// Runs the loop until `done` or the watchdog fires.
template <class Pred> void run_until(Loop &loop, Pred done) {
  while (!done() && loop.run_once()) {
  }
}

// A child's stdout collected to its end.
struct Output {
  Bytes data;
  bool ended = false;
  std::optional<Error> error;
  std::unique_ptr<StreamReader> reader;

  void start(Loop &loop, int fd) {
    REQUIRE(fd >= 0);
    reader = std::make_unique<StreamReader>(
        loop, fd, [this](ByteView d) { data.insert(data.end(), d.begin(), d.end()); },
        [this](std::optional<Error> e) {
          ended = true;
          error = std::move(e);
        });
    REQUIRE(reader->open());
  }
  std::string text() const { return std::string(data.begin(), data.end()); }
};

} // namespace

TEST_CASE("Process: tr a-z A-Z round trip of 1 MiB is byte-exact", "[loop]") {
  Bytes input = pattern(1 << 20, 11);
  Bytes expected = input;
  for (auto &b : expected)
    if (b >= 'a' && b <= 'z') b = static_cast<uint8_t>(b - 'a' + 'A');
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    REQUIRE(child.spawn(shell("LC_ALL=C tr a-z A-Z")));
    CHECK(child.running());
    CHECK(child.pid() > 0);
    StreamWriter in(loop, child.take_stdin());
    REQUIRE(in.open());
    CHECK(child.take_stdin() == -1); // taken once
    Output out;
    out.start(loop, child.take_stdout());
    // Several writes, then end-of-file for the child.
    std::optional<Error> write_error;
    for (size_t off = 0; off < input.size(); off += 100000) {
      size_t n = std::min<size_t>(100000, input.size() - off);
      in.write(Bytes(input.begin() + static_cast<ptrdiff_t>(off), input.begin() + static_cast<ptrdiff_t>(off + n)),
               [&](std::optional<Error> e) {
                 if (e) write_error = e;
               });
    }
    bool shut = false;
    in.shutdown([&] { shut = true; });
    run_until(loop, [&] { return out.ended && exit && shut; });
    CHECK_FALSE(write_error);
    CHECK(shut);
    REQUIRE(out.ended);
    CHECK_FALSE(out.error);
    CHECK(out.data.size() == expected.size());
    CHECK(out.data == expected);
    REQUIRE(exit);
    CHECK(exit->success());
    CHECK_FALSE(child.running());
    REQUIRE(child.exit_status());
    CHECK(child.exit_status()->status == 0);
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: exit status and its description", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    ProcessOptions o = shell("exit 3");
    o.in = o.out = ProcessOptions::Stdio::null;
    REQUIRE(child.spawn(o));
    CHECK(child.take_stdin() == -1); // not pipes
    CHECK(child.take_stdout() == -1);
    run_until(loop, [&] { return exit.has_value(); });
    REQUIRE(exit);
    CHECK(exit->status == 3);
    CHECK(exit->signal == 0);
    CHECK_FALSE(exit->success());
    CHECK(exit->describe() == "exit status 3");
    CHECK_FALSE(child.kill(SIGTERM)); // no longer running
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: kill delivers a signal and the exit reports it", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    REQUIRE(child.spawn(shell("exec sleep 30")));
    Output out;
    out.start(loop, child.take_stdout());
    REQUIRE(child.kill(SIGTERM));
    run_until(loop, [&] { return exit && out.ended; });
    REQUIRE(exit);
    CHECK(exit->signal == SIGTERM);
    CHECK(exit->describe().find("killed by signal 15") == 0);
    CHECK(out.ended); // its stdout closed with it
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: environment additions are visible and override ours", "[loop]") {
  ::setenv("CONEC_PROCESS_TEST_OLD", "old", 1);
  ::setenv("CONEC_PROCESS_TEST_KEEP", "kept", 1);
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    ProcessOptions o = shell("printf '%s|%s|%s' \"$CONEC_PEER\" \"$CONEC_PROCESS_TEST_OLD\" \"$CONEC_PROCESS_TEST_KEEP\"");
    o.env = {{"CONEC_PEER", "alice smith"}, {"CONEC_PROCESS_TEST_OLD", "new"}};
    o.in = ProcessOptions::Stdio::null;
    REQUIRE(child.spawn(o));
    Output out;
    out.start(loop, child.take_stdout());
    run_until(loop, [&] { return exit && out.ended; });
    CHECK(out.text() == "alice smith|new|kept");
    REQUIRE(exit);
    CHECK(exit->success());
  }
  ::unsetenv("CONEC_PROCESS_TEST_OLD");
  ::unsetenv("CONEC_PROCESS_TEST_KEEP");
  REQUIRE(loop.close());
}

TEST_CASE("Process: the child gets default signal dispositions even if we ignore SIGPIPE", "[loop]") {
  auto previous = std::signal(SIGPIPE, SIG_IGN); // as conec client --exec does
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    ProcessOptions o = shell("kill -PIPE $$; exit 0");
    o.in = o.out = ProcessOptions::Stdio::null;
    REQUIRE(child.spawn(o));
    run_until(loop, [&] { return exit.has_value(); });
    REQUIRE(exit);
    CHECK(exit->signal == SIGPIPE);
  }
  std::signal(SIGPIPE, previous);
  REQUIRE(loop.close());
}

TEST_CASE("Process: destroying it while the child runs kills and reaps the child", "[loop]") {
  Loop loop;
  pid_t pid = 0;
  {
    bool called = false;
    auto child = std::make_unique<Process>(loop, [&](const ProcessExit &) { called = true; });
    REQUIRE(child->spawn(shell("exec sleep 30")));
    pid = child->pid();
    REQUIRE(::kill(pid, 0) == 0);
    // Pipe ends not taken are closed with it; one taken end stays ours.
    StreamWriter in(loop, child->take_stdin());
    REQUIRE(in.open());
    child.reset();
    CHECK(::kill(pid, 0) == -1); // gone and reaped: no zombie left
    CHECK(errno == ESRCH);
    loop.run_nowait();
    CHECK_FALSE(called);
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: destroying it from its own exit callback", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::unique_ptr<Process> child;
    int exits = 0;
    child = std::make_unique<Process>(loop, [&](const ProcessExit &) {
      ++exits;
      child.reset();
    });
    ProcessOptions o = shell("exit 0");
    o.in = o.out = ProcessOptions::Stdio::null;
    REQUIRE(child->spawn(o));
    run_until(loop, [&] { return child == nullptr; });
    CHECK(exits == 1);
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: a program that cannot be run is an error, not a child", "[loop]") {
  Loop loop;
  {
    Process child(loop);
    ProcessOptions o;
    o.argv = {"/nonexistent/conec-no-such-program"};
    auto r = child.spawn(o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("cannot run '/nonexistent/conec-no-such-program'") == 0);
    CHECK_FALSE(child.running());
    CHECK(child.take_stdin() == -1);
    CHECK_FALSE(child.spawn(shell("true"))); // one spawn per Process
    ProcessOptions empty;
    Process other(loop);
    CHECK(other.spawn(empty).error().category == ErrorCategory::usage);
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: concurrent children do not hold each other's pipes open", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    // The first child runs `cat`; the second finishes at once. If the second
    // had inherited the first one's stdin pipe, closing ours would not end cat.
    std::optional<ProcessExit> exit1, exit2;
    Process cat(loop, [&](const ProcessExit &e) { exit1 = e; });
    REQUIRE(cat.spawn(shell("cat")));
    Process sleeper(loop, [&](const ProcessExit &e) { exit2 = e; });
    ProcessOptions o = shell("exec sleep 30");
    o.in = ProcessOptions::Stdio::null;
    REQUIRE(sleeper.spawn(o));
    StreamWriter in(loop, cat.take_stdin());
    REQUIRE(in.open());
    Output out;
    out.start(loop, cat.take_stdout());
    in.write(to_bytes("hello\n"));
    in.shutdown();
    run_until(loop, [&] { return exit1 && out.ended; });
    CHECK(out.text() == "hello\n");
    REQUIRE(exit1);
    CHECK(exit1->success());
    CHECK(sleeper.running());
    REQUIRE(sleeper.kill(SIGKILL));
    run_until(loop, [&] { return exit2.has_value(); });
    REQUIRE(exit2);
    CHECK(exit2->signal == SIGKILL);
  }
  REQUIRE(loop.close());
}

TEST_CASE("Process: with own_group, kill reaches the whole pipeline", "[loop]") {
  Loop loop;
  {
    Watchdog watchdog(loop);
    std::optional<ProcessExit> exit;
    Process child(loop, [&](const ProcessExit &e) { exit = e; });
    ProcessOptions o = shell("sleep 30 & echo $!; wait");
    o.in = ProcessOptions::Stdio::null;
    o.own_group = true;
    REQUIRE(child.spawn(o));
    Output out;
    out.start(loop, child.take_stdout());
    run_until(loop, [&] { return out.text().find('\n') != std::string::npos || out.ended; });
    int grandchild = std::stoi(out.text());
    REQUIRE(grandchild > 0);
    REQUIRE(child.kill(SIGTERM));
    // The background sleep holds stdout too: its end means sleep is gone.
    run_until(loop, [&] { return exit && out.ended; });
    REQUIRE(exit);
    CHECK(exit->signal == SIGTERM);
    CHECK(out.ended);
    // Closing its descriptors comes before the exit completes, so the state is
    // polled: the sleep must become a zombie (left to init) or vanish.
    auto state_of = [&] {
      std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
      std::string pid_field, name, state;
      if (stat)
        stat >> pid_field >> name >> state;
      return state;
    };
    std::string state = state_of();
    for (int i = 0; i < 500 && !(state.empty() || state == "Z"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      state = state_of();
    }
    CHECK((state.empty() || state == "Z"));
  }
  REQUIRE(loop.close());
}

TEST_CASE("libuv's worker threads start with the exit signals blocked", "[loop]") {
  conec::loop::start_workers_without({SIGHUP, SIGINT, SIGTERM});
  // /proc/self/task/TID/status: SigBlk is the blocked mask in hex (bit n-1 for signal n).
  std::vector<std::string> masks;
  for (const auto &task : std::filesystem::directory_iterator("/proc/self/task")) {
    if (task.path().filename() == std::to_string(getpid())) continue; // the main thread
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("SigBlk:", 0) == 0) masks.push_back(line.substr(7));
  }
  REQUIRE(masks.size() >= 1); // the threadpool exists now
  for (const std::string &m : masks) {
    unsigned long long bits = std::stoull(m, nullptr, 16);
    INFO("SigBlk " << m);
    CHECK((bits >> (SIGHUP - 1) & 1) == 1);
    CHECK((bits >> (SIGINT - 1) & 1) == 1);
    CHECK((bits >> (SIGTERM - 1) & 1) == 1);
  }
  // ...and the calling thread got its own mask back.
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  CHECK(sigismember(&now, SIGINT) == 0);
}
