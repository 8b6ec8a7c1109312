// Connection: streams (open, write with backpressure, consume, reset) and
// the packet-writing loop that packs stream data into GSO batches.
#include <algorithm>
#include <cassert>
#include <cstring>

#include "quic/connection_internal.hpp"
#include "util/log.hpp"

namespace conec::quic {

Connection::Stream *Connection::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}
const Connection::Stream *Connection::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

bool Connection::is_local_stream(StreamId id) const { return ngtcp2_conn_is_local_stream(conn_.get(), id) != 0; }

Result<StreamId> Connection::open_stream(bool bidirectional) {
  if (state_ != State::established && state_ != State::handshaking)
    return fail(ErrorCategory::transport, "quic", "cannot open a stream: the connection is closed");
  StreamId id = -1;
  int rv = bidirectional ? ngtcp2_conn_open_bidi_stream(conn_.get(), &id, nullptr)
                         : ngtcp2_conn_open_uni_stream(conn_.get(), &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
    return fail(ErrorCategory::limit, "quic", "the peer allows no more open streams for now", rv);
  if (rv != 0) return fail(ErrorCategory::internal, "quic", std::string("open stream: ") + ngtcp2_strerror(rv), rv);
  auto s = std::make_unique<Stream>();
  s->id = id;
  s->announce = true;
  mark_ready(*s);
  streams_.emplace(id, std::move(s));
  return id;
}

template <class Queue> Result<WriteState> Connection::write_with(StreamId id, bool fin, Queue &&queue) {
  Stream *s = find(id);
  if (!s) return fail(ErrorCategory::usage, "quic", "write to unknown or closed stream " + std::to_string(id));
  if (s->write_shut) return fail(ErrorCategory::peer, "quic", "stream " + std::to_string(id) + " was reset");
  if (s->fin_queued) return fail(ErrorCategory::usage, "quic", "write after the end of stream " + std::to_string(id));
  if (!is_bidirectional(id) && !is_local_stream(id))
    return fail(ErrorCategory::usage, "quic", "stream " + std::to_string(id) + " is receive-only");
  queue(s->send);
  s->fin_queued = fin;
  mark_ready(*s);
  if (s->send.unacked_bytes() >= config_.stream_send_buffer) {
    s->want_writable = true;
    return WriteState::would_block;
  }
  return WriteState::ok;
}

Result<WriteState> Connection::write(StreamId id, Bytes data, bool fin) {
  return write_with(id, fin, [&](SendBuffer &b) { b.append(std::move(data)); });
}

Result<WriteState> Connection::write_shared(StreamId id, SharedBytes data, bool fin) {
  return write_with(id, fin, [&](SendBuffer &b) { b.append(std::move(data)); });
}

bool Connection::writable(StreamId id) const {
  const Stream *s = find(id);
  return s && !s->write_shut && !s->fin_queued && s->send.unacked_bytes() < config_.stream_send_buffer;
}

uint64_t Connection::unacked_bytes(StreamId id) const {
  const Stream *s = find(id);
  return s ? s->send.unacked_bytes() : 0;
}

void Connection::consume(StreamId id, size_t bytes) {
  if (state_ == State::closed || state_ == State::closing || state_ == State::draining) return;
  Stream *s = find(id);
  if (!s) return; // a closed stream's credit was returned when it closed
  bytes = std::min<uint64_t>(bytes, s->unconsumed);
  s->unconsumed -= bytes;
  ngtcp2_conn_extend_max_stream_offset(conn_.get(), id, bytes);
  ngtcp2_conn_extend_max_offset(conn_.get(), bytes);
}

void Connection::reset_stream(StreamId id, uint64_t app_error) {
  Stream *s = find(id);
  if (!s || s->write_shut) return;
  s->write_shut = true;
  ngtcp2_conn_shutdown_stream_write(conn_.get(), id, app_error);
}

void Connection::stop_reading(StreamId id, uint64_t app_error) {
  if (find(id)) ngtcp2_conn_shutdown_stream_read(conn_.get(), id, app_error);
}

void Connection::mark_ready(Stream &s) {
  if (s.in_ready || s.blocked || s.write_shut) return;
  if (!s.has_unsent()) return;
  s.in_ready = true;
  ready_.push_back(s.id);
}

void Connection::after_stream_closed(StreamId id, std::optional<uint64_t> app_error) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  uint64_t unconsumed = it->second->unconsumed;
  bool remote = !is_local_stream(id);
  streams_.erase(it); // its id may linger in ready_; write_one skips unknown ids
  if (state_ == State::handshaking || state_ == State::established) {
    // Bytes the application never consumed still count against the
    // connection window: give them back, and the stream slot too.
    if (unconsumed) ngtcp2_conn_extend_max_offset(conn_.get(), unconsumed);
    if (remote) {
      if (is_bidirectional(id)) ngtcp2_conn_extend_max_streams_bidi(conn_.get(), 1);
      else ngtcp2_conn_extend_max_streams_uni(conn_.get(), 1);
    }
  }
  handler_->on_stream_closed(id, app_error);
}

void Connection::close_finished_remote_uni(StreamId id, std::optional<uint64_t> app_error) {
  // ngtcp2 0.12.1 never closes a peer's unidirectional stream (fixed in
  // v0.14.0, "Fix bug that a remote uni stream never be closed"): once its
  // end or reset has been delivered, close it here so the application sees
  // the close and the peer gets its stream credit back. ngtcp2 keeps its
  // own small record of the stream until the connection ends.
  if (is_bidirectional(id) || is_local_stream(id)) return;
  after_stream_closed(id, app_error);
}

bool Connection::all_acknowledged() const {
  for (const auto &[id, s] : streams_)
    if (s->send.unacked_bytes() > 0 && !s->write_shut) return false;
  return true;
}

// Writes one packet, filling it with data from ready streams in round-robin
// order. Returns its size (0 = nothing to send now).
size_t Connection::write_one(uint8_t *out, size_t len, Path &path, uint8_t &ecn, Timestamp now, bool &error) {
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  for (;;) {
    Stream *s = nullptr;
    while (!ready_.empty()) {
      s = find(ready_.front());
      if (s && !s->blocked && !s->write_shut && s->has_unsent()) break;
      if (s) s->in_ready = false;
      s = nullptr;
      ready_.pop_front();
    }
    ngtcp2_vec vecs[16];
    size_t nvec = 0;
    int64_t sid = -1;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (s) {
      sid = s->id;
      nvec = s->send.unsent(vecs, std::size(vecs));
      // FIN only with the last of the data, so it is never sent early.
      size_t offered = 0;
      for (size_t i = 0; i < nvec; ++i) offered += vecs[i].len;
      if (s->fin_queued && offered == s->send.unsent_bytes()) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize accepted = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_.get(), &ps.path, &pi, out, len, &accepted, flags, sid,
                                               vecs, nvec, now);
    if (s && accepted >= 0) {
      s->announce = false; // a STREAM frame for it is on its way (retransmitted if lost)
      s->send.mark_sent(static_cast<size_t>(accepted));
      if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->send.unsent_bytes() == 0) s->fin_sent = true;
    }
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) continue;
      if (s && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) s->blocked = true;
        else s->write_shut = true;
        s->in_ready = false;
        ready_.pop_front();
        continue;
      }
      error = true;
      fail_connection(static_cast<int>(n), now);
      return 0;
    }
    if (s && !ready_.empty() && ready_.front() == s->id) {
      // Round-robin: the stream goes to the back if it has more to send.
      ready_.pop_front();
      s->in_ready = false;
      mark_ready(*s);
    }
    if (n == 0) return 0;
    path = from_ngtcp2(ps.path);
    ecn = static_cast<uint8_t>(pi.ecn);
    return static_cast<size_t>(n);
  }
}

PacketBatch Connection::emit_single(MutableByteView buffer, const Bytes &packet, const Path &path, uint8_t ecn) {
  std::memcpy(buffer.data(), packet.data(), packet.size());
  stats_bytes_sent_ += packet.size();
  return PacketBatch{packet.size(), packet.size(), path, ecn};
}

void Connection::write_app_close(Timestamp now) {
  close_requested_ = false;
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  ngtcp2_connection_close_error_set_application_error(
      &ccerr, close_app_error_, reinterpret_cast<const uint8_t *>(close_reason_.data()), close_reason_.size());
  Error error{ErrorCategory::peer, static_cast<int64_t>(close_app_error_), "quic",
              "connection closed locally" + (close_reason_.empty() ? std::string() : ": " + close_reason_)};
  send_close(ccerr, std::move(error), now);
}

PacketBatch Connection::write(MutableByteView buffer, size_t max_packets, Timestamp now) {
  assert(buffer.size() >= max_packets * kMaxUdpPayload);
  if (!stash_.empty()) {
    PacketBatch b = emit_single(buffer, stash_, stash_path_, stash_ecn_);
    stash_.clear();
    return b;
  }
  if (close_requested_ && (!close_after_acked_ || all_acknowledged())) write_app_close(now);
  if (state_ == State::closing) {
    if (!resend_close_ || close_packet_.empty()) return {};
    resend_close_ = false;
    return emit_single(buffer, close_packet_, path_, 0);
  }
  if (state_ != State::handshaking && state_ != State::established) return {};

  // ngtcp2's send quantum bounds one burst (pacing); never exceed the caller's room.
  size_t payload = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_.get());
  size_t quantum = std::max<size_t>(1, ngtcp2_conn_get_send_quantum(conn_.get()) / std::max<size_t>(payload, 1));
  max_packets = std::min(max_packets, quantum);

  PacketBatch batch;
  for (size_t i = 0; i < max_packets; ++i) {
    Path path;
    uint8_t ecn = 0;
    bool error = false;
    uint8_t *out = buffer.data() + batch.size;
    size_t n = write_one(out, kMaxUdpPayload, path, ecn, now, error);
    if (error) break; // close packet goes out on the next write()
    if (n == 0) break;
    if (i == 0) {
      batch.segment_size = n;
      batch.path = path;
      batch.ecn = ecn;
    } else if (n > batch.segment_size || !(path.remote == batch.path.remote) || ecn != batch.ecn) {
      // Cannot join this GSO batch: keep it for the next write().
      stash_.assign(out, out + n);
      stash_path_ = path;
      stash_ecn_ = ecn;
      break;
    }
    batch.size += n;
    if (n < batch.segment_size) break; // a short packet must end the batch
  }
  stats_bytes_sent_ += batch.size;
  if (batch.size) note_in_flight(now, false, true);
  // 0.12.1 paces with srtt=initial_rtt until the first RTT sample, stalling
  // the handshake ~20 ms; only start pacing once a sample exists (the fix
  // upstream made in v0.14.0 uses 1 ms instead).
  if (!pacing_started_) {
    ngtcp2_conn_stat cs;
    ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
    pacing_started_ = cs.first_rtt_sample_ts != UINT64_MAX;
  }
  if (pacing_started_ && batch.size) ngtcp2_conn_update_pkt_tx_time(conn_.get(), now);
  return batch;
}

} // namespace conec::quic
