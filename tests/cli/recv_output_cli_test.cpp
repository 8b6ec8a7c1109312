// `recv -o FILE` (issue 9): the stream goes to FILE.part, which becomes FILE
// only on a clean end; an existing FILE is replaced only then; on a cut
// FILE.part is kept and the error line names it and the byte count; a recv
// stopped before any stream leaves nothing behind; FILE that is a device is
// written directly, a directory is refused.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include "support/cli_fixture.hpp"
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

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint64_t size_of(const std::string &path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

bool wait_for_size(const std::string &path, uint64_t at_least, double seconds = 15) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (size_of(path) >= at_least) return true;
    usleep(50000);
  }
  return false;
}

int error_lines(const std::string &err) {
  int n = 0;
  for (size_t pos = err.find("conec: error: "); pos != std::string::npos; pos = err.find("conec: error: ", pos + 1)) ++n;
  return n;
}

} // namespace

TEST_CASE("recv -o FILE keeps the old FILE during the transfer and replaces it whole at the clean end", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";
  std::ofstream(out) << "the previous version";
  Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "-v"}));
  REQUIRE(bob.wait_for_stderr("registered as"));
  test::StdinPipe in;
  Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
  in.close_read();
  std::string first(300000, 'a'), second(200000, 'b');
  REQUIRE(in.send(first));
  REQUIRE(wait_for_size(out + ".part", first.size()));
  // Mid-transfer: the old FILE is untouched, the new bytes are in FILE.part.
  CHECK(read_text(out) == "the previous version");
  REQUIRE(in.send(second));
  in.close_write();
  CHECK(alice.wait(30) == 0);
  CHECK(bob.wait(30) == 0);
  CHECK(read_text(out) == first + second);
  CHECK_FALSE(std::filesystem::exists(out + ".part"));
}

TEST_CASE("a cut recv -o FILE keeps FILE.part and names it and the byte count, FILE stays as it was", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";
  std::ofstream(out) << "keep me";
  Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "-v"}));
  REQUIRE(bob.wait_for_stderr("registered as"));
  test::StdinPipe in;
  Process alice(test::conec_argv(coord, {"send", "bob"}), in.read_end);
  in.close_read();
  REQUIRE(in.send(std::string(123456, 'c')));
  REQUIRE(wait_for_size(out + ".part", 123456));
  alice.signal(SIGINT);
  CHECK(alice.wait(10) == 130);
  CHECK(bob.wait(15) == 6);
  INFO(bob.err);
  CHECK(error_lines(bob.err) == 1);
  CHECK(bob.err.find("was cut after 123456 bytes") != std::string::npos);
  CHECK(bob.err.find("the 123456 bytes received are kept in " + out + ".part") != std::string::npos);
  CHECK(size_of(out + ".part") == 123456);
  CHECK(read_text(out) == "keep me");
}

TEST_CASE("an interrupted recv -o FILE names FILE.part and the byte count", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";
  Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "-v"}));
  REQUIRE(bob.wait_for_stderr("registered as"));
  test::StdinPipe in;
  Process alice(test::conec_argv(coord, {"send", "-i", "alice", "bob"}), in.read_end);
  in.close_read();
  REQUIRE(in.send(std::string(70000, 'i')));
  REQUIRE(wait_for_size(out + ".part", 70000));
  bob.signal(SIGTERM);
  CHECK(bob.wait(10) == 143);
  INFO(bob.err);
  CHECK(error_lines(bob.err) == 1);
  CHECK(bob.err.find("conec: error: interrupted after 70000 bytes from 'alice'; the 70000 bytes received are kept in " +
                     out + ".part") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out));
  in.close_write();
  CHECK(alice.wait(15) == 6);
}

TEST_CASE("recv -o FILE stopped before any stream leaves neither FILE nor FILE.part", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";
  SECTION("interrupted") {
    Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "-v"}));
    REQUIRE(bob.wait_for_stderr("registered as"));
    bob.signal(SIGINT);
    CHECK(bob.wait(10) == 130);
  }
  SECTION("timed out, with an older FILE in place") {
    std::ofstream(out) << "older";
    Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "--timeout", "1"}));
    CHECK(bob.wait(15) == 7);
    CHECK(read_text(out) == "older");
    std::filesystem::remove(out);
  }
  CHECK_FALSE(std::filesystem::exists(out));
  CHECK_FALSE(std::filesystem::exists(out + ".part"));
}

TEST_CASE("recv -o with a device writes to it directly, and with a directory exits 2", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  SECTION("/dev/null stays a device") {
    Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", "/dev/null", "-v"}));
    REQUIRE(bob.wait_for_stderr("registered as"));
    std::ofstream(dir.path + "/f") << "into the void";
    Process alice(test::conec_argv(coord, {"send", "bob", dir.path + "/f"}));
    CHECK(alice.wait(30) == 0);
    CHECK(bob.wait(30) == 0);
    struct stat st {};
    REQUIRE(stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK_FALSE(std::filesystem::exists("/dev/null.part"));
  }
  SECTION("a directory") {
    Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", dir.path}));
    CHECK(bob.wait(15) == 2);
    CHECK(error_lines(bob.err) == 1);
    CHECK(bob.err.find(dir.path + ": it is a directory") != std::string::npos);
  }
}

TEST_CASE("recv -k -o FILE: FILE appears with the first whole stream and later ones are appended", "[cli][send]") {
  Dir dir;
  CliCoordinator coord(dir.path);
  REQUIRE(coord.ready);
  std::string out = dir.path + "/out";
  Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-k", "-o", out, "-v"}));
  REQUIRE(bob.wait_for_stderr("registered as"));
  for (int i = 1; i <= 2; ++i) {
    std::ofstream(dir.path + "/f") << "part " << i << "\n";
    Process s(test::conec_argv(coord, {"send", "bob", dir.path + "/f"}));
    REQUIRE(s.wait(30) == 0);
    CHECK(std::filesystem::exists(out));
  }
  bob.signal(SIGINT);
  CHECK(bob.wait(10) == 0);
  CHECK(read_text(out) == "part 1\npart 2\n");
  CHECK_FALSE(std::filesystem::exists(out + ".part"));
}
