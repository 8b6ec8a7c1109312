// `conec open` and `conec client` as users run them: real processes around a
// real `conec coordinator`, data through stdin/stdout, half-close, --exec
// serving peers concurrently, exit codes, and a client surviving a
// coordinator restart.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <random>
#include <regex>
#include <thread>

#include "support/process.hpp"
#include "support/stdin_pipe.hpp"

using conec::test::Process;
using conec::test::StdinPipe;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/conec-oc-XXXXXX";
  return mkdtemp(tmpl);
}

// `conec coordinator` on loopback (port 0: a free one); port and pin parsed
// from its stderr.
struct RunningCoordinator {
  RunningCoordinator(const std::string &state_dir, uint16_t listen_port = 0)
      : process({CONEC_BINARY, "coordinator", "--listen", "127.0.0.1:" + std::to_string(listen_port), "--state-dir",
                 state_dir}) {
    ready = process.wait_for_stderr("clients connect with:");
    std::smatch m;
    if (std::regex_search(process.err, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")))
      port = static_cast<uint16_t>(std::stoi(m[1]));
    if (std::regex_search(process.err, m, std::regex("fingerprint: (sha256:[0-9a-f]{64})"))) fingerprint = m[1];
  }
  Process process;
  bool ready = false;
  uint16_t port = 0;
  std::string fingerprint;
};

// Everyone's coordinator options, plus a state directory for identities.
struct Setup {
  Setup() : dir(temp_dir()), coord(dir) {}
  ~Setup() { std::filesystem::remove_all(dir); }
  std::vector<std::string> command(std::vector<std::string> args) const {
    std::vector<std::string> argv = {CONEC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char *a : {"-c", "--pin", "--state-dir"}) argv.push_back(a), argv.push_back(value(a));
    return argv;
  }
  std::string value(const std::string &option) const {
    if (option == "-c") return "127.0.0.1:" + std::to_string(port);
    if (option == "--pin") return fingerprint;
    return dir;
  }
  std::string dir;
  RunningCoordinator coord;
  uint16_t port = coord.port;
  std::string fingerprint = coord.fingerprint;
};

int count(const std::string &text, const std::string &what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Reads `p`'s stderr until `text` occurs `n` times (or `seconds` pass).
bool wait_for_count(Process &p, const std::string &text, int n, double seconds = 10) {
  for (int i = 0; i < seconds * 20 && count(p.err, text) < n; ++i) p.wait_for_stderr("\x01 not there", 0.05);
  return count(p.err, text) >= n;
}

// Lowercase-heavy text of `size` bytes; `upper` is what `tr a-z A-Z` makes of it.
std::string text_of(size_t size, uint32_t seed) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz ABC 0123456789\n";
  std::mt19937 rng(seed);
  std::string s(size, ' ');
  for (auto &c : s) c = alphabet[rng() % (sizeof(alphabet) - 1)];
  return s;
}
std::string upper(std::string s) {
  for (auto &c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

} // namespace

TEST_CASE("open and client bridge stdin/stdout both ways with half-close", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  StdinPipe client_in, open_in;
  Process client(s.command({"client", "-v", "-i", "srv"}), client_in.read_end);
  client_in.close_read();
  REQUIRE(client.wait_for_stderr("registered as 'srv'"));

  Process open(s.command({"open", "srv"}), open_in.read_end);
  open_in.close_read();
  REQUIRE(open_in.send("ping\n"));
  open_in.close_write(); // open's sending side ends...
  REQUIRE(client.wait_for_stdout("ping\n"));
  // ...so client's stdout ends too, while its own stdin is still open.
  REQUIRE(client.wait_for_stdout("", 10));
  CHECK(client.out == "ping\n");
  CHECK(open.out.empty());

  REQUIRE(client_in.send("pong\n"));
  client_in.close_write();
  CHECK(open.wait(15) == 0);
  CHECK(open.out == "pong\n");
  CHECK(client.wait(15) == 0);
  CHECK(client.out == "ping\n");
  INFO("open: " << open.err << "client: " << client.err);
  CHECK(open.err.find("error") == std::string::npos);
  CHECK(client.err.find("error") == std::string::npos);
  s.coord.process.signal(SIGTERM);
  CHECK(s.coord.process.wait() == 0);
}

TEST_CASE("client --exec serves two peers at once, each with its own command", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  Process server(s.command({"client", "-v", "-i", "upper", "--exec", "tr a-z A-Z"}));
  REQUIRE(server.wait_for_stderr("registered as 'upper'"));

  // The first peer keeps its stream open...
  StdinPipe a_in;
  Process a(s.command({"open", "upper"}), a_in.read_end);
  a_in.close_read();
  REQUIRE(a_in.send("hello from a\n"));
  REQUIRE(server.wait_for_stderr("running the command"));

  // ...while a second one is served in full: 1 MiB, byte-exact.
  const std::string data = text_of(1 << 20, 7);
  StdinPipe b_in;
  Process b(s.command({"open", "upper"}), b_in.read_end);
  b_in.close_read();
  std::thread writer([&] {
    b_in.send(data);
    b_in.close_write();
  });
  int b_code = b.wait(20);
  writer.join();
  CHECK(b_code == 0);
  CHECK(b.out.size() == data.size());
  CHECK(b.out == upper(data));
  CHECK(wait_for_count(server, "running the command", 2));

  REQUIRE(a_in.send("and more\n"));
  a_in.close_write();
  CHECK(a.wait(15) == 0);
  CHECK(a.out == "HELLO FROM A\nAND MORE\n");

  // --exec serves until interrupted.
  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  INFO(server.err);
  CHECK(count(server.err, "conec: error:") == 1);
  CHECK(server.out.empty());
}

TEST_CASE("client --exec sets CONEC_PEER and CONEC_ID for the command", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  Process server(s.command({"client", "-v", "-i", "greeter", "--exec", "echo \"$CONEC_PEER $CONEC_ID\"; cat"}));
  REQUIRE(server.wait_for_stderr("registered as 'greeter'"));
  StdinPipe in;
  Process alice(s.command({"open", "-i", "alice", "greeter"}), in.read_end);
  in.close_read();
  REQUIRE(in.send("some data\n"));
  in.close_write();
  CHECK(alice.wait(15) == 0);
  CHECK(alice.out == "alice greeter\nsome data\n");
  server.signal(SIGINT);
  CHECK(server.wait(10) == 130);
}

TEST_CASE("open to an unknown peer exits 5 with one error line", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  Process open(s.command({"open", "nobody"}));
  CHECK(open.wait(15) == 5);
  INFO(open.err);
  CHECK(count(open.err, "conec: error:") == 1);
  CHECK(open.err.find("nobody") != std::string::npos);
  CHECK(open.out.empty());
}

TEST_CASE("client without -k: a stream cut short is exit 6", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  StdinPipe client_in, open_in;
  Process client(s.command({"client", "-v", "-i", "srv"}), client_in.read_end);
  client_in.close_read();
  REQUIRE(client.wait_for_stderr("registered as 'srv'"));
  Process open(s.command({"open", "srv"}), open_in.read_end);
  open_in.close_read();
  REQUIRE(open_in.send("partial\n"));
  REQUIRE(client.wait_for_stdout("partial\n"));
  open.signal(SIGTERM); // gives up mid-stream: its channel closes
  CHECK(open.wait(10) == 143);
  CHECK(client.wait(15) == 6);
  INFO(client.err);
  CHECK(count(client.err, "conec: error: transfer incomplete") == 1);
  CHECK(client.out == "partial\n");
}

TEST_CASE("client -k serves streams one after another in arrival order", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  // stdin is /dev/null: every stream gets an empty answer.
  Process client(s.command({"client", "-v", "-k", "-i", "srv"}));
  REQUIRE(client.wait_for_stderr("registered as 'srv'"));
  StdinPipe a_in;
  Process a(s.command({"open", "srv"}), a_in.read_end);
  a_in.close_read();
  REQUIRE(a_in.send("first\n"));
  REQUIRE(client.wait_for_stdout("first\n"));
  StdinPipe b_in;
  Process b(s.command({"open", "srv"}), b_in.read_end);
  b_in.close_read();
  REQUIRE(b_in.send("second\n"));
  b_in.close_write();
  // b waits its turn while a's stream is open.
  CHECK_FALSE(client.wait_for_stdout("second\n", 1.5));
  a_in.close_write();
  CHECK(a.wait(15) == 0);
  CHECK(b.wait(15) == 0);
  CHECK(client.wait_for_stdout("second\n", 10));
  CHECK(client.out == "first\nsecond\n");
  CHECK(a.out.empty());
  CHECK(b.out.empty());
  client.signal(SIGINT);
  CHECK(client.wait(10) == 130);
}

TEST_CASE("client re-registers after the coordinator restarts", "[cli]") {
  Setup s;
  REQUIRE(s.coord.ready);
  Process server(s.command({"client", "-v", "-i", "svc", "--exec", "tr a-z A-Z"}));
  REQUIRE(server.wait_for_stderr("registered as 'svc'"));

  s.coord.process.signal(SIGTERM);
  REQUIRE(s.coord.process.wait(10) == 0);
  REQUIRE(server.wait_for_stderr("reconnecting", 10));
  // Same port and state directory: same certificate, so the pin still holds.
  RunningCoordinator again(s.dir, s.port);
  REQUIRE(again.ready);
  REQUIRE(again.fingerprint == s.fingerprint);
  REQUIRE(server.wait_for_stderr("reconnected to the coordinator as 'svc'", 15));

  StdinPipe in;
  Process open(s.command({"open", "svc"}), in.read_end);
  in.close_read();
  REQUIRE(in.send("after the restart\n"));
  in.close_write();
  CHECK(open.wait(15) == 0);
  CHECK(open.out == "AFTER THE RESTART\n");

  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  INFO(server.err);
  CHECK(server.err.find("lost the connection to coordinator") != std::string::npos);
  again.process.signal(SIGTERM);
  CHECK(again.process.wait(10) == 0);
}

TEST_CASE("a coordinator killed and restarted mid-session: client --exec's and open's direct session goes on, "
          "and the client serves new streams after re-registering",
          "[cli][direct]") {
  Setup s;
  REQUIRE(s.coord.ready);
  // Line-buffered, so each line comes back at once.
  Process server(
      s.command({"client", "-v", "-i", "svc", "--exec", "stdbuf -oL tr a-z A-Z", "--idle-timeout", "3"}));
  REQUIRE(server.wait_for_stderr("registered as 'svc'"));
  StdinPipe in;
  Process open(s.command({"open", "-v", "svc", "--idle-timeout", "3"}), in.read_end);
  in.close_read();
  REQUIRE(in.send("before the crash\n"));
  REQUIRE(open.wait_for_stdout("BEFORE THE CRASH\n", 10));
  REQUIRE(open.wait_for_stderr("channel now direct", 5));

  s.coord.process.signal(SIGKILL);
  REQUIRE(s.coord.process.wait(10) == 128 + SIGKILL);
  // Both notice (idle timeout 3 s), and say the session goes on.
  REQUIRE(server.wait_for_stderr("lost the connection to coordinator", 15));
  REQUIRE(open.wait_for_stderr("goes on over its direct path", 15));
  REQUIRE(in.send("while it is down\n"));
  REQUIRE(open.wait_for_stdout("WHILE IT IS DOWN\n", 10));

  RunningCoordinator again(s.dir, s.port);
  REQUIRE(again.ready);
  REQUIRE(server.wait_for_stderr("reconnected to the coordinator as 'svc'", 20));
  REQUIRE(in.send("after the restart\n"));
  in.close_write();
  CHECK(open.wait(15) == 0);
  CHECK(open.out == "BEFORE THE CRASH\nWHILE IT IS DOWN\nAFTER THE RESTART\n");
  INFO(open.err << "\n---\n" << server.err);

  // A new opener is served through the new registration.
  StdinPipe in2;
  Process second(s.command({"open", "svc"}), in2.read_end);
  in2.close_read();
  REQUIRE(in2.send("new\n"));
  in2.close_write();
  CHECK(second.wait(15) == 0);
  CHECK(second.out == "NEW\n");

  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  again.process.signal(SIGTERM);
  CHECK(again.process.wait(10) == 0);
}

TEST_CASE("a coordinator killed and restarted mid-session: the relayed session of client --exec and open resumes "
          "once both ends re-presented its relay",
          "[cli][relay]") {
  Setup s;
  REQUIRE(s.coord.ready);
  Process server(s.command({"client", "-v", "-i", "svc", "--relay-only", "--exec", "stdbuf -oL tr a-z A-Z"}));
  REQUIRE(server.wait_for_stderr("registered as 'svc'"));
  StdinPipe in;
  Process open(s.command({"open", "-v", "svc", "--relay-only"}), in.read_end);
  in.close_read();
  REQUIRE(in.send("before the crash\n"));
  REQUIRE(open.wait_for_stdout("BEFORE THE CRASH\n", 10));

  s.coord.process.signal(SIGKILL);
  REQUIRE(s.coord.process.wait(10) == 128 + SIGKILL);
  RunningCoordinator again(s.dir, s.port);
  REQUIRE(again.ready);
  // Data waiting on the stalled relay makes each side check its
  // coordinator connection; the new process answers with a stateless reset.
  REQUIRE(in.send("after the restart\n"));
  REQUIRE(open.wait_for_stdout("BEFORE THE CRASH\nAFTER THE RESTART\n", 15));
  in.close_write();
  CHECK(open.wait(15) == 0);
  INFO(open.err << "\n---\n" << server.err);
  CHECK(open.out == "BEFORE THE CRASH\nAFTER THE RESTART\n");
  CHECK(open.err.find("the session with 'svc' waits for its relay to come back") != std::string::npos);
  CHECK(server.wait_for_stderr("reconnected to the coordinator as 'svc'", 5));
  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  again.process.signal(SIGTERM);
  CHECK(again.process.wait(10) == 0);
}
