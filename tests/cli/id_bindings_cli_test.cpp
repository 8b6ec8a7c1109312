// Ids bound to keys, as users meet them: `conec recv -i bob` from one
// client state directory binds bob; bob from another (another key) exits 4
// naming the bound key, across coordinator restarts, until the operator runs
// `conec coordinator --forget bob`. Random ids are never recorded, and a
// damaged record file is reported line by line, not fatal.
#include <catch2/catch.hpp>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/cli_fixture.hpp"
#include "tls/identity.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using Catch::Matchers::Contains;
using test::CliCoordinator;
using test::Process;

namespace {

size_t error_lines(const std::string &err) {
  size_t count = 0;
  for (size_t pos = 0; (pos = err.find("conec: error: ", pos)) != std::string::npos; pos += 14) ++count;
  return count;
}

// `conec recv -i ID` with its own client state directory, against `coord`,
// until --timeout: exit 7 means it registered, 4 that it was refused.
struct Recv {
  Recv(const CliCoordinator &coord, const std::string &id, const std::string &client_dir)
      : process({CONEC_BINARY, "recv", "-i", id, "-c", "127.0.0.1:" + std::to_string(coord.port), "--pin",
                 coord.fingerprint, "--state-dir", client_dir, "--timeout", "1"}) {
    code = process.wait(30);
  }
  Process process;
  int code = -1;
};

// The public-key fingerprint of the key a client state directory holds for `id`.
std::string key_in(const std::string &client_dir, const std::string &id) {
  auto fp = tls::public_key_fingerprint_of_pem(test::read_file(client_dir + "/clients/" + id + ".pem"));
  return fp ? *fp : "?";
}

int forget(const std::string &state_dir, std::vector<std::string> ids, std::string &err) {
  std::vector<std::string> argv{CONEC_BINARY, "coordinator", "--state-dir", state_dir};
  for (const auto &id : ids) {
    argv.push_back("--forget");
    argv.push_back(id);
  }
  Process p(argv);
  int code = p.wait(30);
  err = p.err;
  CHECK(p.out.empty());
  return code;
}

} // namespace

TEST_CASE("conec recv -i bob binds bob to its key: another key exits 4 naming it, across restarts, until "
          "--forget bob",
          "[cli][bindings]") {
  std::string dir = test::make_temp_dir();
  std::string coord_dir = dir + "/coord", mine = dir + "/mine", theirs = dir + "/theirs";
  std::string bound;
  {
    CliCoordinator coord(coord_dir);
    REQUIRE(coord.ready);
    CHECK_THAT(coord.process.err, Contains("id bindings: " + coord_dir +
                                           "/id-bindings (0 ids; idle ones expire after 30 days)"));
    Recv first(coord, "bob", mine);
    INFO(first.process.err);
    REQUIRE(first.code == 7); // registered, then --timeout
    bound = key_in(mine, "bob");
    REQUIRE(bound.rfind("sha256:", 0) == 0);

    Recv other(coord, "bob", theirs);
    INFO(other.process.err);
    CHECK(other.code == 4);
    CHECK(error_lines(other.process.err) == 1);
    CHECK_THAT(
        other.process.err,
        Contains("conec: error: coordinator refused us: id 'bob' is bound to another key (" + bound + ")"));
    CHECK_THAT(other.process.err, Contains(key_in(theirs, "bob")));

    // A random id (send without -i) registers but is never recorded.
    Process send({CONEC_BINARY, "send", "nobody", "/dev/null", "-c",
                  "127.0.0.1:" + std::to_string(coord.port), "--pin", coord.fingerprint, "--state-dir",
                  theirs, "--no-progress"});
    CHECK(send.wait(30) == 5);

    // --forget refuses while the coordinator runs: it would write its own copy back.
    std::string err;
    CHECK(forget(coord_dir, {"bob"}, err) == 1);
    CHECK_THAT(err, Contains("in use by another process"));
    coord.process.signal(SIGTERM);
    CHECK(coord.process.wait(10) == 0);
  }
  std::string record = test::read_file(coord_dir + "/id-bindings");
  CHECK_THAT(record, Contains("\nbob " + bound + " "));
  CHECK(record.find("anon-") == std::string::npos);
  CHECK(record.find("nobody") == std::string::npos);
  {
    // The binding survives the restart.
    CliCoordinator coord(coord_dir);
    REQUIRE(coord.ready);
    CHECK_THAT(coord.process.err, Contains("(1 ids;"));
    Recv other(coord, "bob", theirs);
    CHECK(other.code == 4);
    Recv first(coord, "bob", mine);
    CHECK(first.code == 7);
    coord.process.signal(SIGTERM);
    CHECK(coord.process.wait(10) == 0);
  }
  std::string err;
  CHECK(forget(coord_dir, {"bob", "carol"}, err) == 0);
  CHECK_THAT(err, Contains("forgot 'bob' (it was bound to " + bound + ")"));
  CHECK_THAT(err, Contains("'carol' was not bound"));
  CHECK(forget(coord_dir, {"-bad"}, err) == 2);
  CHECK_THAT(err, Contains("invalid id '-bad'"));
  {
    // Now the other key takes bob, and the old one is the stranger.
    CliCoordinator coord(coord_dir);
    REQUIRE(coord.ready);
    Recv other(coord, "bob", theirs);
    INFO(other.process.err);
    CHECK(other.code == 7);
    Recv first(coord, "bob", mine);
    CHECK(first.code == 4);
    CHECK_THAT(first.process.err, Contains("bound to another key (" + key_in(theirs, "bob") + ")"));
    coord.process.signal(SIGTERM);
    CHECK(coord.process.wait(10) == 0);
  }
  test::remove_tree(dir);
}

TEST_CASE("a damaged id-bindings file (garbage, a huge line, no final newline) is reported by line and the "
          "good records hold",
          "[cli][bindings]") {
  std::string dir = test::make_temp_dir();
  std::string coord_dir = dir + "/coord", mine = dir + "/mine", theirs = dir + "/theirs";
  // bob's key exists before any coordinator saw it: bind it by hand.
  tls::CertificateRequest request;
  request.name = "bob";
  auto bob = tls::generate_self_signed(request);
  REQUIRE(bob);
  std::filesystem::create_directories(mine + "/clients");
  REQUIRE(bob->save(mine + "/clients/bob.pem", mine + "/clients/bob.key"));
  std::filesystem::create_directories(coord_dir);
  std::string text = "this is \x01\x02 garbage\n" + std::string(200'000, 'z') + "\nbob " +
                     key_in(mine, "bob") + " " + std::to_string(std::time(nullptr));
  std::ofstream(coord_dir + "/id-bindings", std::ios::binary) << text;
  {
    CliCoordinator coord(coord_dir);
    REQUIRE(coord.ready);
    INFO(coord.process.err);
    CHECK_THAT(coord.process.err, Contains(coord_dir + "/id-bindings:1: expected"));
    CHECK_THAT(coord.process.err, Contains(coord_dir + "/id-bindings:2: longer than 512 bytes"));
    CHECK(coord.process.err.size() < 4000); // the huge line is not echoed
    CHECK_THAT(coord.process.err, Contains("(1 ids;"));
    Recv other(coord, "bob", theirs);
    CHECK(other.code == 4);
    Recv first(coord, "bob", mine);
    CHECK(first.code == 7);
    coord.process.signal(SIGTERM);
    CHECK(coord.process.wait(10) == 0);
  }
  // Rewritten clean; the damaged original is kept for the operator.
  CHECK(test::read_file(coord_dir + "/id-bindings.corrupt") == text);
  std::string record = test::read_file(coord_dir + "/id-bindings");
  CHECK(record.find("garbage") == std::string::npos);
  CHECK_THAT(record, Contains("\nbob " + key_in(mine, "bob") + " "));
  test::remove_tree(dir);
}
