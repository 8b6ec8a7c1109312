// SIGHUP, SIGINT and SIGTERM at each phase of send, recv, open and client
// (before registration, mid-transfer, after the end, right after the peer's
// loss), as real processes (issue 9). Whatever the order of signal, stdin
// end, peer end and channel close, a process must end with the documented
// status — 128 + the signal after a graceful stop, 6 when it lost its peer
// first, 0 where documented — never by a crash (139, 134, or an ASan
// report), and say why in exactly one `conec: error:` line.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "support/cli_fixture.hpp"
#include "support/stdin_pipe.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;
using conec::test::StdinPipe;

namespace {

int count(const std::string &text, const std::string &what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::string signal_name(int sig) { return sig == SIGHUP ? "SIGHUP" : sig == SIGINT ? "SIGINT" : "SIGTERM"; }

// Checks how `p` ended (`code`, from p.wait()): one of `allowed`, and if
// not 0, one error line; a status of 128 + a signal must come with the
// "interrupted" line (a process the signal killed prints nothing).
void check_ending(const Process &p, int code, std::vector<int> allowed) {
  INFO("exit status " << code << ", stderr:\n" << p.err);
  CHECK(code != 128 + SIGSEGV);
  CHECK(code != 128 + SIGABRT);
  CHECK(p.err.find("AddressSanitizer") == std::string::npos);
  CHECK(std::find(allowed.begin(), allowed.end(), code) != allowed.end());
  if (code != 0) CHECK(count(p.err, "conec: error: ") == 1);
  if (code > 128) CHECK(p.err.find("conec: error: interrupted") != std::string::npos);
}

// A child started with -v and `stdin` (or /dev/null), registered if `wait_registered`.
struct Child {
  Child(const CliCoordinator &coord, std::vector<std::string> words, StdinPipe *stdin_pipe = nullptr)
      : process(
            [&] {
              words.push_back("-v");
              return test::conec_argv(coord, words);
            }(),
            stdin_pipe ? stdin_pipe->read_end : -1) {}
  bool registered() { return process.wait_for_stderr("registered as"); }
  Process process;
};

bool wait_for_file(const std::string &path, double seconds = 15) {
  for (int i = 0; i < seconds * 20; ++i) {
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > 0 && !ec) return true;
    usleep(50000);
  }
  return false;
}

void pause_ms(int ms) { usleep(static_cast<useconds_t>(ms) * 1000); }

struct Dir {
  Dir() : path(test::make_temp_dir()) {}
  ~Dir() { test::remove_tree(path); }
  std::string path;
};

} // namespace

TEST_CASE("signals before registration stop send, recv, open and client gracefully", "[cli][signals]") {
  int sig = GENERATE(SIGHUP, SIGINT, SIGTERM);
  INFO(signal_name(sig));
  Dir dir;
  // A UDP port that never answers: the handshake stays pending.
  int silent = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(silent >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(silent, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(silent, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
  std::string coord = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  std::ofstream(dir.path + "/f") << "x";
  std::vector<std::vector<std::string>> commands = {
      {"send", "bob", dir.path + "/f"}, {"recv", "-i", "bob"}, {"open", "bob"}, {"client", "-i", "bob"}};
  for (auto words : commands) {
    INFO(words[0]);
    std::vector<std::string> options = {"-v", "-c", coord, "--pin", "sha256:" + std::string(64, 'a'),
                                        "--state-dir", dir.path};
    words.insert(words.end(), options.begin(), options.end());
    words.insert(words.begin(), CONEC_BINARY);
    Process p(words);
    REQUIRE(p.wait_for_stderr("connecting to"));
    pause_ms(200); // its signal handlers are installed right after that line
    p.signal(sig);
    check_ending(p, p.wait(10), {128 + sig});
  }
  close(silent);
}

TEST_CASE("send: signals mid-transfer, after its end and right after the receiver's loss", "[cli][signals][send]") {
  int sig = GENERATE(SIGHUP, SIGINT, SIGTERM);
  INFO(signal_name(sig));
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";

  SECTION("mid-transfer, with stdin ending just after (Ctrl-C on `producer | conec send`)") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'x')));
    REQUIRE(wait_for_file(out + ".part"));
    alice.signal(sig);
    // The producer dies of the same Ctrl-C: its end of file comes after
    // the channel closed and freed the stream.
    pause_ms(100);
    in.close_write();
    check_ending(alice, alice.wait(10), {128 + sig});
    check_ending(bob.process, bob.process.wait(15), {6});
  }
  SECTION("after its end, while the receiver still writes: the receiver is cut and must not crash") {
    // recv's stdout is a pipe nobody reads yet: its confirmation waits for
    // the output, and the sender gives up (closing at once) meanwhile.
    std::string file = dir.path + "/in";
    test::write_random_file(file, 3u << 20, 7);
    Child bob(coord, {"recv", "-i", "bob"});
    REQUIRE(bob.registered());
    Process alice(test::conec_argv(coord, {"send", "bob", file, "--no-progress"}));
    pause_ms(1500); // everything sent and ended; recv's output is full
    alice.signal(sig);
    check_ending(alice, alice.wait(10), {128 + sig});
    int code = bob.process.wait(20); // drains recv's stdout: the confirmation goes out late
    check_ending(bob.process, code, {6});
  }
  SECTION("right after the receiver stopped") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'x')));
    REQUIRE(wait_for_file(out + ".part"));
    bob.process.signal(SIGTERM);
    alice.signal(sig); // before or while it learns of the loss
    pause_ms(50);
    in.close_write();
    check_ending(alice, alice.wait(10), {128 + sig, 6});
    check_ending(bob.process, bob.process.wait(10), {128 + SIGTERM, 6}); // send's close may come first
  }
  SECTION("right after the receiver was killed") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'x')));
    REQUIRE(wait_for_file(out + ".part"));
    bob.process.signal(SIGKILL);
    CHECK(bob.process.wait(5) == 128 + SIGKILL);
    pause_ms(100);
    alice.signal(sig);
    in.close_write();
    check_ending(alice, alice.wait(10), {128 + sig, 6});
  }
}

TEST_CASE("recv: signals mid-transfer, after the end and right after the sender's loss", "[cli][signals][send]") {
  int sig = GENERATE(SIGHUP, SIGINT, SIGTERM);
  INFO(signal_name(sig));
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";

  SECTION("mid-transfer") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'y')));
    REQUIRE(wait_for_file(out + ".part"));
    bob.process.signal(sig);
    check_ending(bob.process, bob.process.wait(10), {128 + sig});
    check_ending(alice, alice.wait(15), {6});
  }
  SECTION("after the sender's end, before its output is written") {
    std::string file = dir.path + "/in";
    test::write_random_file(file, 3u << 20, 8);
    Child bob(coord, {"recv", "-i", "bob"}); // stdout not read yet
    REQUIRE(bob.registered());
    Process alice(test::conec_argv(coord, {"send", "bob", file, "--no-progress"}));
    pause_ms(1500);
    bob.process.signal(sig);
    check_ending(bob.process, bob.process.wait(10), {128 + sig});
    check_ending(alice, alice.wait(15), {6});
  }
  SECTION("-k after a completed stream: exit 0") {
    Child bob(coord, {"recv", "-i", "bob", "-k", "-o", out});
    REQUIRE(bob.registered());
    std::ofstream(dir.path + "/f") << "one stream\n";
    Process alice(test::conec_argv(coord, {"send", "bob", dir.path + "/f"}));
    REQUIRE(alice.wait(15) == 0);
    bob.process.signal(sig);
    check_ending(bob.process, bob.process.wait(10), {0});
  }
  SECTION("right after the sender was killed") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'y')));
    REQUIRE(wait_for_file(out + ".part"));
    alice.signal(SIGKILL);
    CHECK(alice.wait(5) == 128 + SIGKILL);
    pause_ms(100);
    bob.process.signal(sig);
    check_ending(bob.process, bob.process.wait(10), {128 + sig, 6});
  }
  SECTION("right after the sender stopped") {
    Child bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.registered());
    StdinPipe in;
    Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
    in.close_read();
    REQUIRE(in.send(std::string(200000, 'y')));
    REQUIRE(wait_for_file(out + ".part"));
    alice.signal(SIGTERM);
    bob.process.signal(sig);
    check_ending(bob.process, bob.process.wait(10), {128 + sig, 6});
    check_ending(alice, alice.wait(10), {128 + SIGTERM, 6}); // recv's close may come first
  }
}

TEST_CASE("open and client: signals mid-transfer, after the end and right after the peer's loss", "[cli][signals]") {
  int sig = GENERATE(SIGHUP, SIGINT, SIGTERM);
  INFO(signal_name(sig));
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  bool exec = GENERATE(false, true); // stdio bridge, or --exec cat
  INFO((exec ? "--exec cat" : "stdio bridge"));
  StdinPipe server_in, open_in;
  std::vector<std::string> serve = {"client", "-i", "srv"};
  if (exec) serve.insert(serve.end(), {"--exec", "cat"});
  Child server(coord, serve, &server_in);
  server_in.close_read();
  REQUIRE(server.registered());
  Process open(test::conec_argv(coord, {"open", "srv"}), open_in.read_end);
  open_in.close_read();
  // Data both ways: the stream is open and in use.
  REQUIRE(open_in.send("hello\n"));
  if (!exec) {
    REQUIRE(server.process.wait_for_stdout("hello\n"));
    REQUIRE(server_in.send("back\n"));
    REQUIRE(open.wait_for_stdout("back\n"));
  } else {
    REQUIRE(open.wait_for_stdout("hello\n"));
  }
  // The serving side's status when `open` went away: stdio serves one
  // stream (cut: 6); --exec serves on, until told to stop.
  auto check_server_after_peer_left = [&] {
    if (!exec) return check_ending(server.process, server.process.wait(15), {6});
    pause_ms(200);
    server.process.signal(SIGTERM);
    check_ending(server.process, server.process.wait(10), {128 + SIGTERM});
  };

  SECTION("open, mid-transfer") {
    open.signal(sig);
    check_ending(open, open.wait(10), {128 + sig});
    check_server_after_peer_left();
  }
  SECTION("client, mid-transfer") {
    server.process.signal(sig);
    check_ending(server.process, server.process.wait(10), {128 + sig});
    check_ending(open, open.wait(15), {6});
  }
  SECTION("open, after its input ended") {
    open_in.close_write();
    pause_ms(300); // the end reached the server (and, with --exec, cat ended its output)
    open.signal(sig);
    check_ending(open, open.wait(10), {128 + sig, 0}); // with --exec cat, open may be done already
    check_server_after_peer_left();
  }
  SECTION("client, after its input ended") {
    server_in.close_write();
    pause_ms(300);
    server.process.signal(sig);
    check_ending(server.process, server.process.wait(10), {128 + sig});
    check_ending(open, open.wait(15), {6});
  }
  SECTION("open, right after the client was killed") {
    server.process.signal(SIGKILL);
    CHECK(server.process.wait(5) == 128 + SIGKILL);
    pause_ms(100);
    open.signal(sig);
    open_in.close_write();
    check_ending(open, open.wait(10), {128 + sig, 6});
  }
  SECTION("client, right after open stopped") {
    open.signal(SIGTERM);
    server.process.signal(sig);
    server_in.close_write();
    check_ending(server.process, server.process.wait(10), {128 + sig, 6});
    check_ending(open, open.wait(10), {128 + SIGTERM, 6}); // the client's close may come first
  }
}
