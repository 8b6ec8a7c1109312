// The public API as an application meets it: only <conec/conec.hpp>, linked
// against libconec (the shared library in release trees). Real coordinator,
// real clients on loopback, one loop.
#include <conec/conec.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Runs the loop until `done()` or `seconds` pass; whether done() held.
template <class F> bool run_until(conec::Loop &loop, F done, double seconds = 15) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    loop.run_nowait();
    std::this_thread::sleep_for(100us);
  }
  return true;
}

// Runs the loop for `seconds` whatever happens.
void run_for(conec::Loop &loop, double seconds) {
  run_until(loop, [] { return false; }, seconds);
}

// FNV-1a over messages, each preceded by its length: equal hashes mean the
// same messages in the same order.
struct Digest {
  uint64_t h = 1469598103934665603ull;
  size_t messages = 0;
  void add(conec::ByteView m) {
    auto mix = [&](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (int i = 0; i < 8; i++) mix(static_cast<uint8_t>(m.size() >> (8 * i)));
    for (uint8_t b : m) mix(b);
    messages++;
  }
};

// A client handler whose events are lambdas (defaults: record only).
struct Events final : conec::ClientHandler {
  std::function<void(conec::Client &)> registered;
  std::function<void(conec::Client &, const conec::Error &)> disconnected;
  std::function<void(conec::Client &, conec::Channel &, conec::Stream &)> stream;
  std::function<void(conec::Client &, conec::Channel &, const conec::Error &)> channel_closed;
  int registrations = 0;
  std::optional<conec::Error> gone;
  std::vector<std::string> closed_channels; // "peer: error"

  void on_registered(conec::Client &c) override {
    registrations++;
    if (registered) registered(c);
  }
  void on_disconnected(conec::Client &c, const conec::Error &e) override {
    gone = e;
    if (disconnected) disconnected(c, e);
  }
  void on_stream(conec::Client &c, conec::Channel &ch, conec::Stream &s) override {
    if (stream) stream(c, ch, s);
  }
  void on_channel_closed(conec::Client &c, conec::Channel &ch, const conec::Error &e) override {
    closed_channels.push_back(ch.peer() + ": " + e.describe());
    if (channel_closed) channel_closed(c, ch, e);
  }
};

// Echoes every message back on its stream; ends its side after the peer's.
struct Echo final : conec::StreamHandler {
  void on_message(conec::Stream &s, conec::Bytes m) override {
    auto sent = s.send(m);
    if (sent && *sent == conec::WriteState::would_block) s.pause_reading();
  }
  void on_writable(conec::Stream &s) override { s.resume_reading(); }
  void on_end(conec::Stream &s, const std::optional<conec::Error> &e) override {
    if (!e) (void)s.finish();
  }
};

struct Net {
  conec::Loop loop;
  std::unique_ptr<conec::Coordinator> coordinator;
  std::string pin;
  uint16_t port = 0;

  explicit Net(std::function<conec::AuthDecision(const conec::AuthRequest &)> authorize = {}) {
    auto identity = conec::Identity::generate_coordinator("127.0.0.1");
    REQUIRE(identity);
    pin = *identity->fingerprint();
    conec::CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.identity = *identity;
    o.authorize = std::move(authorize);
    auto c = conec::Coordinator::create(loop, std::move(o));
    REQUIRE(c);
    coordinator = std::move(*c);
    port = coordinator->local_address().port();
  }
  ~Net() {
    coordinator.reset();
    // Nothing may be left behind, by objects destroyed inside callbacks
    // either: close() fails naming any handle still open.
    auto closed = loop.close();
    CHECK(closed);
    if (!closed) UNSCOPED_INFO(closed.error().describe());
  }

  conec::ClientOptions options(const std::string &id) const {
    conec::ClientOptions o;
    o.coordinator = "127.0.0.1:" + std::to_string(port);
    o.trust = conec::CoordinatorTrust::pinned(pin);
    o.id = id;
    o.reconnect = false;
    return o;
  }
  std::unique_ptr<conec::Client> client(const std::string &id, Events &events) {
    auto c = conec::Client::create(loop, options(id), events);
    REQUIRE(c);
    return std::move(*c);
  }
  void close(std::unique_ptr<conec::Client> &c) {
    if (!c) return;
    c->close();
    run_until(loop, [&] { return c->closes_sent(); }, 2);
    c.reset();
  }
};

// Deterministic message sizes 0..40000 and contents.
conec::Bytes message(uint32_t i) {
  uint32_t x = i * 2654435761u + 12345;
  conec::Bytes m((x >> 7) % 40001);
  for (auto &b : m) b = static_cast<uint8_t>(x = x * 1103515245u + 12345, x >> 16);
  return m;
}

} // namespace

TEST_CASE("messages a peer echoes come back whole and in order") {
  Net net;
  Events alice_events, bob_events;
  Echo echo;
  bob_events.stream = [&](conec::Client &, conec::Channel &, conec::Stream &s) { s.set_handler(echo); };
  auto bob = net.client("bob", bob_events);
  auto alice = net.client("alice", alice_events);
  REQUIRE(run_until(net.loop, [&] { return alice->registered() && bob->registered(); }));
  CHECK(net.coordinator->clients().size() == 2);

  // The sender: every message once, paced by would_block/on_writable.
  struct Pump final : conec::StreamHandler {
    const uint32_t kCount = 300;
    conec::Stream stream;
    uint32_t next = 0;
    Digest sent, received;
    bool ended = false;
    std::optional<conec::Error> end_error;
    void push() {
      while (next < kCount) {
        auto m = message(next++);
        auto r = stream.send(m);
        REQUIRE(r);
        sent.add(m);
        if (*r == conec::WriteState::would_block) return;
      }
      REQUIRE(stream.finish());
    }
    void on_writable(conec::Stream &) override { push(); }
    void on_message(conec::Stream &, conec::Bytes m) override { received.add(m); }
    void on_end(conec::Stream &, const std::optional<conec::Error> &e) override {
      ended = true;
      end_error = e;
    }
  } pump;

  conec::Channel *channel = nullptr;
  std::optional<conec::Error> open_error;
  alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) {
    if (!r) return void(open_error = r.error());
    channel = *r;
    auto s = channel->open_stream(true, {conec::StreamKind::data, "echo"});
    REQUIRE(s);
    pump.stream = *s;
    pump.stream.set_handler(pump);
    pump.push();
  });
  REQUIRE(run_until(net.loop, [&] { return pump.ended || open_error; }, 30));
  REQUIRE_FALSE(open_error);
  CHECK_FALSE(pump.end_error);
  CHECK(pump.sent.messages == pump.kCount);
  CHECK(pump.received.messages == pump.sent.messages);
  CHECK(pump.received.h == pump.sent.h);
  CHECK(channel->peer() == "bob");
  CHECK(alice->channel_count() == 1);
  CHECK(net.coordinator->stats().introductions == 1);
  net.close(alice);
  net.close(bob);
}

TEST_CASE("the authorization callback refuses with its reason and sees the certificate") {
  std::vector<conec::AuthRequest> asked;
  Net net([&](const conec::AuthRequest &r) -> conec::AuthDecision {
    asked.push_back(r);
    if (r.id == "mallory") return "mallory is not on the list";
    return std::nullopt;
  });
  auto alice_identity = conec::Identity::generate_client("alice");
  REQUIRE(alice_identity);
  Events alice_events, mallory_events;
  auto o = net.options("alice");
  o.identity = *alice_identity;
  auto alice = conec::Client::create(net.loop, o, alice_events);
  REQUIRE(alice);
  auto mallory = net.client("mallory", mallory_events);
  REQUIRE(run_until(net.loop, [&] { return (*alice)->registered() && mallory_events.gone; }));

  const conec::Error &why = *mallory_events.gone;
  CHECK(why.category == conec::ErrorCategory::peer);
  CHECK(why.code == static_cast<int64_t>(conec::RefuseCode::not_authorized));
  CHECK_THAT(why.message, Catch::Contains("mallory is not on the list"));
  CHECK_FALSE(mallory->registered());
  REQUIRE(asked.size() == 2);
  for (auto &r : asked) {
    if (r.id != "alice") continue;
    CHECK(r.fingerprint == *alice_identity->fingerprint());
    CHECK(r.key_fingerprint.starts_with("sha256:"));
    CHECK_FALSE(r.certificate.empty());
    CHECK(r.address.port() == (*alice)->local_port());
  }
  auto clients = net.coordinator->clients();
  REQUIRE(clients.size() == 1);
  CHECK(clients[0].id == "alice");
  net.close(*alice);
  net.close(mallory);
}

TEST_CASE("an exception from the authorization callback closes that client only") {
  Net net([](const conec::AuthRequest &r) -> conec::AuthDecision {
    if (r.id == "mallory") throw std::runtime_error("authorization backend down");
    return std::nullopt;
  });
  Events mallory_events, alice_events;
  auto mallory = net.client("mallory", mallory_events);
  REQUIRE(run_until(net.loop, [&] { return mallory_events.gone.has_value(); }));
  CHECK_FALSE(mallory->registered());
  auto alice = net.client("alice", alice_events);
  REQUIRE(run_until(net.loop, [&] { return alice->registered(); }));
  net.close(alice);
  net.close(mallory);
}

TEST_CASE("an exception from a stream handler closes its channel with the exception's text") {
  Net net;
  struct Thrower final : conec::StreamHandler {
    void on_message(conec::Stream &, conec::Bytes) override { throw std::runtime_error("handler blew up"); }
  } thrower;
  Events alice_events, bob_events;
  std::optional<conec::Error> bob_closed, alice_closed;
  bob_events.stream = [&](conec::Client &, conec::Channel &, conec::Stream &s) { s.set_handler(thrower); };
  bob_events.channel_closed = [&](conec::Client &, conec::Channel &, const conec::Error &e) { bob_closed = e; };
  alice_events.channel_closed = [&](conec::Client &, conec::Channel &, const conec::Error &e) { alice_closed = e; };
  auto bob = net.client("bob", bob_events);
  auto alice = net.client("alice", alice_events);
  REQUIRE(run_until(net.loop, [&] { return alice->registered() && bob->registered(); }));
  conec::Stream stream;
  alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) {
    REQUIRE(r);
    auto s = (*r)->open_stream();
    REQUIRE(s);
    stream = *s;
    REQUIRE(stream.send(conec::as_bytes("hello")));
  });
  REQUIRE(run_until(net.loop, [&] { return bob_closed && alice_closed; }));
  CHECK(bob_closed->category == conec::ErrorCategory::internal);
  CHECK_THAT(bob_closed->message, Catch::Contains("handler blew up"));
  CHECK_FALSE(stream.alive()); // alice's handle went inert with her channel
  // The Clients live on: a second channel works.
  std::optional<bool> second;
  bob_events.stream = {};
  alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) { second = r.has_value(); });
  REQUIRE(run_until(net.loop, [&] { return second.has_value(); }));
  CHECK(*second);
  net.close(alice);
  net.close(bob);
}

TEST_CASE("a Client may be destroyed from inside any of its callbacks") {
  Net net;
  Events bob_events, alice_events;
  std::unique_ptr<conec::Client> bob, alice;

  SECTION("a stream handler's on_message") {
    struct Killer final : conec::StreamHandler {
      std::unique_ptr<conec::Client> *victim = nullptr;
      int messages = 0;
      void on_message(conec::Stream &, conec::Bytes) override {
        messages++;
        victim->reset(); // with its channel, this very stream and the socket
      }
    } killer;
    killer.victim = &bob;
    bob_events.stream = [&](conec::Client &, conec::Channel &, conec::Stream &s) { s.set_handler(killer); };
    bob = net.client("bob", bob_events);
    alice = net.client("alice", alice_events);
    REQUIRE(run_until(net.loop, [&] { return alice->registered() && bob->registered(); }));
    conec::Stream stream;
    alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) {
      REQUIRE(r);
      stream = *(*r)->open_stream();
      for (int i = 0; i < 50; i++) REQUIRE(stream.send(message(static_cast<uint32_t>(i))));
    });
    REQUIRE(run_until(net.loop, [&] { return bob == nullptr; }));
    run_for(net.loop, 0.3); // the rest of alice's messages reach a silenced, then freed, bob
    CHECK(killer.messages == 1);
  }
  SECTION("on_registered") {
    bob_events.registered = [&](conec::Client &) { bob.reset(); };
    bob = net.client("bob", bob_events);
    REQUIRE(run_until(net.loop, [&] { return bob == nullptr; }));
    run_for(net.loop, 0.2);
    CHECK(bob_events.registrations == 1);
  }
  SECTION("an open_channel callback, failed at once and failed by the coordinator") {
    alice = net.client("alice", alice_events);
    std::optional<conec::Error> early;
    alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) {
      REQUIRE_FALSE(r);
      early = r.error(); // not registered yet: still from the loop, not from inside open_channel
    });
    CHECK_FALSE(early);
    REQUIRE(run_until(net.loop, [&] { return alice->registered(); }));
    CHECK(early);
    std::optional<conec::Error> refused;
    alice->open_channel("nobody", [&](conec::Result<conec::Channel *> r) {
      REQUIRE_FALSE(r);
      refused = r.error();
      alice.reset();
    });
    REQUIRE(run_until(net.loop, [&] { return alice == nullptr; }));
    CHECK(refused->code == static_cast<int64_t>(conec::RefuseCode::unknown_peer));
  }
  SECTION("on_channel_closed, and then once more silently") {
    alice_events.channel_closed = [&](conec::Client &, conec::Channel &, const conec::Error &) { alice.reset(); };
    bob = net.client("bob", bob_events);
    alice = net.client("alice", alice_events);
    REQUIRE(run_until(net.loop, [&] { return alice->registered() && bob->registered(); }));
    int opened = 0;
    for (int i = 0; i < 2; i++)
      alice->open_channel("bob", [&](conec::Result<conec::Channel *> r) { opened += r.has_value(); });
    REQUIRE(run_until(net.loop, [&] { return opened == 2 && bob->channel_count() == 2; }));
    net.close(bob); // both channels end at alice: the first report destroys her
    REQUIRE(run_until(net.loop, [&] { return alice == nullptr; }));
    run_for(net.loop, 0.2);
    CHECK(alice_events.closed_channels.size() == 1);
  }
  net.close(alice);
  net.close(bob);
}

TEST_CASE("a Coordinator may be destroyed from inside its authorization callback") {
  std::unique_ptr<conec::Coordinator> *self = nullptr;
  int asked = 0;
  Net net([&](const conec::AuthRequest &) -> conec::AuthDecision {
    asked++;
    self->reset();
    return std::nullopt;
  });
  self = &net.coordinator;
  Events alice_events;
  auto alice = net.client("alice", alice_events);
  REQUIRE(run_until(net.loop, [&] { return net.coordinator == nullptr; }));
  run_for(net.loop, 0.2);
  CHECK(asked == 1);
  CHECK_FALSE(alice->registered());
  net.close(alice);
}

TEST_CASE("group members get every message in one order, and a Group may go from its own callback") {
  Net net;
  struct Member final : conec::GroupHandler {
    std::unique_ptr<conec::Group> group;
    std::optional<conec::GroupSettings> settings;
    std::vector<std::string> got; // "sender:payload"
    size_t quit_after = 0;        // destroy the Group from on_message after this many
    bool closed = false;
    std::optional<conec::Error> close_error;
    void on_joined(conec::Group &, const conec::GroupSettings &s) override { settings = s; }
    void on_message(conec::Group &, const std::string &sender, conec::Bytes payload) override {
      got.push_back(sender + ":" + std::string(conec::as_chars(payload)));
      if (quit_after && got.size() == quit_after) group.reset();
    }
    void on_closed(conec::Group &, const std::optional<conec::Error> &e) override {
      closed = true;
      close_error = e;
    }
  } a, b, c;
  c.quit_after = 10;
  Events ea, eb, ec;
  auto ca = net.client("a", ea), cb = net.client("b", eb), cc = net.client("c", ec);
  REQUIRE(run_until(net.loop, [&] { return ca->registered() && cb->registered() && cc->registered(); }));
  for (auto [client, member] : {std::pair{&ca, &a}, {&cb, &b}, {&cc, &c}}) {
    auto g = conec::Group::join(**client, "chat", *member);
    REQUIRE(g);
    member->group = std::move(*g);
  }
  REQUIRE(run_until(net.loop, [&] { return a.settings && b.settings && c.settings; }));
  CHECK(a.settings->policy == conec::GroupPolicy::drop_oldest);
  REQUIRE(run_until(net.loop, [&] { return a.group->members().size() == 3; }));

  constexpr int kMessages = 1000;
  std::vector<std::string> expected;
  for (int i = 0; i < kMessages; i++) {
    std::string m = "m" + std::to_string(i);
    REQUIRE(a.group->send(conec::as_bytes(m)));
    expected.push_back("a:" + m);
  }
  REQUIRE(a.group->leave());
  REQUIRE(run_until(net.loop, [&] { return a.closed && b.got.size() == expected.size(); }));
  CHECK_FALSE(a.close_error);
  CHECK(a.got == expected); // echo: our own messages too
  CHECK(b.got == expected);
  CHECK(c.group == nullptr);
  CHECK(c.got.size() == 10);
  CHECK_FALSE(c.closed); // destroyed, so never told
  b.group.reset();
  net.close(ca);
  net.close(cb);
  net.close(cc);
}
