#pragma once
// RawClient: a coordinator client with no manners, for hostile tests. It
// speaks QUIC and the control protocol by hand on its own endpoint, so a
// test can skip the Hello, withhold credit on the control stream, or send
// whatever control messages it likes in any order.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/endpoint.hpp"
#include "proto/control.hpp"
#include "proto/framing.hpp"
#include "tls/identity.hpp"

namespace conec::test {

class RawClient : quic::ConnectionHandler {
public:
  // Connects to `coordinator` (pinned to the test server identity) with
  // `identity` as the client certificate.
  RawClient(loop::Loop &loop, const SockAddr &coordinator, const tls::Identity &identity);
  ~RawClient() override;
  // Drops the connection and the endpoint (before the loop closes).
  void close();

  // Opens the control stream (stream 0) and sends `message` on it.
  bool send(const proto::ControlMessage &message);
  // Whether control data from the coordinator is consumed (credit returned).
  bool withhold_credit = false;

  bool handshake = false;
  std::optional<Error> closed;
  std::vector<proto::ControlMessage> received;
  uint64_t control_bytes = 0; // control bytes received

  net::Session &session() { return *session_; }
  net::Endpoint &endpoint() { return *endpoint_; }

private:
  void on_handshake_completed() override { handshake = true; }
  void on_stream_data(quic::StreamId id, ByteView data, bool fin) override;
  void on_connection_closed(const Error &e) override { closed = e; }

  std::unique_ptr<net::Endpoint> endpoint_;
  std::unique_ptr<net::Session> session_;
  std::optional<quic::StreamId> control_;
  proto::MessageReader reader_{proto::kMaxControlMessage};
};

} // namespace conec::test
