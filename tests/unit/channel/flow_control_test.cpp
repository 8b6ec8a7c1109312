// Limits and flow control: oversized messages refused by either side, a
// paused reader holding the writer back end to end, and streams nobody
// reads being drained.
#include <catch2/catch.hpp>

#include "channel_fixture.hpp"

using namespace conec;
using conec::test::ChannelPair;
using conec::test::StreamRecorder;

TEST_CASE("the sender refuses a message over its maximum size and sends nothing", "[channel]") {
  channel::ChannelOptions small;
  small.max_message = 1000;
  ChannelPair cp(small);
  REQUIRE(cp.open());
  StreamRecorder reader;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
  auto stream = cp.client->open_stream(false);
  REQUIRE(stream);
  auto r = stream->send(Bytes(1001, 'x'));
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::limit);
  CHECK(r.error().message == "message of 1001 bytes exceeds the maximum message size of 1000 bytes");
  REQUIRE(stream->send(Bytes(1000, 'y'))); // exactly the maximum is fine
  REQUIRE(stream->finish());
  REQUIRE(cp.run([&] { return reader.closed.has_value(); }, 10));
  REQUIRE(reader.messages.size() == 1); // the refused message left no trace
  CHECK(reader.messages[0] == Bytes(1000, 'y'));
  CHECK_FALSE(*reader.ended);
  REQUIRE(cp.shutdown());
}

TEST_CASE("a reader with a smaller maximum refuses an oversized message", "[channel]") {
  channel::ChannelOptions reader_options;
  reader_options.max_message = 64 * 1024;
  ChannelPair cp({}, reader_options); // client: default 16 MiB; server: 64 KiB
  REQUIRE(cp.open());
  StreamRecorder reader, writer;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };

  bool bidi = GENERATE(true, false);
  auto stream = cp.client->open_stream(bidi);
  REQUIRE(stream);
  stream->set_handler(writer);
  REQUIRE(stream->send(as_bytes("small first")));
  REQUIRE(stream->send(Bytes(1 << 20, 'z'))); // within the sender's limit
  REQUIRE(stream->send(as_bytes("never delivered")));
  REQUIRE(cp.run([&] { return (reader.closed && writer.closed) || cp.client_events.closed; }, 10));

  REQUIRE(reader.messages.size() == 1);
  CHECK(test::text_of(reader.messages[0]) == "small first");
  REQUIRE(reader.ended);
  REQUIRE(*reader.ended);
  const Error &refused = reader.ended->value();
  CHECK(refused.category == ErrorCategory::limit);
  CHECK(refused.code == static_cast<int64_t>(channel::kErrorMessageTooLarge));
  CHECK(refused.message == "message of 1048576 bytes exceeds the maximum message size of 65536 bytes");

  // The writer learns the reader's code when the stream closes.
  REQUIRE(*writer.closed);
  CHECK(writer.closed->value().code == static_cast<int64_t>(channel::kErrorMessageTooLarge));
  CHECK(writer.closed->value().category == ErrorCategory::limit);
  if (bidi) { // the reader also reset its own side
    REQUIRE(writer.ended);
    REQUIRE(*writer.ended);
    CHECK(writer.ended->value().code == static_cast<int64_t>(channel::kErrorMessageTooLarge));
  } else {
    CHECK(writer.end_calls == 0);
  }
  CHECK_FALSE(cp.client_events.closed); // only the stream failed
  CHECK(cp.client->is_open());
  REQUIRE(cp.shutdown());
}

TEST_CASE("a paused reader holds the writer back and resuming lets everything through", "[channel]") {
  constexpr size_t kMessage = 256 * 1024;
  constexpr uint64_t kMessages = 1024; // 256 MiB
  ChannelPair cp;
  REQUIRE(cp.open());

  StreamRecorder reader;
  reader.keep_messages = false;
  test::Sha256 received_hash;
  reader.message_hook = [&](channel::Stream &, Bytes &m) { received_hash.update(m); };
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    s.pause_reading(); // before a single byte arrived
    s.set_handler(reader);
  };

  auto stream = cp.client->open_stream(false);
  REQUIRE(stream);
  channel::Stream out = *stream;
  StreamRecorder writer;
  test::Sha256 sent_hash;
  uint64_t next = 0, sent_bytes = 0;
  bool blocked = false;
  std::function<void()> pump = [&] {
    blocked = false;
    while (next < kMessages) {
      Bytes block = test::pattern_block(5, next++, kMessage);
      sent_hash.update(block);
      sent_bytes += block.size();
      auto r = out.send(block);
      REQUIRE(r);
      if (*r == quic::WriteState::would_block) {
        blocked = true;
        return;
      }
    }
    REQUIRE(out.finish());
  };
  writer.writable_hook = [&](channel::Stream &) { pump(); };
  out.set_handler(writer);
  pump();

  // Give the writer ample time: it must stall, far short of 256 MiB.
  cp.run([] { return false; }, 1.5);
  REQUIRE(cp.server_events.incoming.size() == 1);
  channel::Stream in = cp.server_events.incoming[0];
  CHECK(in.paused());
  CHECK(blocked);
  CHECK(sent_bytes < 64u << 20);
  CHECK(reader.bytes < 64u << 20);
  // Bounded by the flow-control windows the reader granted (1 MiB per
  // stream at first) plus the writer's send budget (4 MiB).
  CHECK(reader.bytes <= 2u << 20);
  CHECK(sent_bytes <= reader.bytes + (6u << 20));
  CHECK(reader.message_count > 0); // decoded messages still arrive while paused
  INFO("paused: sent " << sent_bytes << " received " << reader.bytes << " messages " << reader.message_count);
  size_t stalled_at = reader.bytes;
  cp.run([] { return false; }, 0.3);
  CHECK(reader.bytes == stalled_at); // no progress while paused

  in.resume_reading();
  REQUIRE(cp.run([&] { return reader.closed.has_value() || cp.client_events.closed; }, 240));
  CHECK(reader.message_count == kMessages);
  CHECK(reader.bytes == kMessage * kMessages);
  CHECK(received_hash.hex() == sent_hash.hex());
  CHECK_FALSE(*reader.ended);
  CHECK_FALSE(*reader.closed);
  REQUIRE(cp.shutdown());
}

TEST_CASE("a stream nobody handles is drained, not left to block its writer", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  // The server takes the stream but sets no handler.
  StreamRecorder writer;
  auto stream = cp.client->open_stream(false);
  REQUIRE(stream);
  stream->set_handler(writer);
  Bytes block(1 << 20, 'q');
  for (int i = 0; i < 8; ++i) REQUIRE(stream->send(block)); // beyond every initial window
  REQUIRE(stream->finish());
  REQUIRE(cp.run([&] { return writer.closed.has_value() || cp.client_events.closed; }, 30));
  CHECK_FALSE(*writer.closed); // every byte acknowledged, cleanly ended
  CHECK(cp.server_events.incoming.size() == 1);
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}
