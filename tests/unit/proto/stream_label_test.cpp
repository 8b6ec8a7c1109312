#include <catch2/catch.hpp>

#include "proto/stream_label.hpp"
#include "util/varint.hpp"

using namespace conec;
using proto::StreamKind;
using proto::StreamLabel;

TEST_CASE("stream labels round-trip and are laid out as kind then name", "[proto]") {
  StreamLabel group{StreamKind::group, "chat"};
  Bytes wire = proto::encode_label(group);
  CHECK(wire == Bytes{4, 4, 'c', 'h', 'a', 't'});
  auto back = proto::decode_label(wire);
  REQUIRE(back);
  CHECK(*back == group);
  CHECK(proto::encode_label({}) == Bytes{0, 0}); // data, no name
  CHECK(proto::describe(group) == "group @chat");
  CHECK(proto::describe({StreamKind{77}, {}}) == "kind 77");
}

TEST_CASE("a label of an unknown kind decodes, and bytes after the name are ignored", "[proto]") {
  Bytes wire{0x40, 0x63, 1, 'x', 9, 9, 9}; // kind 99 as a two-byte varint, name "x", then a later field
  auto label = proto::decode_label(wire);
  REQUIRE(label);
  CHECK(static_cast<uint64_t>(label->kind) == 99);
  CHECK(label->name == "x");
}

TEST_CASE("malformed labels are protocol errors naming the fault", "[proto][hostile]") {
  auto error_of = [](const Bytes &b) {
    auto r = proto::decode_label(b);
    REQUIRE_FALSE(r);
    CHECK(r.error().category == ErrorCategory::protocol);
    return r.error().message;
  };
  CHECK(error_of({}).find("truncated kind") != std::string::npos);
  CHECK(error_of({0x40}).find("truncated kind") != std::string::npos);
  CHECK(error_of({4}).find("truncated name length") != std::string::npos);
  CHECK(error_of({4, 5, 'a'}).find("truncated name") != std::string::npos);
  Bytes long_name{4};
  varint_append(long_name, proto::kMaxLabelName + 1);
  long_name.resize(long_name.size() + proto::kMaxLabelName + 1, 'a');
  CHECK(error_of(long_name).find("exceeds") != std::string::npos);
}
