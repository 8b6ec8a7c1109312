// Certificate roles as users meet them: a client certificate (`conec cert
// issue --id`) cannot serve as a coordinator's, even for an id that looks
// like the coordinator's address, whether the client trusts by --ca or
// --pin (exit 3); a coordinator certificate (`--host`) cannot log in as a
// client, in CA mode or default mode (exit 4); every refusal says why.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <regex>

#include "support/cli_fixture.hpp"
#include "support/coord_fixture.hpp"

using namespace conec;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using test::CliCoordinator;
using test::Process;

namespace {

// `conec cert ...` to completion; REQUIREs success.
void cert(std::vector<std::string> args) {
  args.insert(args.begin(), CONEC_BINARY);
  Process p(args);
  int code = test::run(p);
  INFO(p.err);
  REQUIRE(code == 0);
}

std::string fingerprint_of(const std::string &file) {
  Process p({CONEC_BINARY, "cert", "fingerprint", file});
  REQUIRE(test::run(p) == 0);
  return p.out.substr(0, p.out.find('\n'));
}

// Runs `loop` (an in-process coordinator) until `p` exits; its exit code.
int wait_pumping(Process &p, loop::Loop &loop, double seconds = 30) {
  loop::Timer tick(loop, [] {});
  tick.start(5, 5);
  auto exited = [&] {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(p.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == p.pid;
  };
  if (!test::run_until(loop, exited, seconds)) return -1;
  return p.wait(5);
}

// A CA and certificates of both roles, in a temporary directory.
struct Pki {
  Pki() {
    cert({"cert", "ca", "--out", dir + "/ca", "-q"});
    cert({"cert", "issue", "--ca", dir + "/ca", "--host", "127.0.0.1", "--out", dir + "/coord", "-q"});
    cert({"cert", "issue", "--ca", dir + "/ca", "--id", "alice", "--out", dir + "/alice", "-q"});
    // A client id that is also the address a rogue coordinator listens on.
    cert({"cert", "issue", "--ca", dir + "/ca", "--id", "127.0.0.77", "--out", dir + "/id77", "-q"});
    // A coordinator certificate whose name is a client id.
    cert({"cert", "issue", "--ca", dir + "/ca", "--host", "bob", "--out", dir + "/host-bob", "-q"});
  }
  ~Pki() { test::remove_tree(dir); }
  std::vector<std::string> identity(const std::string &stem) const {
    return {"--cert", dir + "/" + stem + ".pem", "--key", dir + "/" + stem + ".key"};
  }
  std::string dir = test::make_temp_dir();
};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

} // namespace

TEST_CASE("a client certificate cannot serve as coordinator, even at its own address", "[cli]") {
  Pki pki;
  // The rogue coordinator is the library, not `conec coordinator` (which
  // refuses to start with such a certificate, below).
  coord::CoordinatorOptions options;
  options.listen = *SockAddr::parse("127.0.0.77:0", 0);
  options.identity = *tls::Identity::load(pki.dir + "/id77.pem", pki.dir + "/id77.key");
  test::CoordFixture fx(options);
  REQUIRE(fx.coordinator);
  std::string address = fx.coordinator->local_address().to_string();
  REQUIRE_THAT(address, StartsWith("127.0.0.77:"));

  std::vector<std::string> recv = concat({CONEC_BINARY, "recv", "-c", address, "-i", "alice", "--timeout", "5"},
                                         pki.identity("alice"));
  for (std::vector<std::string> trust :
       {std::vector<std::string>{"--ca", pki.dir + "/ca.pem"}, {"--pin", fingerprint_of(pki.dir + "/id77.pem")}}) {
    INFO(trust[0]);
    Process p(concat(recv, trust));
    int code = wait_pumping(p, fx.loop);
    INFO(p.err);
    CHECK(code == 3);
    CHECK_THAT(p.err, StartsWith("conec: error: "));
    CHECK_THAT(p.err, Contains("certificate is for client authentication only (extended key usage: clientAuth), "
                               "not a coordinator certificate"));
  }
}

TEST_CASE("conec coordinator refuses a client certificate as --cert (exit 2)", "[cli]") {
  Pki pki;
  Process p(concat({CONEC_BINARY, "coordinator", "--listen", "127.0.0.1:0", "--state-dir", pki.dir + "/state"},
                   pki.identity("alice")));
  int code = test::run(p);
  INFO(p.err);
  CHECK(code == 2);
  CHECK_THAT(p.err, StartsWith("conec: error: --cert " + pki.dir + "/alice.pem: certificate is for client "
                               "authentication only"));
}

TEST_CASE("a coordinator certificate cannot log in as a client (exit 4, saying why)", "[cli]") {
  Pki pki;
  auto check_refused = [&](const std::vector<std::string> &argv) {
    Process p(argv);
    int code = test::run(p);
    INFO(p.err);
    CHECK(code == 4);
    CHECK_THAT(p.err, StartsWith("conec: error: coordinator "));
    CHECK_THAT(p.err, Contains("refused our client certificate"));
    CHECK_THAT(p.err, Contains("our certificate is a server certificate (extended key usage: serverAuth), not a "
                               "client certificate (conec cert issue --id makes those)"));
  };
  {
    Process coord(concat({CONEC_BINARY, "coordinator", "--listen", "127.0.0.1:0", "--client-ca", pki.dir + "/ca.pem"},
                         pki.identity("coord")));
    REQUIRE(coord.wait_for_stderr("clients connect with:"));
    std::smatch m;
    REQUIRE(std::regex_search(coord.err, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")));
    std::vector<std::string> client = {CONEC_BINARY, "recv",   "-c", "127.0.0.1:" + m[1].str(), "--ca",
                                       pki.dir + "/ca.pem", "-i",    "bob", "--timeout",        "5"};
    check_refused(concat(client, pki.identity("host-bob")));
    // The CA's client certificate for the same coordinator still gets in
    // (registered, then --timeout: 7), so the refusal above is the role's.
    Process alice(concat({CONEC_BINARY, "recv", "-c", "127.0.0.1:" + m[1].str(), "--ca", pki.dir + "/ca.pem", "-i",
                          "alice", "--timeout", "1"},
                         pki.identity("alice")));
    CHECK(test::run(alice) == 7);
    coord.signal(SIGTERM);
    CHECK(coord.wait() == 0);
  }
  {
    CliCoordinator coord(pki.dir + "/state");
    REQUIRE(coord.ready);
    check_refused(concat(test::conec_argv(coord, {"recv", "-i", "bob", "--timeout", "5"}), pki.identity("host-bob")));
    check_refused(concat(test::conec_argv(coord, {"client", "-i", "bob", "--timeout", "5"}), pki.identity("host-bob")));
  }
}
