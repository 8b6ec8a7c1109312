#pragma once
// Endpoint::Relay (internal to net/): one relay allocation this endpoint
// uses for peer connections through the coordinator.

#include <functional>
#include <memory>
#include <string>

#include "net/endpoint.hpp"

namespace conec::net {

struct Endpoint::Relay {
  std::string token;
  SockAddr relay;        // the coordinator, the only allowed source and destination
  SockAddr virtual_addr; // what the connections see as their remote address
  std::shared_ptr<tls::Credentials> accept_credentials;
  std::function<void(std::unique_ptr<Session>)> on_accept;
  // Connections using it. remove_relay() while some remain only marks it:
  // they still need it to send their CONNECTION_CLOSE and closing period.
  size_t users = 0;
  bool removed = false;
};

} // namespace conec::net
