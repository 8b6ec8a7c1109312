// Connection: creation, packet input, timers and closing. Stream handling
// and the packet-writing loop are in connection_streams.cpp.
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "quic/connection_internal.hpp"
#include "util/log.hpp"

namespace conec::quic {

void Connection::NgDeleter::operator()(ngtcp2_conn *c) const { ngtcp2_conn_del(c); }

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref) {
  return static_cast<Connection *>(ref->user_data)->native_for_crypto();
}

Connection::Connection(const Config &config, ConnectionHandler &handler, bool server)
    : config_(config), handler_(&handler), server_(server), conn_ref_(std::make_unique<ConnRef>()) {
  conn_ref_->ref.get_conn = get_conn;
  conn_ref_->ref.user_data = this;
}

Connection::~Connection() = default;

static ngtcp2_cid random_cid(size_t length) {
  ngtcp2_cid cid{};
  cid.datalen = length;
  random_bytes({cid.data, length});
  return cid;
}

Result<void> Connection::init_tls(std::shared_ptr<tls::Credentials> credentials, const std::string &server_name) {
  auto session = tls::Session::create(server_ ? tls::Role::server : tls::Role::client, std::move(credentials),
                                      server_name, config_.alpn);
  if (!session) return fail(session.error());
  tls_ = std::move(*session);
  gnutls_session_t native = tls_->native();
  int rv = server_ ? ngtcp2_crypto_gnutls_configure_server_session(native)
                   : ngtcp2_crypto_gnutls_configure_client_session(native);
  if (rv != 0) return fail(ErrorCategory::internal, "quic", "cannot configure the TLS session for QUIC");
  gnutls_session_set_ptr(native, &conn_ref_->ref);
  ngtcp2_conn_set_tls_native_handle(conn_.get(), native);
  return {};
}

Result<std::unique_ptr<Connection>> Connection::connect(const Config &config,
                                                        std::shared_ptr<tls::Credentials> credentials,
                                                        const std::string &server_name, const Path &path,
                                                        ConnectionHandler &handler, Timestamp now) {
  std::unique_ptr<Connection> c(new Connection(config, handler, false));
  c->path_ = path;
  ngtcp2_cid dcid = random_cid(kCidLength);
  ngtcp2_cid scid = random_cid(kCidLength);
  ngtcp2_settings settings;
  fill_settings(config, now, settings);
  ngtcp2_transport_params params;
  fill_transport_params(config, params);
  ngtcp2_callbacks callbacks = make_callbacks(false);
  ngtcp2_path p = to_ngtcp2(path);
  ngtcp2_conn *raw = nullptr;
  int rv = ngtcp2_conn_client_new(&raw, &dcid, &scid, &p, NGTCP2_PROTO_VER_V1, &callbacks, &settings, &params,
                                  nullptr, c.get());
  if (rv != 0) return fail(ErrorCategory::internal, "quic", std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv), rv);
  c->conn_.reset(raw);
  if (auto r = c->init_tls(std::move(credentials), server_name); !r) return fail(r.error());
  if (config.keepalive) ngtcp2_conn_set_keep_alive_timeout(raw, config.keepalive);
  return c;
}

Result<std::unique_ptr<Connection>> Connection::accept(const Config &config,
                                                       std::shared_ptr<tls::Credentials> credentials,
                                                       const Path &path, ByteView datagram,
                                                       ConnectionHandler &handler, Timestamp now,
                                                       const Bytes *retried_from) {
  ngtcp2_pkt_hd hd;
  int rv = ngtcp2_accept(&hd, datagram.data(), datagram.size());
  if (rv != 0) return fail(ErrorCategory::protocol, "quic", "datagram is not an acceptable QUIC Initial packet", rv);
  std::unique_ptr<Connection> c(new Connection(config, handler, true));
  c->path_ = path;
  ngtcp2_cid scid = random_cid(kCidLength);
  ngtcp2_settings settings;
  fill_settings(config, now, settings);
  ngtcp2_transport_params params;
  fill_transport_params(config, params);
  if (retried_from) {
    ngtcp2_cid_init(&params.original_dcid, retried_from->data(), retried_from->size());
    params.retry_scid = hd.dcid;
    params.retry_scid_present = 1;
    settings.token = ngtcp2_vec{const_cast<uint8_t *>(hd.token.base), hd.token.len};
  } else {
    params.original_dcid = hd.dcid;
  }
  if (!config.static_secret.empty()) {
    if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, config.static_secret.data(),
                                                     config.static_secret.size(), &scid) == 0)
      params.stateless_reset_token_present = 1;
  }
  ngtcp2_callbacks callbacks = make_callbacks(true);
  ngtcp2_path p = to_ngtcp2(path);
  ngtcp2_conn *raw = nullptr;
  rv = ngtcp2_conn_server_new(&raw, &hd.scid, &scid, &p, hd.version, &callbacks, &settings, &params, nullptr,
                              c.get());
  if (rv != 0) return fail(ErrorCategory::internal, "quic", std::string("ngtcp2_conn_server_new: ") + ngtcp2_strerror(rv), rv);
  c->conn_.reset(raw);
  c->original_dcid_.assign(hd.dcid.data, hd.dcid.data + hd.dcid.datalen);
  if (auto r = c->init_tls(std::move(credentials), {}); !r) return fail(r.error());
  if (config.keepalive) ngtcp2_conn_set_keep_alive_timeout(raw, config.keepalive);
  return c;
}

void Connection::validated(const SockAddr &a) {
  validated_remote_ = a;
  std::erase(validated_addresses_, a);
  validated_addresses_.push_back(a);
  if (validated_addresses_.size() > 4) validated_addresses_.erase(validated_addresses_.begin());
}

void Connection::receive(const Path &path, ByteView datagram, uint8_t ecn, Timestamp now) {
  switch (state_) {
  case State::closed:
  case State::draining: return;
  case State::closing: resend_close_ = true; return;
  default: break;
  }
  stats_bytes_received_ += datagram.size();
  ngtcp2_path p = to_ngtcp2(path);
  ngtcp2_pkt_info pi{};
  pi.ecn = ecn;
  int rv = ngtcp2_conn_read_pkt(conn_.get(), &p, &pi, datagram.data(), datagram.size(), now);
  if (rv == 0) {
    last_received_ = now;
    note_in_flight(now, true);
    path_ = from_ngtcp2(*ngtcp2_conn_get_path(conn_.get()));
    if (!(path_.remote == validated_remote_) &&
        std::find(validated_addresses_.begin(), validated_addresses_.end(), path_.remote) != validated_addresses_.end())
      validated_remote_ = path_.remote; // migrated back to a path proven before
    return;
  }
  if (rv == NGTCP2_ERR_DRAINING) {
    ngtcp2_connection_close_error ccerr;
    ngtcp2_conn_get_connection_close_error(conn_.get(), &ccerr);
    Error why = describe_peer_close(ccerr, got_stateless_reset_);
    // Reset right after this process did not run for a while (our timers
    // fired that late): the peer gave up on us for not answering. Say so
    // rather than only "it lost the state".
    if (got_stateless_reset_ && stall_ >= kStallWorthTelling && now - stall_noticed_ < kSecond) {
      char seconds[32];
      std::snprintf(seconds, sizeof(seconds), "%.1f", static_cast<double>(stall_) / kSecond);
      why.message += std::string(" after this process did not run for at least ") + seconds +
                     " s (stopped or starved): the peer gave up on it meanwhile";
    }
    enter_closed_state(State::draining, std::move(why), now);
  } else if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_RETRY) {
    enter_closed_state(State::closed, Error{ErrorCategory::transport, rv, "quic", "connection dropped"}, now);
  } else {
    fail_connection(rv, now);
  }
}

Timestamp Connection::expiry() const {
  if (state_ == State::closed) return kNever;
  if (state_ == State::closing || state_ == State::draining) return terminal_deadline_;
  Timestamp t = ngtcp2_conn_get_expiry(conn_.get());
  if (state_ == State::established && awaiting_since_ && config_.unresponsive_timeout && !liveness_held_)
    t = std::min(t, awaiting_since_ + config_.unresponsive_timeout);
  if (state_ == State::established && unreachable_since_) t = std::min(t, unreachable_since_ + unreachable_grace());
  return t;
}

// Keeps awaiting_since_: set when ack-eliciting data is outstanding and
// nothing was heard since it went out; a packet from the peer restarts it.
void Connection::note_in_flight(Timestamp now, bool heard_from_peer, bool wrote) {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  if (cs.bytes_in_flight == 0) awaiting_since_ = 0;
  else if (heard_from_peer || !awaiting_since_) awaiting_since_ = now;
  if (heard_from_peer) unreachable_since_ = 0;
  if (probe_forced_ && ((wrote && cs.bytes_in_flight > 0) || heard_from_peer)) {
    probe_forced_ = false; // the PING is out (or the peer spoke): normal keepalive again
    ngtcp2_conn_set_keep_alive_timeout(conn_.get(), keepalive_);
  }
}

void Connection::note_unreachable(Timestamp now) {
  if (state_ != State::established || unreachable_since_) return;
  unreachable_since_ = now;
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  if (cs.bytes_in_flight == 0) {
    // Nothing of ours awaits an answer, so a live peer would stay silent:
    // a keepalive due at once makes ngtcp2 send a PING with the next write.
    probe_forced_ = true;
    ngtcp2_conn_set_keep_alive_timeout(conn_.get(), 1);
  }
}

void Connection::poke(bool even_in_flight) {
  if (state_ != State::established || probe_forced_) return;
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  if (cs.bytes_in_flight > 0 && !even_in_flight) return; // retransmissions will carry our address anyway
  probe_forced_ = true;
  ngtcp2_conn_set_keep_alive_timeout(conn_.get(), 1);
}

Result<void> Connection::migrate(const Path &path, bool validate_first, Timestamp now) {
  if (server_ || state_ != State::established || !handshake_confirmed_)
    return fail(ErrorCategory::usage, "quic", "migration needs an established, confirmed client connection");
  ngtcp2_path p = to_ngtcp2(path);
  int rv = validate_first ? ngtcp2_conn_initiate_migration(conn_.get(), &p, now)
                          : ngtcp2_conn_initiate_immediate_migration(conn_.get(), &p, now);
  if (rv != 0)
    return fail(ErrorCategory::transport, "quic", std::string("migration: ") + ngtcp2_strerror(rv), rv);
  path_ = from_ngtcp2(*ngtcp2_conn_get_path(conn_.get()));
  // The new path gets its own chance to answer before liveness gives up.
  if (awaiting_since_) awaiting_since_ = now;
  return {};
}

Duration Connection::unreachable_grace() const {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  Duration grace = std::max<Duration>(4 * cs.smoothed_rtt + 50 * kMillisecond, 300 * kMillisecond);
  return config_.unresponsive_timeout ? std::min(grace, config_.unresponsive_timeout) : grace;
}

// The idle timeout in force is the smaller of both sides' (RFC 9000
// §10.1): keep alive often enough for the peer's too, or a peer with a
// shorter one would close a connection we think idle-safe.
void Connection::fit_keepalive_to_peer() {
  keepalive_ = config_.keepalive;
  if (!config_.keepalive) return;
  const ngtcp2_transport_params *remote = ngtcp2_conn_get_remote_transport_params(conn_.get());
  if (!remote || !remote->max_idle_timeout) return;
  Duration fitted = std::max<Duration>(std::min<Duration>(config_.keepalive, remote->max_idle_timeout / 3),
                                       100 * kMillisecond);
  if (fitted != keepalive_) ngtcp2_conn_set_keep_alive_timeout(conn_.get(), keepalive_ = fitted);
}

// Why the peer counts as gone at `now`, if it does: ICMP said its port is
// closed and the probe went unanswered, or our data waited too long.
std::optional<std::string> Connection::liveness_failure(Timestamp now) const {
  if (state_ != State::established) return std::nullopt;
  if (unreachable_since_ && now >= unreachable_since_ + unreachable_grace())
    return "the peer is gone: its address answered ICMP port unreachable and it sent nothing since";
  if (config_.unresponsive_timeout && awaiting_since_ && !liveness_held_ &&
      now >= awaiting_since_ + config_.unresponsive_timeout)
    return "the peer stopped answering: no packets for " +
           std::to_string(config_.unresponsive_timeout / kMillisecond) +
           " ms while data waited for its acknowledgement";
  return std::nullopt;
}

void Connection::handle_timeout(Timestamp now) {
  if (state_ == State::closed) return;
  // A timer that fires seconds late means the process was not running
  // (SIGSTOP, a starved machine): remembered to explain what follows.
  if (Timestamp due = expiry(); due != kNever && now > due + kStallWorthTelling) {
    stall_ = now - due;
    stall_noticed_ = now;
  }
  if (state_ == State::closing || state_ == State::draining) {
    if (now >= terminal_deadline_) state_ = State::closed;
    return;
  }
  if (auto why = liveness_failure(now)) {
    // Silently, as for the idle timeout: the peer is not listening, and a
    // closing period of 3 PTO (backed off by now) would only delay the end.
    enter_closed_state(State::closed, Error{ErrorCategory::timeout, 0, "quic", std::move(*why)}, now);
    return;
  }
  int rv = ngtcp2_conn_handle_expiry(conn_.get(), now);
  note_in_flight(now, false); // a PTO probe or keepalive may have gone out
  if (rv == 0) return;
  if (rv == NGTCP2_ERR_IDLE_CLOSE) {
    enter_closed_state(State::closed,
                       Error{ErrorCategory::timeout, rv, "quic",
                             "connection timed out: no packets from the peer for " +
                                 std::to_string(config_.idle_timeout / kMillisecond) + " ms"},
                       now);
  } else if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
    enter_closed_state(State::closed,
                       Error{ErrorCategory::timeout, rv, "quic",
                             "handshake timed out after " + std::to_string(config_.handshake_timeout / kMillisecond) +
                                 " ms (is the peer reachable and listening?)"},
                       now);
  } else {
    fail_connection(rv, now);
  }
}

void Connection::close(uint64_t app_error, std::string reason, bool after_acknowledged) {
  if (state_ != State::handshaking && state_ != State::established) return;
  close_requested_ = true;
  close_after_acked_ = after_acknowledged;
  close_app_error_ = app_error;
  close_reason_ = std::move(reason);
}

Result<void> Connection::initiate_key_update(Timestamp now) {
  int rv = ngtcp2_conn_initiate_key_update(conn_.get(), now);
  if (rv != 0) return fail(ErrorCategory::transport, "quic", std::string("key update: ") + ngtcp2_strerror(rv), rv);
  return {};
}

void Connection::fail_connection(int liberr, Timestamp now) {
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  uint8_t alert = ngtcp2_conn_get_tls_alert(conn_.get());
  if (liberr == NGTCP2_ERR_CRYPTO) {
    ngtcp2_connection_close_error_set_transport_error_tls_alert(&ccerr, alert, nullptr, 0);
  } else {
    ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, liberr, nullptr, 0);
  }
  Error error = describe_local_failure(liberr, alert, *tls_);
  if (liberr == NGTCP2_ERR_CALLBACK_FAILURE && !escaped_.empty())
    error = Error{ErrorCategory::internal, liberr, "quic", "closed after an event handler threw: " + escaped_};
  CONEC_DEBUG("quic: {}", error.message);
  send_close(ccerr, std::move(error), now);
}

void Connection::send_close(const ngtcp2_connection_close_error &ccerr, Error error, Timestamp now) {
  close_packet_.resize(kMaxUdpPayload);
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_.get(), &ps.path, &pi, close_packet_.data(),
                                                      close_packet_.size(), &ccerr, now);
  if (n > 0) {
    close_packet_.resize(static_cast<size_t>(n));
    resend_close_ = true; // the next write() sends it once
    enter_closed_state(State::closing, std::move(error), now);
  } else {
    close_packet_.clear();
    enter_closed_state(State::closed, std::move(error), now);
  }
}

void Connection::enter_closed_state(State state, Error error, Timestamp now) {
  state_ = state;
  if (state != State::closed) terminal_deadline_ = now + 3 * ngtcp2_conn_get_pto(conn_.get());
  if (closed_notified_) return;
  closed_notified_ = true;
  close_error_ = error;
  // Every stream still open ends now, with an error both sides can see.
  std::vector<StreamId> ids;
  ids.reserve(streams_.size());
  for (auto &[id, s] : streams_) ids.push_back(id);
  for (StreamId id : ids) after_stream_closed(id, kStreamErrorConnectionClosed);
  ready_.clear();
  handler_->on_connection_closed(*close_error_);
}

std::vector<Bytes> Connection::local_cids() const {
  std::vector<ngtcp2_cid> cids(ngtcp2_conn_get_num_scid(conn_.get()));
  cids.resize(ngtcp2_conn_get_scid(conn_.get(), cids.data()));
  std::vector<Bytes> out;
  for (const auto &cid : cids) out.emplace_back(cid.data, cid.data + cid.datalen);
  if (!original_dcid_.empty()) out.push_back(original_dcid_);
  return out;
}

Stats Connection::stats() const {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  Stats s;
  s.smoothed_rtt = cs.smoothed_rtt;
  s.min_rtt = cs.min_rtt == UINT64_MAX ? 0 : cs.min_rtt;
  s.cwnd = cs.cwnd;
  s.bytes_in_flight = cs.bytes_in_flight;
  s.bytes_sent = stats_bytes_sent_;
  s.bytes_received = stats_bytes_received_;
  s.max_udp_payload = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_.get());
  return s;
}

} // namespace conec::quic
