// The client identity cache in the state directory as processes use it
// (issue 9): half-written pairs left by a killed process (a key without
// its certificate, a certificate without its key) are replaced with a
// warning instead of failing every later run; stray temporaries are
// removed; what is created is private (directories 0700, keys 0600). A
// user's own --cert/--key pair with a file missing is a usage error naming
// the file.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/cli_fixture.hpp"
#include "tls/identity.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;

namespace {

struct Dir {
  Dir() : path(test::make_temp_dir()) {}
  ~Dir() { test::remove_tree(path); }
  std::string path;
};

mode_t mode_of(const std::string &path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

// `conec recv -i ID --timeout 1` with its own state directory: registered,
// then exit 7 once the second passed (any earlier failure is another code).
int register_once(const CliCoordinator &coord, const std::string &id, const std::string &state, std::string &err) {
  std::vector<std::string> argv = test::conec_argv(coord, {"recv", "-i", id, "--timeout", "1"});
  argv.back() = state; // conec_argv ends with --state-dir <coordinator's>: use ours
  Process p(argv);
  int code = p.wait(30);
  err = p.err;
  return code;
}

tls::Identity make_identity(const std::string &name) {
  tls::CertificateRequest r;
  r.name = name;
  return *tls::generate_self_signed(r);
}

void write_file(const std::string &path, const std::string &text) { std::ofstream(path, std::ios::binary) << text; }

} // namespace

TEST_CASE("a key without its certificate in the state directory is replaced with a warning", "[cli][identity]") {
  Dir dir;
  CliCoordinator coord(dir.path + "/coord");
  REQUIRE(coord.ready);
  std::string state = dir.path + "/state", clients = state + "/clients";
  std::filesystem::create_directories(clients);
  // What an older conec left when killed between writing the key and the
  // certificate, plus a temporary of a process killed inside the write.
  write_file(clients + "/bob.key", make_identity("bob").key_pem);
  write_file(clients + "/bob.pem.tmp-0123456789abcdef", "half a certificate");
  write_file(clients + "/notes.txt", "not ours");
  std::string err;
  CHECK(register_once(coord, "bob", state, err) == 7);
  INFO(err);
  CHECK(err.find(clients + "/bob.key has no certificate beside it") != std::string::npos);
  CHECK(err.find("creating a new identity") != std::string::npos);
  // A complete, matching pair now, and the stray temporary is gone.
  CHECK(tls::Identity::load(clients + "/bob.pem", clients + "/bob.key"));
  CHECK_FALSE(std::filesystem::exists(clients + "/bob.pem.tmp-0123456789abcdef"));
  CHECK(std::filesystem::exists(clients + "/notes.txt"));
  // The next run uses it quietly.
  CHECK(register_once(coord, "bob", state, err) == 7);
  CHECK(err.find("beside it") == std::string::npos);
}

TEST_CASE("a certificate without its key in the state directory is replaced with a warning", "[cli][identity]") {
  Dir dir;
  CliCoordinator coord(dir.path + "/coord");
  REQUIRE(coord.ready);
  std::string state = dir.path + "/state", clients = state + "/clients";
  std::filesystem::create_directories(clients);
  write_file(clients + "/carol.pem", make_identity("carol").cert_pem);
  std::string err;
  CHECK(register_once(coord, "carol", state, err) == 7);
  INFO(err);
  CHECK(err.find(clients + "/carol.pem has no key beside it") != std::string::npos);
  CHECK(tls::Identity::load(clients + "/carol.pem", clients + "/carol.key"));
}

TEST_CASE("state directories a client or coordinator creates are 0700, keys 0600", "[cli][identity]") {
  Dir dir;
  std::string coord_state = dir.path + "/deep/coord";
  CliCoordinator coord(coord_state);
  REQUIRE(coord.ready);
  CHECK(mode_of(dir.path + "/deep") == 0700);
  CHECK(mode_of(coord_state) == 0700);
  CHECK(mode_of(coord_state + "/coordinator.key") == 0600);
  CHECK(mode_of(coord_state + "/coordinator.pem") == 0644);

  std::string state = dir.path + "/a/b/state";
  std::string err;
  CHECK(register_once(coord, "dave", state, err) == 7);
  INFO(err);
  CHECK(mode_of(dir.path + "/a") == 0700);
  CHECK(mode_of(dir.path + "/a/b") == 0700);
  CHECK(mode_of(state) == 0700);
  CHECK(mode_of(state + "/clients") == 0700);
  CHECK(mode_of(state + "/clients/dave.key") == 0600);
  CHECK(mode_of(state + "/clients/dave.pem") == 0644);
  // Nothing else was left beside them.
  size_t files = 0;
  for ([[maybe_unused]] auto &e : std::filesystem::directory_iterator(state + "/clients")) ++files;
  CHECK(files == 2);
}

TEST_CASE("a corrupt cached pair is an error naming the file, not silently replaced", "[cli][identity]") {
  Dir dir;
  CliCoordinator coord(dir.path + "/coord");
  REQUIRE(coord.ready);
  std::string state = dir.path + "/state", clients = state + "/clients";
  std::filesystem::create_directories(clients);
  write_file(clients + "/erin.pem", make_identity("erin").cert_pem);
  write_file(clients + "/erin.key", make_identity("someone-else").key_pem);
  std::string err;
  CHECK(register_once(coord, "erin", state, err) == 2);
  INFO(err);
  CHECK(err.find("conec: error: ") == 0);
  CHECK(err.find(clients + "/erin.key") != std::string::npos);
  CHECK(err.find("does not match") != std::string::npos);
}

TEST_CASE("a user-given certificate whose --key file is missing exits 2 naming the key file", "[cli][identity]") {
  Dir dir;
  CliCoordinator coord(dir.path + "/coord");
  REQUIRE(coord.ready);
  auto id = make_identity("frank");
  write_file(dir.path + "/frank.pem", id.cert_pem);
  Process p(test::conec_argv(coord, {"recv", "-i", "frank", "--cert", dir.path + "/frank.pem", "--key",
                                     dir.path + "/frank.key", "--timeout", "1"}));
  CHECK(p.wait(15) == 2);
  INFO(p.err);
  CHECK(p.err.find("conec: error: ") == 0);
  CHECK(p.err.find("key file '" + dir.path + "/frank.key'") != std::string::npos);
}

TEST_CASE("Identity::save leaves a complete pair and no temporaries", "[cli][identity]") {
  Dir dir;
  auto id = make_identity("gina");
  REQUIRE(id.save(dir.path + "/g.pem", dir.path + "/g.key"));
  CHECK(tls::Identity::load(dir.path + "/g.pem", dir.path + "/g.key"));
  size_t files = 0;
  for (auto &e : std::filesystem::directory_iterator(dir.path)) {
    ++files;
    CHECK_FALSE(tls::is_save_temporary(e.path().filename().string()));
  }
  CHECK(files == 2);
  CHECK(tls::is_save_temporary("g.pem.tmp-0123456789abcdef"));
  CHECK_FALSE(tls::is_save_temporary("g.pem.tmp-0123456789abcdeg"));
  CHECK_FALSE(tls::is_save_temporary("g.pem.tmp-0123"));
  CHECK_FALSE(tls::is_save_temporary("g.pem"));
}
