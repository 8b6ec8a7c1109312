// Channel and stream lifetimes: closing the channel ends every stream on
// both sides; the application may destroy the Channel or a stream handler
// from inside callbacks (run under ASan to make this test meaningful).
#include <catch2/catch.hpp>

#include <map>

#include "channel_fixture.hpp"

using namespace conec;
using conec::test::ChannelPair;
using conec::test::StreamRecorder;

namespace {

// Opens `count` streams on `c` (alternating bidirectional/unidirectional),
// each with its own recorder, and sends one message on each.
void open_streams(channel::Channel &c, int count, std::map<quic::StreamId, StreamRecorder> &recorders) {
  for (int i = 0; i < count; ++i) {
    auto s = c.open_stream(i % 2 == 0);
    REQUIRE(s);
    s->set_handler(recorders[s->id()]);
    REQUIRE(s->send(as_bytes("hi")));
  }
}

} // namespace

TEST_CASE("closing a channel ends every stream on both sides and a new channel works", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  std::map<quic::StreamId, StreamRecorder> client_streams, server_streams;
  std::vector<std::string> order; // "<side> stream" per stream on_closed, then "<side> channel"
  auto closed_hook = [&order](std::string what) {
    return [&order, what](auto &...) { order.push_back(what); };
  };
  auto watch = [&](test::ChannelRecorder &events, std::map<quic::StreamId, StreamRecorder> &recorders,
                   const std::string &side) {
    events.stream_hook = [&recorders, closed_hook, side](channel::Channel &, channel::Stream &s) {
      StreamRecorder &r = recorders[s.id()];
      r.closed_hook = closed_hook(side + " stream");
      s.set_handler(r);
    };
    events.closed_hook = closed_hook(side + " channel");
  };
  watch(cp.client_events, client_streams, "client");
  watch(cp.server_events, server_streams, "server");
  open_streams(*cp.client, 6, client_streams);
  open_streams(*cp.server, 6, server_streams);
  for (auto &[id, r] : client_streams) r.closed_hook = closed_hook("client stream");
  for (auto &[id, r] : server_streams) r.closed_hook = closed_hook("server stream");
  // Every stream known to both sides (12 per side) with its first message.
  REQUIRE(cp.run(
      [&] {
        size_t with_message = 0;
        for (auto *m : {&client_streams, &server_streams})
          for (auto &[id, r] : *m) with_message += r.message_count > 0;
        return client_streams.size() == 12 && server_streams.size() == 12 && with_message == 12;
      },
      10));

  cp.client->close(0x99, "bye now");
  REQUIRE(cp.run([&] { return cp.client_events.closed && cp.server_events.closed; }, 2)); // promptly

  for (auto *m : {&client_streams, &server_streams}) {
    for (auto &[id, r] : *m) {
      INFO("stream " << id);
      REQUIRE(r.closed);
      REQUIRE(*r.closed);
      CHECK_THAT(r.closed->value().message, Catch::Contains("channel closed"));
      CHECK_THAT(r.closed->value().message, Catch::Contains("bye now"));
      CHECK(r.closed->value().code == 0x99);
      CHECK(r.closed_calls == 1);
      bool has_read_side = r.message_count > 0 || quic::Connection::is_bidirectional(id);
      if (has_read_side) {
        REQUIRE(r.ended);
        REQUIRE(*r.ended);
        CHECK(r.end_calls == 1);
      }
    }
  }
  // Channel-level on_closed comes after each side's streams.
  REQUIRE(order.size() == 26);
  auto last_stream = [&](const std::string &side) {
    return std::find(order.rbegin(), order.rend(), side + " stream").base() - order.begin();
  };
  auto channel_at = [&](const std::string &side) {
    return std::find(order.begin(), order.end(), side + " channel") - order.begin();
  };
  CHECK(last_stream("client") <= channel_at("client"));
  CHECK(last_stream("server") <= channel_at("server"));
  CHECK(cp.client_events.closed->code == 0x99);
  CHECK(cp.server_events.closed->code == 0x99);
  CHECK_THAT(cp.server_events.closed->message, Catch::Contains("bye now"));
  CHECK(cp.client->closed_error());
  CHECK(cp.client->stream_count() == 0);
  CHECK(cp.server->stream_count() == 0);
  CHECK_FALSE(cp.client->open_stream(true));

  // A fresh connection and channel on the same endpoints.
  cp.client_events = {};
  cp.server_events = {};
  REQUIRE(cp.open());
  StreamRecorder reader;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
  auto s = cp.client->open_stream(false);
  REQUIRE(s);
  REQUIRE(s->send(as_bytes("second life")));
  REQUIRE(s->finish());
  REQUIRE(cp.run([&] { return reader.closed.has_value(); }, 10));
  REQUIRE(reader.messages.size() == 1);
  CHECK(test::text_of(reader.messages[0]) == "second life");
  REQUIRE(cp.shutdown());
}

TEST_CASE("the application may destroy the Channel from inside its callbacks", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  StreamRecorder reader, writer;
  bool destroyed = false;
  auto destroy_server = [&] {
    cp.server.reset();
    destroyed = true;
  };

  SECTION("from on_message, with more messages of the same chunk pending") {
    reader.message_hook = [&](channel::Stream &, Bytes &) { destroy_server(); };
    cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
    auto s = cp.client->open_stream(true);
    REQUIRE(s);
    s->set_handler(writer);
    for (int i = 0; i < 20; ++i) REQUIRE(s->send(as_bytes("m" + std::to_string(i))));
    REQUIRE(s->finish());
  }
  SECTION("from on_stream") {
    cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &) { destroy_server(); };
    auto s = cp.client->open_stream(true);
    REQUIRE(s);
    s->set_handler(writer);
    REQUIRE(s->send(as_bytes("m")));
  }
  SECTION("from on_control, with more control messages pending") {
    cp.server_events.control_hook = [&](channel::Channel &, const proto::ControlMessage &) {
      destroy_server();
    };
    for (int i = 0; i < 5; ++i) REQUIRE(cp.client->send_control(proto::Hello{1, "a" + std::to_string(i), {}}));
  }
  SECTION("from on_end") {
    reader.end_hook = [&](channel::Stream &) { destroy_server(); };
    cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
    auto s = cp.client->open_stream(true);
    REQUIRE(s);
    s->set_handler(writer);
    REQUIRE(s->send(as_bytes("m")));
    REQUIRE(s->finish());
  }
  SECTION("from a stream's on_closed while the channel closes with streams left") {
    reader.closed_hook = [&](channel::Stream &) { destroy_server(); };
    cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(reader); };
    for (int i = 0; i < 5; ++i) {
      auto s = cp.client->open_stream(true);
      REQUIRE(s);
      REQUIRE(s->send(as_bytes("m")));
    }
    REQUIRE(cp.run([&] { return cp.server_events.incoming.size() == 5; }, 10));
    cp.client->close(1, "going");
  }
  SECTION("from the channel's on_closed") {
    cp.server_events.closed_hook = [&](channel::Channel &, const Error &) { destroy_server(); };
    cp.client->close(1, "going");
  }
  REQUIRE(cp.run([&] { return destroyed; }, 10));
  // The peer sees the connection end (closed with code 0 by the destructor,
  // or by its own close), and everything keeps working.
  REQUIRE(cp.run([&] { return cp.client_events.closed.has_value(); }, 10));
  cp.client_events = {};
  cp.server_events = {};
  REQUIRE(cp.open());
  REQUIRE(cp.shutdown());
}

TEST_CASE("a stream handler may detach and destroy itself inside on_message", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  auto owned = std::make_unique<StreamRecorder>();
  int seen = 0;
  owned->message_hook = [&](channel::Stream &s, Bytes &) {
    ++seen;
    s.clear_handler();
    owned.reset(); // the handler object is gone: nothing may reach it
  };
  owned->keep_messages = false;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) { s.set_handler(*owned); };
  StreamRecorder writer;
  auto s = cp.client->open_stream(true);
  REQUIRE(s);
  s->set_handler(writer);
  for (int i = 0; i < 20; ++i) REQUIRE(s->send(as_bytes("m" + std::to_string(i))));
  REQUIRE(s->finish());
  REQUIRE(cp.run([&] { return seen == 1 && cp.server->stream_count() == 1; }, 10));
  cp.run([] { return false; }, 0.2); // the rest arrives and is dropped
  CHECK(seen == 1);
  // The server side never finished its half: close the channel to end it.
  cp.server->close(0, "done");
  REQUIRE(cp.run([&] { return writer.closed.has_value(); }, 10));
  CHECK(cp.server->stream_count() == 0);
  REQUIRE(cp.shutdown());
}
