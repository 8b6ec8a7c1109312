#pragma once
// Entry: the endpoint's record of one connection (internal to net/). It is
// the connection's handler: it routes connection-id changes to the endpoint
// and forwards every other event to the application's handler, if any.

#include <memory>
#include <vector>

#include "loop/loop.hpp"
#include "net/endpoint.hpp"

namespace conec::net {

struct Entry final : quic::ConnectionHandler {
  explicit Entry(Endpoint &endpoint) : ep(endpoint) {}

  Endpoint &ep;
  std::unique_ptr<quic::Connection> conn;
  std::unique_ptr<loop::Timer> timer;
  quic::ConnectionHandler *app = nullptr; // null once the Session is gone
  Session *session = nullptr;             // the application's handle, if alive
  std::vector<Bytes> cids;                // ids routed to this entry
  PeerPath *path = nullptr;               // peer connections: where packets go (counted in its users_)
  bool dirty = false;                     // listed in Endpoint::dirty_
  // Server side, counted in the endpoint's handshakes in progress (by
  // source IP `handshake_ip`) until the handshake ends either way.
  bool counted_handshake = false;
  std::string handshake_ip;
  // Datagrams of a batch the socket could not take yet (EAGAIN).
  Bytes pending;
  size_t pending_segment = 0;
  SockAddr pending_to;
  uint8_t pending_ecn = 0;
  PathCounters *pending_counters = nullptr; // the peer path's counters for them

  void on_handshake_completed() override;
  void on_stream_opened(quic::StreamId id) override {
    if (app) app->on_stream_opened(id);
  }
  void on_stream_data(quic::StreamId id, ByteView data, bool fin) override {
    if (app) app->on_stream_data(id, data, fin);
    else conn->consume(id, data.size());
  }
  void on_stream_reset(quic::StreamId id, uint64_t code) override {
    if (app) app->on_stream_reset(id, code);
  }
  void on_stream_writable(quic::StreamId id) override {
    if (app) app->on_stream_writable(id);
  }
  void on_stream_closed(quic::StreamId id, std::optional<uint64_t> code) override {
    if (app) app->on_stream_closed(id, code);
  }
  void on_streams_available() override {
    if (app) app->on_streams_available();
  }
  void on_cid_added(ByteView cid) override;
  void on_cid_removed(ByteView cid) override;
  void on_connection_closed(const Error &error) override {
    if (app) app->on_connection_closed(error);
  }
};

} // namespace conec::net
