// Ids bound to keys (default mode): a real coordinator with a record file,
// real clients on loopback. Another key for a known id is refused, the
// known key is welcome, random anon- ids are never recorded, the record
// survives a restart, and forgetting an id lets a new key have it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/coord_fixture.hpp"
#include "support/quic_pair.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using Catch::Matchers::Contains;
using test::ClientEvents;
using test::CoordFixture;

namespace {

coord::CoordinatorOptions bound_options(const std::string &dir) {
  coord::CoordinatorOptions o;
  o.listen = SockAddr::loopback(AF_INET, 0);
  o.identity = test::server_identity();
  o.bindings.path = dir + "/id-bindings";
  return o;
}

tls::Identity fresh_identity(const std::string &id) {
  tls::CertificateRequest r;
  r.name = id;
  r.validity_days = 30;
  return *tls::generate_self_signed(r);
}

std::string key_of(const tls::Identity &id) { return *tls::public_key_fingerprint_of_pem(id.cert_pem); }

std::string read(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Closes every client and waits until the coordinator has seen them go.
void leave_all(CoordFixture &f) {
  for (auto &[name, c] : f.clients) c->close();
  REQUIRE(f.run_until([&] { return f.coordinator->clients().empty(); }));
  f.clients.clear();
}

} // namespace

TEST_CASE("another key for a known id is refused with id_bound naming the bound key, the known key is "
          "welcome again",
          "[coord][bindings]") {
  test::TempDir dir;
  CoordFixture f(bound_options(dir.path));
  REQUIRE_FALSE(f.error);
  REQUIRE(f.coordinator->bindings());
  const tls::Identity &bob_key = test::identity_for("bob");
  std::string bound = key_of(bob_key);

  ClientEvents bob;
  REQUIRE(f.join("bob", bob, bob_key));
  REQUIRE(f.coordinator->bindings()->find("bob"));
  CHECK(f.coordinator->bindings()->find("bob")->fingerprint == bound);
  // Saved at once (the first save is not held back).
  CHECK_THAT(read(dir.path + "/id-bindings"), Contains("bob " + bound + " "));

  // While bob is connected: the impostor hears "bound", not "in use" (which a client would retry).
  tls::Identity other = fresh_identity("bob");
  ClientEvents impostor;
  CHECK_FALSE(f.join("BOB", impostor, other));
  REQUIRE(impostor.disconnected);
  CHECK(impostor.disconnected->category == ErrorCategory::peer);
  CHECK(impostor.disconnected->code == int64_t(proto::RefuseCode::id_bound));
  CHECK_THAT(impostor.disconnected->message, Contains("id 'BOB' is bound to another key (" + bound + ")"));
  CHECK_THAT(impostor.disconnected->message, Contains(key_of(other)));

  // While bob is offline: still refused.
  leave_all(f);
  ClientEvents later;
  CHECK_FALSE(f.join("bob", later, other));
  REQUIRE(later.disconnected);
  CHECK(later.disconnected->code == int64_t(proto::RefuseCode::id_bound));

  // bob himself, and bob with a renewed certificate for the same key, come in.
  ClientEvents back;
  CHECK(f.join("bob", back, bob_key));
  leave_all(f);
  tls::CertificateRequest renewal;
  renewal.name = "bob";
  renewal.validity_days = 7;
  renewal.key_pem = bob_key.key_pem;
  tls::Identity renewed = *tls::generate_self_signed(renewal);
  REQUIRE(*renewed.fingerprint() != *bob_key.fingerprint());
  ClientEvents renewed_events;
  CHECK(f.join("bob", renewed_events, renewed));
  CHECK(f.coordinator->stats().clients_refused == 2);
  REQUIRE(f.shutdown());
}

TEST_CASE("random anon- ids are never recorded: any key may use one", "[coord][bindings]") {
  test::TempDir dir;
  CoordFixture f(bound_options(dir.path));
  REQUIRE_FALSE(f.error);
  ClientEvents first, second, alice;
  REQUIRE(f.join("anon-0123456789ab", first, fresh_identity("anon-0123456789ab")));
  REQUIRE(f.join("alice", alice)); // something to save
  CHECK(f.coordinator->bindings()->find("anon-0123456789ab") == nullptr);
  CHECK(f.coordinator->bindings()->size() == 1);
  leave_all(f);
  CHECK(f.join("anon-0123456789ab", second, fresh_identity("anon-0123456789ab")));
  f.coordinator.reset(); // saves last-seen times
  std::string text = read(dir.path + "/id-bindings");
  CHECK_THAT(text, Contains("alice "));
  CHECK(text.find("anon-") == std::string::npos);
  REQUIRE(f.shutdown());
}

TEST_CASE("the binding survives a coordinator restart on the same record, and forgetting the id rebinds it",
          "[coord][bindings]") {
  test::TempDir dir;
  auto options = bound_options(dir.path);
  CoordFixture f(options);
  REQUIRE_FALSE(f.error);
  ClientEvents bob;
  REQUIRE(f.join("bob", bob));
  std::string bound = key_of(test::identity_for("bob"));

  // A second coordinator on the same record is refused: it would overwrite it.
  auto twin = coord::Coordinator::create(f.loop, options);
  REQUIRE_FALSE(twin);
  CHECK(twin.error().category == ErrorCategory::io);
  CHECK_THAT(twin.error().message, Contains("in use by another process"));

  auto restart = [&] {
    f.clients.clear();
    f.coordinator.reset();
    auto c = coord::Coordinator::create(f.loop, options);
    REQUIRE(c);
    f.coordinator = std::move(*c);
  };
  restart();
  REQUIRE(f.coordinator->bindings()->find("bob"));
  tls::Identity other = fresh_identity("bob");
  ClientEvents impostor;
  CHECK_FALSE(f.join("bob", impostor, other));
  REQUIRE(impostor.disconnected);
  CHECK(impostor.disconnected->code == int64_t(proto::RefuseCode::id_bound));
  CHECK_THAT(impostor.disconnected->message, Contains(bound));

  // The operator forgets bob while no coordinator runs (what --forget does).
  f.clients.clear();
  f.coordinator.reset();
  {
    auto record = coord::IdBindings::open(options.bindings, std::time(nullptr));
    REQUIRE(record);
    CHECK((*record)->forget("bob") == bound);
    REQUIRE((*record)->save());
  }
  auto c = coord::Coordinator::create(f.loop, options);
  REQUIRE(c);
  f.coordinator = std::move(*c);
  ClientEvents rebound;
  CHECK(f.join("bob", rebound, other));
  CHECK(f.coordinator->bindings()->find("bob")->fingerprint == key_of(other));
  REQUIRE(f.shutdown());
}

TEST_CASE("client CA mode records no bindings: the CA binds ids", "[coord][bindings]") {
  test::TempDir dir;
  tls::CertificateRequest ca_req;
  ca_req.name = "test-ca";
  ca_req.role = tls::CertificateRole::ca;
  auto ca = *tls::generate_self_signed(ca_req);
  auto options = bound_options(dir.path);
  options.client_ca_pem = ca.cert_pem;
  CoordFixture f(options);
  REQUIRE_FALSE(f.error);
  CHECK(f.coordinator->bindings() == nullptr);
  tls::CertificateRequest r;
  r.name = "erin";
  ClientEvents first, second;
  REQUIRE(f.join("erin", first, *tls::issue_certificate(ca, r)));
  leave_all(f);
  CHECK(f.join("erin", second, *tls::issue_certificate(ca, r))); // another key, same CA: fine
  CHECK_FALSE(std::filesystem::exists(options.bindings.path));
  REQUIRE(f.shutdown());
}
