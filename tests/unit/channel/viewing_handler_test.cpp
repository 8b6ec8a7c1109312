// ViewingHandler: messages as views of the packet buffers (zero-copy)
// must be exactly the messages a copying handler gets, whatever the
// packetization, with pauses and handler switches mid-stream.
#include <catch2/catch.hpp>

#include <algorithm>

#include "channel_fixture.hpp"

using namespace conec;
using conec::test::ChannelPair;
using conec::test::StreamRecorder;

namespace {

// Sizes that make messages cross packets often, with empty and large ones.
size_t size_of(uint64_t i) {
  if (i % 97 == 0) return 0;
  if (i % 1000 == 500) return 100'000;
  return (i * 7919) % 3000;
}

struct Viewer final : channel::ViewingHandler {
  test::Sha256 hash;
  size_t messages = 0, wrong = 0;
  std::function<void(channel::Stream &)> after; // runs after each message
  std::optional<std::optional<Error>> ended;
  void on_message_view(channel::Stream &s, ByteView m) override {
    Bytes expected = test::pattern_block(5, messages, size_of(messages));
    if (!std::equal(m.begin(), m.end(), expected.begin(), expected.end())) ++wrong;
    hash.update(m);
    ++messages;
    if (after) after(s);
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override { ended = e; }
};

} // namespace

TEST_CASE("a viewing handler gets exactly the messages sent, across packets, pauses and handler switches",
          "[channel]") {
  constexpr uint64_t kMessages = 6000;
  ChannelPair cp;
  REQUIRE(cp.open());

  Viewer viewer;
  StreamRecorder copier; // takes over for a while: both feed one count and hash
  copier.keep_messages = false;
  copier.message_hook = [&](channel::Stream &s, Bytes &m) {
    viewer.on_message_view(s, m);
  };
  copier.end_hook = [&](channel::Stream &) { viewer.ended = copier.ended; };
  bool paused = false;
  viewer.after = [&](channel::Stream &s) {
    if (viewer.messages % 700 == 0) {
      s.pause_reading(); // resumed from the loop below
      paused = true;
    }
    if (viewer.messages == 2000) s.set_handler(copier); // copies from here ...
    if (viewer.messages == 3000) s.set_handler(viewer); // ... to here
  };
  channel::Stream incoming;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    incoming = s;
    s.set_handler(viewer);
  };

  auto stream = cp.client->open_stream(false);
  REQUIRE(stream);
  test::Sha256 sent;
  uint64_t next = 0;
  bool finished = false;
  StreamRecorder sender;
  auto pump = [&] {
    while (next < kMessages) {
      Bytes m = test::pattern_block(5, next, size_of(next));
      ++next;
      sent.update(m);
      auto r = stream->send(m);
      REQUIRE(r);
      if (*r == quic::WriteState::would_block) return;
    }
    if (!finished) REQUIRE(stream->finish());
    finished = true;
  };
  sender.writable_hook = [&](channel::Stream &) { pump(); };
  stream->set_handler(sender);
  pump();
  REQUIRE(cp.run([&] {
    if (paused) {
      paused = false;
      incoming.resume_reading();
    }
    return viewer.ended.has_value() || cp.client_events.closed.has_value();
  }, 60));
  CHECK_FALSE(*viewer.ended);
  CHECK(viewer.messages == kMessages);
  CHECK(viewer.wrong == 0);
  CHECK(viewer.hash.hex() == sent.hex());
  CHECK(copier.message_count == 1000);
}
