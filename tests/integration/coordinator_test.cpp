// Coordinator + clients in one process on loopback: registration, ids,
// authorization, introductions and their failures.
#include <catch2/catch.hpp>

#include "support/coord_fixture.hpp"

using namespace conec;
using test::ClientEvents;
using test::CoordFixture;

static bool has(const std::optional<Error> &e, const std::string &text) {
  return e && e->message.find(text) != std::string::npos;
}

TEST_CASE("clients appear in the directory while connected", "[coord]") {
  CoordFixture f;
  REQUIRE_FALSE(f.error);
  ClientEvents a, b;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("Bob.2", b));
  auto dir = f.coordinator->clients();
  REQUIRE(dir.size() == 2);
  CHECK((dir[0].id == "alice" || dir[1].id == "alice"));
  CHECK((dir[0].id == "Bob.2" || dir[1].id == "Bob.2"));
  CHECK(dir[0].fingerprint.rfind("sha256:", 0) == 0);
  // Observed address is the client's socket.
  client::Client *alice = f.client("alice");
  CHECK(alice->observed_address() == SockAddr::loopback(AF_INET, alice->local_address().port()));
  alice->close();
  REQUIRE(f.run_until([&] { return f.coordinator->clients().size() == 1; }));
  CHECK(f.coordinator->clients()[0].id == "Bob.2");
  REQUIRE(f.shutdown());
}

TEST_CASE("a second client with a connected id is refused, and the id is free once the first leaves", "[coord]") {
  CoordFixture f;
  ClientEvents first, second, third;
  REQUIRE(f.join("carol", first));
  CHECK_FALSE(f.join("CAROL", second, test::identity_for("carol"))); // ids compare case-insensitively
  REQUIRE(second.disconnected);
  CHECK(second.disconnected->code == int64_t(proto::RefuseCode::id_in_use));
  CHECK(has(second.disconnected, "is in use"));
  f.client("carol")->close();
  REQUIRE(f.run_until([&] { return first.disconnected.has_value(); }));
  REQUIRE(f.run_until([&] { return f.coordinator->clients().empty(); }));
  CHECK(f.join("carol", third));
  REQUIRE(f.shutdown());
}

TEST_CASE("bad ids are refused with the id rules", "[coord]") {
  CoordFixture f;
  ClientEvents e;
  // The library checks ids itself before connecting.
  client::ClientOptions o;
  o.coordinator = f.coordinator->local_address();
  o.id = "-bad";
  o.identity = test::identity_for("x");
  auto c = client::Client::create(f.loop, o, e);
  REQUIRE_FALSE(c);
  CHECK(c.error().category == ErrorCategory::usage);
  CHECK(c.error().message.find("invalid id") != std::string::npos);
  REQUIRE(f.shutdown());
}

TEST_CASE("self-signed mode refuses a certificate made for another id", "[coord][auth]") {
  CoordFixture f;
  ClientEvents e;
  CHECK_FALSE(f.join("dave", e, test::identity_for("mallory")));
  REQUIRE(e.disconnected);
  CHECK(e.disconnected->code == int64_t(proto::RefuseCode::not_authorized));
  CHECK(has(e.disconnected, "not valid for id 'dave'"));
  CHECK(has(e.disconnected, "mallory"));
  REQUIRE(f.shutdown());
}

TEST_CASE("client CA mode accepts only certificates from that CA, for the claimed id", "[coord][auth]") {
  tls::CertificateRequest ca_req;
  ca_req.name = "test-ca";
  ca_req.role = tls::CertificateRole::ca;
  auto ca = *tls::generate_self_signed(ca_req);
  ca_req.name = "other-ca";
  auto other_ca = *tls::generate_self_signed(ca_req);
  auto issue = [](const tls::Identity &issuer, const std::string &id) {
    tls::CertificateRequest r;
    r.name = id;
    return *tls::issue_certificate(issuer, r);
  };
  coord::CoordinatorOptions o;
  o.client_ca_pem = ca.cert_pem;
  CoordFixture f(o);
  REQUIRE_FALSE(f.error);

  ClientEvents good, self_signed, foreign, wrong_id;
  CHECK(f.join("erin", good, issue(ca, "erin")));
  CHECK_FALSE(f.join("frank", self_signed, test::identity_for("frank")));
  CHECK_FALSE(f.join("grace", foreign, issue(other_ca, "grace")));
  CHECK_FALSE(f.join("heidi", wrong_id, issue(ca, "ivan")));
  // Rejected in the TLS handshake: the coordinator never sees a hello.
  CHECK(self_signed.disconnected->category == ErrorCategory::tls);
  CHECK(foreign.disconnected->category == ErrorCategory::tls);
  CHECK(has(foreign.disconnected, "peer rejected"));
  // Signed by the CA, but for another id: refused at hello.
  CHECK(wrong_id.disconnected->code == int64_t(proto::RefuseCode::not_authorized));
  CHECK(f.coordinator->clients().size() == 1);
  REQUIRE(f.shutdown());
}

TEST_CASE("a channel to an unknown peer fails with unknown_peer", "[coord]") {
  CoordFixture f;
  ClientEvents a;
  REQUIRE(f.join("alice", a));
  auto r = f.open(*f.client("alice"), "nobody");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == int64_t(proto::RefuseCode::unknown_peer));
  CHECK(r.error().message.find("no client 'nobody'") != std::string::npos);
  REQUIRE(f.shutdown());
}

TEST_CASE("a peer that refuses the channel gives peer_refused", "[coord]") {
  CoordFixture f;
  ClientEvents a, b;
  b.accept_offers = false;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  auto r = f.open(*f.client("alice"), "bob");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == int64_t(proto::RefuseCode::peer_refused));
  CHECK(r.error().message.find("'bob' refused") != std::string::npos);
  REQUIRE(f.shutdown());
}

TEST_CASE("simultaneous requests A->B and B->A end in one channel", "[coord]") {
  CoordFixture f;
  ClientEvents a, b;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  client::Client *alice = f.client("alice"), *bob = f.client("bob");
  std::optional<Result<channel::Channel *>> ab, ba;
  alice->open_channel("bob", [&](Result<channel::Channel *> r) { ab = std::move(r); });
  bob->open_channel("alice", [&](Result<channel::Channel *> r) { ba = std::move(r); });
  REQUIRE(f.run_until([&] { return ab && ba; }));
  REQUIRE(*ab);
  REQUIRE(*ba);
  CHECK((**ab)->peer() == "bob");
  CHECK((**ba)->peer() == "alice");
  CHECK(f.coordinator->stats().introductions == 1);
  CHECK(alice->peer_channel_count() == 1);
  CHECK(bob->peer_channel_count() == 1);
  REQUIRE(f.shutdown());
}

TEST_CASE("malformed and out-of-sequence control input closes only the offender", "[coord]") {
  CoordFixture f;
  ClientEvents good, bad;
  REQUIRE(f.join("good", good));
  REQUIRE(f.join("bad", bad));
  client::Client *bad_client = f.client("bad"), *good_client = f.client("good");
  // A client may not send Welcome; the coordinator closes that connection.
  REQUIRE(bad_client->coordinator_channel()->send_control(proto::Welcome{"x", {}, 0}));
  REQUIRE(f.run_until([&] { return bad.disconnected.has_value(); }));
  CHECK(has(bad.disconnected, "protocol violation"));
  CHECK(f.coordinator->stats().protocol_errors == 1);
  // Everyone else is undisturbed.
  ClientEvents third;
  REQUIRE(f.join("third", third));
  auto r = f.open(*good_client, "third");
  CHECK(r);
  CHECK_FALSE(good.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("limits give the party that hits them a specific error", "[coord][limits]") {
  coord::CoordinatorOptions o;
  o.limits.max_clients = 2;
  o.limits.max_channels_per_client = 1;
  CoordFixture f(o);
  ClientEvents a, b, c;
  REQUIRE(f.join("alice", a));
  REQUIRE(f.join("bob", b));
  CHECK_FALSE(f.join("carl", c));
  REQUIRE(c.disconnected);
  CHECK(c.disconnected->code == int64_t(proto::RefuseCode::limit));
  CHECK(has(c.disconnected, "maximum of 2 clients"));
  REQUIRE(f.open(*f.client("alice"), "bob"));
  auto second = f.open(*f.client("alice"), "bob");
  REQUIRE_FALSE(second);
  CHECK(second.error().code == int64_t(proto::RefuseCode::limit));
  CHECK(second.error().message.find("maximum of 1 channels") != std::string::npos);
  // Nobody else was disturbed.
  CHECK_FALSE(a.disconnected);
  CHECK_FALSE(b.disconnected);
  REQUIRE(f.shutdown());
}

TEST_CASE("the coordinator and a client exchange data streams on their own channel", "[coord][channel]") {
  struct Recorder : channel::StreamHandler {
    std::vector<std::string> messages;
    bool ended = false;
    void on_message(channel::Stream &, Bytes m) override { messages.emplace_back(as_chars(m)); }
    void on_end(channel::Stream &, const std::optional<Error> &) override { ended = true; }
  };
  struct Embedder : coord::CoordinatorHandler {
    Recorder from_client;
    std::string who;
    void on_stream(const std::string &id, channel::Stream &s) override {
      who = id;
      s.set_handler(from_client);
    }
  } embedder;
  CoordFixture f({}, &embedder);
  ClientEvents a;
  Recorder from_coordinator;
  struct Events : ClientEvents {
    Recorder *target = nullptr;
    void on_coordinator_stream(client::Client &, channel::Stream &s) override { s.set_handler(*target); }
  } events;
  events.target = &from_coordinator;
  REQUIRE(f.join("alice", events));
  // client -> coordinator
  auto up = f.client("alice")->coordinator_channel()->open_stream(false);
  REQUIRE(up);
  REQUIRE(up->send(as_bytes("to the coordinator")));
  REQUIRE(up->finish());
  // coordinator -> client
  channel::Channel *ch = f.coordinator->client_channel("ALICE");
  REQUIRE(ch);
  auto down = ch->open_stream(false);
  REQUIRE(down);
  REQUIRE(down->send(as_bytes("to alice")));
  REQUIRE(down->finish());
  REQUIRE(f.run_until([&] { return embedder.from_client.ended && from_coordinator.ended; }));
  CHECK(embedder.who == "alice");
  CHECK(embedder.from_client.messages == std::vector<std::string>{"to the coordinator"});
  CHECK(from_coordinator.messages == std::vector<std::string>{"to alice"});
  REQUIRE(f.shutdown());
}
