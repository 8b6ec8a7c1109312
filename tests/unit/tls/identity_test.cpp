// Identity files: save/load round trip, permissions, and load errors that
// name the file and the cause.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tls_test_support.hpp"

using namespace conec;
using namespace conec::tls;
using namespace conec::tls::test;
using Catch::Matchers::Contains;

namespace {

mode_t mode_of(const std::string &path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write_text(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// Sets the process umask for one scope.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

} // namespace

TEST_CASE("Identity save/load round-trips, key 0600 and certificate 0644", "[tls]") {
  TempDir dir;
  Identity id = self_signed("coord.example");
  std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  {
    // Even with a umask that would leave the key world-readable, the key is
    // created 0600; the certificate is set to exactly 0644.
    Umask permissive(0);
    REQUIRE(id.save(cert, key));
  }
  CHECK(mode_of(key) == 0600);
  CHECK(mode_of(cert) == 0644);

  auto loaded = Identity::load(cert, key);
  REQUIRE(loaded);
  CHECK(loaded->cert_pem == id.cert_pem);
  CHECK(loaded->key_pem == id.key_pem);
  CHECK(*loaded->fingerprint() == *id.fingerprint());
}

TEST_CASE("Identity save replaces existing files and leaves no temporaries", "[tls]") {
  TempDir dir;
  std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  write_text(key, "old key");
  ::chmod(key.c_str(), 0644);
  Identity id = self_signed("alice", KeyType::ed25519);
  REQUIRE(id.save(cert, key));
  CHECK(mode_of(key) == 0600); // a new file, not the old one rewritten
  auto loaded = Identity::load(cert, key);
  REQUIRE(loaded);
  CHECK(loaded->key_pem == id.key_pem);

  size_t files = 0;
  for (const auto &entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("Identity save into a missing directory is an io error", "[tls]") {
  TempDir dir;
  Identity id = self_signed("alice");
  auto r = id.save(dir.file("nope/cert.pem"), dir.file("nope/key.pem"));
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::io);
  CHECK_THAT(r.error().message, Contains("nope/cert.pem")); // the first file written: the certificate
}

TEST_CASE("Identity save that cannot write the key changes neither file and leaves no temporary", "[tls]") {
  TempDir dir;
  Identity old_id = self_signed("old"), new_id = self_signed("new");
  std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  REQUIRE(old_id.save(cert, key));
  // The key's directory is missing: the certificate's temporary was
  // already written, and must go without replacing the old certificate.
  auto r = new_id.save(cert, dir.file("nope/key.pem"));
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Contains("nope/key.pem"));
  auto back = Identity::load(cert, key);
  REQUIRE(back);
  CHECK(back->cert_pem == old_id.cert_pem);
  size_t files = 0;
  for (auto &e : std::filesystem::directory_iterator(dir.file(""))) {
    ++files;
    CHECK_FALSE(is_save_temporary(e.path().filename().string()));
  }
  CHECK(files == 2);
}

TEST_CASE("Identity load errors name the file and the cause", "[tls]") {
  TempDir dir;
  Identity id = self_signed("coord.example");
  std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
  REQUIRE(id.save(cert, key));

  SECTION("missing certificate") {
    auto r = Identity::load(dir.file("missing.pem"), key);
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::usage);
    CHECK_THAT(r.error().message, Contains("missing.pem") && Contains("No such file"));
  }
  SECTION("missing key") {
    auto r = Identity::load(cert, dir.file("missing-key.pem"));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Contains("missing-key.pem") && Contains("No such file"));
  }
  SECTION("certificate is not PEM") {
    write_text(dir.file("garbage.pem"), "this is not a certificate\n");
    auto r = Identity::load(dir.file("garbage.pem"), key);
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::usage);
    CHECK_THAT(r.error().message, Contains("garbage.pem") && Contains("PEM certificate"));
  }
  SECTION("key is not PEM") {
    write_text(dir.file("garbage-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    auto r = Identity::load(cert, dir.file("garbage-key.pem"));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Contains("garbage-key.pem") && Contains("private key"));
  }
  SECTION("key belongs to another certificate") {
    Identity other = self_signed("coord.example");
    write_text(dir.file("other-key.pem"), other.key_pem);
    auto r = Identity::load(cert, dir.file("other-key.pem"));
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::usage);
    CHECK_THAT(r.error().message,
               Contains("other-key.pem") && Contains("does not match") && Contains("cert.pem"));
  }
}

TEST_CASE("Credentials refuse a key that does not match the certificate", "[tls]") {
  Identity a = self_signed("a"), b = self_signed("b");
  auto cred = Credentials::create(Identity{a.cert_pem, b.key_pem}, PeerVerification::any());
  REQUIRE_FALSE(cred);
  CHECK(cred.error().category == ErrorCategory::usage);
  CHECK_THAT(cred.error().message, Contains("does not match"));
}

TEST_CASE("Credentials validate the verification settings", "[tls]") {
  PeerVerification pin;
  pin.mode = PeerVerification::Mode::pin;
  pin.pin = Bytes(31, 0);
  CHECK_FALSE(Credentials::create(std::nullopt, pin));

  PeerVerification ca;
  ca.mode = PeerVerification::Mode::ca;
  ca.ca_pem = "not a certificate";
  auto r = Credentials::create(std::nullopt, ca);
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::usage);
}
