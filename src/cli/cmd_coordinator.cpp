// `conec coordinator`: run the coordinator until SIGINT/SIGTERM.
//
// Until the coordinator logic lands (issue 3) this is a bare QUIC endpoint
// that authenticates clients with TLS 1.3 certificates and echoes every
// bidirectional stream back to its sender.
#include <csignal>
#include <cstdio>
#include <map>

#include "command.hpp"
#include "exit_codes.hpp"
#include "loop/loop.hpp"
#include "net/endpoint.hpp"
#include "state_dir.hpp"
#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

struct CoordinatorOptions {
  std::string listen = "0.0.0.0:1719";
  std::string cert, key, client_ca, state_dir;
};

// Echoes each bidirectional stream; holds the peer back (by not returning
// flow-control credit) while its echo waits in the send buffer.
class EchoSession : public quic::ConnectionHandler {
public:
  EchoSession(std::unique_ptr<net::Session> session, std::function<void(EchoSession *)> on_done)
      : session_(std::move(session)), on_done_(std::move(on_done)) {
    session_->set_handler(*this);
  }
  void on_stream_data(quic::StreamId id, ByteView data, bool fin) override {
    if (!quic::Connection::is_bidirectional(id)) {
      session_->consume(id, data.size());
      return;
    }
    auto state = session_->write(id, Bytes(data.begin(), data.end()), fin);
    if (state && *state == quic::WriteState::would_block) pending_credit_[id] += data.size();
    else session_->consume(id, data.size());
  }
  void on_stream_writable(quic::StreamId id) override {
    auto it = pending_credit_.find(id);
    if (it == pending_credit_.end()) return;
    session_->consume(id, it->second);
    pending_credit_.erase(it);
  }
  void on_stream_closed(quic::StreamId id, std::optional<uint64_t>) override { pending_credit_.erase(id); }
  void on_connection_closed(const Error &error) override {
    CONEC_INFO("client {} left: {}", session_->remote_address().to_string(), error.message);
    on_done_(this); // destroys this object: nothing may follow
  }

private:
  std::unique_ptr<net::Session> session_;
  std::function<void(EchoSession *)> on_done_;
  std::map<quic::StreamId, size_t> pending_credit_;
};

Result<tls::Identity> coordinator_identity(const CoordinatorOptions &o, std::string &source) {
  if (!o.cert.empty() || !o.key.empty()) {
    if (o.cert.empty() || o.key.empty())
      return fail(ErrorCategory::usage, "cli", "--cert and --key go together");
    source = o.cert;
    return tls::Identity::load(o.cert, o.key);
  }
  std::string dir = resolve_state_dir(o.state_dir);
  bool created = false;
  auto id = load_or_create_identity(dir, "coordinator", "conec-coordinator", created);
  source = dir + "/coordinator.pem (" + (created ? "created" : "reused") + ")";
  return id;
}

int run_coordinator(const CoordinatorOptions &o, const GlobalOptions &global) {
  auto listen = SockAddr::parse(o.listen, 1719);
  if (!listen) return report_error("--listen: " + listen.error().message, kExitUsage);
  std::string source;
  auto identity = coordinator_identity(o, source);
  if (!identity) return report_error(identity.error().message, kExitUsage);
  tls::PeerVerification clients = tls::PeerVerification::any();
  if (!o.client_ca.empty()) {
    clients.mode = tls::PeerVerification::Mode::ca;
    std::FILE *f = std::fopen(o.client_ca.c_str(), "rb");
    if (!f) return report_error(errno_error("cli", "--client-ca " + o.client_ca, errno).message, kExitUsage);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) clients.ca_pem.append(buf, n);
    std::fclose(f);
  }
  auto credentials = tls::Credentials::create(*identity, clients);
  if (!credentials) return report_error(credentials.error().message, kExitUsage);

  loop::Loop loop;
  net::EndpointOptions eo;
  eo.bind = *listen;
  eo.server_credentials = *credentials;
  auto endpoint = net::Endpoint::create(loop, eo);
  if (!endpoint) return report_error(endpoint.error().message, kExitFailure);
  std::map<EchoSession *, std::unique_ptr<EchoSession>> sessions;
  (*endpoint)->on_accept = [&](std::unique_ptr<net::Session> s) {
    CONEC_INFO("client connected from {}", s->remote_address().to_string());
    auto echo = std::make_unique<EchoSession>(std::move(s), [&](EchoSession *done) { sessions.erase(done); });
    sessions.emplace(echo.get(), std::move(echo));
  };

  // Handlers first: a signal right after the banner must not kill us.
  int signal_received = 0;
  auto on_signal = [&](int signum) {
    if (signal_received) return;
    signal_received = signum;
    CONEC_INFO("signal {}: closing {} connection(s)", signum, (*endpoint)->connection_count());
    (*endpoint)->close_all("coordinator shutting down");
    loop.stop();
  };
  loop::Signal sigint(loop, SIGINT, on_signal), sigterm(loop, SIGTERM, on_signal);

  auto fingerprint = identity->fingerprint();
  if (!global.quiet) {
    std::fprintf(stderr,
                 "conec %s coordinator listening on %s (UDP, QUIC, ALPN %s)\n"
                 "certificate: %s\n"
                 "fingerprint: %s\n"
                 "clients connect with: conec client -c HOST:%u --pin %s -i NAME\n",
                 CONEC_VERSION, (*endpoint)->local_address().to_string().c_str(), std::string(tls::kAlpn).c_str(),
                 source.c_str(), fingerprint ? fingerprint->c_str() : "?", (*endpoint)->local_address().port(),
                 fingerprint ? fingerprint->c_str() : "?");
  }

  loop.run();
  // Let close packets go out and closing periods pass (bounded).
  bool waited = false;
  loop::Timer limit(loop, [&] { waited = true; });
  limit.start(1000);
  while (!waited && (*endpoint)->connection_count() > 0) loop.run_once();
  sessions.clear();
  endpoint->reset();
  return kExitOk;
}

} // namespace

Command add_coordinator_command(CLI::App &root, GlobalOptions &global) {
  auto options = std::make_shared<CoordinatorOptions>();
  CLI::App *app = root.add_subcommand("coordinator", "Run a coordinator until SIGINT/SIGTERM");
  add_global_options(*app, global);
  app->add_option("--listen", options->listen, "UDP address and port to listen on")
      ->default_str("0.0.0.0:1719");
  app->add_option("--cert", options->cert, "Certificate (PEM) instead of the generated self-signed one");
  app->add_option("--key", options->key, "Private key (PEM) for --cert");
  app->add_option("--client-ca", options->client_ca,
                  "Accept only client certificates signed by this CA (PEM)");
  app->add_option("--state-dir", options->state_dir,
                  "Where generated certificates live (default: $CONEC_STATE_DIR or ~/.local/state/conec)");
  Prose prose;
  prose.description =
      "Runs a coordinator: it accepts clients over QUIC (UDP port 1719 by default), registers each under its id, "
      "introduces clients to each other and relays their end-to-end encrypted channels.\n\n"
      "With no certificate options it creates a self-signed certificate and key in its state directory on first "
      "run (key mode 0600), reuses them afterwards, and prints the fingerprint and a ready-to-paste client command "
      "line on stderr. SIGINT or SIGTERM close every connection gracefully; the exit status is then 0.";
  prose.examples = {
      {"conec coordinator", "Run on the embedded defaults: 0.0.0.0:1719, self-signed certificate in the state directory."},
      {"conec coordinator --cert /etc/conec/coord.pem --key /etc/conec/coord.key",
       "Run with a certificate issued for the server's host name (clients verify it with --ca or the system store)."},
      {"conec coordinator --client-ca ca.pem", "Accept only clients whose certificates ca.pem signed for their id."},
  };
  return Command{app, [options, &global] { return run_coordinator(*options, global); }, prose};
}

} // namespace conec::cli
