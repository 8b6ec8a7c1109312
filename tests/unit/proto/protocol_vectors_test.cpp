// The test vectors of docs/protocol.md §11, byte for byte: encoding gives
// the document's payload, decoding gives back the value, and the decoder
// outcomes of §11.2 (malformed, skipped, ignored) hold.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "proto/control.hpp"
#include "proto/framing.hpp"
#include "proto/group.hpp"
#include "proto/stream_label.hpp"

using namespace conec;
using namespace conec::proto;

namespace {

Bytes hex(const char *text) {
  Bytes out;
  for (const char *p = text; *p;) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(p, 2), nullptr, 16)));
    p += 2;
  }
  return out;
}
Bytes framed(const Bytes &payload) {
  Bytes f;
  append_frame(f, payload);
  return f;
}
SockAddr v4(const char *ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return SockAddr(reinterpret_cast<const sockaddr *>(&a), sizeof(a));
}
SockAddr v6(const char *ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return SockAddr(reinterpret_cast<const sockaddr *>(&a), sizeof(a));
}
void control_vector(const ControlMessage &m, const char *payload, const char *frame) {
  INFO(message_name(m));
  CHECK(encode(m) == hex(payload));
  CHECK(framed(encode(m)) == hex(frame));
  auto back = decode(hex(payload));
  REQUIRE(back);
  CHECK(*back == m);
}

} // namespace

TEST_CASE("protocol.md 11.1: control message vectors", "[proto][vectors]") {
  control_vector(Hello{1, "alice", {}}, "01 01 05 61 6c 69 63 65", "08 01 01 05 61 6c 69 63 65");
  Bytes payload2 = hex("01 01 05 61 6c 69 63 65 02 04 c0 00 02 01 11 51 06 20 01 0d b8 00 00 00 00 00 00 00 00 00 "
                       "00 00 01 11 51");
  REQUIRE(payload2.size() == 35);
  Hello with_local{1, "alice", {v4("192.0.2.1", 4433), v6("2001:db8::1", 4433)}};
  CHECK(encode(with_local) == payload2);
  Bytes frame2(1 + payload2.size());
  frame2[0] = 0x23;
  std::copy(payload2.begin(), payload2.end(), frame2.begin() + 1);
  CHECK(framed(encode(with_local)) == frame2);
  auto back = decode(payload2);
  REQUIRE(back);
  CHECK(*back == ControlMessage{with_local});
  control_vector(ChannelRequest{300, "bob"}, "04 41 2c 03 62 6f 62", "07 04 41 2c 03 62 6f 62");
  control_vector(Refused{RefuseCode::id_in_use, "busy"}, "03 02 04 62 75 73 79", "07 03 02 04 62 75 73 79");
}

TEST_CASE("protocol.md 11.1: stream label and group vectors", "[proto][vectors]") {
  StreamLabel label{StreamKind::group, "chat"};
  CHECK(encode_label(label) == hex("04 04 63 68 61 74"));
  CHECK(framed(encode_label(label)) == hex("06 04 04 63 68 61 74"));
  auto l = decode_label(hex("04 04 63 68 61 74"));
  REQUIRE(l);
  CHECK(*l == label);
  GroupUpMessage join{GroupJoin{true, true, false}};
  CHECK(encode(join) == hex("01 01 01 00"));
  CHECK(framed(encode(join)) == hex("04 01 01 01 00"));
  auto j = decode_group_up(hex("01 01 01 00"));
  REQUIRE(j);
  REQUIRE(*j);
  CHECK(**j == join);
}

TEST_CASE("protocol.md 11.2: malformed, skipped and ignored inputs", "[proto][vectors]") {
  // Control: strict fields, unknown types skipped.
  for (const char *bad : {"01 01 05 61 6c 69 63 65 00", "04 01 03 62 6f 62 00", "06 07 02 00", "03 00 00"}) {
    INFO(bad);
    auto r = decode(hex(bad));
    REQUIRE_FALSE(r);
    CHECK(r.error().code != kUnknownControlType);
  }
  auto later_code = decode(hex("03 0b 00")); // a refuse code this version does not know
  REQUIRE(later_code);
  CHECK(static_cast<uint64_t>(std::get<Refused>(*later_code).code) == 11);
  auto unknown = decode(hex("0d 00"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == kUnknownControlType);
  // Labels and group messages: trailing fields ignored, unknown group types skipped.
  auto label = decode_label(hex("04 04 63 68 61 74 ff"));
  REQUIRE(label);
  CHECK(label->name == "chat");
  auto up = decode_group_up(hex("01 01 01 00 07"));
  REQUIRE(up);
  REQUIRE(*up);
  CHECK(std::get<GroupJoin>(**up) == GroupJoin{true, true, false});
  auto down = decode_group_down(hex("09 41 42"));
  REQUIRE(down);
  CHECK_FALSE(*down);
}

TEST_CASE("the zero-copy group readers agree with the decoders", "[proto]") {
  std::vector<Bytes> inputs = {encode(GroupDownMessage{GroupMessage{"alice", to_bytes("hello")}}),
                               encode(GroupDownMessage{GroupMessage{"", {}}}),
                               encode(GroupDownMessage{GroupLost{7}}),
                               hex("03 05 61 6c"), // a sender cut short
                               hex("03"),          // no sender at all
                               hex("09 41 42"),    // unknown type
                               {}};
  for (const Bytes &in : inputs) {
    auto decoded = decode_group_down(ByteView(in));
    auto peeked = peek_group_message(in);
    if (in.size() > 1 && in[0] == 0x03 && !decoded) CHECK_FALSE(peeked); // a malformed GroupMessage is an error
    auto *message = decoded && *decoded ? std::get_if<GroupMessage>(&**decoded) : nullptr;
    if (!decoded) {
      CHECK_FALSE((peeked && *peeked)); // never a message out of malformed input
      continue;
    }
    REQUIRE(peeked);
    REQUIRE(peeked->has_value() == (message != nullptr));
    if (!message) continue;
    CHECK((*peeked)->sender == message->sender);
    CHECK(Bytes((*peeked)->payload.begin(), (*peeked)->payload.end()) == message->payload);
  }
  Bytes frame = encode(GroupDownMessage{GroupMessage{"bob", to_bytes("payload")}});
  auto m = peek_group_message(frame); // views into `frame`
  REQUIRE(m);
  REQUIRE(*m);
  CHECK(Bytes((*m)->payload.begin(), (*m)->payload.end()) == to_bytes("payload"));
  CHECK((*m)->sender == "bob");

  Bytes post = encode(GroupUpMessage{GroupPost{to_bytes("up")}});
  auto p = peek_group_post(post);
  REQUIRE(p);
  CHECK(Bytes(p->begin(), p->end()) == to_bytes("up"));
  CHECK_FALSE(peek_group_post(encode(GroupUpMessage{GroupJoin{}})));
  CHECK_FALSE(peek_group_post(Bytes{}));
}
