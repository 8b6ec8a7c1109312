// KnownPeers and PeerTrust: the client's own record of peer keys (hostile
// files, processes racing to record one peer) and its verdicts on the
// certificates a coordinator hands it (pins, CA, known peers).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/known_peers.hpp"
#include "client/peer_trust.hpp"
#include "tls/identity.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using client::KnownPeers;
using client::PeerTrust;
using client::PeerTrustOptions;
using Catch::Matchers::Contains;

namespace {

const std::string kKeyA = "sha256:" + std::string(64, 'a');
const std::string kKeyB = "sha256:" + std::string(64, 'b');
const std::string kCoord = "127.0.0.1:1719";

void write(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += what.size()) ++n;
  return n;
}

Bytes der_of(const tls::Identity &id) {
  auto der = tls::der_of_pem(id.cert_pem);
  REQUIRE(der);
  return *der;
}

tls::Identity self_signed(const std::string &name) {
  tls::CertificateRequest r;
  r.name = name;
  auto id = tls::generate_self_signed(r);
  REQUIRE(id);
  return *id;
}

std::string key_of(const tls::Identity &id) {
  auto k = tls::public_key_fingerprint_of_pem(id.cert_pem);
  REQUIRE(k);
  return *k;
}

} // namespace

TEST_CASE("KnownPeers: a first record creates the file 0600 with a header, and lookups find it by coordinator "
          "and canonical id",
          "[client][known-peers]") {
  test::TempDir dir;
  KnownPeers known(dir.path + "/known-peers");
  auto none = known.lookup(kCoord, "bob");
  REQUIRE(none);
  CHECK_FALSE(*none);

  auto rec = known.remember(kCoord, "Bob", kKeyA, 1'700'000'000);
  REQUIRE(rec);
  CHECK(rec->fingerprint == kKeyA);
  CHECK(rec->line == 4);
  std::string text = test::read_file(known.path());
  CHECK(text.rfind("# conec known peers", 0) == 0);
  CHECK_THAT(text, Contains("\n127.0.0.1:1719 bob " + kKeyA + " 1700000000\n"));
  struct stat st {};
  REQUIRE(::stat(known.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto found = known.lookup(kCoord, "BOB");
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->fingerprint == kKeyA);
  CHECK((*found)->line == 4);
  // Ids are names within one coordinator.
  auto elsewhere = known.lookup("127.0.0.1:1720", "bob");
  REQUIRE(elsewhere);
  CHECK_FALSE(*elsewhere);

  // A second record for the same peer is never added: the first one wins.
  auto again = known.remember(kCoord, "bob", kKeyB, 1'700'000'001);
  REQUIRE(again);
  CHECK(again->fingerprint == kKeyA);
  CHECK(count(test::read_file(known.path()), " bob ") == 1);
}

TEST_CASE("KnownPeers: bad lines are skipped and named, good ones still count, and a cut last line does not "
          "swallow the next record",
          "[client][known-peers]") {
  test::TempDir dir;
  std::string path = dir.path + "/known-peers";
  write(path, "# comment\n"
              "\n"
              "127.0.0.1:1719 alice " + kKeyA + " 1\n"
              "127.0.0.1:1719 bob nothex 1\n"
              "127.0.0.1:1719 -bad " + kKeyA + " 1\n"
              "too few fields\n" +
              std::string(600, 'x') + "\n"
              "127.0.0.1:1719 carol " + kKeyB.substr(0, 30)); // cut by a killed writer
  KnownPeers known(path);
  auto alice = known.lookup(kCoord, "alice");
  REQUIRE(alice);
  REQUIRE(*alice);
  CHECK((*alice)->line == 3);
  const auto &problems = known.problems();
  REQUIRE(problems.size() == 5);
  CHECK(problems[0] == path + ":4: not a sha256:<64 hex> fingerprint; skipped");
  CHECK(problems[1] == path + ":5: not a valid id; skipped");
  CHECK_THAT(problems[2], Contains(path + ":6: expected '<coordinator> <id> sha256:<hex> <first-seen>', found 3"));
  CHECK(problems[3] == path + ":7: longer than 512 bytes; skipped");
  CHECK_THAT(problems[4], Contains(path + ":8: expected"));

  auto rec = known.remember(kCoord, "carol", kKeyB, 5);
  REQUIRE(rec);
  CHECK(rec->line == 9);
  auto carol = known.lookup(kCoord, "carol");
  REQUIRE(carol);
  REQUIRE(*carol);
  CHECK((*carol)->fingerprint == kKeyB);
  CHECK((*carol)->line == 9);
}

TEST_CASE("KnownPeers: processes racing to record one peer leave exactly one record", "[client][known-peers]") {
  test::TempDir dir;
  std::string path = dir.path + "/known-peers";
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      KnownPeers known(path);
      std::string key = "sha256:" + std::string(63, 'a') + std::string(1, char('0' + i));
      auto r = known.remember(kCoord, "bob", key, i);
      ::_exit(r ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  std::string text = test::read_file(path);
  CHECK(count(text, " bob ") == 1);
  CHECK(count(text, "# conec known peers") == 1);
}

TEST_CASE("KnownPeers: a lock held elsewhere or an oversized file fail with a reason instead of blocking",
          "[client][known-peers]") {
  test::TempDir dir;
  std::string path = dir.path + "/known-peers";
  KnownPeers known(path);
  {
    // Another process holds the lock (here: another descriptor of ours).
    int fd = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    auto r = known.remember(kCoord, "bob", kKeyA, 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::io);
    CHECK_THAT(r.error().message, Contains("stays locked by another process; not recorded"));
    ::close(fd);
  }
  REQUIRE(known.remember(kCoord, "bob", kKeyA, 1)); // once it is free
  // A file past the size bound is not read at all (sparse: no 16 MiB written).
  REQUIRE(::truncate(path.c_str(), off_t(client::kMaxKnownPeersFile) + 1) == 0);
  auto big = known.lookup(kCoord, "bob");
  REQUIRE_FALSE(big);
  CHECK_THAT(big.error().message, Contains("is larger than 16 MiB: not read"));
  // A FIFO in its place does not hang the reader.
  std::filesystem::remove(path);
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  auto fifo = known.lookup(kCoord, "bob");
  REQUIRE_FALSE(fifo);
  CHECK_THAT(fifo.error().message, Contains("is not a regular file"));
}

TEST_CASE("PeerTrust: first use, then the known key only, and anon- ids are never recorded", "[client][trust]") {
  test::TempDir dir;
  auto bob = self_signed("bob"), mallory = self_signed("bob");
  PeerTrustOptions o;
  o.known_peers_path = dir.path + "/known-peers";
  o.coordinator = kCoord;
  PeerTrust trust(o);

  auto first = trust.check("bob", der_of(bob));
  REQUIRE(first);
  CHECK(first->first_use);
  CHECK(first->key_fingerprint == key_of(bob));
  // Nothing is recorded by check(): only once the handshake proved the key.
  CHECK(test::read_file(o.known_peers_path).empty());
  REQUIRE(trust.remember("bob", first->key_fingerprint));

  auto known = trust.check("BOB", der_of(bob));
  REQUIRE(known);
  CHECK_FALSE(known->first_use);
  auto impostor = trust.check("bob", der_of(mallory));
  REQUIRE_FALSE(impostor);
  CHECK(impostor.error().category == ErrorCategory::peer);
  CHECK(impostor.error().code == client::kPeerNotTrusted);
  CHECK(impostor.error().message == "'bob' is not who the coordinator says: it presented key " + key_of(mallory) +
                                        ", but " + o.known_peers_path + ":4 records key " + key_of(bob) +
                                        " for 'bob' at " + kCoord + " (if its key really changed, delete that line)");
  // remember() of another key after a concurrent first use is refused too.
  auto late = trust.remember("bob", key_of(mallory));
  REQUIRE_FALSE(late);
  CHECK(late.error().code == client::kPeerNotTrusted);

  auto anon = trust.check("anon-0123456789ab", der_of(mallory));
  REQUIRE(anon);
  CHECK_FALSE(anon->first_use);
}

TEST_CASE("PeerTrust: a pin accepts the certificate's or the key's fingerprint and nothing else",
          "[client][trust]") {
  auto bob = self_signed("bob"), other = self_signed("bob");
  for (const std::string &pin : {key_of(bob), *tls::fingerprint_of_pem(bob.cert_pem)}) {
    PeerTrustOptions o;
    o.pins["bob"] = pin;
    PeerTrust trust(o);
    CHECK(trust.check("bob", der_of(bob)));
    auto wrong = trust.check("bob", der_of(other));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().message == "'bob' is not who the coordinator says: it presented key " + key_of(other) +
                                       " (certificate " + *tls::fingerprint_of_pem(other.cert_pem) +
                                       "), but --peer-pin bob=" + pin + " expects another");
    // Other peers are not affected by bob's pin.
    CHECK(trust.check("carol", der_of(other)));
  }
  // A coordinator-only certificate is no peer's, pinned or not.
  tls::CertificateRequest r;
  r.name = "bob";
  r.role = tls::CertificateRole::server;
  auto server = tls::generate_self_signed(r);
  REQUIRE(server);
  PeerTrustOptions o;
  o.pins["bob"] = key_of(*server);
  PeerTrust trust(o);
  auto refused = trust.check("bob", der_of(*server));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Contains("'bob' is not who the coordinator says: its certificate is a server "
                                               "certificate (extended key usage: serverAuth), not a client "
                                               "certificate"));
}

TEST_CASE("PeerTrust in CA mode: the chain and the id decide, known peers are not consulted", "[client][trust]") {
  test::TempDir dir;
  tls::CertificateRequest ca_request;
  ca_request.name = "Test CA";
  ca_request.role = tls::CertificateRole::ca;
  auto ca = tls::generate_self_signed(ca_request);
  REQUIRE(ca);
  auto issue = [&](const std::string &name) {
    tls::CertificateRequest r;
    r.name = name;
    auto id = tls::issue_certificate(*ca, r);
    REQUIRE(id);
    return *id;
  };
  PeerTrustOptions o;
  o.ca_pem = ca->cert_pem;
  o.known_peers_path = dir.path + "/known-peers";
  o.coordinator = kCoord;
  PeerTrust trust(o);
  auto bob = issue("bob");
  auto ok = trust.check("bob", der_of(bob));
  REQUIRE(ok);
  CHECK_FALSE(ok->first_use);
  CHECK(trust.check("bob", der_of(issue("bob")))); // reissued with a new key: the CA vouches

  auto mallory = issue("mallory");
  auto wrong_id = trust.check("bob", der_of(mallory));
  REQUIRE_FALSE(wrong_id);
  CHECK_THAT(wrong_id.error().message,
             Contains("its CA-signed certificate (key " + key_of(mallory) + ") is not for id 'bob'"));
  auto stranger = trust.check("bob", der_of(self_signed("bob")));
  REQUIRE_FALSE(stranger);
  CHECK_THAT(stranger.error().message, Contains("fails the CA check: certificate is not signed by the trusted CA"));
  CHECK(test::read_file(o.known_peers_path).empty());
}
