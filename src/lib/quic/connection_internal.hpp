#pragma once
// Pieces shared by the Connection's source files (not a public header).

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "quic/connection.hpp"

namespace conec::quic {

struct Connection::Stream {
  StreamId id = -1;
  SendBuffer send;
  bool fin_queued = false;   // the application finished the sending side
  bool fin_sent = false;     // ngtcp2 took the FIN
  bool announce = false;     // local stream the peer has not seen yet: send a STREAM frame, even empty
  bool write_shut = false;   // reset by us or STOP_SENDING from the peer
  bool in_ready = false;     // listed in ready_
  bool blocked = false;      // waiting for stream flow-control credit
  bool want_writable = false;// write() returned would_block
  uint64_t unconsumed = 0;   // delivered to the handler, not yet consume()d

  // Data, a FIN or the stream's first (possibly empty) frame still to send.
  bool has_unsent() const { return send.unsent_bytes() > 0 || (fin_queued && !fin_sent) || announce; }
};

struct Connection::ConnRef {
  ngtcp2_crypto_conn_ref ref;
};

// The ngtcp2 callback table for `server` or client connections.
ngtcp2_callbacks make_callbacks(bool server);

// Fills ngtcp2 settings and transport parameters from `config`.
void fill_settings(const Config &config, Timestamp now, ngtcp2_settings &settings);
void fill_transport_params(const Config &config, ngtcp2_transport_params &params);

// Describes why the peer closed the connection (read from CONNECTION_CLOSE).
Error describe_peer_close(const ngtcp2_connection_close_error &ccerr, bool stateless_reset);
// Describes a local fatal ngtcp2 error, using the TLS session's reason when
// the failure was in the handshake.
Error describe_local_failure(int liberr, uint8_t tls_alert, const tls::Session &session);

inline ngtcp2_path to_ngtcp2(const Path &path) {
  ngtcp2_path p{};
  p.local.addr = const_cast<sockaddr *>(path.local.get());
  p.local.addrlen = path.local.size();
  p.remote.addr = const_cast<sockaddr *>(path.remote.get());
  p.remote.addrlen = path.remote.size();
  return p;
}

inline Path from_ngtcp2(const ngtcp2_path &p) {
  return Path{SockAddr(p.local.addr, p.local.addrlen), SockAddr(p.remote.addr, p.remote.addrlen)};
}

} // namespace conec::quic
