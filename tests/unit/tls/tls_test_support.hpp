#pragma once
// Helpers for the tls/ tests: temporary directories, quick identities, and an
// in-memory link that runs real TLS 1.3 handshakes between two tls::Session
// objects without QUIC (GnuTLS's own record layer over two byte queues).

#include <gnutls/gnutls.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>

#include "tls/identity.hpp"
#include "tls/session.hpp"

namespace conec::tls::test {

// A fresh directory under /tmp, removed with its contents when the test ends.
class TempDir {
public:
  TempDir() {
    char tmpl[] = "/tmp/conec-tls-test-XXXXXX";
    const char *made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

// Server role by default: most tests play a coordinator with these.
inline Identity self_signed(const std::string &name, KeyType type = KeyType::ecdsa_p256,
                            CertificateRole role = CertificateRole::server) {
  CertificateRequest request;
  request.name = name;
  request.key_type = type;
  request.role = role;
  auto id = generate_self_signed(request);
  REQUIRE(id.has_value());
  return *id;
}

inline Identity issued_by(const Identity &ca, const std::string &name,
                          CertificateRole role = CertificateRole::server) {
  CertificateRequest request;
  request.name = name;
  request.role = role;
  auto id = issue_certificate(ca, request);
  REQUIRE(id.has_value());
  return *id;
}

inline Bytes pin_of(const Identity &id) {
  auto fp = id.fingerprint();
  REQUIRE(fp.has_value());
  auto pin = parse_pin(*fp);
  REQUIRE(pin.has_value());
  return *pin;
}

inline std::shared_ptr<Credentials> credentials(std::optional<Identity> own, PeerVerification verification) {
  auto cred = Credentials::create(own, verification);
  if (!cred) FAIL("Credentials::create: " << cred.error().describe());
  return *cred;
}

// What one side's handshake ended with.
struct Outcome {
  bool done = false;
  int rc = GNUTLS_E_AGAIN; // 0 = handshake complete, else the fatal GnuTLS error
  int alert_received = -1; // alert from the peer, if one ended the session
  bool ok() const { return done && rc == 0; }
};

// Two sessions joined by two byte queues. The transport callbacks are
// non-blocking: an empty queue is EAGAIN, as on a non-blocking socket.
class MemoryLink {
public:
  MemoryLink(const MemoryLink &) = delete;
  MemoryLink &operator=(const MemoryLink &) = delete;
  MemoryLink(Session &client, Session &server) : MemoryLink(client.native(), server.native()) {}
  // Also for plain GnuTLS sessions, to play peers tls::Session cannot be.
  MemoryLink(gnutls_session_t client, gnutls_session_t server)
      : client_{client, &to_client_, &to_server_}, server_{server, &to_server_, &to_client_} {
    attach(client_);
    attach(server_);
  }

  // Steps both handshakes alternately until both finished or failed, or
  // nothing moves any more. A failing side sends the alert GnuTLS thinks
  // appropriate, exactly as ngtcp2_crypto_gnutls does under QUIC.
  void handshake() {
    for (int round = 0; round < 64 && !(client_.out.done && server_.out.done); ++round) {
      bool moved = step(client_) | step(server_);
      if (!moved && to_client_.empty() && to_server_.empty()) break;
    }
    // In TLS 1.3 the client finishes first; a server that then rejects it
    // only tells it by alert, which the client sees on its next read.
    for (End *e : {&client_, &server_})
      if (e->out.ok() && !e->in->empty()) read_alert(*e);
  }

  const Outcome &client() const { return client_.out; }
  const Outcome &server() const { return server_.out; }

private:
  struct End {
    gnutls_session_t session;
    std::deque<uint8_t> *in;
    std::deque<uint8_t> *out_queue;
    Outcome out{};
  };

  static ssize_t push(gnutls_transport_ptr_t ptr, const void *data, size_t size) {
    auto *e = static_cast<End *>(ptr);
    auto *bytes = static_cast<const uint8_t *>(data);
    e->out_queue->insert(e->out_queue->end(), bytes, bytes + size);
    return static_cast<ssize_t>(size);
  }
  static ssize_t pull(gnutls_transport_ptr_t ptr, void *data, size_t size) {
    auto *e = static_cast<End *>(ptr);
    if (e->in->empty()) {
      gnutls_transport_set_errno(e->session, EAGAIN);
      return -1;
    }
    size_t n = std::min(size, e->in->size());
    std::copy_n(e->in->begin(), n, static_cast<uint8_t *>(data));
    e->in->erase(e->in->begin(), e->in->begin() + static_cast<std::ptrdiff_t>(n));
    return static_cast<ssize_t>(n);
  }
  static int pull_timeout(gnutls_transport_ptr_t ptr, unsigned) {
    return static_cast<End *>(ptr)->in->empty() ? 0 : 1;
  }

  static void attach(End &e) {
    gnutls_transport_set_ptr(e.session, &e);
    gnutls_transport_set_push_function(e.session, push);
    gnutls_transport_set_pull_function(e.session, pull);
    gnutls_transport_set_pull_timeout_function(e.session, pull_timeout);
  }

  // One gnutls_handshake call; true if it got anywhere.
  static bool step(End &e) {
    if (e.out.done) return false;
    size_t in_before = e.in->size(), out_before = e.out_queue->size();
    int rc = gnutls_handshake(e.session);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
      return e.in->size() != in_before || e.out_queue->size() != out_before;
    if (rc < 0 && !gnutls_error_is_fatal(rc)) return true; // e.g. a warning alert: keep stepping
    e.out.done = true;
    e.out.rc = rc;
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
      e.out.alert_received = gnutls_alert_get(e.session);
    else if (rc < 0)
      gnutls_alert_send_appropriate(e.session, rc);
    return true;
  }

  static void read_alert(End &e) {
    char buf[256];
    for (int i = 0; i < 8 && !e.in->empty(); ++i) {
      ssize_t n = gnutls_record_recv(e.session, buf, sizeof buf);
      if (n == GNUTLS_E_FATAL_ALERT_RECEIVED || n == GNUTLS_E_WARNING_ALERT_RECEIVED) {
        e.out.alert_received = gnutls_alert_get(e.session);
        return;
      }
      if (n < 0 && gnutls_error_is_fatal(static_cast<int>(n))) return;
    }
  }

  std::deque<uint8_t> to_client_, to_server_;
  End client_, server_;
};

// A client and a server session with the given credentials, handshaken.
struct Pair {
  std::unique_ptr<Session> client;
  std::unique_ptr<Session> server;
  std::unique_ptr<MemoryLink> link; // the sessions' transport pointers point into it
  Outcome client_out, server_out;

  Pair(std::shared_ptr<Credentials> client_cred, std::shared_ptr<Credentials> server_cred,
       std::string server_name = "coord.example", std::string client_alpn = std::string(kAlpn)) {
    auto c =
        Session::create(Role::client, std::move(client_cred), std::move(server_name), std::move(client_alpn));
    if (!c) FAIL("client Session::create: " << c.error().describe());
    auto s = Session::create(Role::server, std::move(server_cred));
    if (!s) FAIL("server Session::create: " << s.error().describe());
    client = std::move(*c);
    server = std::move(*s);
    link = std::make_unique<MemoryLink>(*client, *server);
    link->handshake();
    client_out = link->client();
    server_out = link->server();
  }
};

} // namespace conec::tls::test
