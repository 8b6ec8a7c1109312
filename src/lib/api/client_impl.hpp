#pragma once
// The public conec::Client (include/conec/client.hpp) over client::Client:
// translates the public options and forwards the internal handler's events
// with the public types (a channel::Channel is a conec::Channel).

#include <memory>

#include "client/client.hpp"
#include "conec/client.hpp"

namespace conec::api {

class ClientImpl final : public conec::Client, private client::ClientHandler {
public:
  explicit ClientImpl(conec::ClientHandler &handler) : handler_(handler) {}
  ~ClientImpl() override;
  Result<void> start(Loop &loop, client::ClientOptions options);
  client::Client &inner() { return *inner_; }

  void open_channel(const std::string &peer, OpenCallback done) override;
  bool registered() const override { return inner_->registered(); }
  const std::string &id() const override { return inner_->id(); }
  std::string observed_address() const override;
  uint16_t local_port() const override { return inner_->local_address().port(); }
  size_t channel_count() const override { return inner_->peer_channel_count(); }
  void close() override { inner_->close(); }
  bool closes_sent() const override { return inner_->closes_sent(); }

private:
  void on_registered(client::Client &) override;
  void on_disconnected(client::Client &, const Error &error) override;
  void on_coordinator_lost(client::Client &, const Error &error) override;
  bool on_channel_offer(client::Client &, const std::string &peer) override;
  void on_peer_channel(client::Client &, channel::Channel &ch) override;
  void on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) override;
  void on_peer_closed(client::Client &, channel::Channel &ch, const Error &error) override;

  conec::ClientHandler &handler_;
  std::unique_ptr<client::Client> inner_;
};

// The options as client::Client takes them. Errors: usage, naming the option.
Result<client::ClientOptions> internal_options(ClientOptions options);

} // namespace conec::api
