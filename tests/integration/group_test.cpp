// Groups end to end: a real coordinator and clients on loopback. Members
// get every message in one order, tagged; a member that stops reading
// loses messages (and is told how many) or is removed, while the others go
// on; lossless groups pace the sender; limits refuse with their reason.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>

#include "client/group.hpp"
#include "support/coord_fixture.hpp"

using namespace conec;
using namespace conec::test;

namespace {

struct Received {
  std::string sender, text;
  Timestamp at = 0;
};

struct Member;
// Every Member alive: their Groups hold loop handles, so they go before the
// fixture closes the loop (release_groups()).
std::vector<Member *> &members() {
  static std::vector<Member *> all;
  return all;
}

// Records one membership's events.
struct Member : client::GroupHandler {
  Member() { members().push_back(this); }
  ~Member() override { std::erase(members(), this); }
  Member(const Member &) = delete;
  std::optional<proto::GroupJoined> joined;
  std::vector<Received> messages;
  uint64_t lost = 0;
  std::vector<std::pair<proto::MemberEvent, std::string>> events;
  std::optional<std::optional<Error>> closed;
  int writable = 0;
  std::unique_ptr<client::Group> group;

  void on_joined(client::Group &, const proto::GroupJoined &j) override { joined = j; }
  void on_message(client::Group &, const std::string &sender, Bytes payload) override {
    messages.push_back({sender, std::string(as_chars(payload)), monotonic_now()});
  }
  void on_lost(client::Group &, uint64_t count) override { lost += count; }
  void on_member(client::Group &, proto::MemberEvent e, const std::string &id) override { events.emplace_back(e, id); }
  void on_writable(client::Group &) override { ++writable; }
  void on_closed(client::Group &, const std::optional<Error> &e) override { closed = e; }

  bool join(client::Client &c, const std::string &name, client::GroupOptions options = {}) {
    auto g = client::Group::join(c, name, *this, options);
    if (!g) return false;
    group = std::move(*g);
    return true;
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto &m : messages) out.push_back(m.text);
    return out;
  }
};

void release_groups() {
  for (Member *m : members()) m->group.reset();
}

coord::CoordinatorOptions with_limits(const std::function<void(coord::Limits &)> &edit) {
  coord::CoordinatorOptions o;
  edit(o.limits);
  return o;
}

// Sends messages "prefix-0" .. "prefix-(n-1)" as fast as the group takes them.
struct Flood {
  client::Group &group;
  std::string prefix;
  size_t n, next = 0;
  bool blocked = false;
  void pump() {
    blocked = false;
    while (next < n && !blocked) {
      auto r = group.send(as_bytes(prefix + "-" + std::to_string(next)));
      REQUIRE(r);
      ++next;
      blocked = *r == quic::WriteState::would_block;
    }
  }
};

} // namespace

TEST_CASE("three members get 10000 messages each, in the same order, tagged with the sender", "[group]") {
  CoordFixture fx;
  REQUIRE(fx.coordinator);
  ClientEvents ea, eb, ec;
  REQUIRE(fx.join("alice", ea));
  REQUIRE(fx.join("bob", eb));
  REQUIRE(fx.join("carol", ec));
  Member a, b, c;
  REQUIRE(a.join(*fx.client("alice"), "chat"));
  REQUIRE(b.join(*fx.client("bob"), "chat"));
  REQUIRE(c.join(*fx.client("carol"), "chat"));
  REQUIRE(fx.run_until([&] { return a.joined && b.joined && c.joined; }));
  CHECK(a.joined->policy == proto::GroupPolicy::drop_oldest);
  // Two senders interleave; every member sees one order, its own posts too.
  const size_t n = 5000;
  Flood fa{*a.group, "a", n}, fb{*b.group, "b", n};
  fa.pump();
  fb.pump();
  REQUIRE(fx.run_until(
      [&] {
        if (a.writable) a.writable = 0, fa.pump();
        if (b.writable) b.writable = 0, fb.pump();
        return a.messages.size() == 2 * n && b.messages.size() == 2 * n && c.messages.size() == 2 * n;
      },
      60));
  CHECK(a.texts() == c.texts());
  CHECK(b.texts() == c.texts());
  CHECK(a.lost + b.lost + c.lost == 0);
  // Per sender, in the order sent, and tagged with the right id.
  size_t from_a = 0, from_b = 0;
  for (const auto &m : c.messages) {
    if (m.sender == "alice") CHECK(m.text == "a-" + std::to_string(from_a++));
    else {
      CHECK(m.sender == "bob");
      CHECK(m.text == "b-" + std::to_string(from_b++));
    }
  }
  CHECK(from_a == n);
  CHECK(from_b == n);
  auto groups = fx.coordinator->groups();
  REQUIRE(groups.size() == 1);
  auto members = groups[0].members; // in the order the joins arrived
  std::sort(members.begin(), members.end());
  CHECK(members == std::vector<std::string>{"alice", "bob", "carol"});
  CHECK(fx.coordinator->stats().group_posts == 2 * n);
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a member that stops reading loses its oldest messages while the others get each within 100 ms, and hears how many", "[group]") {
  CoordFixture fx(with_limits([](coord::Limits &l) {
    l.group_queue_messages = 200;
    l.group_member_deadline = 30 * kSecond;
  }));
  REQUIRE(fx.coordinator);
  ClientEvents es, ef, eslow;
  REQUIRE(fx.join("sender", es));
  REQUIRE(fx.join("fast", ef));
  REQUIRE(fx.join("slow", eslow));
  Member s, f, slow;
  REQUIRE(s.join(*fx.client("sender"), "feed", {false, false, false}));
  REQUIRE(f.join(*fx.client("fast"), "feed"));
  REQUIRE(slow.join(*fx.client("slow"), "feed"));
  REQUIRE(fx.run_until([&] { return s.joined && f.joined && slow.joined; }));
  slow.group->pause_receiving(); // like a SIGSTOPped process: credit stops
  // 10000 messages of 1 KiB, four every ms, far more than the paused
  // member's window and the coordinator's stream buffer hold; each reaches
  // `fast` promptly.
  const size_t n = 10000;
  std::string pad(1000, 'x');
  std::vector<Timestamp> sent_at;
  size_t sent = 0;
  std::optional<loop::Timer> tick;
  tick.emplace(fx.loop, [&] {
    for (int i = 0; i < 4 && sent < n; ++i, ++sent) {
      sent_at.push_back(monotonic_now());
      REQUIRE(s.group->send(as_bytes(std::to_string(sent) + " " + pad)));
    }
  });
  tick->start(1, 1);
  REQUIRE(fx.run_until([&] { return f.messages.size() == n; }, 60));
  tick.reset();
  Duration worst = 0;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, f.messages[i].at - sent_at[i]);
  INFO("worst delay to the reading member: " << worst / kMillisecond << " ms");
  CHECK(worst < 100 * kMillisecond);
  CHECK(f.lost == 0);
  CHECK(fx.coordinator->stats().group_dropped > 0);
  // The stopped one resumes: it gets the newest messages and the count of the rest.
  slow.group->resume_receiving();
  REQUIRE(fx.run_until([&] { return slow.messages.size() + slow.lost == n; }, 30));
  CHECK(slow.lost > 0);
  CHECK(slow.messages.back().text.starts_with(std::to_string(n - 1) + " "));
  // What it got is in order.
  long last = -1;
  for (const auto &m : slow.messages) {
    long v = std::stol(m.text);
    CHECK(v > last);
    last = v;
  }
  CHECK_FALSE(slow.closed);
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a member that takes nothing past the deadline is removed with the reason, and the others hear it", "[group]") {
  CoordFixture fx(with_limits([](coord::Limits &l) {
    l.group_queue_messages = 50;
    l.group_member_deadline = 1 * kSecond;
  }));
  REQUIRE(fx.coordinator);
  ClientEvents es, estuck;
  REQUIRE(fx.join("sender", es));
  REQUIRE(fx.join("stuck", estuck));
  Member s, stuck;
  REQUIRE(s.join(*fx.client("sender"), "feed"));
  REQUIRE(stuck.join(*fx.client("stuck"), "feed"));
  REQUIRE(fx.run_until([&] { return s.joined && stuck.joined; }));
  stuck.group->pause_receiving();
  std::string big(60000, 'y');
  for (int i = 0; i < 100; ++i) REQUIRE(s.group->send(as_bytes(big)));
  REQUIRE(fx.run_until([&] { return stuck.closed.has_value(); }, 10));
  REQUIRE(*stuck.closed);
  CHECK((*stuck.closed)->code == static_cast<int64_t>(proto::kGroupRemoved));
  CHECK((*stuck.closed)->message.find("removed from @feed") != std::string::npos);
  CHECK((*stuck.closed)->message.find("took nothing for 1 s") != std::string::npos);
  REQUIRE(fx.run_until([&] {
    return std::find(s.events.begin(), s.events.end(), std::pair{proto::MemberEvent::removed, std::string("stuck")}) !=
           s.events.end();
  }));
  CHECK(s.messages.size() == 100); // the sender's own echo went on meanwhile
  CHECK(fx.coordinator->stats().group_members_removed == 1);
  CHECK(fx.coordinator->groups().at(0).members == std::vector<std::string>{"sender"});
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a lossless group paces the sender to a paused member and loses nothing", "[group]") {
  CoordFixture fx(with_limits([](coord::Limits &l) {
    l.group_queue_messages = 100;
    l.group_member_deadline = 30 * kSecond;
  }));
  REQUIRE(fx.coordinator);
  ClientEvents es, ef, eslow;
  REQUIRE(fx.join("sender", es));
  REQUIRE(fx.join("fast", ef));
  REQUIRE(fx.join("slow", eslow));
  Member s, f, slow;
  REQUIRE(s.join(*fx.client("sender"), "ledger", {false, false, true}));
  REQUIRE(fx.run_until([&] { return s.joined.has_value(); }));
  CHECK(s.joined->policy == proto::GroupPolicy::lossless);
  REQUIRE(f.join(*fx.client("fast"), "ledger"));
  REQUIRE(slow.join(*fx.client("slow"), "ledger", {true, true, false})); // asks nothing: the creator chose
  REQUIRE(fx.run_until([&] { return f.joined && slow.joined; }));
  CHECK(slow.joined->policy == proto::GroupPolicy::lossless);
  slow.group->pause_receiving();
  const size_t n = 20000; // 1 KiB each: 20 MiB, more than every window and buffer on the way
  Flood flood{*s.group, std::string(1000, 'm'), n};
  flood.pump();
  fx.run_until([&] {
    if (s.writable) s.writable = 0, flood.pump();
    return false;
  }, 1.5);
  // Held back: the sender could not get everything out, the fast member is
  // no further than the paused one's queue allows.
  size_t sent_while_paused = flood.next;
  INFO("sent while paused: " << sent_while_paused << ", fast got " << f.messages.size());
  CHECK(sent_while_paused < n);
  CHECK(f.messages.size() < n);
  slow.group->resume_receiving();
  REQUIRE(fx.run_until(
      [&] {
        if (s.writable) s.writable = 0, flood.pump();
        return f.messages.size() == n && slow.messages.size() == n;
      },
      60));
  CHECK(f.lost + slow.lost == 0);
  CHECK(f.texts() == slow.texts());
  CHECK(fx.coordinator->stats().group_dropped == 0);
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a member joining late gets only later messages, and leaving and rejoining works", "[group]") {
  CoordFixture fx;
  REQUIRE(fx.coordinator);
  ClientEvents ea, eb;
  REQUIRE(fx.join("alice", ea));
  REQUIRE(fx.join("bob", eb));
  Member a, b;
  REQUIRE(a.join(*fx.client("alice"), "room", {true, false, false}));
  REQUIRE(fx.run_until([&] { return a.joined.has_value(); }));
  REQUIRE(a.group->send(as_bytes("before")));
  REQUIRE(fx.run_until([&] { return fx.coordinator->stats().group_posts == 1; }));
  REQUIRE(b.join(*fx.client("bob"), "room"));
  REQUIRE(fx.run_until([&] { return b.joined.has_value() && b.events.size() == 2; }));
  CHECK(b.joined->members == 2);
  CHECK(b.group->members() == std::vector<std::string>{"alice", "bob"});
  REQUIRE(a.group->send(as_bytes("after")));
  REQUIRE(fx.run_until([&] { return b.messages.size() == 1; }));
  CHECK(b.messages[0].text == "after");
  CHECK(a.messages.empty()); // --no-echo
  // bob leaves cleanly: his membership ends without error, alice hears it.
  REQUIRE(b.group->leave());
  REQUIRE(fx.run_until([&] { return b.closed.has_value(); }));
  CHECK_FALSE(*b.closed);
  REQUIRE(fx.run_until([&] { return !a.events.empty() && a.events.back().first == proto::MemberEvent::left; }));
  CHECK(a.events.back().second == "bob");
  // And rejoins.
  Member b2;
  REQUIRE(b2.join(*fx.client("bob"), "ROOM")); // names compare without case
  REQUIRE(fx.run_until([&] { return b2.joined.has_value(); }));
  REQUIRE(a.group->send(as_bytes("again")));
  REQUIRE(fx.run_until([&] { return b2.messages.size() == 1; }));
  CHECK(b2.messages[0].text == "again");
  // The last member to leave closes the group.
  REQUIRE(b2.group->leave());
  REQUIRE(a.group->leave());
  REQUIRE(fx.run_until([&] { return a.closed && b2.closed; }));
  CHECK(fx.coordinator->groups().empty());
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("every group limit refuses the one who hit it with its own reason", "[group][limits]") {
  CoordFixture fx(with_limits([](coord::Limits &l) {
    l.max_groups = 2;
    l.max_group_members = 2;
    l.max_groups_per_client = 2;
    l.group_max_message = 1000;
  }));
  REQUIRE(fx.coordinator);
  ClientEvents ea, eb, ec;
  REQUIRE(fx.join("alice", ea));
  REQUIRE(fx.join("bob", eb));
  REQUIRE(fx.join("carol", ec));
  client::Client &alice = *fx.client("alice"), &bob = *fx.client("bob"), &carol = *fx.client("carol");
  std::deque<Member> m(8);
  REQUIRE(m[0].join(alice, "g1"));
  REQUIRE(m[1].join(alice, "g2"));
  REQUIRE(fx.run_until([&] { return m[0].joined && m[1].joined; }));
  // Groups per client.
  REQUIRE(m[2].join(alice, "g3"));
  REQUIRE(fx.run_until([&] { return m[2].closed.has_value(); }));
  REQUIRE(*m[2].closed);
  CHECK((*m[2].closed)->category == ErrorCategory::limit);
  CHECK((*m[2].closed)->message.find("'alice' is in 2 groups already") != std::string::npos);
  // Groups per coordinator.
  REQUIRE(m[3].join(bob, "g3"));
  REQUIRE(fx.run_until([&] { return m[3].closed.has_value(); }));
  REQUIRE(*m[3].closed);
  CHECK((*m[3].closed)->message.find("hosts 2 groups (its limit)") != std::string::npos);
  // Members per group.
  REQUIRE(m[4].join(bob, "g1"));
  REQUIRE(fx.run_until([&] { return m[4].joined.has_value(); }));
  REQUIRE(m[5].join(carol, "g1"));
  REQUIRE(fx.run_until([&] { return m[5].closed.has_value(); }));
  REQUIRE(*m[5].closed);
  CHECK((*m[5].closed)->message.find("@g1 has 2 members") != std::string::npos);
  // Message size: refused locally once the limit is known...
  auto big = m[0].group->send(Bytes(1001, 'z'));
  REQUIRE_FALSE(big);
  CHECK(big.error().category == ErrorCategory::limit);
  CHECK(big.error().message.find("exceeds @g1's limit of 1000 bytes") != std::string::npos);
  REQUIRE(m[0].group->send(Bytes(1000, 'z')));
  REQUIRE(fx.run_until([&] { return m[4].messages.size() == 1; }));
  // ... and a bad name before anything is sent.
  Member bad;
  auto r = client::Group::join(carol, "no spaces", bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::usage);
  // Nobody else was disturbed.
  CHECK_FALSE(m[0].closed);
  CHECK_FALSE(m[1].closed);
  CHECK_FALSE(m[4].closed);
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("hostile group streams are closed alone: posts before joining, two joins, oversized posts, bad names", "[group][hostile]") {
  CoordFixture fx(with_limits([](coord::Limits &l) { l.group_max_message = 1000; }));
  REQUIRE(fx.coordinator);
  ClientEvents ea, em;
  REQUIRE(fx.join("alice", ea));
  REQUIRE(fx.join("mallory", em));
  Member a;
  REQUIRE(a.join(*fx.client("alice"), "g"));
  REQUIRE(fx.run_until([&] { return a.joined.has_value(); }));
  channel::Channel &ch = *fx.client("mallory")->coordinator_channel();
  struct Watch : channel::StreamHandler {
    std::vector<Bytes> got;
    std::optional<std::optional<Error>> closed;
    void on_message(channel::Stream &, Bytes m) override { got.push_back(std::move(m)); }
    void on_closed(channel::Stream &, const std::optional<Error> &e) override { closed = e; }
  };
  std::deque<Watch> watches;
  auto raw = [&](const std::string &name, const std::vector<Bytes> &messages) {
    auto s = ch.open_stream(true, {proto::StreamKind::group, name});
    REQUIRE(s);
    s->set_handler(watches.emplace_back());
    for (const auto &m : messages) REQUIRE(s->send(m));
  };
  Bytes join = proto::encode(proto::GroupUpMessage{proto::GroupJoin{}});
  Bytes post = proto::encode(proto::GroupUpMessage{proto::GroupPost{to_bytes("hi")}});
  Bytes huge = proto::encode(proto::GroupUpMessage{proto::GroupPost{Bytes(5000, 'h')}});
  raw("g", {post});                    // before joining
  raw("g", {join, join});              // twice
  raw("g", {join, huge});              // over the group's message limit
  raw("g", {Bytes{1, 7}});             // a GroupJoin with a flag out of range
  raw("not a name", {join});           // refused, not closed
  raw("g", {Bytes{0x25, 1, 2}, join}); // an unknown type first: skipped
  REQUIRE(fx.run_until([&] { return watches[0].closed && watches[1].closed && watches[2].closed && watches[3].closed && watches[4].closed; }));
  for (int i : {0, 1, 3}) {
    REQUIRE(*watches[i].closed);
    CHECK((*watches[i].closed)->code == static_cast<int64_t>(channel::kErrorProtocol));
  }
  REQUIRE(*watches[2].closed);
  CHECK((*watches[2].closed)->code == static_cast<int64_t>(proto::kGroupTooLarge));
  REQUIRE(!watches[4].got.empty());
  auto refused = proto::decode_group_down(watches[4].got[0]);
  REQUIRE(refused);
  REQUIRE(*refused);
  REQUIRE(std::holds_alternative<proto::GroupRefused>(**refused));
  CHECK(std::get<proto::GroupRefused>(**refused).code == proto::RefuseCode::bad_id);
  // The one that skipped an unknown type joined.
  REQUIRE(fx.run_until([&] { return !watches[5].got.empty(); }));
  auto joined = proto::decode_group_down(watches[5].got[0]);
  REQUIRE(joined);
  REQUIRE(*joined);
  CHECK(std::holds_alternative<proto::GroupJoined>(**joined));
  // alice was not disturbed, and mallory's connection is still up.
  CHECK_FALSE(a.closed);
  CHECK(ch.is_open());
  REQUIRE(a.group->send(as_bytes("still here")));
  REQUIRE(fx.run_until([&] { return a.messages.size() == 1; }));
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a group membership ends with an error when the coordinator goes, and the Group may be destroyed in its callbacks", "[group]") {
  CoordFixture fx;
  REQUIRE(fx.coordinator);
  ClientEvents ea;
  REQUIRE(fx.join("alice", ea));
  struct SelfDestruct : client::GroupHandler {
    std::unique_ptr<client::Group> group;
    int messages = 0;
    void on_message(client::Group &, const std::string &, Bytes) override {
      ++messages;
      group.reset(); // from inside its own callback
    }
  } d;
  auto g = client::Group::join(*fx.client("alice"), "g", d);
  REQUIRE(g);
  d.group = std::move(*g);
  REQUIRE(d.group->send(as_bytes("one")));
  REQUIRE(d.group->send(as_bytes("two")));
  REQUIRE(fx.run_until([&] { return d.messages == 1 && !d.group; }));
  fx.run_until([] { return false; }, 0.2);
  CHECK(d.messages == 1);
  Member a;
  REQUIRE(a.join(*fx.client("alice"), "g2"));
  REQUIRE(fx.run_until([&] { return a.joined.has_value(); }));
  fx.coordinator->shutdown();
  REQUIRE(fx.run_until([&] { return a.closed.has_value(); }));
  REQUIRE(*a.closed);
  CHECK((*a.closed)->message.find("@g2") != std::string::npos);
  release_groups();
  REQUIRE(fx.shutdown());
}

TEST_CASE("a member whose stream refuses data, or that falls behind on membership churn, is removed and nobody else is held", "[group][hostile]") {
  CoordFixture fx(with_limits([](coord::Limits &l) {
    l.group_queue_bytes = 1000; // membership events of a few dozen joins pass it
    l.group_member_deadline = 60 * kSecond;
  }));
  REQUIRE(fx.coordinator);
  ClientEvents ea, em, ep, ec;
  REQUIRE(fx.join("alice", ea));
  REQUIRE(fx.join("mallory", em));
  REQUIRE(fx.join("paused", ep));
  REQUIRE(fx.join("churner", ec));
  Member a, p;
  REQUIRE(a.join(*fx.client("alice"), "g"));
  REQUIRE(fx.run_until([&] { return a.joined.has_value(); }));
  // mallory joins, then stops reading its stream (STOP_SENDING): every
  // write to it fails from then on.
  channel::Channel &ch = *fx.client("mallory")->coordinator_channel();
  auto s = ch.open_stream(true, {proto::StreamKind::group, "g"});
  REQUIRE(s);
  REQUIRE(s->send(proto::encode(proto::GroupUpMessage{proto::GroupJoin{}})));
  REQUIRE(fx.run_until([&] { return fx.coordinator->groups().at(0).members.size() == 2; }));
  s->stop_reading(channel::kErrorCancelled);
  fx.run_until([] { return false; }, 0.1);
  for (int i = 0; i < 20; ++i) REQUIRE(a.group->send(Bytes(1000, 'x')));
  REQUIRE(fx.run_until([&] { return fx.coordinator->stats().group_members_removed == 1; }));
  REQUIRE(fx.run_until([&] { return a.messages.size() == 20; }));
  // A member holding back its credit while another client churns joins:
  // the events it cannot take pile up past the bound; it is removed.
  REQUIRE(p.join(*fx.client("paused"), "g"));
  REQUIRE(fx.run_until([&] { return p.joined.has_value(); }));
  p.group->pause_receiving();
  std::string pad(60000, 'p'); // fill its window and stream buffer first
  for (int i = 0; i < 120; ++i) REQUIRE(a.group->send(as_bytes(pad)));
  fx.run_until([] { return false; }, 0.5);
  std::deque<Member> churn(60);
  for (auto &c : churn) {
    REQUIRE(c.join(*fx.client("churner"), "g", {false, false, false}));
    REQUIRE(fx.run_until([&] { return c.joined.has_value(); }));
    REQUIRE(c.group->leave());
    REQUIRE(fx.run_until([&] { return c.closed.has_value(); }));
  }
  REQUIRE(fx.run_until([&] { return p.closed.has_value(); }, 10));
  REQUIRE(*p.closed);
  CHECK((*p.closed)->code == static_cast<int64_t>(proto::kGroupRemoved));
  CHECK(fx.coordinator->stats().group_members_removed == 2);
  CHECK_FALSE(a.closed);
  REQUIRE(a.group->send(as_bytes("still here")));
  REQUIRE(fx.run_until([&] { return !a.messages.empty() && a.messages.back().text == "still here"; }));
  release_groups();
  REQUIRE(fx.shutdown());
}
