#pragma once
// Internal to tls/: the GnuTLS callbacks a Session installs. They are the
// only code allowed to write Session::failure_ besides Session itself.

#include <gnutls/gnutls.h>

#include "tls/session.hpp"

namespace conec::tls {

struct SessionCallbacks {
  // The Session owning `session`, found through the db pointer (see the
  // Session class comment for why that pointer, not session_get_ptr).
  static Session *from(gnutls_session_t session) {
    return static_cast<Session *>(gnutls_db_get_ptr(session));
  }

  // gnutls_session_set_verify_function callback, both roles (verify.cpp).
  // Returns 0 to accept; otherwise records failure_ and returns -1, which
  // makes GnuTLS abort the handshake with GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR.
  static int verify_peer(gnutls_session_t session);

  // Server handshake hook (session.cpp): records which ALPN a client
  // offered when it lacks ours, and names a missing client certificate,
  // before GnuTLS fails the handshake with its own less specific error.
  static int server_hook(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
                         const gnutls_datum_t *msg);
};

} // namespace conec::tls
