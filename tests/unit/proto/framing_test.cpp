#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "proto/framing.hpp"
#include "util/varint.hpp"

using namespace conec;
using proto::MessageReader;

namespace {

// Message i of the test corpus: its size from the boundary list, its bytes a
// pattern that differs per message so reordering or mixing would show.
std::vector<Bytes> corpus() {
  std::vector<Bytes> messages;
  const size_t sizes[] = {0, 1, 63, 64, 16383, 16384, size_t{1} << 20, 0, 5};
  uint8_t seed = 1;
  for (size_t size : sizes) {
    Bytes m(size);
    for (size_t i = 0; i < size; ++i) m[i] = static_cast<uint8_t>(seed * 31 + i * 7 + (i >> 8));
    messages.push_back(std::move(m));
    ++seed;
  }
  return messages;
}

Bytes encode(const std::vector<Bytes> &messages) {
  Bytes stream;
  for (const auto &m : messages) proto::append_frame(stream, m);
  return stream;
}

// Feeds `stream` in chunks chosen by `next_chunk` and collects every message.
template <class ChunkFn>
std::vector<Bytes> decode(ByteView stream, ChunkFn next_chunk, size_t max = proto::kDefaultMaxMessage) {
  MessageReader reader(max);
  std::vector<Bytes> out;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t n = std::min(next_chunk(), stream.size() - pos);
    auto fed = reader.feed(stream.subspan(pos, n));
    REQUIRE(fed);
    pos += n;
    while (auto m = reader.next()) out.push_back(std::move(*m));
  }
  REQUIRE(reader.finish());
  CHECK(reader.buffered_bytes() == 0);
  return out;
}

} // namespace

TEST_CASE("frame header is a QUIC varint of the length", "[proto]") {
  Bytes out;
  proto::append_frame_header(out, 64);
  CHECK(out == Bytes{0x40, 0x40});
  Bytes frame;
  proto::append_frame(frame, as_bytes("hi"));
  CHECK(frame == Bytes{0x02, 'h', 'i'});
}

TEST_CASE("messages round-trip fed whole, byte by byte and in random chunks", "[proto]") {
  auto messages = corpus();
  Bytes stream = encode(messages);

  SECTION("whole") {
    CHECK(decode(stream, [&] { return stream.size(); }) == messages);
  }
  SECTION("byte by byte") {
    CHECK(decode(stream, [] { return size_t{1}; }) == messages);
  }
  SECTION("random chunk sizes") {
    for (uint32_t seed : {1u, 2u, 3u, 42u}) {
      std::mt19937 rng(seed);
      std::uniform_int_distribution<size_t> chunk(1, 70000);
      CHECK(decode(stream, [&] { return chunk(rng); }) == messages);
    }
  }
}

TEST_CASE("many small messages in one feed are decoded in linear time", "[proto]") {
  // Erasing each message from the front of one buffer would make this
  // quadratic (~200k x 2 MB of copying); it must finish instantly.
  std::vector<Bytes> messages;
  for (size_t i = 0; i < 200000; ++i) messages.push_back(Bytes(i % 13, static_cast<uint8_t>(i)));
  Bytes stream = encode(messages);
  CHECK(decode(stream, [&] { return stream.size(); }) == messages);
}

TEST_CASE("a large message fed in tiny chunks is assembled in linear time", "[proto]") {
  Bytes big(size_t{8} << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i ^ (i >> 11));
  Bytes stream = encode({big});
  auto out = decode(
      stream, [] { return size_t{7}; }, big.size());
  REQUIRE(out.size() == 1);
  CHECK(out[0] == big);
}

TEST_CASE("the maximum message size is enforced from the header", "[proto]") {
  const size_t max = 1000;
  SECTION("exactly max is accepted") {
    Bytes stream = encode({Bytes(max, 0xab)});
    MessageReader reader(max);
    REQUIRE(reader.feed(stream));
    auto m = reader.next();
    REQUIRE(m);
    CHECK(m->size() == max);
    CHECK(reader.finish());
  }
  SECTION("max + 1 is rejected before the payload arrives") {
    Bytes header;
    proto::append_frame_header(header, max + 1);
    MessageReader reader(max);
    // The header alone, split across feeds, is enough to fail.
    REQUIRE(reader.feed(ByteView(header).first(1)));
    auto fed = reader.feed(ByteView(header).subspan(1));
    REQUIRE_FALSE(fed);
    CHECK(fed.error().category == ErrorCategory::limit);
    CHECK(fed.error().message == "message of 1001 bytes exceeds the maximum message size of 1000 bytes");
    CHECK(reader.buffered_bytes() == 0);
    // Failed for good: later input and finish() report the same error.
    auto again = reader.feed(Bytes(10, 0));
    REQUIRE_FALSE(again);
    CHECK(again.error().message == fed.error().message);
    auto empty = reader.feed({});
    REQUIRE_FALSE(empty);
    CHECK(empty.error().category == ErrorCategory::limit);
    CHECK_FALSE(reader.finish());
    CHECK_FALSE(reader.next());
  }
  SECTION("an 8-byte varint with a huge value is rejected") {
    Bytes header(8, 0xff); // 2^62 - 1
    MessageReader reader;  // default 16 MiB
    auto fed = reader.feed(header);
    REQUIRE_FALSE(fed);
    CHECK(fed.error().category == ErrorCategory::limit);
    CHECK(fed.error().message == "message of " + std::to_string(kVarintMax) +
                                     " bytes exceeds the maximum message size of 16777216 bytes");
  }
  SECTION("messages completed before the failure can still be taken") {
    Bytes stream = encode({to_bytes("ok")});
    proto::append_frame_header(stream, max * 2);
    MessageReader reader(max);
    CHECK_FALSE(reader.feed(stream));
    auto m = reader.next();
    REQUIRE(m);
    CHECK(*m == to_bytes("ok"));
  }
}

TEST_CASE("finish() reports a stream cut inside a message or header", "[proto]") {
  SECTION("inside a payload") {
    Bytes stream = encode({Bytes(100, 1)});
    MessageReader reader;
    REQUIRE(reader.feed(ByteView(stream).first(2 + 10))); // 2-byte header
    CHECK_FALSE(reader.next());
    CHECK(reader.buffered_bytes() == 10);
    auto end = reader.finish();
    REQUIRE_FALSE(end);
    CHECK(end.error().category == ErrorCategory::protocol);
    CHECK(end.error().message == "stream ended inside a message: 10 of 100 bytes received");
  }
  SECTION("inside a header") {
    Bytes stream;
    proto::append_frame_header(stream, 1u << 20); // 4-byte varint
    MessageReader reader;
    REQUIRE(reader.feed(ByteView(stream).first(1)));
    auto end = reader.finish();
    REQUIRE_FALSE(end);
    CHECK(end.error().category == ErrorCategory::protocol);
    CHECK(end.error().message == "stream ended inside a message header: 1 of 4 bytes received");
  }
  SECTION("right after a header") {
    Bytes stream;
    proto::append_frame_header(stream, 5);
    MessageReader reader;
    REQUIRE(reader.feed(stream));
    auto end = reader.finish();
    REQUIRE_FALSE(end);
    CHECK(end.error().message == "stream ended inside a message: 0 of 5 bytes received");
  }
  SECTION("a clean end after whole messages, even zero-length ones") {
    MessageReader reader;
    REQUIRE(reader.feed(encode({Bytes{}, Bytes{}, Bytes{7}})));
    CHECK(reader.finish());
    CHECK(reader.next() == Bytes{});
    CHECK(reader.next() == Bytes{});
    CHECK(reader.next() == Bytes{7});
    CHECK_FALSE(reader.next());
  }
}

TEST_CASE("random garbage never crashes and stays bounded", "[proto]") {
  std::mt19937 rng(20240607);
  const size_t max = 300;
  size_t failures = 0, messages = 0;
  for (int iteration = 0; iteration < 10000; ++iteration) {
    MessageReader reader(max);
    std::uniform_int_distribution<size_t> length(0, 400);
    std::uniform_int_distribution<int> byte(0, 255);
    Bytes garbage(length(rng));
    for (auto &b : garbage) b = static_cast<uint8_t>(byte(rng));
    // Bias the first byte towards short headers so many inputs parse a while.
    if (!garbage.empty() && iteration % 2 == 0) garbage[0] &= 0x3f;

    size_t untaken = 0, pos = 0;
    bool failed = false;
    std::uniform_int_distribution<size_t> chunk(1, 64);
    while (pos < garbage.size() && !failed) {
      size_t n = std::min(chunk(rng), garbage.size() - pos);
      auto fed = reader.feed(ByteView(garbage).subspan(pos, n));
      pos += n;
      if (!fed) {
        CHECK(fed.error().category == ErrorCategory::limit);
        failed = true;
      }
      // Leave some messages untaken to exercise the bound with a backlog.
      if (iteration % 3 == 0) {
        while (auto m = reader.next()) {
          CHECK(m->size() <= max);
          ++messages;
        }
        untaken = 0;
      } else {
        untaken = 0;
        // buffered_bytes counts untaken messages; measure them by draining a copy.
        MessageReader copy = reader;
        while (auto m = copy.next()) untaken += m->size();
      }
      CHECK(reader.buffered_bytes() <= max + 8 + untaken);
    }
    if (failed) ++failures;
    while (auto m = reader.next()) ++messages;
    (void)reader.finish(); // either result is fine; it must not crash
  }
  // Both outcomes occur with this seed.
  CHECK(failures > 0);
  CHECK(messages > 0);
}

TEST_CASE("take() reads whole messages as views and mixes with feed() in one order", "[proto]") {
  auto messages = corpus();
  Bytes stream = encode(messages);
  // Every split point: views while the reader is idle, feed() just up to
  // the end of a message crossing the split (completing()), views again.
  for (size_t split : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{70}, stream.size() / 2, stream.size()}) {
    MessageReader reader(size_t{2} << 20);
    std::vector<Bytes> got;
    for (ByteView chunk : {ByteView(stream).first(split), ByteView(stream).subspan(split)}) {
      while (!chunk.empty()) {
        auto view = reader.take(chunk);
        REQUIRE(view);
        if (*view) {
          got.emplace_back((*view)->begin(), (*view)->end());
          continue;
        }
        size_t n = reader.completing(chunk);
        REQUIRE(n > 0);
        REQUIRE(reader.feed(chunk.first(n)));
        chunk = chunk.subspan(n);
        while (auto m = reader.next()) got.push_back(std::move(*m));
      }
    }
    CHECK(got == messages);
    CHECK(reader.finish());
  }
}

TEST_CASE("take() leaves a partial message alone and enforces the maximum size", "[proto]") {
  Bytes stream = encode({Bytes(10, 1)});
  ByteView part = ByteView(stream).first(5);
  MessageReader reader(100);
  auto none = reader.take(part);
  REQUIRE(none);
  CHECK_FALSE(*none);
  CHECK(part.size() == 5); // untouched: feed() it
  CHECK(reader.completing(part) == 5);

  Bytes big = encode({Bytes(101, 2)});
  ByteView whole(big);
  auto refused = reader.take(whole);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().category == ErrorCategory::limit);
  CHECK(refused.error().message == "message of 101 bytes exceeds the maximum message size of 100 bytes");
  CHECK_FALSE(reader.feed(Bytes{0})); // failed for good
}
