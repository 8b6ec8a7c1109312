// Session: the application's handle on one connection of an Endpoint.
#include "net/entry.hpp"

namespace conec::net {

Session::~Session() {
  if (!entry_) return;
  entry_->app = nullptr;
  entry_->session = nullptr;
  if (entry_->conn) entry_->conn->close(0, {});
  // The endpoint reaps the entry after the closing period, never here: this
  // destructor may run inside one of the connection's own callbacks.
  entry_->ep.schedule(*entry_);
}

void Session::set_handler(quic::ConnectionHandler &handler) {
  if (entry_) entry_->app = &handler;
}

static Error detached() {
  return Error{ErrorCategory::transport, 0, "net", "the connection's endpoint is gone"};
}

Result<quic::StreamId> Session::open_stream(bool bidirectional) {
  if (!entry_) return fail(detached());
  auto r = entry_->conn->open_stream(bidirectional);
  entry_->ep.schedule(*entry_);
  return r;
}

Result<quic::WriteState> Session::write(quic::StreamId id, Bytes data, bool fin) {
  if (!entry_) return fail(detached());
  auto r = entry_->conn->write(id, std::move(data), fin);
  entry_->ep.schedule(*entry_);
  return r;
}

Result<quic::WriteState> Session::write_shared(quic::StreamId id, SharedBytes data, bool fin) {
  if (!entry_) return fail(detached());
  auto r = entry_->conn->write_shared(id, std::move(data), fin);
  entry_->ep.schedule(*entry_);
  return r;
}

bool Session::writable(quic::StreamId id) const { return entry_ && entry_->conn->writable(id); }
uint64_t Session::unacked_bytes(quic::StreamId id) const { return entry_ ? entry_->conn->unacked_bytes(id) : 0; }

void Session::consume(quic::StreamId id, size_t bytes) {
  if (!entry_) return;
  entry_->conn->consume(id, bytes);
  entry_->ep.schedule(*entry_);
}

void Session::reset_stream(quic::StreamId id, uint64_t app_error) {
  if (!entry_) return;
  entry_->conn->reset_stream(id, app_error);
  entry_->ep.schedule(*entry_);
}

void Session::stop_reading(quic::StreamId id, uint64_t app_error) {
  if (!entry_) return;
  entry_->conn->stop_reading(id, app_error);
  entry_->ep.schedule(*entry_);
}

void Session::close(uint64_t app_error, std::string reason, bool after_acknowledged) {
  if (!entry_) return;
  entry_->conn->close(app_error, std::move(reason), after_acknowledged);
  entry_->ep.schedule(*entry_);
}

bool Session::is_open() const {
  if (!entry_) return false;
  auto s = entry_->conn->state();
  return s == quic::State::handshaking || s == quic::State::established;
}

bool Session::is_client() const { return entry_ && !entry_->conn->is_server(); }

bool Session::handshake_completed() const { return entry_ && entry_->conn->handshake_completed(); }

std::optional<Error> Session::close_error() const {
  if (!entry_) return detached();
  return entry_->conn->close_error();
}

SockAddr Session::remote_address() const { return entry_ ? entry_->conn->path().remote : SockAddr(); }
SockAddr Session::validated_address() const { return entry_ ? entry_->conn->validated_remote() : SockAddr(); }

quic::Stats Session::stats() const { return entry_ ? entry_->conn->stats() : quic::Stats{}; }

Bytes Session::peer_certificate() const { return entry_ ? entry_->conn->tls().peer_certificate() : Bytes(); }

const PeerPath *Session::path() const { return entry_ ? entry_->path : nullptr; }
bool Session::on_direct_path() const {
  const PeerPath *p = path();
  return p && p->current() == PathKind::direct;
}

} // namespace conec::net
