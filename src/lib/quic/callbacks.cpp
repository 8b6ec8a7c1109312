// ngtcp2 callbacks: translate library events into Connection state changes
// and ConnectionHandler calls. They never throw (util/guard.hpp) and never
// call back into ngtcp2's read/write functions (forbidden inside callbacks).
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "quic/connection_internal.hpp"
#include "util/guard.hpp"
#include "util/log.hpp"

namespace conec::quic {

struct Callbacks {
  static Connection &self(void *user_data) { return *static_cast<Connection *>(user_data); }

  // Every callback that reaches the handler (the application, in the end)
  // runs behind the exception barrier: an exception closes this connection
  // (fail_connection names it) instead of unwinding through ngtcp2.
  template <class F> static int guard(void *ud, F &&f) {
    int rv = 0;
    if (guarded("QUIC", [&] { rv = f(); }, &self(ud).escaped_)) return rv;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }

  static int handshake_completed(ngtcp2_conn *conn, void *ud) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      if (c.state_ == State::handshaking) c.state_ = State::established;
      // The handshake validated the address it ran on (RFC 9000 §8.1).
      const ngtcp2_path *p = ngtcp2_conn_get_path(conn);
      c.validated(SockAddr(p->remote.addr, p->remote.addrlen));
      c.fit_keepalive_to_peer();
      // The server keeps routing the client's initial DCID until the end: a
      // late or replayed Initial (e.g. one carrying a still-valid Retry token)
      // then reaches this connection, which ignores it, instead of opening a
      // new, already-validated one.
      c.handler_->on_handshake_completed();
      return 0;
    });
  }

  static int handshake_confirmed(ngtcp2_conn *, void *ud) {
    self(ud).handshake_confirmed_ = true;
    return 0;
  }

  static int recv_stream_data(ngtcp2_conn *, uint32_t flags, int64_t id, uint64_t, const uint8_t *data,
                              size_t len, void *ud, void *) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      Connection::Stream *s = c.find(id);
      if (!s) return 0; // closed on our side already (see below)
      s->unconsumed += len;
      bool fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
      c.handler_->on_stream_data(id, ByteView(data, len), fin);
      if (fin) c.close_finished_remote_uni(id, std::nullopt);
      return 0;
    });
  }

  static int acked_stream_data_offset(ngtcp2_conn *, int64_t id, uint64_t offset, uint64_t len, void *ud,
                                      void *) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      Connection::Stream *s = c.find(id);
      if (!s) return 0;
      s->send.acknowledge(offset, len);
      if (s->want_writable && s->send.unacked_bytes() < c.config_.stream_send_buffer && !s->write_shut) {
        s->want_writable = false;
        c.handler_->on_stream_writable(id);
      }
      return 0;
    });
  }

  static int stream_open(ngtcp2_conn *, int64_t id, void *ud) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      auto s = std::make_unique<Connection::Stream>();
      s->id = id;
      c.streams_.emplace(id, std::move(s));
      c.handler_->on_stream_opened(id);
      return 0;
    });
  }

  static int stream_close(ngtcp2_conn *, uint32_t flags, int64_t id, uint64_t app_error, void *ud, void *) {
    return guard(ud, [&]() -> int {
      std::optional<uint64_t> code;
      if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) code = app_error;
      self(ud).after_stream_closed(id, code);
      return 0;
    });
  }

  static int stream_reset(ngtcp2_conn *, int64_t id, uint64_t, uint64_t app_error, void *ud, void *) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      if (!c.find(id)) return 0;
      c.handler_->on_stream_reset(id, app_error);
      c.close_finished_remote_uni(id, app_error);
      return 0;
    });
  }

  static int extend_max_stream_data(ngtcp2_conn *, int64_t id, uint64_t, void *ud, void *) {
    auto &c = self(ud);
    if (Connection::Stream *s = c.find(id); s && s->blocked) {
      s->blocked = false;
      c.mark_ready(*s);
    }
    return 0;
  }

  static int extend_max_local_streams(ngtcp2_conn *, uint64_t, void *ud) {
    return guard(ud, [&]() -> int {
      self(ud).handler_->on_streams_available();
      return 0;
    });
  }

  static void rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *) { random_bytes({dest, len}); }

  static int get_new_connection_id(ngtcp2_conn *, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *ud) {
    return guard(ud, [&]() -> int {
      auto &c = self(ud);
      random_bytes({cid->data, cidlen});
      cid->datalen = cidlen;
      const Bytes &secret = c.config_.static_secret;
      if (secret.empty()) {
        random_bytes({token, NGTCP2_STATELESS_RESET_TOKENLEN});
      } else if (ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), cid) != 0) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
      }
      c.handler_->on_cid_added(ByteView(cid->data, cid->datalen));
      return 0;
    });
  }

  static int remove_connection_id(ngtcp2_conn *, const ngtcp2_cid *cid, void *ud) {
    return guard(ud, [&]() -> int {
      self(ud).handler_->on_cid_removed(ByteView(cid->data, cid->datalen));
      return 0;
    });
  }

  static int path_validation(ngtcp2_conn *, uint32_t, const ngtcp2_path *path,
                             ngtcp2_path_validation_result result, void *ud) {
    if (result == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS)
      self(ud).validated(SockAddr(path->remote.addr, path->remote.addrlen));
    return 0;
  }

  static int recv_stateless_reset(ngtcp2_conn *, const ngtcp2_pkt_stateless_reset *, void *ud) {
    self(ud).got_stateless_reset_ = true;
    return 0;
  }
};

ngtcp2_callbacks make_callbacks(bool server) {
  ngtcp2_callbacks cb{}; // assigned by name: 0.12.1's member order differs from 1.x
  if (server) {
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  } else {
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  }
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = Callbacks::rand;
  cb.get_new_connection_id = Callbacks::get_new_connection_id;
  cb.remove_connection_id = Callbacks::remove_connection_id;
  cb.handshake_completed = Callbacks::handshake_completed;
  cb.handshake_confirmed = Callbacks::handshake_confirmed;
  cb.recv_stream_data = Callbacks::recv_stream_data;
  cb.acked_stream_data_offset = Callbacks::acked_stream_data_offset;
  cb.stream_open = Callbacks::stream_open;
  cb.stream_close = Callbacks::stream_close;
  cb.stream_reset = Callbacks::stream_reset;
  cb.extend_max_stream_data = Callbacks::extend_max_stream_data;
  cb.extend_max_local_streams_bidi = Callbacks::extend_max_local_streams;
  cb.extend_max_local_streams_uni = Callbacks::extend_max_local_streams;
  cb.recv_stateless_reset = Callbacks::recv_stateless_reset;
  cb.path_validation = Callbacks::path_validation;
  return cb;
}

static void log_printf(void *, const char *format, ...) {
  char line[512];
  va_list ap;
  va_start(ap, format);
  vsnprintf(line, sizeof(line), format, ap);
  va_end(ap);
  CONEC_TRACE("ngtcp2: {}", line);
}

void fill_settings(const Config &config, Timestamp now, ngtcp2_settings &settings) {
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now;
  settings.initial_rtt = config.initial_rtt;
  settings.handshake_timeout = config.handshake_timeout;
  settings.max_window = config.max_connection_window;
  settings.max_stream_window = config.max_stream_window;
  settings.cc_algo = NGTCP2_CC_ALGO_CUBIC;
  settings.max_tx_udp_payload_size = config.max_udp_payload;
  if (log::get().should_log(spdlog::level::trace)) settings.log_printf = log_printf;
}

void fill_transport_params(const Config &config, ngtcp2_transport_params &params) {
  ngtcp2_transport_params_default(&params);
  params.initial_max_data = config.connection_window;
  params.initial_max_stream_data_bidi_local = config.stream_window;
  params.initial_max_stream_data_bidi_remote = config.stream_window;
  params.initial_max_stream_data_uni = config.stream_window;
  params.initial_max_streams_bidi = config.max_streams_bidi;
  params.initial_max_streams_uni = config.max_streams_uni;
  params.max_idle_timeout = config.idle_timeout;
  params.active_connection_id_limit = 7;
}

} // namespace conec::quic
