// Turning ngtcp2 close codes and library errors into sentences users act on.
#include <string>

#include "quic/connection_internal.hpp"

namespace conec::quic {

static std::string transport_error_name(uint64_t code) {
  switch (code) {
  case NGTCP2_NO_ERROR: return "no error";
  case NGTCP2_INTERNAL_ERROR: return "internal error";
  case NGTCP2_CONNECTION_REFUSED: return "connection refused";
  case NGTCP2_FLOW_CONTROL_ERROR: return "flow control violated";
  case NGTCP2_STREAM_LIMIT_ERROR: return "stream limit violated";
  case NGTCP2_STREAM_STATE_ERROR: return "stream state error";
  case NGTCP2_FINAL_SIZE_ERROR: return "final size error";
  case NGTCP2_FRAME_ENCODING_ERROR: return "frame encoding error";
  case NGTCP2_TRANSPORT_PARAMETER_ERROR: return "transport parameter error";
  case NGTCP2_CONNECTION_ID_LIMIT_ERROR: return "connection id limit error";
  case NGTCP2_PROTOCOL_VIOLATION: return "protocol violation";
  case NGTCP2_INVALID_TOKEN: return "invalid token";
  case NGTCP2_APPLICATION_ERROR: return "application error";
  case NGTCP2_CRYPTO_BUFFER_EXCEEDED: return "crypto buffer exceeded";
  case NGTCP2_KEY_UPDATE_ERROR: return "key update error";
  case NGTCP2_AEAD_LIMIT_REACHED: return "AEAD limit reached";
  case NGTCP2_NO_VIABLE_PATH: return "no viable path";
  default: return "transport error " + std::to_string(code);
  }
}

Error describe_peer_close(const ngtcp2_connection_close_error &ccerr, bool stateless_reset) {
  if (stateless_reset)
    return Error{ErrorCategory::transport, kStatelessResetCode, "quic",
                 "peer reset the connection (stateless reset: it lost the connection state)"};
  std::string reason(reinterpret_cast<const char *>(ccerr.reason), ccerr.reasonlen);
  std::string suffix = reason.empty() ? "" : " (" + reason + ")";
  switch (ccerr.type) {
  case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION:
    return Error{ErrorCategory::peer, static_cast<int64_t>(ccerr.error_code), "quic",
                 "peer closed the connection with code " + std::to_string(ccerr.error_code) + suffix};
  case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT:
    if (ccerr.error_code >= NGTCP2_CRYPTO_ERROR && ccerr.error_code <= NGTCP2_CRYPTO_ERROR + 0xff) {
      int alert = static_cast<int>(ccerr.error_code - NGTCP2_CRYPTO_ERROR);
      return Error{ErrorCategory::tls, kCryptoErrorBase + alert, "tls",
                   "peer rejected the TLS handshake: " + tls::describe_alert(alert)};
    }
    if (ccerr.error_code == NGTCP2_NO_ERROR)
      return Error{ErrorCategory::peer, 0, "quic", "peer closed the connection" + suffix};
    return Error{ErrorCategory::transport, static_cast<int64_t>(ccerr.error_code), "quic",
                 "peer closed the connection: " + transport_error_name(ccerr.error_code) + suffix};
  default:
    return Error{ErrorCategory::transport, static_cast<int64_t>(ccerr.error_code), "quic",
                 "peer closed the connection: " + transport_error_name(ccerr.error_code) + suffix};
  }
}

Error describe_local_failure(int liberr, uint8_t tls_alert, const tls::Session &session) {
  if (liberr == NGTCP2_ERR_CRYPTO) {
    if (!session.failure().empty())
      return Error{ErrorCategory::tls, tls_alert, "tls", "TLS handshake failed: " + session.failure()};
    return Error{ErrorCategory::tls, tls_alert, "tls", "TLS handshake failed: " + tls::describe_alert(tls_alert)};
  }
  return Error{ErrorCategory::transport, liberr, "quic", std::string("connection failed: ") + ngtcp2_strerror(liberr)};
}

} // namespace conec::quic
