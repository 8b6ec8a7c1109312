// Peers verified by the clients themselves (SPEC §3): a coordinator that
// lies about who a peer is (conec-rogue-coordinator, the real coordinator
// with its test hooks set) is caught by a client that knows the peer from
// an earlier channel, by one with --peer-pin and by one in CA mode: exit 5,
// naming the key presented and the one expected. First contact through a
// lying coordinator is shown too: it reaches the impostor, which is what
// pins and CAs are for.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <sstream>

#include "support/cli_fixture.hpp"
#include "support/loopback.hpp"
#include "tls/identity.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using Catch::Matchers::Contains;
using test::CliCoordinator;
using test::Process;

namespace {

// The public key a client state directory holds for `id`.
std::string key_in(const std::string &client_dir, const std::string &id) {
  auto fp = tls::public_key_fingerprint_of_pem(test::read_file(client_dir + "/clients/" + id + ".pem"));
  return fp ? *fp : "?";
}

std::string sha256_hex(const std::string &data) {
  test::Sha256 h;
  h.update(as_bytes(data));
  return h.hex();
}

std::string key_of_pem_file(const std::string &path) {
  auto fp = tls::public_key_fingerprint_of_pem(test::read_file(path));
  return fp ? *fp : "?";
}

// argv of a client subcommand against `coord`, with its own state directory.
std::vector<std::string> client(const CliCoordinator &coord, const std::string &state_dir,
                                std::vector<std::string> words) {
  std::vector<std::string> argv{CONEC_BINARY};
  argv.insert(argv.end(), words.begin(), words.end());
  argv.insert(argv.end(), {"-c", "127.0.0.1:" + std::to_string(coord.port), "--pin", coord.fingerprint,
                           "--state-dir", state_dir});
  return argv;
}

// A `recv -v` that is registered (so a request for it cannot fail for
// being too early) and gives up after `seconds`.
struct Receiver {
  Receiver(std::vector<std::string> argv) : process(std::move(argv)) {
    registered = process.wait_for_stderr("registered as");
  }
  Process process;
  bool registered = false;
};

std::vector<std::string> with(std::vector<std::string> argv, std::vector<std::string> more) {
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

} // namespace

TEST_CASE("a coordinator that introduces an impostor as a known peer is refused: exit 5 naming both keys",
          "[cli][trust]") {
  std::string dir = test::make_temp_dir();
  std::string coord_dir = dir + "/coord", alice = dir + "/alice", bob = dir + "/bob", mallory = dir + "/mallory",
              carol = dir + "/carol";
  std::string file = dir + "/data";
  std::string sha = test::write_random_file(file, 40'000, 7);
  uint16_t port = 0;
  std::string pin;
  {
    // Honest first: alice sends to bob, and each records the other.
    CliCoordinator coord(coord_dir);
    REQUIRE(coord.ready);
    port = coord.port;
    pin = coord.fingerprint;
    Receiver b(client(coord, bob, {"recv", "-v", "-i", "bob", "--timeout", "20"}));
    REQUIRE(b.registered);
    Process send(client(coord, alice, {"send", "-i", "alice", "bob", file}));
    int sent = send.wait(30);
    INFO(send.err);
    REQUIRE(sent == 0);
    REQUIRE(b.process.wait(30) == 0);
    CHECK(sha256_hex(b.process.out) == sha);
    std::string record = "127.0.0.1:" + std::to_string(port) + " bob " + key_in(bob, "bob") + " ";
    CHECK_THAT(test::read_file(alice + "/known-peers"), Contains(record));
    CHECK_THAT(test::read_file(bob + "/known-peers"),
               Contains("127.0.0.1:" + std::to_string(port) + " alice " + key_in(alice, "alice") + " "));
    coord.process.signal(SIGTERM);
    CHECK(coord.process.wait(30) == 0);
  }
  // The same coordinator (address, key) now lies: requests for bob go to
  // mallory, who is introduced as bob.
  CliCoordinator rogue({CONEC_ROGUE_BINARY, "--cert", coord_dir + "/coordinator.pem", "--key",
                        coord_dir + "/coordinator.key", "--impersonate", "bob=mallory"},
                       coord_dir, {"--listen", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(rogue.ready);
  REQUIRE(rogue.port == port);
  REQUIRE(rogue.fingerprint == pin);
  Receiver m(client(rogue, mallory, {"recv", "-v", "-i", "mallory", "--timeout", "20"}));
  REQUIRE(m.registered);

  Process refused(client(rogue, alice, {"send", "-i", "alice", "bob", file}));
  int code = refused.wait(30);
  INFO(refused.err);
  CHECK(code == 5);
  CHECK_THAT(refused.err, Contains("conec: error: 'bob' is not who the coordinator says: it presented key " +
                                   key_in(mallory, "mallory") + ", but " + alice + "/known-peers:4 records key " +
                                   key_in(bob, "bob") + " for 'bob'"));
  CHECK(refused.out.empty());

  // First contact has nothing to compare with: carol's data reaches the
  // impostor. The check above is what stopped alice.
  Process fooled(client(rogue, carol, {"send", "-i", "carol", "bob", file}));
  CHECK(fooled.wait(30) == 0);
  CHECK(m.process.wait(30) == 0);
  CHECK(sha256_hex(m.process.out) == sha); // carol's, once: alice sent nothing
  CHECK_THAT(test::read_file(carol + "/known-peers"), Contains(" bob " + key_in(mallory, "mallory") + " "));

  // The acceptor's side: mallory, posing as... alice is known to bob, so a
  // channel "from alice" with another key is refused by bob himself.
  rogue.process.signal(SIGTERM);
  CHECK(rogue.process.wait(30) == 0);
  CliCoordinator rogue2({CONEC_ROGUE_BINARY, "--cert", coord_dir + "/coordinator.pem", "--key",
                         coord_dir + "/coordinator.key", "--impersonate", "alice=mallory"},
                        coord_dir, {"--listen", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(rogue2.ready);
  Receiver b2(client(rogue2, bob, {"recv", "-v", "-i", "bob", "--timeout", "60"}));
  REQUIRE(b2.registered);
  Process posing(client(rogue2, mallory, {"send", "-i", "mallory", "bob", file}));
  CHECK(posing.wait(30) == 5);
  CHECK_THAT(posing.err, Contains("'alice' is not who the coordinator says"));
  b2.process.signal(SIGINT); // nothing arrived: it was still waiting
  CHECK(b2.process.wait(30) == 130);
  CHECK(b2.process.out.empty());
  CHECK_THAT(b2.process.err, Contains("refusing the channel from 'alice': 'alice' is not who the coordinator "
                                      "says: it presented key " +
                                      key_in(mallory, "mallory") + ", but " + bob + "/known-peers:4 records key " +
                                      key_in(alice, "alice")));
  test::remove_tree(dir);
}

TEST_CASE("a pinned peer (--peer-pin) is accepted only with the pinned key or certificate, whatever the coordinator "
          "says",
          "[cli][trust]") {
  std::string dir = test::make_temp_dir();
  std::string coord_dir = dir + "/coord", alice = dir + "/alice", bob = dir + "/bob";
  std::string file = dir + "/data";
  std::string sha = test::write_random_file(file, 10'000, 3);
  CliCoordinator coord(coord_dir);
  REQUIRE(coord.ready);
  // bob hands out his key's fingerprint before he ever connected: it
  // creates his identity, and is what his later channels present.
  Process fp({CONEC_BINARY, "cert", "fingerprint", "-i", "bob", "--key", "--state-dir", bob});
  REQUIRE(fp.wait(30) == 0);
  CHECK_THAT(fp.err, Contains("conec: created " + bob + "/clients/bob.pem for 'bob'"));
  CHECK_THAT(fp.err, Contains("peers pin 'bob' with --peer-pin bob=sha256:"));
  std::string bob_key = fp.out.substr(0, fp.out.find('\n'));
  CHECK(bob_key == key_in(bob, "bob"));
  Process printed({CONEC_BINARY, "cert", "fingerprint", "-i", "bob", "--state-dir", bob});
  REQUIRE(printed.wait(30) == 0);
  CHECK(printed.out == *tls::fingerprint_of_pem(test::read_file(bob + "/clients/bob.pem")) + "\n");
  CHECK(printed.err.find("created") == std::string::npos); // reused
  Process neither({CONEC_BINARY, "cert", "fingerprint"});
  CHECK(neither.wait(30) == 2);
  CHECK_THAT(neither.err, Contains("give a certificate FILE, or -i ID"));
  {
    // bob's key by pin: the honest coordinator's channel is accepted, with
    // bob's key or his certificate's fingerprint (conec cert fingerprint).
    Receiver b(client(coord, bob, {"recv", "-v", "-i", "bob", "-k", "--timeout", "20"}));
    REQUIRE(b.registered);
    auto cert_fp = tls::fingerprint_of_pem(test::read_file(bob + "/clients/bob.pem"));
    REQUIRE(cert_fp);
    for (const std::string &p : {bob_key, *cert_fp}) {
      Process send(client(coord, alice, {"send", "--peer-pin", "bob=" + p, "bob", file}));
      INFO(send.err);
      CHECK(send.wait(30) == 0);
    }
    b.process.signal(SIGINT);
    CHECK(b.process.wait(30) == 0);
    CHECK(b.process.out.size() == 20'000);
    // Random ids (send without -i) are not recorded by bob.
    CHECK_THAT(test::read_file(bob + "/known-peers"), !Contains("anon-"));
  }
  coord.process.signal(SIGTERM);
  CHECK(coord.process.wait(30) == 0);

  // A coordinator that introduces mallory as bob, to an alice that has
  // never met bob (no known peers) but pins him.
  CliCoordinator rogue({CONEC_ROGUE_BINARY, "--cert", coord_dir + "/coordinator.pem", "--key",
                        coord_dir + "/coordinator.key", "--impersonate", "bob=mallory"},
                       coord_dir, {});
  REQUIRE(rogue.ready);
  std::string mallory = dir + "/mallory";
  Receiver m(client(rogue, mallory, {"recv", "-v", "-i", "mallory", "--timeout", "60"}));
  REQUIRE(m.registered);
  Process send(client(rogue, dir + "/fresh", {"send", "--peer-pin", "bob=" + bob_key, "bob", file}));
  CHECK(send.wait(30) == 5);
  INFO(send.err);
  auto mallory_cert = tls::fingerprint_of_pem(test::read_file(mallory + "/clients/mallory.pem"));
  REQUIRE(mallory_cert);
  CHECK_THAT(send.err, Contains("conec: error: 'bob' is not who the coordinator says: it presented key " +
                                key_in(mallory, "mallory") + " (certificate " + *mallory_cert +
                                "), but --peer-pin bob=" + bob_key + " expects another"));
  m.process.signal(SIGINT); // nothing arrived: it was still waiting
  CHECK(m.process.wait(30) == 130);
  CHECK(m.process.out.empty());

  // Bad pins are usage errors.
  for (const std::string &bad : std::vector<std::string>{"bob", "bob=sha256:12", "bad!id=" + bob_key}) {
    Process p(client(rogue, alice, {"send", "--peer-pin", bad, "bob", file}));
    CHECK(p.wait(30) == 2);
    CHECK_THAT(p.err, Contains("--peer-pin"));
  }
  test::remove_tree(dir);
}

TEST_CASE("CA mode: a client checks the peer's certificate against its CA and its id, whatever the "
          "coordinator says",
          "[cli][trust]") {
  std::string dir = test::make_temp_dir();
  auto cert = [&](std::vector<std::string> args) {
    Process p(with({CONEC_BINARY, "cert"}, args));
    INFO(p.err);
    REQUIRE(p.wait(30) == 0);
  };
  cert({"ca", "--out", dir + "/ca"});
  cert({"issue", "--ca", dir + "/ca", "--host", "127.0.0.1", "--out", dir + "/coord"});
  for (const char *id : {"alice", "bob", "mallory"}) cert({"issue", "--ca", dir + "/ca", "--id", id, "--out", dir + "/" + id});
  std::string file = dir + "/data";
  std::string sha = test::write_random_file(file, 10'000, 5);
  // Client argv in CA mode: --ca trusts the coordinator, and since that CA
  // issued our --cert it is our peers' CA too.
  auto argv = [&](const CliCoordinator &c, const std::string &id, std::vector<std::string> words) {
    return with(with({CONEC_BINARY}, words), {"-i", id, "-c", "127.0.0.1:" + std::to_string(c.port), "--ca",
                                              dir + "/ca.pem", "--cert", dir + "/" + id + ".pem", "--key",
                                              dir + "/" + id + ".key", "--state-dir", dir + "/" + id + "-state"});
  };
  CliCoordinator rogue({CONEC_ROGUE_BINARY, "--cert", dir + "/coord.pem", "--key", dir + "/coord.key",
                        "--client-ca", dir + "/ca.pem", "--impersonate", "bob=mallory"},
                       dir, {});
  REQUIRE(rogue.ready);
  Receiver m(argv(rogue, "mallory", {"recv", "-v", "--timeout", "60"}));
  REQUIRE(m.registered);
  Process send(argv(rogue, "alice", {"send", "bob", file}));
  CHECK(send.wait(30) == 5);
  INFO(send.err);
  CHECK_THAT(send.err, Contains("'bob' is not who the coordinator says: its CA-signed certificate (key " +
                                key_of_pem_file(dir + "/mallory.pem") + ") is not for id 'bob' (it carries: "));
  m.process.signal(SIGINT); // nothing arrived: it was still waiting
  CHECK(m.process.wait(30) == 130);
  CHECK(m.process.out.empty());
  // Not known peers: the CA binds ids, and nothing was recorded.
  CHECK(test::read_file(dir + "/alice-state/known-peers").empty());

  // A coordinator posing as bob with its own certificate, from another CA.
  rogue.process.signal(SIGTERM);
  CHECK(rogue.process.wait(30) == 0);
  cert({"ca", "--out", dir + "/other"});
  cert({"issue", "--ca", dir + "/other", "--host", "127.0.0.1", "--out", dir + "/other-coord"});
  CliCoordinator posing({CONEC_ROGUE_BINARY, "--cert", dir + "/other-coord.pem", "--key", dir + "/other-coord.key",
                         "--client-ca", dir + "/ca.pem", "--substitute-own-cert"},
                        dir, {});
  REQUIRE(posing.ready);
  // The coordinator by pin now, peers by --peer-ca.
  auto pinned = [&](const std::string &id, std::vector<std::string> words) {
    return with(with({CONEC_BINARY}, words),
                {"-i", id, "-c", "127.0.0.1:" + std::to_string(posing.port), "--pin", posing.fingerprint, "--cert",
                 dir + "/" + id + ".pem", "--key", dir + "/" + id + ".key", "--peer-ca", dir + "/ca.pem",
                 "--state-dir", dir + "/" + id + "-state"});
  };
  Receiver b(pinned("bob", {"recv", "-v", "--timeout", "60"}));
  REQUIRE(b.registered);
  Process send2(pinned("alice", {"send", "bob", file}));
  CHECK(send2.wait(30) == 5);
  INFO(send2.err);
  // bob catches it first (alice's certificate was swapped too) and says why.
  CHECK_THAT(send2.err, Contains("'bob' refused the channel: 'alice' is not who the coordinator says: its "
                                 "certificate (key " +
                                 key_of_pem_file(dir + "/other-coord.pem") +
                                 ") fails the CA check: certificate is not signed by the trusted CA"));
  b.process.signal(SIGINT); // nothing arrived: it was still waiting
  CHECK(b.process.wait(30) == 130);
  test::remove_tree(dir);
}

TEST_CASE("a channel to another id than the one asked for is refused, even at first contact", "[cli][trust]") {
  std::string dir = test::make_temp_dir();
  std::string coord_dir = dir + "/coord", file = dir + "/data";
  test::write_random_file(file, 1000, 9);
  {
    CliCoordinator coord(coord_dir); // creates the coordinator's identity
    REQUIRE(coord.ready);
  }
  CliCoordinator rogue({CONEC_ROGUE_BINARY, "--cert", coord_dir + "/coordinator.pem", "--key",
                        coord_dir + "/coordinator.key", "--route", "bob=mallory"},
                       coord_dir, {});
  REQUIRE(rogue.ready);
  Receiver m(client(rogue, dir + "/mallory", {"recv", "-v", "-i", "mallory", "--timeout", "60"}));
  REQUIRE(m.registered);
  Process send(client(rogue, dir + "/alice", {"send", "-i", "alice", "bob", file}));
  CHECK(send.wait(30) == 5);
  INFO(send.err);
  CHECK_THAT(send.err,
             Contains("conec: error: the coordinator answered our request for 'bob' with a channel to 'mallory'"));
  m.process.signal(SIGINT); // nothing arrived: it was still waiting
  CHECK(m.process.wait(30) == 130);
  CHECK(m.process.out.empty());
  test::remove_tree(dir);
}
