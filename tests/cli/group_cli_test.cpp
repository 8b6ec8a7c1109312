// `send @g`, `recv @g` and `open @g` as users run them: real processes,
// a real coordinator; outputs compared line by line and by SHA-256; a
// SIGSTOPped member must not hold the others back.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "support/cli_fixture.hpp"
#include "support/stdin_pipe.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;

namespace {

std::string quote(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `conec WORDS... > out` through sh, exec'ed so the pid is conec's own.
std::vector<std::string> to_file(const CliCoordinator &coord, std::vector<std::string> words, const std::string &out) {
  std::string cmd = "exec";
  for (const auto &w : test::conec_argv(coord, std::move(words))) cmd += " " + quote(w);
  return {"/bin/sh", "-c", cmd + " > " + quote(out)};
}

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t count_lines(const std::string &s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

} // namespace

TEST_CASE("send @g reaches three recv @g members: 10000 lines each, identical, tagged, and recv exits 0 when the sender left", "[cli][group]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir, {"-v"});
  REQUIRE(coord.ready);
  std::vector<std::unique_ptr<Process>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<Process>(to_file(
        coord, {"recv", "-i", "r" + std::to_string(i), "@news", "--lines", "--tag", "-v"}, dir + "/out" + std::to_string(i))));
    REQUIRE(members.back()->wait_for_stderr("joined @news"));
  }
  std::string input;
  for (int i = 0; i < 10000; ++i) input += "line " + std::to_string(i) + "\n";
  std::string in = dir + "/in";
  std::ofstream(in) << input;
  Process sender(test::conec_argv(coord, {"send", "-i", "editor", "@news", in, "--lines"}));
  CHECK(sender.wait(60) == 0);
  CHECK(sender.out.empty());
  std::string expected;
  for (int i = 0; i < 10000; ++i) expected += "editor: line " + std::to_string(i) + "\n";
  for (int i = 0; i < 3; ++i) {
    INFO("member r" << i << ": " << members[i]->err);
    CHECK(members[i]->wait(30) == 0);
    CHECK(read_file(dir + "/out" + std::to_string(i)) == expected);
  }
  REQUIRE(coord.process.wait_for_stderr("@news has no members: closed"));
  CHECK(coord.process.err.find("'editor' joined @news (4 members)") != std::string::npos);
}

TEST_CASE("a SIGSTOPped recv @g holds nobody back: it is told how many it lost once resumed, or removed after the deadline", "[cli][group]") {
  std::string dir = test::make_temp_dir();
  // The deadline leaves time to resume one member after the transfer; the
  // idle timeout is longer, so the frozen one is removed from the group
  // before its connection would be given up.
  CliCoordinator coord(dir, {"--group-queue-messages", "2000", "--group-deadline", "8", "--idle-timeout", "90", "-v"});
  REQUIRE(coord.ready);
  auto member = [&](const std::string &id) {
    auto p = std::make_unique<Process>(to_file(coord, {"recv", "-i", id, "@feed", "-k", "--lines", "-v"}, dir + "/" + id));
    REQUIRE(p->wait_for_stderr("joined @feed"));
    return p;
  };
  auto reader = member("reader"), paused = member("paused"), frozen = member("frozen");
  paused->signal(SIGSTOP);
  frozen->signal(SIGSTOP);
  // 20000 lines of 1 KiB at about 10 MB/s: far more than a stopped member's
  // windows and queue hold, at a pace a reading member keeps up with (an
  // unpaced burst overruns any bounded queue: drop-oldest drops it).
  std::string pad(1000, 'p'), all;
  test::StdinPipe feed;
  Process sender(test::conec_argv(coord, {"send", "-i", "feeder", "@feed", "--lines"}), feed.read_end);
  feed.close_read();
  for (int i = 0; i < 20000;) {
    std::string chunk;
    for (int j = 0; j < 100; ++j, ++i) chunk += std::to_string(i) + " " + pad + "\n";
    all += chunk;
    REQUIRE(feed.send(chunk));
    usleep(10'000);
  }
  feed.close_write();
  CHECK(sender.wait(30) == 0);
  std::string in = dir + "/in";
  std::ofstream(in) << all;
  // The reading member got everything, in order, while two were stopped.
  auto reader_done = [&] { return count_lines(read_file(dir + "/reader")) == 20000; };
  for (int i = 0; i < 300 && !reader_done(); ++i) usleep(10'000);
  CHECK(reader_done());
  CHECK(read_file(dir + "/reader") == read_file(in));
  // Resumed before the deadline: the newest lines and a warning with the count.
  paused->signal(SIGCONT);
  REQUIRE(paused->wait_for_stderr("conec: warning: lost ", 10));
  std::smatch m;
  REQUIRE(std::regex_search(paused->err, m, std::regex("lost ([0-9]+) messages from @feed")));
  size_t lost = std::stoul(m[1]);
  CHECK(lost > 0);
  auto paused_done = [&] { return count_lines(read_file(dir + "/paused")) + lost == 20000; };
  for (int i = 0; i < 500 && !paused_done(); ++i) usleep(10'000);
  CHECK(paused_done());
  std::string tail = read_file(dir + "/paused");
  CHECK(tail.ends_with("19999 " + pad + "\n"));
  // Left stopped past the deadline: removed, and it says so once resumed
  // (at once: a process stopped longer than its own idle timeout, 15 s,
  // would time the connection out itself first).
  REQUIRE(coord.process.wait_for_stderr("'frozen' removed from @feed", 30));
  frozen->signal(SIGCONT);
  CHECK(frozen->wait(15) == 6);
  INFO(frozen->err);
  CHECK(frozen->err.find("conec: error: removed from @feed: it took nothing for 8 s while messages waited") !=
        std::string::npos);
  paused->signal(SIGINT); // -k: leaves and exits 0
  CHECK(paused->wait(10) == 0);
  reader->signal(SIGTERM);
  CHECK(reader->wait(10) == 0);
}

TEST_CASE("open @g sends stdin to the group and prints the others' lines, without its own with --no-echo", "[cli][group]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  REQUIRE(coord.ready);
  Process watcher(test::conec_argv(coord, {"recv", "-i", "watcher", "@room", "-k", "--lines", "--tag", "-v"}));
  REQUIRE(watcher.wait_for_stderr("joined @room"));
  test::StdinPipe ann_in;
  Process ann(test::conec_argv(coord, {"open", "-i", "ann", "@room", "--lines", "--tag", "--no-echo", "-v"}), ann_in.read_end);
  ann_in.close_read();
  REQUIRE(ann.wait_for_stderr("joined @room"));
  Process bob(test::conec_argv(coord, {"send", "-i", "bob", "@room", "--lines"}), -1);
  // bob's send of nothing joins and leaves; now one line from bob through a file.
  CHECK(bob.wait(20) == 0);
  std::string in = dir + "/bob";
  std::ofstream(in) << "hi ann\n";
  Process bob2(test::conec_argv(coord, {"send", "-i", "bob", "@room", in, "--lines"}));
  CHECK(bob2.wait(20) == 0);
  REQUIRE(ann.wait_for_stdout("bob: hi ann\n", 10));
  REQUIRE(ann_in.send("hello all\n"));
  REQUIRE(watcher.wait_for_stdout("ann: hello all\n", 10));
  ann_in.close_write(); // leaves
  CHECK(ann.wait(20) == 0);
  CHECK(ann.out == "bob: hi ann\n"); // not its own line
  watcher.signal(SIGINT);
  CHECK(watcher.wait(10) == 0);
  CHECK(watcher.out == "bob: hi ann\nann: hello all\n");
}

TEST_CASE("group errors: a bad name is exit 2, a group limit is exit 4 with its reason", "[cli][group]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir, {"--max-groups", "1"});
  REQUIRE(coord.ready);
  Process bad(test::conec_argv(coord, {"send", "@no/slash", "--lines"}));
  CHECK(test::run(bad) == 2);
  CHECK(bad.err.find("conec: error: '@no/slash' is not a valid group") != std::string::npos);
  Process first(test::conec_argv(coord, {"recv", "-i", "first", "@one", "-k", "-v"}));
  REQUIRE(first.wait_for_stderr("joined @one"));
  Process second(test::conec_argv(coord, {"send", "@two", "--lines"}));
  CHECK(test::run(second) == 4);
  CHECK(second.err.find("conec: error: cannot join @two: the coordinator hosts 1 groups (its limit)") != std::string::npos);
  Process wrong(test::conec_argv(coord, {"recv", "-i", "x", "nogroup"}));
  CHECK(test::run(wrong) == 2);
  CHECK(wrong.err.find("is not a group") != std::string::npos);
  first.signal(SIGINT);
  CHECK(first.wait(10) == 0);
}
