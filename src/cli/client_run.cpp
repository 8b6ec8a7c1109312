#include "client_run.hpp"

#include <csignal>

#include "exit_codes.hpp"
#include "quic/connection.hpp"
#include "util/log.hpp"

namespace conec::cli {

ClientRun::ClientRun(const GlobalOptions &global, const ClientArgs &args) : global_(global), args_(args) {}

void hold_exit_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ClientRun::~ClientRun() {
  hold_exit_signals(); // before signals_ goes
  client_.reset();
}

namespace {
// The coordinator's TLS stack refused our certificate (as a CA-mode
// coordinator does a self-signed one): a refusal (exit 4), not a failure to
// reach or trust the coordinator.
bool certificate_refused(const Error &e) {
  auto alert = quic::peer_tls_alert(e);
  if (!alert) return false;
  switch (*alert) {
  case 42:  // bad_certificate
  case 43:  // unsupported_certificate
  case 44:  // certificate_revoked
  case 45:  // certificate_expired
  case 46:  // certificate_unknown
  case 48:  // unknown_ca
  case 49:  // access_denied
  case 116: // certificate_required
    return true;
  default: return false;
  }
}
} // namespace

std::string ClientRun::coordinator_error_text(const Error &e, const std::string &coord,
                                              const std::string &own_cert_pem) {
  if (certificate_refused(e)) {
    std::string text = "coordinator " + coord + " refused our client certificate (" + e.message + "); ";
    // The alert cannot say why; our own certificate can, when it is not
    // for clients (a coordinator certificate given as --cert).
    if (auto why = tls::purpose_mismatch_of_pem(own_cert_pem, tls::Purpose::client); why && !why->empty())
      return text + "our " + *why;
    return text + "a coordinator with --client-ca accepts only certificates its CA issued for the id (--cert, --key)";
  }
  return exit_code_for(e) == kExitCoordinator ? "cannot use coordinator " + coord + ": " + e.message : e.message;
}

std::string peer_key_of(channel::Channel &ch) {
  auto key = tls::public_key_fingerprint(ch.session().peer_certificate());
  return key ? *key : "?";
}

std::string path_of(channel::Channel &ch) {
  const net::PeerPath *path = ch.session().path();
  return path ? path->describe() : "relay";
}

int ClientRun::exit_code_for(const Error &e) {
  if (certificate_refused(e)) return kExitRefused;
  if (e.category == ErrorCategory::tls || e.category == ErrorCategory::timeout ||
      e.category == ErrorCategory::transport)
    return kExitCoordinator;
  if (e.category == ErrorCategory::peer) {
    switch (static_cast<proto::RefuseCode>(e.code)) {
    case proto::RefuseCode::bad_id: return kExitUsage;
    case proto::RefuseCode::id_in_use:
    case proto::RefuseCode::not_authorized:
    case proto::RefuseCode::id_bound:
    case proto::RefuseCode::limit:
    case proto::RefuseCode::version: return kExitRefused;
    default: return kExitCoordinator;
    }
  }
  return kExitFailure;
}

int ClientRun::run() {
  auto options = make_client_options(args_);
  if (!options) return report_error(options.error().message, kExitUsage);
  // A transfer in progress outlives a lost or restarted coordinator (the
  // subcommand decides, on_coordinator_loss).
  options->reconnect = true;
  std::string coord_text = options->coordinator.to_string();
  own_cert_pem_ = options->identity.cert_pem;
  auto client = client::Client::create(loop_, *options, *this);
  if (!client) {
    int code = client.error().category == ErrorCategory::usage ? kExitUsage : kExitFailure;
    return report_error(client.error().message, code);
  }
  client_ = std::move(*client);
  CONEC_INFO("connecting to {} as '{}'", coord_text, client_->id());

  // Handled until the ClientRun goes (through the subcommand's last flush:
  // see drain), so a signal never kills the process midway. SIGHUP too:
  // ssh ends a ProxyCommand (and a closed terminal its jobs) with it.
  auto signal = [this](int signum) {
    if (finished()) {
      late_signal_ = signum; // the outcome is decided: only stop waiting
      return;
    }
    if (on_signal) on_signal(signum);
    else finish(signal_exit_code(signum), "interrupted");
  };
  for (int signum : {SIGHUP, SIGINT, SIGTERM}) signals_.push_back(std::make_unique<loop::Signal>(loop_, signum, signal));
  std::optional<loop::Timer> deadline;
  if (args_.timeout > 0) {
    deadline.emplace(loop_, [this] { finish(kExitTimeout, "timed out after " + std::to_string(args_.timeout) + " s"); });
    deadline->start(static_cast<uint64_t>(args_.timeout * 1000));
  }
  while (!exit_code_ && loop_.run_once()) {
  }
  // Say goodbye properly: wait until the close packets are on the wire
  // (a loop iteration or two), not for the closing periods; bounded.
  client_->close();
  bool waited = false;
  loop::Timer limit(loop_, [&] { waited = true; });
  limit.start(300);
  while (!waited && !late_signal_ && !client_->closes_sent() && loop_.run_once()) {
  }
  // Still handled, but no reason for the loop to keep running (drain).
  for (auto &watcher : signals_) watcher->keep_alive(false);
  if (!error_.empty()) report_error(error_, exit_code_.value_or(kExitFailure));
  return exit_code_.value_or(kExitFailure);
}

int ClientRun::drain(int code, const std::function<bool()> &done) {
  while (!done() && !late_signal_ && loop_.run_once()) {
  }
  // Cut short after a success: the output may be incomplete, say so.
  if (!done() && late_signal_ && code == kExitOk) return report_error("interrupted", signal_exit_code(*late_signal_));
  return code;
}

void ClientRun::finish(int code, const std::string &error) {
  if (exit_code_) return;
  exit_code_ = code;
  error_ = error;
  loop_.stop();
}

void ClientRun::open_channel(const std::string &peer, std::function<void(channel::Channel &)> opened) {
  client_->open_channel(peer, [this, peer, opened = std::move(opened)](Result<channel::Channel *> r) {
    if (r) return opened(**r);
    const Error &e = r.error();
    if (e.category == ErrorCategory::peer && e.code == int64_t(proto::RefuseCode::limit))
      return finish(kExitRefused, e.message);
    if (e.category == ErrorCategory::peer) return finish(kExitPeer, e.message);
    finish(kExitPeer, "cannot open a channel to '" + peer + "': " + e.message);
  });
}

void ClientRun::on_registered(client::Client &c) {
  if (c.reregistrations() == 0) {
    if (on_ready) on_ready();
  } else {
    CONEC_INFO("registered with the coordinator again");
    if (on_registered_again) on_registered_again();
  }
}

void ClientRun::on_coordinator_lost(client::Client &, const Error &error) {
  if (finished() || (on_coordinator_loss && on_coordinator_loss(error, true))) return;
  finish(exit_code_for(error), coordinator_error_text(error, args_.coord, own_cert_pem_));
}

void ClientRun::on_disconnected(client::Client &, const Error &error) {
  if (finished() || (on_coordinator_loss && on_coordinator_loss(error, false))) return;
  finish(exit_code_for(error), coordinator_error_text(error, args_.coord, own_cert_pem_));
}

bool ClientRun::on_channel_offer(client::Client &, const std::string &peer) { return on_offer ? on_offer(peer) : true; }

void ClientRun::on_peer_channel(client::Client &, channel::Channel &ch) {
  if (on_channel) on_channel(ch);
}

void ClientRun::on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) {
  if (on_stream) on_stream(ch, s);
  else s.reset();
}

void ClientRun::on_peer_closed(client::Client &, channel::Channel &ch, const Error &e) {
  if (on_channel_closed) on_channel_closed(ch, e);
}

} // namespace conec::cli
