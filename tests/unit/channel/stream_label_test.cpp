// Stream labels on real channels: the peer meets a stream with its label,
// and streams whose label is missing, malformed or too long are refused
// without disturbing the channel.
#include <catch2/catch.hpp>

#include <algorithm>

#include "channel_fixture.hpp"
#include "proto/framing.hpp"
#include "util/varint.hpp"

using namespace conec;
using namespace conec::test;
using proto::StreamKind;

TEST_CASE("a stream reaches the peer with the label its opener gave it", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  std::vector<proto::StreamLabel> seen;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { seen.push_back(s.label()); };
  REQUIRE(cp.client->open_stream(true, {StreamKind::group, "chat"}));
  REQUIRE(cp.client->open_stream(false, {StreamKind::ping, {}}));
  REQUIRE(cp.client->open_stream(true, {StreamKind{77}, "later"}));
  auto plain = cp.client->open_stream(true);
  REQUIRE(plain);
  CHECK(plain->label() == proto::StreamLabel{});
  REQUIRE(cp.run([&] { return seen.size() == 4; }, 10));
  // Arrival order across streams is not promised: look each one up.
  auto saw = [&](const proto::StreamLabel &l) { return std::find(seen.begin(), seen.end(), l) != seen.end(); };
  CHECK(saw({StreamKind::group, "chat"}));
  CHECK(saw({StreamKind::ping, {}}));
  CHECK(saw({StreamKind{77}, "later"}));
  CHECK(saw({}));
  REQUIRE(cp.shutdown());
}

TEST_CASE("streams without a valid label are refused and never reported, and the channel goes on", "[channel][hostile]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  std::vector<proto::StreamLabel> seen;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { seen.push_back(s.label()); };
  net::Session &raw = cp.client->session();
  auto raw_stream = [&](Bytes bytes, bool fin) {
    auto id = raw.open_stream(true);
    REQUIRE(id);
    REQUIRE(raw.write(*id, std::move(bytes), fin));
  };
  Bytes truncated;
  proto::append_frame(truncated, Bytes{4, 9, 'a'}); // name shorter than declared
  raw_stream(truncated, false);
  raw_stream(Bytes{}, true); // ended before any label
  Bytes huge;                // a label frame far over kMaxLabel, never completed
  proto::append_frame_header(huge, 1 << 20);
  huge.resize(huge.size() + 4 * proto::kMaxLabel, 0);
  raw_stream(huge, false);
  Bytes cut{0x44}; // half a varint, then the end
  raw_stream(cut, true);
  // A good stream after all of them still arrives.
  auto good = cp.client->open_stream(true, {StreamKind::group, "after"});
  REQUIRE(good);
  StreamRecorder rec;
  good->set_handler(rec);
  REQUIRE(cp.run([&] { return !seen.empty(); }, 10));
  cp.run([] { return false; }, 0.2); // anything else would have arrived by now
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].name == "after");
  CHECK_FALSE(cp.client_events.closed);
  CHECK_FALSE(cp.server_events.closed);
  CHECK(cp.client->is_open());
  REQUIRE(cp.shutdown());
}
