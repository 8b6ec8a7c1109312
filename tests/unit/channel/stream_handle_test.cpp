// Stream handles outliving their stream (issue 9): a handle kept after the
// stream's on_closed, or after its Channel was destroyed, is inert — every
// call fails or does nothing, and none touches freed memory (run under
// ASan to make the second half meaningful).
#include <catch2/catch.hpp>

#include <stdexcept>

#include "channel_fixture.hpp"

using namespace conec;
using conec::test::ChannelPair;
using conec::test::StreamRecorder;

namespace {

// Every operation on a handle whose stream is gone: no effect, errors only.
void check_inert(const channel::Stream &s, quic::StreamId id) {
  CHECK_FALSE(s.alive());
  CHECK_FALSE(s);
  CHECK(s.channel() == nullptr);
  CHECK(s.id() == id); // still names the stream it was
  CHECK_FALSE(s.paused());
  auto sent = s.send(as_bytes("too late"));
  REQUIRE_FALSE(sent);
  CHECK(sent.error().category == ErrorCategory::usage);
  CHECK_THAT(sent.error().message, Catch::Contains("has ended"));
  auto finished = s.finish();
  REQUIRE_FALSE(finished);
  CHECK(finished.error().category == ErrorCategory::usage);
  StreamRecorder late;
  s.set_handler(late);
  s.clear_handler();
  s.pause_reading();
  s.resume_reading();
  s.reset(7);
  CHECK_FALSE(s.paused());
}

} // namespace

TEST_CASE("a default-constructed stream handle is inert", "[channel]") {
  channel::Stream none;
  check_inert(none, 0);
  CHECK(none == channel::Stream{});
}

TEST_CASE("stream handles kept after on_closed are inert, on both sides", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder reader, writer;
  // The server answers and ends its side as soon as the client's end arrives.
  reader.end_hook = [](channel::Stream &s) {
    REQUIRE(s.send(as_bytes("bye")));
    REQUIRE(s.finish());
  };
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
  auto opened = cp.client->open_stream(true);
  REQUIRE(opened);
  channel::Stream mine = *opened, copy = mine;
  CHECK(mine.alive());
  CHECK(mine.channel() == cp.client.get());
  mine.set_handler(writer);
  REQUIRE(mine.send(as_bytes("hello")));
  REQUIRE(mine.finish());
  REQUIRE(cp.run([&] { return writer.closed && reader.closed; }, 10));
  CHECK_FALSE(*writer.closed); // a clean end both ways
  CHECK(cp.client->stream_count() == 0);
  CHECK(cp.server->stream_count() == 0);

  check_inert(mine, copy.id());
  CHECK(mine == copy); // identity survives the end
  REQUIRE(cp.server_events.incoming.size() == 1);
  channel::Stream theirs = cp.server_events.incoming[0]; // kept from on_stream
  CHECK_FALSE(theirs == mine);
  check_inert(theirs, theirs.id());
  // Nothing reached the recorders after on_closed.
  CHECK(writer.closed_calls == 1);
  CHECK(reader.closed_calls == 1);
  CHECK(reader.messages.size() == 1);
  REQUIRE(cp.shutdown());
}

TEST_CASE("a handle kept inside on_closed and used after it returns is inert", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder writer;
  channel::Stream kept;
  bool used_inside = false;
  writer.closed_hook = [&](channel::Stream &s) {
    kept = s;
    used_inside = kept.alive(); // still there while on_closed runs
  };
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.reset(0x42); };
  auto s = cp.client->open_stream(true);
  REQUIRE(s);
  s->set_handler(writer);
  REQUIRE(s->send(as_bytes("refused")));
  REQUIRE(cp.run([&] { return writer.closed.has_value(); }, 10));
  CHECK(used_inside);
  check_inert(kept, s->id());
  REQUIRE(cp.shutdown());
}

TEST_CASE("stream handles kept after their Channel was destroyed are inert", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder reader, writer;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
  std::vector<channel::Stream> mine;
  for (bool bidi : {true, false}) {
    auto s = cp.client->open_stream(bidi);
    REQUIRE(s);
    s->set_handler(writer);
    REQUIRE(s->send(as_bytes("open")));
    mine.push_back(*s);
  }
  REQUIRE(cp.run([&] { return reader.message_count == 2; }, 10));
  std::vector<channel::Stream> theirs = cp.server_events.incoming;
  REQUIRE(theirs.size() == 2);

  SECTION("the opening side's Channel") {
    cp.client.reset(); // silent: no callback, streams freed with it
    for (const auto &s : mine) check_inert(s, s.id());
    CHECK(writer.closed_calls == 0);
    // The peer sees the streams cut; its own handles go inert after that.
    REQUIRE(cp.run([&] { return cp.server_events.closed.has_value(); }, 10));
    for (const auto &s : theirs) check_inert(s, s.id());
  }
  SECTION("the accepting side's Channel, destroyed from a stream callback") {
    reader.message_hook = [&](channel::Stream &s, Bytes &) {
      cp.server.reset();
      check_inert(s, s.id()); // the callback's own handle, too
    };
    REQUIRE(mine[0].send(as_bytes("last")));
    REQUIRE(cp.run([&] { return !cp.server; }, 10));
    for (const auto &s : theirs) check_inert(s, s.id());
  }
  REQUIRE(cp.shutdown());
}

TEST_CASE("an exception thrown by a stream handler closes that channel with the exception's text", "[channel]") {
  test::ChannelPair cp;
  REQUIRE(cp.open());
  struct Thrower : channel::StreamHandler {
    void on_message(channel::Stream &, Bytes) override { throw std::runtime_error("handler bug"); }
  } thrower;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(thrower); };
  auto s = cp.client->open_stream(true);
  REQUIRE(s);
  REQUIRE(s->send(as_bytes("trigger")));
  REQUIRE(cp.run([&] { return cp.server_events.closed && cp.client_events.closed; }, 10));
  CHECK(cp.server_events.closed->category == ErrorCategory::internal);
  CHECK(cp.server_events.closed->message.find("closed after an event handler threw: handler bug") != std::string::npos);
  CHECK(cp.client_events.closed.has_value()); // the peer is told the connection is over
  REQUIRE(cp.shutdown());
}
