#pragma once
// Two Channels over a real loopback connection (test::LoopbackPair), with
// handlers that record what they saw and optional hooks for each event.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channel/channel.hpp"
#include "support/loopback.hpp"

namespace conec::test {

// ChannelHandler that records events; hooks run after recording.
struct ChannelRecorder : channel::ChannelHandler {
  bool opened = false;
  std::vector<proto::ControlMessage> controls;
  std::vector<channel::Stream> incoming; // handles: inert once each stream ended
  std::optional<Error> closed;
  std::function<void(channel::Channel &)> open_hook;
  std::function<void(channel::Channel &, channel::Stream &)> stream_hook;
  std::function<void(channel::Channel &, const proto::ControlMessage &)> control_hook;
  std::function<void(channel::Channel &, const Error &)> closed_hook;

  void on_open(channel::Channel &c) override {
    opened = true;
    if (open_hook) open_hook(c);
  }
  void on_stream(channel::Channel &c, channel::Stream &s) override {
    incoming.push_back(s);
    if (stream_hook) stream_hook(c, s);
  }
  void on_control(channel::Channel &c, proto::ControlMessage m) override {
    controls.push_back(m);
    if (control_hook) control_hook(c, controls.back());
  }
  void on_closed(channel::Channel &c, const Error &e) override {
    closed = e;
    if (closed_hook) closed_hook(c, e);
  }
};

// StreamHandler that records events of one or more streams; each hook runs
// after the event is recorded, so a hook may destroy the recorder.
struct StreamRecorder : channel::StreamHandler {
  std::vector<Bytes> messages;
  bool keep_messages = true;
  size_t message_count = 0;
  size_t bytes = 0;
  std::optional<std::optional<Error>> ended;  // set once on_end ran
  std::optional<std::optional<Error>> closed; // set once on_closed ran
  int end_calls = 0, closed_calls = 0, writable_calls = 0;
  bool message_after_end = false;
  std::function<void(channel::Stream &, Bytes &)> message_hook;
  std::function<void(channel::Stream &)> end_hook, writable_hook, closed_hook;

  void on_message(channel::Stream &s, Bytes m) override {
    if (ended) message_after_end = true;
    ++message_count;
    bytes += m.size();
    // Hooks run last: they may destroy this recorder.
    if (!message_hook) {
      if (keep_messages) messages.push_back(std::move(m));
      return;
    }
    if (keep_messages) messages.push_back(m);
    message_hook(s, m);
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    ++end_calls;
    ended = e;
    if (end_hook) end_hook(s);
  }
  void on_writable(channel::Stream &s) override {
    ++writable_calls;
    if (writable_hook) writable_hook(s);
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    ++closed_calls;
    closed = e;
    if (closed_hook) closed_hook(s);
  }
};

// A client Channel and a server Channel over one loopback connection.
struct ChannelPair {
  explicit ChannelPair(channel::ChannelOptions client_opts = {}, channel::ChannelOptions server_opts = {},
                       LoopbackPair::Options pair_opts = {})
      : pair(std::move(pair_opts)), client_options(client_opts), server_options(server_opts) {
    if (pair.server_endpoint) {
      pair.server_endpoint->on_accept = [this](std::unique_ptr<net::Session> session) {
        server =
            std::make_unique<channel::Channel>(std::move(session), "client", server_events, server_options);
      };
    }
  }
  ~ChannelPair() { shutdown(); }

  // Connects (again: previous Channels are destroyed, records kept unless
  // the test clears them) and runs until both Channels reported on_open.
  bool open(double seconds = 10) {
    client.reset();
    server.reset();
    if (!pair.connect()) return false;
    client = std::make_unique<channel::Channel>(std::move(pair.client_session), "server", client_events,
                                                client_options);
    return run_until(
               pair.loop,
               [&] {
                 return (client_events.opened && server_events.opened) || client_events.closed ||
                        server_events.closed;
               },
               seconds) &&
           client_events.opened && server_events.opened;
  }

  bool run(const std::function<bool()> &done, double seconds = 30) {
    return run_until(pair.loop, done, seconds);
  }

  // Destroys both Channels, then the endpoints; false if libuv handles leaked.
  bool shutdown() {
    client.reset();
    server.reset();
    return pair.shutdown();
  }

  LoopbackPair pair;
  channel::ChannelOptions client_options, server_options;
  ChannelRecorder client_events, server_events;
  std::unique_ptr<channel::Channel> client, server;
};

inline std::string text_of(const Bytes &b) { return std::string(as_chars(b)); }

} // namespace conec::test
