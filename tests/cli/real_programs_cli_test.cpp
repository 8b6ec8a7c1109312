// Real programs over `conec open` / `conec client`: services that speak
// first, commands that end the session by exiting (as ssh's remote command
// does), and git cloning through an `ext::` transport.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "support/process.hpp"
#include "support/stdin_pipe.hpp"

using conec::test::Process;
using conec::test::StdinPipe;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/conec-rp-XXXXXX";
  return mkdtemp(tmpl);
}

// A coordinator on a free loopback port, and client command lines for it.
struct Setup {
  Setup()
      : dir(temp_dir()),
        coord({CONEC_BINARY, "coordinator", "-v", "--listen", "127.0.0.1:0", "--state-dir", dir + "/coord"}) {
    ready = coord.wait_for_stderr("clients connect with:");
    std::smatch m;
    if (std::regex_search(coord.err, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"))) port = m[1];
    if (std::regex_search(coord.err, m, std::regex("fingerprint: (sha256:[0-9a-f]{64})"))) pin = m[1];
  }
  ~Setup() { std::filesystem::remove_all(dir); }
  // Options pointing a client subcommand here, after the subcommand's own.
  std::vector<std::string> client_options() const {
    return {"-c", "127.0.0.1:" + port, "--pin", pin, "--state-dir", dir + "/state"};
  }
  std::vector<std::string> command(std::vector<std::string> args) const {
    std::vector<std::string> argv = {CONEC_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto &o : client_options()) argv.push_back(o);
    return argv;
  }
  std::string dir;
  Process coord;
  bool ready = false;
  std::string port, pin;
};

int run_shell(const std::string &command) { return std::system(command.c_str()); }

} // namespace

TEST_CASE("a service that greets first reaches open while the opener sends nothing", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  Process server(s.command({"client", "-v", "-i", "greeter", "--exec", "echo 'hello, this is greeter'; cat"}));
  REQUIRE(server.wait_for_stderr("registered as 'greeter'"));
  StdinPipe in; // stays open: the opener has nothing to say yet
  Process open(s.command({"open", "greeter"}), in.read_end);
  in.close_read();
  // Before streams were announced, the greeting waited for the opener's first byte.
  REQUIRE(open.wait_for_stdout("hello, this is greeter\n", 10));
  REQUIRE(in.send("then me\n"));
  in.close_write();
  CHECK(open.wait(15) == 0);
  CHECK(open.out == "hello, this is greeter\nthen me\n");
  INFO(open.err);
  CHECK(open.err.find("error") == std::string::npos);
}

TEST_CASE("the listening client speaks first in a chat", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  StdinPipe client_in, open_in;
  Process client(s.command({"client", "-v", "-i", "carol", "--lines"}), client_in.read_end);
  client_in.close_read();
  REQUIRE(client.wait_for_stderr("registered as 'carol'"));
  Process open(s.command({"open", "--lines", "carol"}), open_in.read_end);
  open_in.close_read();
  REQUIRE(client.wait_for_stderr("serving a stream from"));
  REQUIRE(client_in.send("hi, carol here\n"));
  REQUIRE(open.wait_for_stdout("hi, carol here\n", 10));
  REQUIRE(open_in.send("hello carol\n"));
  REQUIRE(client.wait_for_stdout("hello carol\n", 10));
  open_in.close_write();
  client_in.close_write();
  CHECK(open.wait(15) == 0);
  CHECK(client.wait(15) == 0);
  CHECK(open.out == "hi, carol here\n");
  CHECK(client.out == "hello carol\n");
}

TEST_CASE("an --exec command that exits ends open with 0 while open's stdin stays open", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  Process server(s.command({"client", "-v", "-i", "quick", "--exec", "echo bye"}));
  REQUIRE(server.wait_for_stderr("registered as 'quick'"));

  SECTION("the opener sends nothing") {
    StdinPipe in; // never closed before open exits
    Process open(s.command({"open", "quick"}), in.read_end);
    in.close_read();
    CHECK(open.wait(15) == 0);
    CHECK(open.out == "bye\n");
    INFO(open.err);
    CHECK(open.err.find("error") == std::string::npos);
  }
  SECTION("the opener keeps sending after the command is gone") {
    StdinPipe in;
    Process open(s.command({"open", "quick"}), in.read_end);
    in.close_read();
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      const std::string chunk(64 << 10, 'x');
      while (!stop && in.send(chunk)) {
      }
    });
    int code = open.wait(15);
    stop = true;
    in.close_write(); // unblocks the writer if open never read it all
    writer.join();
    CHECK(code == 0);
    CHECK(open.out == "bye\n");
    INFO(open.err);
    CHECK(open.err.find("error") == std::string::npos);
  }
  CHECK(server.wait_for_stderr("is done", 10));
  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  INFO(server.err);
  CHECK(server.err.find("was cut") == std::string::npos);
}

TEST_CASE("a command that reads part of the input and exits hands back exactly its output", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  Process server(s.command({"client", "-v", "-i", "head", "--exec", "head -c 100000"}));
  REQUIRE(server.wait_for_stderr("registered as 'head'"));
  StdinPipe in;
  Process open(s.command({"open", "head"}), in.read_end);
  in.close_read();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::string chunk(26 * 2048, 'a'); // whole alphabets: the pattern runs on across chunks
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>('a' + i % 26);
    while (!stop && in.send(chunk)) {
    }
  });
  int code = open.wait(20);
  stop = true;
  in.close_write();
  writer.join();
  CHECK(code == 0);
  REQUIRE(open.out.size() == 100000);
  for (size_t i = 0; i < open.out.size(); i += 4999) CHECK(open.out[i] == static_cast<char>('a' + i % 26));
}

TEST_CASE("git clone works through an ext:: transport over conec open", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  const std::string repo = s.dir + "/origin.git", work = s.dir + "/work", clone = s.dir + "/clone";
  REQUIRE(run_shell("git init -q --bare " + repo + " && git init -q " + work + " && cd " + work +
                    " && printf 'conec over git\\n' > README && head -c 300000 /dev/urandom > blob.bin"
                    " && git add README blob.bin && git -c user.name=t -c user.email=t@t commit -q -m first"
                    " && git push -q " + repo + " HEAD:refs/heads/main") == 0);
  Process server(s.command({"client", "-v", "-i", "gitsrv", "--exec", "git upload-pack " + repo}));
  REQUIRE(server.wait_for_stderr("registered as 'gitsrv'"));

  // ext:: splits its command line on spaces; none of these words has one.
  std::string ext = "ext::" CONEC_BINARY " open";
  for (auto &o : s.client_options()) ext += " " + o;
  ext += " gitsrv";
  Process git({"/usr/bin/git", "-c", "protocol.ext.allow=always", "clone", "-q", "-b", "main", ext, clone});
  CHECK(git.wait(60) == 0);
  INFO(git.err);
  std::ifstream readme(clone + "/README");
  std::string line;
  std::getline(readme, line);
  CHECK(line == "conec over git");
  CHECK(run_shell("cmp -s " + work + "/blob.bin " + clone + "/blob.bin") == 0);
  CHECK(run_shell("cd " + clone + " && git fsck --no-progress --full") == 0);
}

TEST_CASE("a SIGKILLed receiver is noticed by send mid-transfer within the transfer bound", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  const std::string out = s.dir + "/received";
  Process recv(s.command({"recv", "-v", "-i", "sink", "-o", out}));
  REQUIRE(recv.wait_for_stderr("registered as 'sink'"));
  StdinPipe in;
  Process send(s.command({"send", "sink"}), in.read_end);
  in.close_read();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    const std::string chunk(64 << 10, 'z');
    while (!stop && in.send(chunk)) {
    }
  });
  // The transfer runs: some of it reached the receiver's output.
  auto received = [&] {
    std::error_code ec;
    uint64_t n = 0;
    for (const char *suffix : {"", ".part"})
      if (auto size = std::filesystem::file_size(out + suffix, ec); !ec) n += size;
    return n;
  };
  for (int i = 0; i < 200 && received() < (4u << 20); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(received() >= (4u << 20));
  recv.signal(SIGKILL);
  // 5 s without acknowledgements by default (--idle-timeout 15 / 3); the wait allows for a loaded machine.
  int code = send.wait(12);
  stop = true;
  in.close_write();
  writer.join();
  CHECK(code == 6);
  INFO(send.err);
  CHECK_THAT(send.err, Catch::Contains("conec: error: transfer incomplete"));
  // On loopback the fast path wins: relayed packets to the dead port draw
  // ICMP port unreachable at the coordinator, which probes 'sink', gives it
  // up and tells the sender. Without ICMP, send gives up by itself.
  CHECK_THAT(send.err, Catch::Contains("'sink' disconnected") || Catch::Contains("stopped answering"));
  CHECK(s.coord.wait_for_stderr("ICMP port unreachable", 5));
}

TEST_CASE("a SIGKILLed service is noticed by an idle open within the idle bound", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  StdinPipe client_in, open_in; // both stay open: the channel is idle
  Process client(s.command({"client", "-v", "-i", "idle"}), client_in.read_end);
  client_in.close_read();
  REQUIRE(client.wait_for_stderr("registered as 'idle'"));
  Process open(s.command({"open", "idle"}), open_in.read_end);
  open_in.close_read();
  REQUIRE(client.wait_for_stderr("serving a stream from"));
  REQUIRE(client_in.send("ready\n"));
  REQUIRE(open.wait_for_stdout("ready\n"));
  client.signal(SIGKILL);
  // Its next keepalive (every 5 s) goes unanswered, and 5 s later it is given
  // up; the coordinator's own idle timeout (15 s) would tell it too.
  CHECK(open.wait(20) == 6);
  INFO(open.err);
  CHECK_THAT(open.err, Catch::Contains("conec: error: transfer incomplete"));
}

TEST_CASE("rsync over conec open ends when the remote rsync exits, files byte-exact", "[cli]") {
  Setup s;
  REQUIRE(s.ready);
  const std::string src = s.dir + "/src", dst = s.dir + "/dst", wrapper = s.dir + "/conec-rsh";
  REQUIRE(run_shell("mkdir -p " + src + "/sub " + dst + " && head -c 3000000 /dev/urandom > " + src +
                    "/a.bin && echo hello > " + src + "/sub/b.txt") == 0);
  // The server side of `rsync -a` (rsync 3.2.x): what ssh would have run remotely.
  Process server(s.command({"client", "-v", "-i", "box", "--exec", "rsync --server -logDtpre.iLsfxCIvu . " + dst}));
  REQUIRE(server.wait_for_stderr("registered as 'box'"));
  // rsync -e runs "CMD HOST rsync --server ..."; the wrapper ignores both,
  // the service knows what to run.
  std::string line = "#!/bin/sh\nexec " CONEC_BINARY " open";
  for (auto &o : s.client_options()) line += " " + o;
  line += " box\n";
  {
    std::ofstream w(wrapper);
    w << line;
  }
  REQUIRE(run_shell("chmod +x " + wrapper) == 0);
  // Before --exec exit ended `open`, rsync waited forever here.
  Process rsync({"/usr/bin/rsync", "-a", "-e", wrapper, src + "/", "box:" + dst + "/"});
  CHECK(rsync.wait(60) == 0);
  INFO(rsync.err);
  CHECK(run_shell("diff -r " + src + " " + dst) == 0);
}
