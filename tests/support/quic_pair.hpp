#pragma once
// An in-memory client/server pair of quic::Connection driven by a virtual
// clock. Datagrams go straight from one side's write() to the other's
// receive(); the test decides which to drop. No sockets, no real time.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "quic/connection.hpp"
#include "tls/identity.hpp"
#include "tls/session.hpp"

namespace conec::test {

// Records everything a Connection reports, consuming stream data at once.
struct Recorder : quic::ConnectionHandler {
  quic::Connection *conn = nullptr;
  bool handshake = false;
  bool auto_consume = true;
  std::map<quic::StreamId, Bytes> data;
  std::map<quic::StreamId, bool> fin;
  std::map<quic::StreamId, uint64_t> resets;
  std::map<quic::StreamId, std::optional<uint64_t>> closed_streams;
  std::vector<quic::StreamId> opened;
  size_t writable_events = 0;
  std::optional<Error> closed;

  void on_handshake_completed() override { handshake = true; }
  void on_stream_opened(quic::StreamId id) override { opened.push_back(id); }
  void on_stream_data(quic::StreamId id, ByteView d, bool f) override {
    auto &buf = data[id];
    buf.insert(buf.end(), d.begin(), d.end());
    if (f) fin[id] = true;
    if (auto_consume && conn) conn->consume(id, d.size());
  }
  void on_stream_reset(quic::StreamId id, uint64_t code) override { resets[id] = code; }
  void on_stream_writable(quic::StreamId) override { ++writable_events; }
  void on_stream_closed(quic::StreamId id, std::optional<uint64_t> code) override { closed_streams[id] = code; }
  void on_connection_closed(const Error &e) override { closed = e; }
};

// Identities for both ends, generated once per test binary.
const tls::Identity &server_identity();
const tls::Identity &client_identity();

class QuicPair {
public:
  // Drop filter: (from_client, index of that side's datagram) -> drop?
  using DropFn = std::function<bool(bool from_client, size_t index)>;

  explicit QuicPair(quic::Config config = {}, tls::PeerVerification client_verifies = {},
                    tls::PeerVerification server_verifies = tls::PeerVerification::any());

  // Moves datagrams until nothing is sent, then advances the clock to the
  // next expiry, but not past `until`. Returns false when nothing happened.
  bool step(Timestamp until = kNever);
  // Steps until `done()` or `limit` of virtual time passes; returns done().
  bool run_until(const std::function<bool()> &done, Duration limit = 60 * kSecond);

  Timestamp now = 1000 * kSecond;
  DropFn drop = [](bool, size_t) { return false; };
  Recorder client_events, server_events;
  std::unique_ptr<quic::Connection> client, server;
  size_t datagrams_from_client = 0, datagrams_from_server = 0;
  std::optional<Error> setup_error;

private:
  bool flush(bool from_client);
  quic::Config config_;
  std::shared_ptr<tls::Credentials> server_creds_;
  quic::Path client_path_, server_path_;
  Bytes buffer_;
};

} // namespace conec::test
