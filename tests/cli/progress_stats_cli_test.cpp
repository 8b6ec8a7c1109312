// The progress line and --stats of send and recv as users see them (issue
// 9): when the line is drawn (terminal or not, -q, --progress,
// --no-progress, which subcommands), what its final line says (total,
// percent, rate in MiB/s), the size `send FILE` announces and how `recv`
// copes with a missing, wrong or malformed one, and the --stats lines.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <regex>

#include "progress.hpp"
#include "size_announce.hpp"
#include "support/cli_fixture.hpp"
#include "support/coord_fixture.hpp"
#include "support/quic_pair.hpp"
#include "support/stdin_pipe.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;

namespace {

struct Dir {
  Dir() : path(test::make_temp_dir()) {}
  ~Dir() { test::remove_tree(path); }
  std::string path;
};

// A receiver registered (it logs so with -v) before anyone sends.
struct Receiver {
  Receiver(const CliCoordinator &coord, std::vector<std::string> words) : process([&] {
      words.push_back("-v");
      return test::conec_argv(coord, words);
    }()) {
    ready = process.wait_for_stderr("registered as");
  }
  Process process;
  bool ready = false;
};

// The progress lines in `err`: pieces between '\r' and '\n' that hold a
// rate (log and error lines do not).
std::vector<std::string> progress_lines(const std::string &err) {
  std::vector<std::string> lines;
  std::string piece;
  auto flush = [&] {
    size_t end = piece.find_last_not_of(' ');
    piece = end == std::string::npos ? "" : piece.substr(0, end + 1);
    if (piece.find(" MiB/s") != std::string::npos && piece.rfind("conec: ", 0) != 0) lines.push_back(piece);
    piece.clear();
  };
  for (char c : err) {
    if (c == '\r' || c == '\n') flush();
    else piece += c;
  }
  flush();
  return lines;
}

std::string last_progress_line(const std::string &err) {
  auto lines = progress_lines(err);
  return lines.empty() ? "" : lines.back();
}

// "sh -c" quoting for the paths tests make (no single quotes in them).
std::string quoted(const std::vector<std::string> &argv) {
  std::string s;
  for (const auto &a : argv) s += (s.empty() ? "'" : " '") + a + "'";
  return s;
}

// Runs `argv` with stdout and stderr on a terminal (script(1) makes a
// pseudo-terminal and copies what the command writes to it to our pipe),
// stdin from `input`.
std::vector<std::string> on_a_terminal(const std::vector<std::string> &argv, const std::string &input = "/dev/null") {
  return {"/usr/bin/script", "-qec", quoted(argv) + " < '" + input + "'", "/dev/null"};
}

// Whether the child has exited, without reaping it (Process::wait does).
bool exited(const Process &p) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(p.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == p.pid;
}

// On loopback a channel goes direct at once: the path at the stream's end.
const std::string kStatsRest =
    R"(in [0-9]+\.[0-9]{3} s \([0-9]+\.[0-9] MiB/s\), path direct 127\.0\.0\.1:[0-9]+, peer key sha256:[0-9a-f]{64})";

} // namespace

TEST_CASE("progress_line: total, percent stopped at 100, ETA only while bytes are missing, MiB/s", "[cli][progress]") {
  using cli::ProgressFigures;
  CHECK(cli::progress_line({10 << 20, 40 << 20, 5.0 * (1 << 20), false, 0}) ==
        "10.0 MiB / 40.0 MiB (25%)  5.0 MiB/s  ETA 0:06");
  // More bytes than announced: 100%, no ETA.
  CHECK(cli::progress_line({3 << 20, 1 << 20, 1 << 20, false, 0}) == "3.0 MiB / 1.0 MiB (100%)  1.0 MiB/s");
  // One byte short of the announced size is not 100%.
  CHECK(cli::progress_line({999, 1000, 0, false, 0}).find("(99%)") != std::string::npos);
  // A stall: no rate, an unknown ETA.
  CHECK(cli::progress_line({1 << 20, 2 << 20, 0, false, 0}) == "1.0 MiB / 2.0 MiB (50%)  0.0 MiB/s  ETA -:--");
  // An absurd announced size: a bounded ETA text, no overflow.
  CHECK(cli::progress_line({1, UINT64_MAX, 1, false, 0}).find("ETA >99h") != std::string::npos);
  // Unknown size: bytes and rate only.
  CHECK(cli::progress_line({512, std::nullopt, 0, false, 0}) == "512 B  0.0 MiB/s");
  // An empty file: 0 of 0 is complete.
  CHECK(cli::progress_line({0, 0, 0, true, 0}) == "0 B / 0 B (100%)  0.0 MiB/s  in 0.0 s");
  CHECK(cli::human_rate(uint64_t{3} << 20, kSecond * 2) == "1.5 MiB/s");
}

TEST_CASE("size announcements parse only as 1-20 decimal digits within 64 bits", "[cli][progress]") {
  auto parse = [](const std::string &s) { return cli::parse_size_announcement(as_bytes(s)); };
  CHECK(parse(cli::size_announcement(0)) == 0u);
  CHECK(parse(cli::size_announcement(UINT64_MAX)) == UINT64_MAX);
  CHECK(parse("5") == 5u);
  CHECK(parse("18446744073709551616") == std::nullopt); // 2^64
  CHECK(parse("-5") == std::nullopt);
  CHECK(parse("+5") == std::nullopt);
  CHECK(parse("5 ") == std::nullopt);
  CHECK(parse(" 5") == std::nullopt);
  CHECK(parse("") == std::nullopt);
  CHECK(parse("conec-size/1 5") == std::nullopt);
  CHECK(parse(std::string(30, '0')) == std::nullopt); // longer than any real one
  CHECK(parse(std::string("5\0", 2)) == std::nullopt);
}

TEST_CASE("recv --progress ends on a line with the announced total and 100%, send's too", "[cli][progress]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string in = dir.path + "/in", out = dir.path + "/out";
  std::string hash = test::write_random_file(in, 3u << 20, 11);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", out, "--progress"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "bob", in, "--progress"}));
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  CHECK(test::file_sha256(out) == hash);
  INFO("recv stderr:\n" << bob.process.err << "\nsend stderr:\n" << alice.err);
  CHECK(last_progress_line(bob.process.err).rfind("3.0 MiB / 3.0 MiB (100%)  ", 0) == 0);
  CHECK(last_progress_line(alice.err).rfind("3.0 MiB / 3.0 MiB (100%)  ", 0) == 0);
  CHECK(std::regex_search(last_progress_line(bob.process.err), std::regex(R"(  [0-9]+\.[0-9] MiB/s  in [0-9.]+ s$)")));
  // Nothing but data on stdout of send.
  CHECK(alice.out.empty());
}

TEST_CASE("recv's progress clock starts at the first byte, not while it waits for a sender", "[cli][progress]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string in = dir.path + "/in";
  test::write_random_file(in, 1u << 20, 12);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", dir.path + "/out", "--progress", "--stats"});
  REQUIRE(bob.ready);
  // recv waits 4 s for its sender: none of it may count.
  usleep(4'000'000);
  Process alice(test::conec_argv(coord, {"send", "bob", in, "--no-progress"}));
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  INFO(bob.process.err);
  std::smatch m;
  std::string last = last_progress_line(bob.process.err);
  REQUIRE(std::regex_search(last, m, std::regex(R"(in ([0-9.]+) s$)")));
  CHECK(std::stod(m[1]) < 4.0);
  REQUIRE(std::regex_search(bob.process.err, m, std::regex(R"(conec: stats: 1048576 bytes from \S+ in ([0-9.]+) s)")));
  CHECK(std::stod(m[1]) < 4.0);
}

TEST_CASE("a stalled send shows its rate falling to 0.0 MiB/s", "[cli][progress]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", dir.path + "/out"});
  REQUIRE(bob.ready);
  test::StdinPipe in;
  Process alice(test::conec_argv(coord, {"send", "bob", "--progress"}), in.read_end);
  in.close_read();
  REQUIRE(in.send(std::string(1 << 20, 's')));
  // The line first shows the burst, then, with nothing more coming, the
  // recent rate drains to zero (a lifetime average would stay up).
  CHECK(alice.wait_for_stderr("1.0 MiB  ", 15));
  CHECK(alice.wait_for_stderr("1.0 MiB  0.0 MiB/s", 15));
  in.close_write();
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
}

TEST_CASE("the progress line: on by default for send and recv on a terminal only, never by default for open and client",
          "[cli][progress]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string in = dir.path + "/in";
  test::write_random_file(in, 1u << 20, 13);
  // Each case: a fresh receiver (stdout to a file), one send; the command
  // named runs with stderr on a terminal, the other on a pipe.
  auto transfer = [&](std::vector<std::string> send_words, std::vector<std::string> recv_words, bool send_on_tty) {
    std::vector<std::string> r = {"recv", "-i", "bob", "-o", dir.path + "/out"};
    r.insert(r.end(), recv_words.begin(), recv_words.end());
    std::vector<std::string> s = {"send", "bob", in};
    s.insert(s.end(), send_words.begin(), send_words.end());
    auto recv_argv = test::conec_argv(coord, r), send_argv = test::conec_argv(coord, s);
    std::unique_ptr<Process> bob;
    if (send_on_tty) {
      recv_argv.push_back("-v");
      bob = std::make_unique<Process>(recv_argv);
      REQUIRE(bob->wait_for_stderr("registered as"));
      Process alice(on_a_terminal(send_argv));
      CHECK(alice.wait(30) == 0);
      CHECK(bob->wait(30) == 0);
      return std::make_pair(alice.out, bob->err); // script copies the terminal to its stdout
    }
    // recv on the terminal (with -q it does not say when it registered:
    // send until it finds it, exit 5 meaning "not there yet").
    bob = std::make_unique<Process>(on_a_terminal(recv_argv));
    std::string send_err;
    int code = 5;
    for (int i = 0; i < 100 && code == 5; ++i) {
      Process alice(send_argv);
      code = alice.wait(30);
      send_err = alice.err;
      if (code == 5) usleep(100000);
    }
    CHECK(code == 0);
    CHECK(bob->wait(30) == 0);
    return std::make_pair(bob->out, send_err);
  };
  SECTION("send on a terminal: shown; the piped recv: not") {
    auto [tty, piped] = transfer({}, {}, true);
    INFO(tty);
    CHECK(last_progress_line(tty).rfind("1.0 MiB / 1.0 MiB (100%)", 0) == 0);
    CHECK(progress_lines(piped).empty());
  }
  SECTION("recv on a terminal: shown with the announced total; the piped send: not") {
    auto [tty, piped] = transfer({}, {}, false);
    INFO(tty);
    CHECK(last_progress_line(tty).rfind("1.0 MiB / 1.0 MiB (100%)", 0) == 0);
    CHECK(progress_lines(piped).empty());
  }
  SECTION("-q hides it on a terminal, for send and for recv") {
    CHECK(progress_lines(transfer({"-q"}, {}, true).first).empty());
    CHECK(progress_lines(transfer({}, {"-q"}, false).first).empty());
  }
  SECTION("--no-progress hides it on a terminal") {
    CHECK(progress_lines(transfer({"--no-progress"}, {}, true).first).empty());
    CHECK(progress_lines(transfer({}, {"--no-progress"}, false).first).empty());
  }
  SECTION("--progress beats -q") {
    CHECK_FALSE(progress_lines(transfer({"-q", "--progress"}, {}, true).first).empty());
  }
  SECTION("open and client on a terminal: no line unless --progress") {
    std::string small = dir.path + "/small";
    std::ofstream(small) << "hello through open\n";
    for (bool forced : {false, true}) {
      INFO("--progress " << forced);
      std::vector<std::string> c = {"client", "-i", "srv", "-v"};
      if (forced) c.push_back("--progress");
      Process srv(on_a_terminal(test::conec_argv(coord, c)));
      REQUIRE(srv.wait_for_stdout("registered as"));
      std::vector<std::string> o = {"open", "srv"};
      if (forced) o.push_back("--progress");
      // open sends the file; the client's input is empty: both directions
      // end and both exit 0.
      Process opener(on_a_terminal(test::conec_argv(coord, o), small));
      CHECK(opener.wait(30) == 0);
      CHECK(srv.wait(30) == 0);
      INFO(opener.out << "\n---\n" << srv.out);
      CHECK(progress_lines(opener.out).empty() == !forced);
      CHECK(progress_lines(srv.out).empty() == !forced);
    }
  }
}

TEST_CASE("send --stats and recv --stats print bytes, time, rate in MiB/s and the path", "[cli][progress]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string in = dir.path + "/in";
  test::write_random_file(in, 2u << 20, 14);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", dir.path + "/out", "--stats"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "-i", "alice", "bob", in, "--stats"}));
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  INFO(alice.err << "\n---\n" << bob.process.err);
  CHECK(std::regex_search(alice.err, std::regex("conec: stats: 2097152 bytes to bob " + kStatsRest)));
  CHECK(std::regex_search(bob.process.err, std::regex("conec: stats: 2097152 bytes from alice " + kStatsRest)));
  CHECK(progress_lines(alice.err).empty()); // stderr is a pipe
}

namespace {

// A hostile sender in this process: announces `announcements` (each on its
// own unidirectional stream) and then sends `data` as recv's stream.
struct LyingSender : channel::StreamHandler {
  void on_message(channel::Stream &, Bytes m) override { ack = std::string(as_chars(m)); }
  void on_end(channel::Stream &, const std::optional<Error> &) override { ended = true; }
  void start(channel::Channel &ch, const std::vector<std::string> &announcements, const std::string &data) {
    for (const auto &a : announcements) {
      auto side = ch.open_stream(false, {proto::StreamKind::size, {}});
      REQUIRE(side);
      (void)side->send(as_bytes(a));
      (void)side->finish();
    }
    auto s = ch.open_stream(true);
    REQUIRE(s);
    s->set_handler(*this);
    for (size_t off = 0; off < data.size(); off += 65536)
      REQUIRE(s->send(as_bytes(std::string_view(data).substr(off, 65536))));
    REQUIRE(s->finish());
    stream = *s;
  }
  channel::Stream stream;
  std::string ack;
  bool ended = false;
};

} // namespace

TEST_CASE("recv ignores malformed size announcements and shows a lying one only as a percent", "[cli][progress]") {
  // Both outlive the fixture's clients, which point at them.
  std::deque<test::ClientEvents> events;
  std::deque<LyingSender> senders;
  test::CoordFixture fx;
  REQUIRE(fx.coordinator);
  Dir dir;
  std::string out = dir.path + "/out";
  Process bob({CONEC_BINARY, "recv", "-i", "bob", "-k", "-o", out, "--progress", "-v", "--state-dir", dir.path, "-c",
               fx.coordinator->local_address().to_string(), "--pin", *test::server_identity().fingerprint()});
  // Keeps the loop turning while we poll the child's stderr.
  std::optional<loop::Timer> tick;
  tick.emplace(fx.loop, [] {});
  tick->start(5, 5);
  REQUIRE(fx.run_until([&] { return bob.wait_for_stderr("registered as", 0.005); }, 15));

  std::string data(1 << 20, 'd');
  auto transfer = [&](const std::string &id, const std::vector<std::string> &announcements) {
    REQUIRE(fx.join(id, events.emplace_back()));
    auto ch = fx.open(*fx.client(id), "bob");
    REQUIRE(ch);
    LyingSender &sender = senders.emplace_back();
    sender.start(**ch, announcements, data);
    REQUIRE(fx.run_until([&] { return sender.ended; }, 30));
    CHECK(sender.ack == "ok " + std::to_string(data.size()));
  };
  // Malformed ones (reset, ignored) and then a size far too small.
  transfer("mallory", {"18446744073709551616", "-1", "", std::string(1000, '9'), "1 2", "5"});
  // A size far too large: the percent stays low, nothing else changes.
  transfer("trudy", {"1099511627776"});
  auto finals = [&] {
    std::vector<std::string> lines;
    for (const auto &l : progress_lines(bob.err))
      if (l.find(" s") == l.size() - 2 && l.find(" in ") != std::string::npos) lines.push_back(l);
    return lines;
  };
  fx.run_until([&] { return (void)bob.wait_for_stderr("\x01", 0.005), finals().size() >= 2; }, 15);
  bob.signal(SIGINT); // between streams: exit 0
  REQUIRE(fx.run_until([&] { return exited(bob); }, 15));
  CHECK(bob.wait(10) == 0);
  INFO(bob.err);
  CHECK(bob.err.find("conec: error:") == std::string::npos);
  REQUIRE(finals().size() == 2);
  CHECK(finals()[0].rfind("1.0 MiB / 5 B (100%)", 0) == 0);
  CHECK(finals()[1].rfind("1.0 MiB / 1.0 TiB (0%)", 0) == 0);
  CHECK(std::filesystem::file_size(out) == 2 * data.size());
  tick.reset();
  CHECK(fx.shutdown());
}
