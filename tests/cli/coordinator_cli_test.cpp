// The conec binary as users run it: version, help, usage errors, and a
// coordinator that starts on its defaults, serves a client and stops cleanly.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "support/coord_fixture.hpp"
#include "support/process.hpp"
#include "support/quic_pair.hpp"

using namespace conec;
using test::Process;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/conec-cli-XXXXXX";
  return mkdtemp(tmpl);
}

// Starts `conec coordinator` on a free loopback port; returns port and fingerprint.
struct RunningCoordinator {
  explicit RunningCoordinator(const std::string &state_dir)
      : process({CONEC_BINARY, "coordinator", "--listen", "127.0.0.1:0", "--state-dir", state_dir}) {
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

} // namespace

TEST_CASE("conec --version prints the version on stdout", "[cli]") {
  Process p({CONEC_BINARY, "--version"});
  REQUIRE(p.wait() == 0);
  CHECK(p.out == std::string("conec ") + CONEC_VERSION + "\n");
}

TEST_CASE("conec --help names the subcommands", "[cli]") {
  Process p({CONEC_BINARY, "--help"});
  REQUIRE(p.wait() == 0);
  CHECK(p.out.find("coordinator") != std::string::npos);
  Process sub({CONEC_BINARY, "coordinator", "--help"});
  REQUIRE(sub.wait() == 0);
  CHECK(sub.out.find("--listen") != std::string::npos);
  CHECK(sub.out.find("--client-ca") != std::string::npos);
}

TEST_CASE("usage errors exit 2 with one conec: error: line", "[cli]") {
  for (std::vector<std::string> args : {std::vector<std::string>{CONEC_BINARY, "--bogus"},
                                        std::vector<std::string>{CONEC_BINARY},
                                        std::vector<std::string>{CONEC_BINARY, "coordinator", "--cert", "/nonexistent"},
                                        std::vector<std::string>{CONEC_BINARY, "coordinator", "--listen", "1.2.3.4:99999"}}) {
    Process p(args);
    INFO(args.back());
    CHECK(p.wait() == 2);
    CHECK(p.err.rfind("conec: error: ", 0) == 0);
    CHECK(p.out.empty());
  }
}

TEST_CASE("coordinator on defaults: creates its identity, serves a client, stops on SIGTERM", "[cli]") {
  std::string dir = temp_dir();
  std::string fingerprint;
  {
    RunningCoordinator coord(dir);
    REQUIRE(coord.ready);
    CHECK(coord.process.err.find("(created)") != std::string::npos);
    REQUIRE(coord.port != 0);
    REQUIRE(coord.fingerprint.size() == 71);
    fingerprint = coord.fingerprint;
    // A self-signed certificate: the suggested client line pins it.
    CHECK(coord.process.err.find("clients connect with: conec client -c HOST:" + std::to_string(coord.port) +
                                 " --pin " + fingerprint + " -i NAME\n") != std::string::npos);
    struct stat st{};
    REQUIRE(stat((dir + "/coordinator.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(coord.process.out.empty()); // stdout carries data only

    // A client pinned to the printed fingerprint registers.
    loop::Loop loop;
    {
      client::ClientOptions o;
      o.coordinator = SockAddr::loopback(AF_INET, coord.port);
      o.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
      o.verify_coordinator.pin = *tls::parse_pin(coord.fingerprint);
      o.id = "tester";
      o.identity = test::identity_for("tester");
      test::ClientEvents events;
      auto c = client::Client::create(loop, o, events);
      REQUIRE(c);
      REQUIRE(test::run_until(loop, [&] { return events.registered || events.disconnected; }, 10));
      REQUIRE(events.registered);
      coord.process.signal(SIGTERM);
      // The coordinator closes our connection as it shuts down.
      REQUIRE(test::run_until(loop, [&] { return events.disconnected.has_value(); }, 10));
      CHECK(events.disconnected->message.find("coordinator shutting down") != std::string::npos);
      c->reset();
    }
    REQUIRE(coord.process.wait() == 0);
    REQUIRE(loop.close());
  }
  {
    // Second start reuses the identity: same fingerprint, so pins keep working.
    RunningCoordinator again(dir);
    REQUIRE(again.ready);
    CHECK(again.process.err.find("(reused)") != std::string::npos);
    CHECK(again.fingerprint == fingerprint);
    again.process.signal(SIGINT);
    CHECK(again.process.wait() == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("coordinator on a port in use fails with the address and the cause", "[cli]") {
  std::string dir = temp_dir();
  auto taken = net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0));
  REQUIRE(taken);
  Process p({CONEC_BINARY, "coordinator", "--listen", taken->local_address().to_string(), "--state-dir", dir});
  CHECK(p.wait() == 1);
  CHECK(p.err.find("conec: error: ") != std::string::npos);
  CHECK(p.err.find("Address already in use") != std::string::npos);
  CHECK(p.err.find(taken->local_address().to_string()) != std::string::npos);
  std::filesystem::remove_all(dir);
}
