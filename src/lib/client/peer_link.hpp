#pragma once
// PeerLink: one client-to-client channel as the Client tracks it
// (internal to client/): its relay allocation, role and Channel.

#include <memory>
#include <string>

#include "client/client.hpp"
#include "client/peer_trust.hpp"

namespace conec::client {

struct PeerLink final : channel::ChannelHandler {
  PeerLink(Client &c, uint64_t id, std::string peer_id, Bytes relay_token, bool is_initiator)
      : client(c), channel_id(id), peer(std::move(peer_id)), token(std::move(relay_token)), initiator(is_initiator) {}

  void on_open(channel::Channel &) override { client.link_open(*this); }
  void on_stream(channel::Channel &ch, channel::Stream &stream) override {
    client.handler_->on_peer_stream(client, ch, stream);
  }
  void on_closed(channel::Channel &, const Error &error) override { client.link_closed(*this, error); }

  Client &client;
  uint64_t channel_id;
  std::string peer;
  Bytes token;
  bool initiator;
  uint64_t request_id = 0; // initiator: the request this channel answers
  std::unique_ptr<channel::Channel> channel;
  PeerCheck check;     // what PeerTrust found (key fingerprint, first use)
  bool open = false;   // on_open happened
  bool closed = false; // link_closed happened
  // --direct-only: the channel is handed over once its path is direct;
  // until then this watches it (see Client::await_direct).
  std::unique_ptr<loop::Timer> direct_wait;
  bool handed_over = false;
  Timestamp direct_deadline = 0;
};

} // namespace conec::client
