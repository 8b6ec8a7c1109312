// Data streams: whole messages in order, bulk, both directions, many
// streams at once, clean end versus reset.
#include <catch2/catch.hpp>

#include <map>

#include "channel_fixture.hpp"

using namespace conec;
using conec::test::ChannelPair;
using conec::test::StreamRecorder;

namespace {

// Sends blocks pattern_block(seed, i, size) for i < count, pausing on
// would_block until on_writable; finishes after the last.
struct Pump {
  channel::Stream stream;
  uint64_t seed = 1, count = 0, next = 0;
  size_t size = 0;
  size_t would_block = 0;
  bool finished = false;
  test::Sha256 hash;

  void run() {
    while (next < count) {
      Bytes block = test::pattern_block(seed, next++, size);
      hash.update(block);
      auto r = stream.send(block);
      REQUIRE(r);
      if (*r == quic::WriteState::would_block) {
        ++would_block;
        return;
      }
    }
    if (!finished) {
      REQUIRE(stream.finish());
      finished = true;
    }
  }
};

} // namespace

TEST_CASE("64 MiB in 1 MiB messages arrive whole, in order, byte-exact", "[channel]") {
  constexpr size_t kMessage = 1 << 20;
  constexpr uint64_t kMessages = 64;
  ChannelPair cp;
  REQUIRE(cp.open());

  StreamRecorder receiver;
  receiver.keep_messages = false;
  test::Sha256 received_hash;
  uint64_t index = 0;
  size_t wrong = 0;
  receiver.message_hook = [&](channel::Stream &, Bytes &m) {
    if (m != test::pattern_block(9, index, kMessage)) ++wrong;
    ++index;
    received_hash.update(m);
  };
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    CHECK(s.incoming());
    CHECK_FALSE(s.bidirectional());
    s.set_handler(receiver);
  };
  auto stream = cp.client->open_stream(false);
  REQUIRE(stream);
  StreamRecorder sender;
  Pump pump;
  pump.stream = *stream;
  pump.seed = 9;
  pump.count = kMessages;
  pump.size = kMessage;
  sender.writable_hook = [&](channel::Stream &) { pump.run(); };
  stream->set_handler(sender);
  pump.run();
  REQUIRE(cp.run([&] { return (receiver.closed && sender.closed) || cp.client_events.closed; }, 120));

  CHECK(receiver.message_count == kMessages);
  CHECK(wrong == 0);
  CHECK(received_hash.hex() == pump.hash.hex());
  CHECK(pump.would_block > 0); // the sender really was held back
  REQUIRE(receiver.ended);
  CHECK_FALSE(*receiver.ended); // clean end
  CHECK_FALSE(*receiver.closed);
  CHECK_FALSE(*sender.closed);
  CHECK(sender.end_calls == 0); // a send-only stream has no read side to end
  CHECK(cp.client->stream_count() == 0);
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}

TEST_CASE("one bidirectional stream carries messages both ways", "[channel]") {
  constexpr int kMessages = 100;
  ChannelPair cp;
  REQUIRE(cp.open());
  // The accepting side echoes every message and finishes when the opener did.
  StreamRecorder echo;
  echo.message_hook = [&](channel::Stream &s, Bytes &m) {
    Bytes reply = to_bytes("echo:");
    reply.insert(reply.end(), m.begin(), m.end());
    REQUIRE(s.send(reply));
  };
  echo.end_hook = [&](channel::Stream &s) { REQUIRE(s.finish()); };
  StreamRecorder opener;

  bool client_opens = GENERATE(true, false);
  channel::Channel &opening = client_opens ? *cp.client : *cp.server;
  test::ChannelRecorder &accepting = client_opens ? cp.server_events : cp.client_events;
  accepting.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    CHECK(s.bidirectional());
    CHECK(s.incoming());
    s.set_handler(echo);
  };
  auto stream = opening.open_stream(true);
  REQUIRE(stream);
  CHECK_FALSE(stream->incoming());
  stream->set_handler(opener);
  for (int i = 0; i < kMessages; ++i) REQUIRE(stream->send(as_bytes("message " + std::to_string(i))));
  REQUIRE(stream->finish());
  auto again = stream->send(as_bytes("late"));
  REQUIRE_FALSE(again);
  CHECK(again.error().category == ErrorCategory::usage);
  REQUIRE(cp.run([&] { return (opener.closed && echo.closed) || cp.client_events.closed; }, 30));

  REQUIRE(opener.messages.size() == kMessages);
  REQUIRE(echo.messages.size() == kMessages);
  for (int i = 0; i < kMessages; ++i) {
    CHECK(test::text_of(echo.messages[i]) == "message " + std::to_string(i));
    CHECK(test::text_of(opener.messages[i]) == "echo:message " + std::to_string(i));
  }
  for (StreamRecorder *r : {&opener, &echo}) {
    REQUIRE(r->ended);
    CHECK_FALSE(*r->ended);
    CHECK_FALSE(*r->closed);
    CHECK(r->end_calls == 1);
    CHECK(r->closed_calls == 1);
    CHECK_FALSE(r->message_after_end);
  }
  REQUIRE(cp.shutdown());
}

TEST_CASE("100 concurrent streams of 50 messages each keep per-stream order", "[channel]") {
  constexpr int kStreams = 100, kMessages = 50;
  ChannelPair cp;
  REQUIRE(cp.open());

  // One handler for every incoming stream; the first message says which it is.
  struct Receiver : channel::StreamHandler {
    std::map<quic::StreamId, std::pair<int, int>> state; // id -> (stream index, next seq)
    int errors = 0, ended = 0, closed = 0;
    void on_message(channel::Stream &s, Bytes m) override {
      std::string text = test::text_of(m);
      int index = std::stoi(text.substr(0, text.find(':')));
      int seq = std::stoi(text.substr(text.find(':') + 1));
      auto [it, fresh] = state.try_emplace(s.id(), index, 0);
      if (it->second.first != index || it->second.second != seq) ++errors;
      it->second.second = seq + 1;
    }
    void on_end(channel::Stream &s, const std::optional<Error> &e) override {
      if (e || state[s.id()].second != kMessages) ++errors;
      ++ended;
      if (s.bidirectional() && !s.finish()) ++errors;
    }
    void on_closed(channel::Stream &, const std::optional<Error> &e) override {
      if (e) ++errors;
      ++closed;
    }
  } receiver;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(receiver); };

  std::vector<channel::Stream> streams;
  StreamRecorder senders; // shared by all sending streams
  for (int i = 0; i < kStreams; ++i) {
    auto s = cp.client->open_stream(i % 2 == 0); // half bidirectional, half unidirectional
    REQUIRE(s);
    s->set_handler(senders);
    streams.push_back(*s);
  }
  // Message k of every stream before message k+1 of any.
  for (int k = 0; k < kMessages; ++k)
    for (int i = 0; i < kStreams; ++i) {
      std::string body =
          std::to_string(i) + ":" + std::to_string(k) + "|" + std::string(50 + (i * 13 + k) % 700, 'x');
      REQUIRE(streams[i].send(as_bytes(body)));
    }
  for (const channel::Stream &s : streams) REQUIRE(s.finish());
  REQUIRE(cp.run([&] { return senders.closed_calls == kStreams || cp.client_events.closed; }, 60));
  REQUIRE(cp.run([&] { return receiver.closed == kStreams; }, 10));

  CHECK(receiver.errors == 0);
  CHECK(receiver.state.size() == size_t(kStreams));
  CHECK(receiver.ended == kStreams);
  CHECK(senders.end_calls == kStreams / 2); // the bidirectional ones' replies ended
  CHECK(senders.message_count == 0);
  CHECK(cp.client->stream_count() == 0);
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}

TEST_CASE("a clean finish and a reset are distinct to the reader", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  std::map<quic::StreamId, StreamRecorder> readers;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    StreamRecorder &r = readers[s.id()];
    // End our side of a bidirectional stream too, so that it closes (fails
    // harmlessly where the peer's STOP_SENDING already reset it).
    r.end_hook = [](channel::Stream &st) {
      if (st.bidirectional()) (void)st.finish();
    };
    s.set_handler(r);
  };

  bool bidi = GENERATE(true, false);
  auto finished = cp.client->open_stream(bidi);
  auto reset = cp.client->open_stream(bidi);
  auto truncated = cp.client->open_stream(bidi);
  REQUIRE((finished && reset && truncated));
  // Ids, not pointers: a Stream is destroyed once it closes on our side.
  const quic::StreamId finished_id = finished->id(), reset_id = reset->id(),
                       truncated_id = truncated->id();
  for (int i = 0; i < 3; ++i) REQUIRE(finished->send(as_bytes("m" + std::to_string(i))));
  REQUIRE(finished->finish());
  REQUIRE(reset->send(as_bytes("before reset")));
  // The reset must not overtake the message: wait for it to arrive.
  REQUIRE(cp.run([&] { return readers[reset_id].message_count == 1; }, 10));
  reset->reset(0x77);
  // A frame cut short by the end of the stream (raw bytes, past the framing).
  Bytes partial;
  proto::append_frame(partial, as_bytes("a message that never ends"));
  partial.resize(partial.size() - 5);
  REQUIRE(cp.client->session().write(truncated_id, partial, true));

  REQUIRE(cp.run(
      [&] {
        return readers.size() == 3 && readers[finished_id].ended && readers[reset_id].ended &&
               readers[truncated_id].ended;
      },
      10));
  StreamRecorder &clean = readers[finished_id];
  CHECK(clean.message_count == 3);
  CHECK_FALSE(*clean.ended);

  StreamRecorder &aborted = readers[reset_id];
  REQUIRE(*aborted.ended);
  CHECK(aborted.ended->value().category == ErrorCategory::peer);
  CHECK(aborted.ended->value().code == 0x77);
  CHECK_THAT(aborted.ended->value().message, Catch::Contains("reset by peer (code 119)"));

  StreamRecorder &cut = readers[truncated_id];
  CHECK(cut.message_count == 0);
  REQUIRE(*cut.ended);
  CHECK(cut.ended->value().category == ErrorCategory::protocol);
  CHECK_THAT(cut.ended->value().message, Catch::Contains("ended inside a message"));

  // Every stream closes; only the reset one abnormally, with its code.
  REQUIRE(cp.run([&] { return clean.closed && aborted.closed && cut.closed; }, 10));
  CHECK_FALSE(*clean.closed);
  REQUIRE(*aborted.closed);
  CHECK(aborted.closed->value().code == 0x77);
  CHECK_FALSE(*cut.closed); // the transport stream itself ended cleanly
  for (auto &[id, r] : readers) {
    CHECK(r.end_calls == 1);
    CHECK(r.closed_calls == 1);
  }
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}

TEST_CASE("partial messages across streams are bounded by max_buffered, and whole ones flow on", "[channel][hostile]") {
  channel::ChannelOptions server;
  server.max_buffered = 4 << 20;
  test::ChannelPair p({}, server);
  REQUIRE(p.open());
  std::vector<std::unique_ptr<test::StreamRecorder>> readers;
  p.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    readers.push_back(std::make_unique<test::StreamRecorder>());
    readers.back()->keep_messages = false;
    s.set_handler(*readers.back());
  };
  // One stream at a time: 8 messages of 3 MiB each, every one under the
  // bound, arrive whole.
  {
    auto s = p.client->open_stream(false);
    REQUIRE(s);
    for (int i = 0; i < 8; ++i) REQUIRE(s->send(Bytes(3 << 20, uint8_t(i))));
    REQUIRE(s->finish());
    REQUIRE(p.run([&] { return !readers.empty() && readers[0]->ended.has_value(); }));
    CHECK(readers[0]->message_count == 8);
    CHECK_FALSE(*readers[0]->ended);
  }
  // Eight streams each starting a 4 MiB message at once: the server's reader
  // would hold all of them half-way. It closes the channel instead.
  std::vector<channel::Stream> streams;
  for (int i = 0; i < 8; ++i) {
    auto s = p.client->open_stream(false);
    REQUIRE(s);
    REQUIRE(s->send(Bytes(4 << 20, 'x')));
    streams.push_back(*s);
  }
  REQUIRE(p.run([&] { return p.client_events.closed.has_value(); }));
  CHECK(p.client_events.closed->category == ErrorCategory::protocol);
  CHECK(p.client_events.closed->message.find("max_buffered") != std::string::npos);
  REQUIRE(p.shutdown());
}

TEST_CASE("a stream opened without data reaches the peer, which may speak first", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder server_side, client_side;
  std::optional<channel::Stream> accepted;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    s.set_handler(server_side);
    accepted = s;
  };
  auto opened = cp.client->open_stream(true);
  REQUIRE(opened);
  opened->set_handler(client_side);
  // Nothing written by the opener: the announcement alone makes it appear.
  REQUIRE(cp.run([&] { return accepted.has_value(); }, 10));
  REQUIRE(accepted->send(as_bytes("greeting")));
  REQUIRE(accepted->finish());
  REQUIRE(cp.run([&] { return client_side.ended.has_value(); }, 10));
  REQUIRE(client_side.messages.size() == 1);
  CHECK(as_chars(client_side.messages[0]) == "greeting");
  CHECK_FALSE(*client_side.ended);
  CHECK(server_side.message_count == 0);
  REQUIRE(opened->finish());
  REQUIRE(cp.run([&] { return client_side.closed && server_side.closed; }, 10));
  CHECK_FALSE(*client_side.closed);
  CHECK_FALSE(*server_side.closed);
  REQUIRE(cp.shutdown());
}

TEST_CASE("stop_reading ends one direction: the writer's stream closes with the code, ours cleanly sent", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder reader, writer;
  std::optional<channel::Stream> accepted;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    s.set_handler(reader);
    accepted = s;
  };
  auto opened = cp.client->open_stream(true);
  REQUIRE(opened);
  opened->set_handler(writer);
  REQUIRE(opened->send(as_bytes("first")));
  REQUIRE(cp.run([&] { return reader.message_count == 1; }, 10));
  // The reader answers, finishes its side and reads no more.
  REQUIRE(accepted->send(as_bytes("answer")));
  REQUIRE(accepted->finish());
  accepted->stop_reading(0x4558);
  // What the writer sends now is never delivered.
  (void)opened->send(as_bytes("ignored"));
  REQUIRE(cp.run([&] { return writer.closed && reader.closed; }, 10));
  CHECK(reader.message_count == 1);
  CHECK(reader.end_calls == 0); // stopped by the application: no on_end
  REQUIRE(writer.ended);
  CHECK_FALSE(*writer.ended); // the answer arrived whole
  REQUIRE(writer.messages.size() == 1);
  CHECK(as_chars(writer.messages[0]) == "answer");
  REQUIRE(*writer.closed);
  CHECK(writer.closed->value().category == ErrorCategory::peer);
  CHECK(writer.closed->value().code == 0x4558);
  REQUIRE(*reader.closed);
  CHECK(reader.closed->value().code == 0x4558);
  CHECK(cp.client->stream_count() == 0);
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}
