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
};

} // namespace conec::net
