// The control stream: messages both ways, and malformed input closing the
// whole channel with a protocol error on both sides.
#include <catch2/catch.hpp>

#include "channel_fixture.hpp"
#include "util/varint.hpp"

using namespace conec;
using conec::test::ChannelPair;

TEST_CASE("control messages travel both ways on the control stream", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.pair.connect());
  // Before the handshake: no control stream, no data streams.
  test::ChannelRecorder early;
  auto early_channel = std::make_unique<channel::Channel>(std::move(cp.pair.client_session), "server", early);
  auto r = early_channel->send_control(proto::Hello{1, "alice", {}});
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::usage);
  auto s = early_channel->open_stream(true);
  REQUIRE_FALSE(s);
  CHECK(s.error().category == ErrorCategory::usage);
  early_channel.reset();

  REQUIRE(cp.open());
  CHECK(cp.client->is_open());
  CHECK(cp.server->is_open());
  CHECK(cp.client->peer() == "server");

  // Client speaks first (that opens the control stream on the server side).
  cp.server_events.control_hook = [&](channel::Channel &c, const proto::ControlMessage &m) {
    if (auto *hello = std::get_if<proto::Hello>(&m)) {
      REQUIRE(c.send_control(proto::Welcome{hello->id, c.session().remote_address(), 1 << 20}));
      REQUIRE(c.send_control(proto::ChannelRequest{7, "bob"}));
    }
  };
  cp.client_events.control_hook = [&](channel::Channel &c, const proto::ControlMessage &m) {
    if (auto *req = std::get_if<proto::ChannelRequest>(&m))
      REQUIRE(
          c.send_control(proto::ChannelError{req->request_id, proto::RefuseCode::unknown_peer, "no bob"}));
  };
  REQUIRE(cp.client->send_control(proto::Hello{proto::kProtocolVersion, "alice", {}}));
  REQUIRE(cp.run([&] { return cp.server_events.controls.size() == 2 || cp.client_events.closed; }, 10));

  REQUIRE(cp.client_events.controls.size() == 2);
  auto *welcome = std::get_if<proto::Welcome>(&cp.client_events.controls[0]);
  REQUIRE(welcome);
  CHECK(welcome->id == "alice");
  CHECK(welcome->max_message == 1u << 20);
  CHECK(welcome->observed == cp.pair.client_endpoint->local_address());
  auto *request = std::get_if<proto::ChannelRequest>(&cp.client_events.controls[1]);
  REQUIRE(request);
  CHECK(request->peer == "bob");

  auto *hello = std::get_if<proto::Hello>(&cp.server_events.controls[0]);
  REQUIRE(hello);
  CHECK(hello->id == "alice");
  CHECK(hello->version == proto::kProtocolVersion);
  auto *answer = std::get_if<proto::ChannelError>(&cp.server_events.controls[1]);
  REQUIRE(answer);
  CHECK(answer->request_id == 7);
  CHECK(answer->code == proto::RefuseCode::unknown_peer);
  CHECK(answer->reason == "no bob");

  CHECK_FALSE(cp.client_events.closed);
  CHECK_FALSE(cp.server_events.closed);
  CHECK(cp.client->stream_count() == 0); // the control stream is no data stream
  CHECK(cp.server->stream_count() == 0);
  CHECK(cp.server_events.incoming.empty());
  REQUIRE(cp.shutdown());
}

TEST_CASE("malformed control data closes the channel with a protocol error on both sides", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  // A data stream open on each side must be cut too.
  test::StreamRecorder client_stream, server_stream;
  cp.server_events.stream_hook = [&](channel::Channel &, channel::Stream &s) {
    s.set_handler(server_stream);
  };
  auto data = cp.client->open_stream(true);
  REQUIRE(data);
  data->set_handler(client_stream);
  REQUIRE(data->send(as_bytes("hello")));
  REQUIRE(cp.run([&] { return server_stream.message_count == 1; }, 10));

  std::string problem;
  Bytes raw;
  bool fin = false;
  size_t delivered = 0; // well-formed messages before the problem
  SECTION("undecodable message") {
    proto::append_frame(raw, Bytes{1, 1, 9, 'a'}); // a Hello whose id is cut short
    problem = "malformed control message";
  }
  SECTION("oversized message") {
    proto::append_frame_header(raw, proto::kMaxControlMessage + 1);
    raw.resize(raw.size() + 100, 'x');
    problem = "control message too large";
  }
  SECTION("control stream ended by the peer") {
    proto::append_frame(raw, proto::encode(proto::Hello{1, "alice", {}}));
    fin = true;
    delivered = 1;
    problem = "ended the control stream";
  }
  SECTION("control stream ended inside a message") {
    Bytes frame;
    proto::append_frame(frame, proto::encode(proto::Hello{1, "alice", {}}));
    raw.assign(frame.begin(), frame.end() - 2);
    fin = true;
    problem = "ended the control stream";
  }
  // Raw bytes on stream 0, past the Channel's framing.
  REQUIRE(cp.client->session().write(0, raw, fin));
  REQUIRE(cp.run([&] { return cp.client_events.closed && cp.server_events.closed; }, 10));

  for (const Error *e : {&*cp.server_events.closed, &*cp.client_events.closed}) {
    INFO(e->describe());
    CHECK(e->category == ErrorCategory::protocol);
    CHECK(e->code == static_cast<int64_t>(channel::kErrorProtocol));
    CHECK_THAT(e->message, Catch::Contains(problem));
  }
  CHECK(cp.server_events.controls.size() == delivered);
  for (test::StreamRecorder *s : {&client_stream, &server_stream}) {
    REQUIRE(s->closed);
    REQUIRE(*s->closed);
    CHECK(s->closed->value().category == ErrorCategory::protocol);
    CHECK_THAT(s->closed->value().message, Catch::Contains("channel closed"));
    REQUIRE(s->ended);
    CHECK(*s->ended);
  }
  CHECK_FALSE(cp.client->is_open());
  auto r = cp.client->send_control(proto::Hello{1, "again", {}});
  REQUIRE_FALSE(r);
  CHECK(r.error().category == ErrorCategory::transport);
  REQUIRE(cp.shutdown());
}

TEST_CASE("control messages of unknown types are skipped by the peer, and the channel goes on", "[channel]") {
  ChannelPair cp;
  REQUIRE(cp.open());
  Bytes raw;
  for (uint64_t type : {uint64_t{13}, uint64_t{1000}, uint64_t{1} << 40}) {
    Bytes payload;
    varint_append(payload, type);
    payload.insert(payload.end(), {1, 2, 3}); // whatever a later version puts there
    proto::append_frame(raw, payload);
  }
  proto::append_frame(raw, proto::encode(proto::Hello{1, "alice", {}}));
  REQUIRE(cp.client->session().write(0, raw));
  REQUIRE(cp.run([&] { return !cp.server_events.controls.empty() || cp.server_events.closed; }, 10));
  REQUIRE(cp.server_events.controls.size() == 1);
  CHECK(std::get<proto::Hello>(cp.server_events.controls[0]).id == "alice");
  CHECK_FALSE(cp.server_events.closed);
  CHECK_FALSE(cp.client_events.closed);
  REQUIRE(cp.shutdown());
}
