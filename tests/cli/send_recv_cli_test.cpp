// `conec send` and `conec recv` as users run them: real processes, a real
// coordinator, files compared by SHA-256, exit codes and error lines.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "support/cli_fixture.hpp"
#include "support/stdin_pipe.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;

namespace {

// A receiver that is registered (it logs so with -v) before anyone sends.
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

bool one_error_line(const std::string &err, const std::string &text) {
  size_t count = 0, pos = 0;
  while ((pos = err.find("conec: error: ", pos)) != std::string::npos) {
    ++count;
    pos += 14;
  }
  return count == 1 && err.find(text) != std::string::npos;
}

} // namespace

TEST_CASE("send and recv move files of 0 bytes, 1 byte and 200 MiB byte-exact", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  REQUIRE(coord.ready);
  for (size_t size : {size_t{0}, size_t{1}, size_t{200} << 20}) {
    INFO("size " << size);
    std::string in = dir + "/in-" + std::to_string(size), out = dir + "/out-" + std::to_string(size);
    std::string hash = test::write_random_file(in, size, size + 1);
    Receiver bob(coord, {"recv", "-i", "bob", "-o", out});
    REQUIRE(bob.ready);
    Process alice(test::conec_argv(coord, {"send", "bob", in, "--no-progress"}));
    CHECK(alice.wait(120) == 0);
    CHECK(alice.out.empty());
    CHECK(bob.process.wait(30) == 0);
    CHECK(test::file_sha256(out) == hash);
    CHECK(std::filesystem::file_size(out) == size);
  }
  test::remove_tree(dir);
}

TEST_CASE("recv writes to stdout, and only data goes there", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  std::ofstream(dir + "/msg") << "hello over conec\n";
  Receiver bob(coord, {"recv", "-i", "bob"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "bob", dir + "/msg", "--stats"}));
  CHECK(alice.wait(30) == 0);
  CHECK(alice.err.find("conec: stats: 17 bytes") != std::string::npos);
  CHECK(bob.process.wait(30) == 0);
  CHECK(bob.process.out == "hello over conec\n");
  test::remove_tree(dir);
}

TEST_CASE("recv --from refuses other senders, whose send exits 5", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  std::ofstream(dir + "/a") << "from alice";
  std::ofstream(dir + "/m") << "from mallory";
  Receiver bob(coord, {"recv", "-i", "bob", "--from", "alice"});
  REQUIRE(bob.ready);
  Process mallory(test::conec_argv(coord, {"send", "-i", "mallory", "bob", dir + "/m"}));
  CHECK(mallory.wait(30) == 5);
  CHECK(one_error_line(mallory.err, "refused"));
  Process alice(test::conec_argv(coord, {"send", "-i", "alice", "bob", dir + "/a"}));
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  CHECK(bob.process.out == "from alice");
  test::remove_tree(dir);
}

TEST_CASE("recv -k receives three streams in order, and SIGINT between streams exits 0", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  Receiver bob(coord, {"recv", "-i", "bob", "-k"});
  REQUIRE(bob.ready);
  for (int i = 1; i <= 3; ++i) {
    std::ofstream(dir + "/f" + std::to_string(i)) << "part " << i << "\n";
    Process s(test::conec_argv(coord, {"send", "bob", dir + "/f" + std::to_string(i)}));
    REQUIRE(s.wait(30) == 0);
  }
  bob.process.signal(SIGINT);
  CHECK(bob.process.wait(10) == 0);
  CHECK(bob.process.out == "part 1\npart 2\npart 3\n");
  test::remove_tree(dir);
}

TEST_CASE("line mode with tags prints one tagged line per message", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  std::ofstream(dir + "/lines") << "one\ntwo\nthree"; // last line without newline
  Receiver bob(coord, {"recv", "-i", "bob", "--lines", "--tag"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "-i", "alice", "--lines", "bob", dir + "/lines"}));
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  CHECK(bob.process.out == "alice: one\nalice: two\nalice: three\n");
  test::remove_tree(dir);
}

TEST_CASE("a sender interrupted mid-transfer makes the receiver exit 6, saying how much arrived", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  // A fifo the test fills slowly, so the transfer is really in progress.
  std::string fifo = dir + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", dir + "/out"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "bob", fifo}));
  {
    std::ofstream writer(fifo);
    writer << std::string(100000, 'x') << std::flush;
    // Wait until some of it arrived, then interrupt the sender.
    for (int i = 0; i < 100 && (!std::filesystem::exists(dir + "/out.part") || std::filesystem::file_size(dir + "/out.part") == 0); ++i)
      usleep(50000);
    alice.signal(SIGINT);
    CHECK(alice.wait(10) == 130);
  }
  CHECK(bob.process.wait(15) == 6);
  CHECK(one_error_line(bob.process.err, "transfer incomplete"));
  CHECK(bob.process.err.find("100000 bytes") != std::string::npos);
  test::remove_tree(dir);
}

TEST_CASE("a receiver interrupted mid-transfer makes the sender exit 6", "[cli][send]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  std::string fifo = dir + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  Receiver bob(coord, {"recv", "-i", "bob", "-o", dir + "/out"});
  REQUIRE(bob.ready);
  Process alice(test::conec_argv(coord, {"send", "bob", fifo}));
  std::ofstream writer(fifo);
  writer << std::string(50000, 'y') << std::flush;
  for (int i = 0; i < 100 && (!std::filesystem::exists(dir + "/out.part") || std::filesystem::file_size(dir + "/out.part") == 0); ++i)
    usleep(50000);
  bob.process.signal(SIGINT);
  CHECK(bob.process.wait(10) == 130);
  CHECK(alice.wait(15) == 6);
  CHECK(one_error_line(alice.err, "transfer incomplete"));
  test::remove_tree(dir);
}

TEST_CASE("client failures exit with the documented codes and one error line", "[cli][exit]") {
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  std::ofstream(dir + "/f") << "x";
  SECTION("wrong pin: 3") {
    auto argv = test::conec_argv(coord, {"send", "bob", dir + "/f"});
    argv[std::find(argv.begin(), argv.end(), "--pin") - argv.begin() + 1] = "sha256:" + std::string(64, 'a');
    Process p(argv);
    CHECK(p.wait(15) == 3);
    CHECK(one_error_line(p.err, "does not match pinned"));
  }
  SECTION("nobody listening: 3") {
    Process p({CONEC_BINARY, "send", "-c", "127.0.0.1:9", "--pin", coord.fingerprint, "bob", dir + "/f"});
    CHECK(p.wait(30) == 3);
    CHECK(one_error_line(p.err, "127.0.0.1:9"));
  }
  SECTION("duplicate id: 4") {
    Receiver first(coord, {"recv", "-i", "dup"});
    REQUIRE(first.ready);
    Process second(test::conec_argv(coord, {"recv", "-i", "dup"}));
    CHECK(second.wait(15) == 4);
    CHECK(one_error_line(second.err, "in use"));
  }
  SECTION("unknown peer: 5") {
    Process p(test::conec_argv(coord, {"send", "nobody", dir + "/f"}));
    CHECK(p.wait(15) == 5);
    CHECK(one_error_line(p.err, "no client 'nobody'"));
  }
  SECTION("timeout: 7") {
    Process p(test::conec_argv(coord, {"recv", "-i", "patient", "--timeout", "1"}));
    CHECK(p.wait(15) == 7);
    CHECK(one_error_line(p.err, "timed out"));
  }
  SECTION("bad id: 2") {
    Process p(test::conec_argv(coord, {"recv", "-i", "-bad-"}));
    CHECK(p.wait(15) == 2);
    CHECK(p.err.find("conec: error: ") != std::string::npos);
  }
  SECTION("unreadable file: 2") {
    Process p(test::conec_argv(coord, {"send", "bob", dir + "/missing"}));
    CHECK(p.wait(15) == 2);
    CHECK(one_error_line(p.err, "missing"));
  }
  SECTION("--direct-only where a direct path can be made (loopback): 0, and the data went direct") {
    // Where none can be made it is exit 5: tests/netlab (symmetric NATs).
    test::write_random_file(dir + "/f", 100000, 3);
    Receiver r(coord, {"recv", "-i", "bob", "-o", dir + "/got", "--direct-only", "--stats"});
    REQUIRE(r.ready);
    Process p(test::conec_argv(coord, {"send", "--direct-only", "bob", dir + "/f", "--stats"}));
    CHECK(p.wait(15) == 0);
    CHECK(r.process.wait(15) == 0);
    INFO(p.err << "\n---\n" << r.process.err);
    CHECK(test::read_file(dir + "/got") == test::read_file(dir + "/f"));
    CHECK(p.err.find("path direct 127.0.0.1:") != std::string::npos);
    CHECK(r.process.err.find("path direct 127.0.0.1:") != std::string::npos);
  }
  SECTION("SIGINT while waiting: 130") {
    Receiver r(coord, {"recv", "-i", "waiter"});
    REQUIRE(r.ready);
    r.process.signal(SIGINT);
    CHECK(r.process.wait(10) == 130);
  }
  test::remove_tree(dir);
}

namespace {
// Waits (up to 15 s) until the file at `path` holds `size` bytes; whether it does then.
bool part_reaches(const std::string &path, uintmax_t size) {
  for (int i = 0; i < 300 && (!std::filesystem::exists(path) || std::filesystem::file_size(path) < size); ++i)
    usleep(50000);
  return std::filesystem::exists(path) && std::filesystem::file_size(path) == size;
}
} // namespace

TEST_CASE("a transfer on a direct path outlives its coordinator: send and recv exit 0, the data whole",
          "[cli][exit][direct]") {
  int sig = GENERATE(SIGTERM, SIGKILL);
  INFO((sig == SIGTERM ? "SIGTERM: the coordinator says goodbye" : "SIGKILL: silence"));
  std::string dir = test::make_temp_dir();
  auto coord = std::make_unique<CliCoordinator>(dir);
  REQUIRE(coord->ready);
  std::string out = dir + "/out";
  Receiver bob(*coord, {"recv", "-i", "bob", "-o", out, "--idle-timeout", "3", "--stats"});
  REQUIRE(bob.ready);
  test::StdinPipe in;
  Process alice(test::conec_argv(*coord, {"send", "-i", "alice", "bob", "--idle-timeout", "3", "--stats", "-v"}),
                in.read_end);
  in.close_read();
  std::string first(250000, 'a'), second(250000, 'b');
  REQUIRE(in.send(first));
  REQUIRE(part_reaches(out + ".part", 250000));
  coord->process.signal(sig);
  CHECK(coord->process.wait(15) == (sig == SIGTERM ? 0 : 128 + SIGKILL));
  // Long enough for both to notice the loss (idle timeout 3 s).
  usleep(4500000);
  REQUIRE(in.send(second));
  in.close_write();
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  INFO(alice.err << "\n---\n" << bob.process.err);
  CHECK(test::read_file(out) == first + second);
  CHECK(alice.err.find("the transfer to 'bob' goes on over its direct path") != std::string::npos);
  CHECK(bob.process.err.find("the transfer from 'alice' goes on over its direct path") != std::string::npos);
  CHECK(alice.err.find("path direct 127.0.0.1:") != std::string::npos);
  test::remove_tree(dir);
}

TEST_CASE("a relayed transfer outlives a coordinator restart: send and recv exit 0, the data whole",
          "[cli][exit][relay]") {
  int sig = GENERATE(SIGTERM, SIGKILL);
  INFO((sig == SIGTERM ? "SIGTERM: the coordinator says goodbye" : "SIGKILL: silence"));
  std::string dir = test::make_temp_dir();
  auto coord = std::make_unique<CliCoordinator>(dir);
  REQUIRE(coord->ready);
  uint16_t port = coord->port;
  std::string out = dir + "/out";
  Receiver bob(*coord, {"recv", "-i", "bob", "-o", out, "--relay-only", "--stats"});
  REQUIRE(bob.ready);
  test::StdinPipe in;
  Process alice(test::conec_argv(*coord, {"send", "-v", "-i", "alice", "bob", "--relay-only", "--stats"}), in.read_end);
  in.close_read();
  std::string first(250000, 'a'), second(2500000, 'b');
  REQUIRE(in.send(first));
  REQUIRE(part_reaches(out + ".part", 250000));
  coord->process.signal(sig);
  CHECK(coord->process.wait(15) == (sig == SIGTERM ? 0 : 128 + SIGKILL));
  coord.reset();
  // Same port and state directory: same key, hence the same reset secret.
  Process again({CONEC_BINARY, "coordinator", "-v", "--listen", "127.0.0.1:" + std::to_string(port), "--state-dir", dir});
  REQUIRE(again.wait_for_stderr("clients connect with:"));
  REQUIRE(in.send(second));
  in.close_write();
  CHECK(alice.wait(30) == 0);
  CHECK(bob.process.wait(30) == 0);
  INFO(alice.err << "\n---\n" << bob.process.err << "\n---\n" << again.err);
  CHECK(test::read_file(out) == first + second);
  CHECK(alice.err.find("the transfer to 'bob' waits for its relay to come back") != std::string::npos);
  CHECK(bob.process.err.find("the transfer from 'alice' waits for its relay to come back") != std::string::npos);
  CHECK(alice.err.find("path relay") != std::string::npos);
  again.signal(SIGTERM);
  CHECK(again.wait(10) == 0);
  CHECK(again.err.find("between 'alice' and 'bob' relays again") != std::string::npos);
  test::remove_tree(dir);
}

TEST_CASE("a client notices a crashed and restarted coordinator at its next keepalive", "[cli][exit]") {
  std::string dir = test::make_temp_dir();
  auto coord = std::make_unique<CliCoordinator>(dir);
  REQUIRE(coord->ready);
  Receiver bob(*coord, {"recv", "-i", "bob"});
  REQUIRE(bob.ready);
  uint16_t port = coord->port;
  std::string pin = coord->fingerprint;
  coord->process.signal(SIGKILL); // no goodbye: the client still believes in its connection
  CHECK(coord->process.wait(5) == 128 + SIGKILL);
  coord.reset();
  // Same port and state directory: same key, hence the same reset secret.
  Process again({CONEC_BINARY, "coordinator", "--listen", "127.0.0.1:" + std::to_string(port), "--state-dir", dir});
  REQUIRE(again.wait_for_stderr("clients connect with:"));
  CHECK(bob.process.wait(25) == 3);
  CHECK(one_error_line(bob.process.err, "stateless reset"));
  again.signal(SIGTERM);
  CHECK(again.wait(10) == 0);
  test::remove_tree(dir);
}

TEST_CASE("a coordinator lost mid-transfer: send and recv exit 6 saying the stream was cut and after how many bytes",
          "[cli][exit]") {
  int sig = GENERATE(SIGTERM, SIGKILL);
  INFO((sig == SIGTERM ? "SIGTERM: the coordinator says goodbye" : "SIGKILL: silence, noticed by the idle timeout"));
  std::string dir = test::make_temp_dir();
  auto coord = std::make_unique<CliCoordinator>(dir);
  REQUIRE(coord->ready);
  std::string out = dir + "/out";
  // Relayed: the channel's only path goes with the coordinator.
  Receiver bob(*coord, {"recv", "-i", "bob", "-o", out, "--idle-timeout", "3", "--relay-only"});
  REQUIRE(bob.ready);
  test::StdinPipe in;
  Process alice(test::conec_argv(*coord, {"send", "-i", "alice", "bob", "--idle-timeout", "3", "--relay-only"}),
                in.read_end);
  in.close_read();
  REQUIRE(in.send(std::string(250000, 'z')));
  REQUIRE(part_reaches(out + ".part", 250000));
  coord->process.signal(sig);
  CHECK(coord->process.wait(15) == (sig == SIGTERM ? 0 : 128 + SIGKILL));
  CHECK(bob.process.wait(30) == 6);
  CHECK(alice.wait(30) == 6);
  INFO(bob.process.err << "\n---\n" << alice.err);
  // Whichever it notices first, the coordinator connection or the relayed
  // channel, the stream was cut.
  CHECK(one_error_line(bob.process.err, "transfer incomplete: the stream from 'alice' was cut after 250000 bytes: "));
  CHECK(bob.process.err.find("kept in " + out + ".part") != std::string::npos);
  CHECK(one_error_line(alice.err, "transfer incomplete: the stream to 'bob' was cut after 250000 bytes sent, none confirmed: "));
  if (sig == SIGTERM) {
    CHECK(bob.process.err.find("lost the coordinator") != std::string::npos);
    CHECK(alice.err.find("lost the coordinator") != std::string::npos);
  }
  test::remove_tree(dir);
}
