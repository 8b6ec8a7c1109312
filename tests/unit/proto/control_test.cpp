#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "proto/control.hpp"
#include "util/varint.hpp"

using namespace conec;
using namespace conec::proto;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

constexpr RefuseCode kAllCodes[] = {
    RefuseCode::bad_id,       RefuseCode::id_in_use, RefuseCode::not_authorized,
    RefuseCode::limit,        RefuseCode::version,   RefuseCode::unknown_peer,
    RefuseCode::peer_refused, RefuseCode::timeout,   RefuseCode::protocol,
    RefuseCode::id_bound};

// A numeric IPv4 or IPv6 address, built directly (no resolver involved).
SockAddr ip(const char *text, uint16_t port) {
  sockaddr_in sin{};
  if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    return SockAddr(reinterpret_cast<const sockaddr *>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  REQUIRE(inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  return SockAddr(reinterpret_cast<const sockaddr *>(&sin6), sizeof(sin6));
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 7));
  return b;
}

std::string id_of(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += "aZ9._-"[i == 0 ? 0 : i % 6];
  return s;
}

Introduction full_introduction() {
  Introduction m;
  m.request_id = 17;
  m.channel_id = kVarintMax;
  m.peer = id_of(kMaxIdLength);
  m.peer_certificate = pattern(kMaxCertificateLength, 3);
  m.role = 1;
  m.relay_token = pattern(kRelayTokenLength, 9);
  m.peer_observed = ip("2001:db8::1", 65535);
  m.peer_local = {
      ip("192.168.1.10", 1), ip("10.0.0.1", 4433), ip("::1", 0),         SockAddr(),
      ip("fe80::1:2", 9),    ip("0.0.0.0", 0),     ip("ff02::fb", 5353), ip("255.255.255.255", 80)};
  return m;
}

// Representative and boundary values of every message type.
std::vector<ControlMessage> samples() {
  std::vector<ControlMessage> out;
  const std::string max_reason(kMaxReasonLength, 'r');
  out.push_back(Hello{1, "a", {}});
  out.push_back(Hello{0, "", {}});
  out.push_back(Hello{kVarintMax, id_of(kMaxIdLength), {}});
  out.push_back(Hello{1, "lan", {ip("192.168.1.20", 4433), ip("2001:db8::20", 4433)}});
  out.push_back(Hello{1, "many", std::vector<SockAddr>(kMaxAddresses, ip("10.0.0.1", 1))});
  out.push_back(Welcome{"alice", ip("203.0.113.7", 50000), 16u << 20});
  out.push_back(Welcome{id_of(kMaxIdLength), ip("2001:db8:ffff::42", 1), 0});
  out.push_back(Welcome{"", SockAddr(), kVarintMax});
  for (RefuseCode code : kAllCodes) out.push_back(Refused{code, std::string(to_string(code))});
  out.push_back(Refused{RefuseCode::limit, max_reason});
  out.push_back(Refused{RefuseCode::bad_id, ""});
  out.push_back(ChannelRequest{0, "b"});
  out.push_back(ChannelRequest{kVarintMax, id_of(kMaxIdLength)});
  out.push_back(full_introduction());
  Introduction small;
  small.relay_token = Bytes(kRelayTokenLength, 0);
  out.push_back(small); // empty certificate, unknown observed address, no local addresses
  Introduction v4 = small;
  v4.peer = "bob";
  v4.peer_observed = ip("198.51.100.1", 443);
  v4.peer_local = {ip("192.168.0.2", 443)};
  v4.peer_certificate = pattern(300, 1);
  out.push_back(v4);
  out.push_back(IntroductionReply{5, true, ""});
  out.push_back(IntroductionReply{kVarintMax, false, max_reason});
  out.push_back(ChannelJoined{0, 0});
  out.push_back(ChannelJoined{63, 64}); // varint length boundaries
  out.push_back(ChannelJoined{16383, 16384});
  for (RefuseCode code : kAllCodes) out.push_back(ChannelError{static_cast<uint64_t>(code), code, "x"});
  out.push_back(ChannelError{1, RefuseCode::timeout, max_reason});
  out.push_back(ChannelClosed{9, ""});
  out.push_back(ChannelClosed{(uint64_t{1} << 30) - 1, max_reason});
  out.push_back(RelayResume{});
  out.push_back(RelayResume{{{pattern(kRelayTokenLength, 5), "bob", 0}, {Bytes(kRelayTokenLength, 0xff), "b", 1}}});
  out.push_back(RelayResume{std::vector<ResumedRelay>(kMaxResumedRelays,
                                                      ResumedRelay{pattern(kRelayTokenLength, 7), id_of(kMaxIdLength), 1})});
  out.push_back(RelayResumed{pattern(kRelayTokenLength, 1), 42, true, ""});
  out.push_back(RelayResumed{Bytes(kRelayTokenLength, 0), 0, false, max_reason});
  out.push_back(PeerMoved{7, ip("203.0.113.9", 20001)});
  out.push_back(PeerMoved{kVarintMax, ip("2001:db8::9", 1)});
  return out;
}

Bytes hex(std::initializer_list<int> bytes) {
  Bytes b;
  for (int x : bytes) b.push_back(static_cast<uint8_t>(x));
  return b;
}

// Decodes input that must fail; returns the error for its message.
Error must_fail(const Bytes &input) {
  auto r = decode(input);
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::protocol);
  CHECK(r.error().layer == "proto");
  return r.error();
}

std::string message_of(const ControlMessage &m) { return must_fail(encode(m)).message; }

// A decoded value must survive encode -> decode unchanged, and the canonical
// encoding must be stable. Returns a description of the first mismatch.
std::string reencode_problem(const ControlMessage &value) {
  Bytes first = encode(value);
  auto again = decode(first);
  if (!again) return "re-encoding does not decode: " + again.error().message;
  if (!(*again == value)) return std::string("re-decoded ") + std::string(message_name(value)) + " differs";
  if (encode(*again) != first) return "encoding is not stable";
  return {};
}

} // namespace

TEST_CASE("control messages round-trip with representative and boundary values", "[proto]") {
  std::set<size_t> types;
  for (const auto &m : samples()) {
    INFO(message_name(m));
    Bytes wire = encode(m);
    CHECK(wire.size() <= kMaxControlMessage);
    auto back = decode(wire);
    REQUIRE(back);
    CHECK(back->index() == m.index());
    CHECK(*back == m);
    CHECK(encode(*back) == wire);
    types.insert(m.index());
  }
  CHECK(types.size() == std::variant_size_v<ControlMessage>);
}

TEST_CASE("control message wire layout is byte-exact", "[proto]") {
  // A Hello without local addresses ends after its id (what clients that
  // predate the field send, and what they can read).
  CHECK(encode(Hello{1, "a", {}}) == hex({0x01, 0x01, 0x01, 0x61}));
  CHECK(encode(Hello{1, "a", {ip("1.2.3.4", 0x1234)}}) ==
        hex({0x01, 0x01, 0x01, 0x61, 0x01, 0x04, 1, 2, 3, 4, 0x12, 0x34}));
  {
    auto m = decode(hex({0x01, 0x01, 0x01, 0x61}));
    REQUIRE(m);
    CHECK(std::get<Hello>(*m).local.empty());
    // More local addresses than allowed, and a truncated list, are errors.
    Bytes nine = hex({0x01, 0x01, 0x01, 0x61, 0x09});
    CHECK_FALSE(decode(nine));
    CHECK_FALSE(decode(hex({0x01, 0x01, 0x01, 0x61, 0x01, 0x04, 1, 2})));
  }
  // type 2, id "x", family 4, 1.2.3.4, port 0x1234 big endian, max_message 5
  CHECK(encode(Welcome{"x", ip("1.2.3.4", 0x1234), 5}) ==
        hex({0x02, 0x01, 0x78, 0x04, 1, 2, 3, 4, 0x12, 0x34, 0x05}));
  Bytes v6 = hex({0x02, 0x00, 0x06});
  v6.resize(v6.size() + 15, 0); // ::1
  v6.insert(v6.end(), {1, 0x01, 0xbb, 0x00});
  CHECK(encode(Welcome{"", ip("::1", 443), 0}) == v6);
  // An empty address is family 0 alone.
  CHECK(encode(Welcome{"", SockAddr(), 0}) == hex({0x02, 0x00, 0x00, 0x00}));
  CHECK(encode(ChannelJoined{64, 0}) == hex({0x07, 0x40, 0x40, 0x00}));
  // type 10, one relay: token length 16 + token, peer "b", role 1
  Bytes resume = hex({0x0a, 0x01, 0x10});
  resume.insert(resume.end(), 16, 0xab);
  resume.insert(resume.end(), {0x01, 'b', 0x01});
  CHECK(encode(RelayResume{{{Bytes(16, 0xab), "b", 1}}}) == resume);
  CHECK(encode(RelayResume{}) == hex({0x0a, 0x00}));
  // type 11: token, channel id 300 (two-byte varint), relaying, empty reason
  Bytes resumed = hex({0x0b, 0x10});
  resumed.insert(resumed.end(), 16, 0x01);
  resumed.insert(resumed.end(), {0x41, 0x2c, 0x01, 0x00});
  CHECK(encode(RelayResumed{Bytes(16, 0x01), 300, true, ""}) == resumed);
  // type 12: channel id 5, 10.0.0.1:20000
  CHECK(encode(PeerMoved{5, ip("10.0.0.1", 20000)}) == hex({0x0c, 0x05, 0x04, 10, 0, 0, 1, 0x4e, 0x20}));
  CHECK(encode(IntroductionReply{3, true, "no"}) == hex({0x06, 0x03, 0x01, 0x02, 'n', 'o'}));
  CHECK(encode(ChannelError{2, RefuseCode::unknown_peer, ""}) == hex({0x08, 0x02, 0x06, 0x00}));
  CHECK(encode(ChannelClosed{1, ""}) == hex({0x09, 0x01, 0x00}));
}

TEST_CASE("every truncation of every sample fails with a protocol error", "[proto]") {
  for (const auto &m : samples()) {
    Bytes wire = encode(m);
    for (size_t n = 0; n < wire.size(); ++n) {
      Bytes prefix(wire.begin(), wire.begin() + static_cast<ptrdiff_t>(n)); // exact size: ASan sees overreads
      auto r = decode(prefix);
      if (r && std::holds_alternative<Hello>(m)) {
        // Cut right before its optional last field, a Hello is one without it.
        Hello without = std::get<Hello>(m);
        without.local.clear();
        if (n == encode(without).size() && *r == ControlMessage(without)) continue;
      }
      if (r) FAIL(message_name(m) << " truncated to " << n << " of " << wire.size() << " bytes decoded");
      if (r.error().category != ErrorCategory::protocol) FAIL("not a protocol error: " << r.error().message);
    }
  }
  CHECK_THAT(must_fail({}).message, Contains("type"));
  CHECK_THAT(must_fail(hex({0x01, 0x01})).message, Equals("Hello: id: truncated"));
  CHECK_THAT(must_fail(hex({0x01, 0x01, 0x05, 'a'})).message, StartsWith("Hello: id: truncated"));
  CHECK_THAT(must_fail(hex({0x02, 0x00, 0x06, 1, 2})).message, StartsWith("Welcome: observed: truncated"));
}

TEST_CASE("each bound violated by one names the field", "[proto]") {
  const std::string long_id = id_of(kMaxIdLength + 1);
  const std::string long_reason(kMaxReasonLength + 1, 'r');
  CHECK_THAT(message_of(Hello{1, long_id, {}}), Equals("Hello: id: 65 bytes exceeds the maximum of 64"));
  CHECK_THAT(message_of(Welcome{long_id, SockAddr(), 0}), StartsWith("Welcome: id: 65 bytes"));
  CHECK_THAT(message_of(ChannelRequest{1, long_id}), StartsWith("ChannelRequest: peer: 65 bytes"));
  CHECK_THAT(message_of(Refused{RefuseCode::limit, long_reason}), StartsWith("Refused: reason: 513 bytes"));
  CHECK_THAT(message_of(IntroductionReply{1, false, long_reason}),
             StartsWith("IntroductionReply: reason: 513"));
  CHECK_THAT(message_of(ChannelError{1, RefuseCode::limit, long_reason}),
             StartsWith("ChannelError: reason: 513"));
  CHECK_THAT(message_of(ChannelClosed{1, long_reason}), StartsWith("ChannelClosed: reason: 513"));

  ResumedRelay relay{pattern(kRelayTokenLength, 2), "bob", 0};
  CHECK_THAT(message_of(RelayResume{std::vector<ResumedRelay>(kMaxResumedRelays + 1, relay)}),
             Equals("RelayResume: relays: 257 entries exceeds the maximum of 256"));
  ResumedRelay wrong = relay;
  wrong.relay_token.resize(15);
  CHECK_THAT(message_of(RelayResume{{relay, wrong}}), Equals("RelayResume: relay_token: expected 16 bytes, got 15"));
  wrong = relay;
  wrong.peer = long_id;
  CHECK_THAT(message_of(RelayResume{{wrong}}), StartsWith("RelayResume: peer: 65 bytes"));
  wrong = relay;
  wrong.role = 2;
  CHECK_THAT(message_of(RelayResume{{wrong}}), Equals("RelayResume: role: 2 is not in 0..1"));
  CHECK_THAT(message_of(RelayResumed{Bytes(17, 0), 1, false, ""}), Equals("RelayResumed: relay_token: expected 16 bytes, got 17"));
  CHECK_THAT(message_of(RelayResumed{Bytes(16, 0), 1, false, long_reason}), StartsWith("RelayResumed: reason: 513 bytes"));

  auto intro = full_introduction();
  intro.peer = long_id;
  CHECK_THAT(message_of(intro), StartsWith("Introduction: peer: 65 bytes"));
  intro = full_introduction();
  intro.peer_certificate.push_back(0);
  CHECK_THAT(message_of(intro),
             Equals("Introduction: peer_certificate: 16385 bytes exceeds the maximum of 16384"));
  for (size_t n : {size_t{0}, size_t{3}, size_t{15}, size_t{17}}) {
    intro = full_introduction();
    intro.relay_token.resize(n);
    CHECK_THAT(message_of(intro),
               Equals("Introduction: relay_token: expected 16 bytes, got " + std::to_string(n)));
  }
  intro = full_introduction();
  intro.peer_local.push_back(ip("10.0.0.9", 9));
  CHECK_THAT(message_of(intro), Equals("Introduction: peer_local: 9 addresses exceeds the maximum of 8"));
  intro = full_introduction();
  intro.role = 2;
  CHECK_THAT(message_of(intro), Equals("Introduction: role: 2 is not in 0..1"));

  // accept is a bool in memory, so build the bad byte by hand.
  CHECK_THAT(must_fail(hex({0x06, 0x01, 0x02, 0x00})).message,
             Equals("IntroductionReply: accept: 2 is not in 0..1"));
  CHECK_THAT(message_of(Refused{static_cast<RefuseCode>(0), ""}), Equals("Refused: code: refuse code 0 is not used"));
  CHECK_THAT(message_of(ChannelError{1, static_cast<RefuseCode>(0), ""}),
             Equals("ChannelError: code: refuse code 0 is not used"));
  // Codes this version does not know decode (a later one may add reasons).
  for (uint64_t later : {uint64_t{11}, kVarintMax}) {
    auto r = decode(encode(Refused{static_cast<RefuseCode>(later), "new"}));
    REQUIRE(r);
    CHECK(static_cast<uint64_t>(std::get<Refused>(*r).code) == later);
    CHECK(to_string(std::get<Refused>(*r).code) == "unknown");
  }

  CHECK_THAT(must_fail(hex({0x02, 0x01, 'x', 0x05, 1, 2, 3, 4, 0, 1, 0})).message,
             Equals("Welcome: observed: unknown address family 5"));
  Introduction locals = full_introduction();
  locals.peer_local = {SockAddr(), SockAddr(), SockAddr()};
  Bytes wire = encode(locals);
  wire.back() = 5; // the third local address's family byte
  CHECK_THAT(must_fail(wire).message, Equals("Introduction: peer_local[2]: unknown address family 5"));
  locals.peer_local = {};
  locals.peer_observed = SockAddr();
  wire = encode(locals);     // ends with peer_observed's family 0 and peer_local's count 0
  wire[wire.size() - 2] = 2; // peer_observed: family 2 (AF_INET's value, not ours)
  CHECK_THAT(must_fail(wire).message, StartsWith("Introduction: peer_observed: unknown address family 2"));

  Bytes huge = encode(Hello{1, "a", {}});
  huge.resize(kMaxControlMessage + 1);
  CHECK_THAT(must_fail(huge).message, Contains("exceeds the maximum of 65536"));
}

TEST_CASE("trailing bytes are errors, and unknown types are errors of their own code", "[proto]") {
  // After a Hello's id comes its optional list of local addresses: a
  // stray byte there is a list, and an empty or short one is an error.
  Bytes wire = encode(Hello{1, "a", {}});
  wire.push_back(0);
  CHECK_THAT(must_fail(wire).message, Equals("Hello: local: an empty list is left out, not sent"));
  wire.back() = 1;
  CHECK_THAT(must_fail(wire).message, StartsWith("Hello: local[0]: truncated"));
  wire = encode(Hello{1, "a", {SockAddr::loopback(AF_INET, 9)}});
  wire.push_back(0);
  CHECK_THAT(must_fail(wire).message, Equals("Hello: 1 trailing byte"));
  wire.push_back(0);
  CHECK_THAT(must_fail(wire).message, Equals("Hello: 2 trailing bytes"));
  wire = encode(full_introduction());
  wire.push_back(7);
  CHECK_THAT(must_fail(wire).message, Equals("Introduction: 1 trailing byte"));

  CHECK_THAT(must_fail(hex({0x40, 77})).message, Equals("unknown control message type 77"));
  CHECK(must_fail(hex({0x40, 77})).code == kUnknownControlType); // receivers skip these
  CHECK(must_fail(hex({0x40})).code != kUnknownControlType);
  CHECK_THAT(must_fail(hex({0x00})).message, Equals("unknown control message type 0"));
  CHECK_THAT(must_fail(hex({0x0d, 0x01})).message, Equals("unknown control message type 13"));
  CHECK_THAT(must_fail(hex({0x40})).message, Equals("control message: type: truncated"));
  Bytes big_type;
  varint_append(big_type, kVarintMax);
  CHECK_THAT(must_fail(big_type).message,
             Equals("unknown control message type " + std::to_string(kVarintMax)));
}

TEST_CASE("seeded fuzz: random and mutated payloads decode totally", "[proto]") {
  std::mt19937_64 rng(0xC0DEC);
  auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t decoded = 0;

  auto check = [&](const Bytes &input) {
    auto r = decode(input);
    if (!r) {
      if (r.error().category != ErrorCategory::protocol || r.error().message.empty())
        FAIL("bad error for input " << to_hex(input) << ": " << r.error().describe());
      return;
    }
    ++decoded;
    if (auto problem = reencode_problem(*r); !problem.empty())
      FAIL(problem << " for input " << to_hex(input));
  };

  for (int i = 0; i < 100000; ++i) {
    Bytes input(below(301));
    for (auto &b : input) b = static_cast<uint8_t>(rng());
    // Mostly a known type, or nearly everything stops at the type number.
    if (!input.empty() && below(4) != 0) input[0] = static_cast<uint8_t>(1 + below(9));
    check(input);
  }
  const size_t random_decoded = decoded;

  std::vector<Bytes> corpus;
  for (const auto &m : samples())
    if (auto wire = encode(m); wire.size() <= 1024) corpus.push_back(std::move(wire));
  for (int i = 0; i < 100000; ++i) {
    Bytes input = corpus[below(corpus.size())];
    for (size_t edits = 1 + below(4); edits > 0; --edits) {
      switch (below(4)) {
      case 0:
        if (!input.empty()) input[below(input.size())] ^= static_cast<uint8_t>(1u << below(8));
        break;
      case 1:
        if (!input.empty()) input[below(input.size())] = static_cast<uint8_t>(rng());
        break;
      case 2:
        input.insert(input.begin() + static_cast<ptrdiff_t>(below(input.size() + 1)),
                     static_cast<uint8_t>(rng()));
        break;
      default:
        if (!input.empty()) input.erase(input.begin() + static_cast<ptrdiff_t>(below(input.size())));
      }
    }
    check(input);
  }
  INFO("random payloads decoded: " << random_decoded << ", total decoded: " << decoded);
  CHECK(decoded - random_decoded > 5000); // the mutations did exercise the success path
}

TEST_CASE("valid_id and canonical_id follow SPEC section 2", "[proto]") {
  CHECK(valid_id("a"));
  CHECK(valid_id("0"));
  CHECK(valid_id("Alice.B_c-9"));
  CHECK(valid_id("a-"));
  CHECK(valid_id("9._-"));
  CHECK(valid_id(id_of(64)));
  CHECK_FALSE(valid_id(id_of(65)));
  CHECK_FALSE(valid_id(""));
  CHECK_FALSE(valid_id("-a"));
  CHECK_FALSE(valid_id(".a"));
  CHECK_FALSE(valid_id("_a"));
  CHECK_FALSE(valid_id("a b"));
  CHECK_FALSE(valid_id(" a"));
  CHECK_FALSE(valid_id("a "));
  CHECK_FALSE(valid_id("caf\xc3\xa9"));       // é
  CHECK_FALSE(valid_id("\xc3\xa9t\xc3\xa9")); // starts with a non-ASCII letter
  CHECK_FALSE(valid_id("a@b"));
  CHECK_FALSE(valid_id("a/b"));
  CHECK_FALSE(valid_id(std::string_view("a\0b", 3)));
  CHECK_FALSE(valid_id("@group"));

  CHECK(canonical_id("Alice.B_C-9") == "alice.b_c-9");
  CHECK(canonical_id("") == "");
  CHECK(canonical_id("ABCXYZ") == "abcxyz");
  CHECK(canonical_id("@[`{") == "@[`{");               // neighbours of A-Z unchanged
  CHECK(canonical_id("CAF\xc3\x89") == "caf\xc3\x89"); // only ASCII is folded
  CHECK(canonical_id("bob") == canonical_id("BOB"));
}

TEST_CASE("names of messages and refuse codes", "[proto]") {
  CHECK(message_name(Hello{}) == "Hello");
  CHECK(message_name(Introduction{}) == "Introduction");
  CHECK(message_name(ChannelClosed{}) == "ChannelClosed");
  CHECK(message_name(RelayResume{}) == "RelayResume");
  CHECK(message_name(RelayResumed{}) == "RelayResumed");
  CHECK(message_name(PeerMoved{}) == "PeerMoved");
  std::set<std::string_view> names;
  for (RefuseCode code : kAllCodes) names.insert(to_string(code));
  CHECK(names.size() == std::size(kAllCodes));
  CHECK(to_string(RefuseCode::id_in_use) == "id_in_use");
  CHECK(to_string(static_cast<RefuseCode>(42)) == "unknown");
}
