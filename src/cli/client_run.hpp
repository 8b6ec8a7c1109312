#pragma once
// ClientRun: the life of one client subcommand — create the Client, run the
// loop until the subcommand finishes, and turn every way it can end into
// one `conec: error:` line and the exit code of SPEC §5.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "client_args.hpp"
#include "loop/loop.hpp"

namespace conec::cli {

// Blocks SIGHUP, SIGINT and SIGTERM for the rest of the process: called
// once the outcome is decided, before the loop's signal watchers go (their
// removal restores the default action, and a signal in the moment before
// exit would then kill the process after it reported its result).
void hold_exit_signals();

// The peer's public-key fingerprint ("sha256:<hex>", what known peers and
// --peer-pin use), for --stats, ping and -v; "?" if unreadable.
std::string peer_key_of(channel::Channel &ch);
// The path a peer channel uses now ("relay", "direct ADDR"), for the same.
std::string path_of(channel::Channel &ch);

class ClientRun : public client::ClientHandler {
public:
  ClientRun(const GlobalOptions &global, const ClientArgs &args);
  ~ClientRun() override;

  // Creates the client and runs until finish(); returns the exit code.
  int run();
  // Ends the run with `code`; a non-empty `error` is printed as the one
  // `conec: error:` line. The first call wins.
  void finish(int code, const std::string &error = {});
  bool finished() const { return exit_code_.has_value(); }
  // After run(): runs the loop until `done` (the subcommand's output is
  // flushed) and returns `code`, or stops early on a signal: then a run
  // that had succeeded returns 128 + the signal with one error line.
  int drain(int code, const std::function<bool()> &done);

  // Asks for a channel to `peer`; failures finish the run with exit 5 (or 4
  // for limits) and a message naming the peer.
  void open_channel(const std::string &peer, std::function<void(channel::Channel &)> opened);

  // What the subcommand does; set before run().
  std::function<void()> on_ready;                                // registered (the first time)
  std::function<void()> on_registered_again;                     // after a lost coordinator
  std::function<bool(const std::string &peer)> on_offer;         // default: accept
  std::function<void(channel::Channel &)> on_channel;            // channels offered to us
  std::function<void(channel::Channel &, channel::Stream &)> on_stream;
  std::function<void(channel::Channel &, const Error &)> on_channel_closed;
  // The coordinator connection ended after registration, and the Client
  // is `reconnecting` (ClientOptions::reconnect) or gave up. Returns true
  // if the subcommand goes on or finished the run itself (a transfer in
  // progress is cut: exit 6), false for the default: finish with
  // exit_code_for.
  std::function<bool(const Error &, bool reconnecting)> on_coordinator_loss;
  // SIGHUP/SIGINT/SIGTERM; default: finish(129/130/143, "interrupted").
  std::function<void(int signum)> on_signal;

  loop::Loop &loop() { return loop_; }
  client::Client &client() { return *client_; }
  const GlobalOptions &global() const { return global_; }
  const ClientArgs &args() const { return args_; }

  // Exit code for a lost or refused coordinator connection, and the text
  // of its error line (`coord` as the user gave it; `own_cert_pem`, our
  // certificate, explains a refused one that is not for clients).
  static int exit_code_for(const Error &coordinator_error);
  static std::string coordinator_error_text(const Error &coordinator_error, const std::string &coord,
                                            const std::string &own_cert_pem);
  // The error line this run would finish with for `coordinator_error`.
  std::string coordinator_error_text(const Error &coordinator_error) const {
    return coordinator_error_text(coordinator_error, args_.coord, own_cert_pem_);
  }

private:
  void on_registered(client::Client &) override;
  void on_disconnected(client::Client &, const Error &error) override;
  void on_coordinator_lost(client::Client &, const Error &error) override;
  bool on_channel_offer(client::Client &, const std::string &peer) override;
  void on_peer_channel(client::Client &, channel::Channel &ch) override;
  void on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) override;
  void on_peer_closed(client::Client &, channel::Channel &ch, const Error &e) override;

  const GlobalOptions &global_;
  ClientArgs args_;
  loop::Loop loop_;
  std::vector<std::unique_ptr<loop::Signal>> signals_; // from run() until the ClientRun goes
  std::optional<int> late_signal_;     // a signal after finish()
  std::unique_ptr<client::Client> client_;
  std::string own_cert_pem_; // for coordinator_error_text
  std::optional<int> exit_code_;
  std::string error_;
};

} // namespace conec::cli
