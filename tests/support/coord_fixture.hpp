#pragma once
// A Coordinator and any number of Clients in one process on one loop, on
// real loopback sockets.

#include <map>
#include <memory>
#include <string>

#include "client/client.hpp"
#include "coord/coordinator.hpp"
#include "support/loopback.hpp"

namespace conec::test {

// A self-signed identity for `name`, generated once per test binary.
const tls::Identity &identity_for(const std::string &name);

// Records a Client's events; accepts offers unless told otherwise.
struct ClientEvents : client::ClientHandler {
  bool registered = false;
  std::optional<Error> disconnected;
  bool accept_offers = true;
  std::vector<channel::Channel *> offered; // channels opened by peers
  std::function<void(channel::Channel &, channel::Stream &)> stream;
  std::vector<std::pair<std::string, Error>> peer_closed;

  void on_registered(client::Client &) override { registered = true; }
  void on_disconnected(client::Client &, const Error &e) override { disconnected = e; }
  bool on_channel_offer(client::Client &, const std::string &) override { return accept_offers; }
  void on_peer_channel(client::Client &, channel::Channel &ch) override { offered.push_back(&ch); }
  void on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) override {
    if (stream) stream(ch, s);
  }
  void on_peer_closed(client::Client &, channel::Channel &ch, const Error &e) override {
    peer_closed.emplace_back(ch.peer(), e);
    std::erase(offered, &ch);
  }
};

struct CoordFixture {
  explicit CoordFixture(coord::CoordinatorOptions options = {}, coord::CoordinatorHandler *handler = nullptr);
  ~CoordFixture();

  // Starts a client with `id` (and by default a self-signed certificate for it).
  client::Client *start(const std::string &id, ClientEvents &events,
                        std::optional<tls::Identity> identity = std::nullopt);
  // start() and wait until registered (or disconnected); returns registered.
  bool join(const std::string &id, ClientEvents &events, std::optional<tls::Identity> identity = std::nullopt);
  // Asks `from` for a channel to `peer`; waits for the outcome.
  Result<channel::Channel *> open(client::Client &from, const std::string &peer, double seconds = 10);
  // Replaces the coordinator by a new one on the same address with the same
  // identity (a restart: it knows no client and no relay). The old one
  // says goodbye to its clients as it goes. False if it cannot bind.
  bool restart_coordinator(coord::CoordinatorOptions options = {});
  // The first started client with `id` (null if none).
  client::Client *client(const std::string &id);
  bool run_until(const std::function<bool()> &done, double seconds = 10) { return test::run_until(loop, done, seconds); }
  // Destroys everything and closes the loop; false if handles leaked.
  bool shutdown();

  loop::Loop loop;
  // For clients started from now on (relay-only fixtures test the relay).
  net::PathPolicy path_policy = net::PathPolicy::automatic;
  bool reconnect = false; // ClientOptions::reconnect for clients started from now on
  std::unique_ptr<coord::Coordinator> coordinator;
  std::map<std::string, std::unique_ptr<client::Client>> clients;
  std::optional<Error> error;
};

} // namespace conec::test
