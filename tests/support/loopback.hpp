#pragma once
// Real sockets on loopback, one event loop: a server Endpoint and a client
// Endpoint in this process, and helpers to run the loop until something
// happens (with a wall-clock limit so a broken test fails instead of hanging).

#include <functional>
#include <memory>

#include "loop/loop.hpp"
#include "net/endpoint.hpp"
#include "tls/identity.hpp"
#include "util/bytes.hpp"

namespace conec::test {

// Runs `loop` until `done()` or `seconds` of real time pass; returns done().
bool run_until(loop::Loop &loop, const std::function<bool()> &done, double seconds = 60);

// Incremental SHA-256 (GnuTLS), to compare large transfers without storing them.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  void update(ByteView data);
  std::string hex(); // finishes and returns lower-case hex
private:
  void *state_;
};

// Deterministic pseudo-random bytes: block `index` of a stream seeded by `seed`.
Bytes pattern_block(uint64_t seed, uint64_t index, size_t size);

} // namespace conec::test

#include <map>
#include <optional>

#include "tls/session.hpp"

namespace conec::test {

// A connection handler made of optional lambdas plus a record of events.
struct EventHandler : quic::ConnectionHandler {
  std::function<void(quic::StreamId, ByteView, bool)> data;
  std::function<void(quic::StreamId)> writable;
  std::function<void(quic::StreamId)> opened;
  bool handshake = false;
  std::optional<Error> closed;
  std::map<quic::StreamId, std::optional<uint64_t>> closed_streams;
  std::map<quic::StreamId, uint64_t> resets;

  void on_handshake_completed() override { handshake = true; }
  void on_stream_opened(quic::StreamId id) override {
    if (opened) opened(id);
  }
  void on_stream_data(quic::StreamId id, ByteView d, bool fin) override {
    if (data) data(id, d, fin);
  }
  void on_stream_writable(quic::StreamId id) override {
    if (writable) writable(id);
  }
  void on_stream_reset(quic::StreamId id, uint64_t code) override { resets[id] = code; }
  void on_stream_closed(quic::StreamId id, std::optional<uint64_t> code) override { closed_streams[id] = code; }
  void on_connection_closed(const Error &e) override { closed = e; }
};

// A server and a client Endpoint on 127.0.0.1 in one loop, and one client
// connection to the server (started by connect()).
struct LoopbackPair {
  struct Options {
    quic::Config config;
    tls::PeerVerification client_verifies; // default: pin of the server identity
    tls::PeerVerification server_verifies = tls::PeerVerification::any();
    std::optional<tls::Identity> client_identity; // default: test client identity
    bool client_has_identity = true;
    std::string server_name = "server.test";
  };

  explicit LoopbackPair(Options options);
  LoopbackPair() : LoopbackPair(Options{}) {}
  ~LoopbackPair();
  // Starts the client's connection; false (and `error`) if it cannot start.
  bool connect();
  // Runs until both sides completed the handshake or either closed.
  bool handshake(double seconds = 10);
  // Destroys sessions and endpoints, then closes the loop; false on leaked handles.
  bool shutdown();

  loop::Loop loop;
  Options options;
  std::unique_ptr<net::Endpoint> server_endpoint, client_endpoint;
  std::unique_ptr<net::Session> server_session, client_session;
  EventHandler server_events, client_events;
  std::optional<Error> error;
};

} // namespace conec::test
