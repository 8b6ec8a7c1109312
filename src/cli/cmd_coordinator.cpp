// `conec coordinator`: run a coordinator until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "command.hpp"
#include "exit_codes.hpp"
#include "loop/loop.hpp"
#include "coord/coordinator.hpp"
#include "proto/control.hpp"
#include "state_dir.hpp"
#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

struct CoordinatorArgs {
  std::string listen = "0.0.0.0:1719";
  std::string cert, key, client_ca, state_dir;
  coord::Limits limits;
  size_t max_message_mib = 16;
  double relay_rate_mbps = 1024; // MB/s per channel
  double client_relay_rate_mbps = 1024; // MB/s per sending client, all its channels
  double hello_timeout_s = 5;
  double idle_timeout_s = 15;
  double group_deadline_s = 10;
  size_t group_message_kib = 1024;
  size_t group_queue_mib = 8;
  std::string retry = "auto";
  net::AdmissionOptions admission;
  unsigned bind_expiry_days = 30;
  size_t max_bindings = coord::BindingOptions{}.max_bindings;
  std::vector<std::string> forget;
};

coord::BindingOptions binding_options(const CoordinatorArgs &o, const std::string &dir) {
  coord::BindingOptions b;
  b.path = bindings_path(dir);
  b.expiry_seconds = int64_t{o.bind_expiry_days} * 86'400;
  b.max_bindings = o.max_bindings;
  return b;
}

// `--forget ID...`: edits the record and exits; no coordinator may run on
// the state directory meanwhile (it holds the record's lock and would write
// its own copy back).
int run_forget(const CoordinatorArgs &o, const GlobalOptions &global) {
  for (const auto &id : o.forget)
    if (!proto::valid_id(id))
      return report_error("--forget: invalid id '" + id.substr(0, 80) +
                              "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit",
                          kExitUsage);
  std::string dir = resolve_state_dir(o.state_dir);
  if (auto r = ensure_state_dir(dir); !r) return report_error(r.error().message, kExitFailure);
  auto bindings = coord::IdBindings::open(binding_options(o, dir), static_cast<int64_t>(std::time(nullptr)));
  if (!bindings) return report_error(bindings.error().message, kExitFailure);
  for (const auto &p : (*bindings)->problems()) CONEC_WARN("{}", p);
  for (const auto &id : o.forget) {
    std::string was = (*bindings)->forget(id);
    if (global.quiet) continue;
    log::notice(was.empty() ? "'" + id + "' was not bound" : "forgot '" + id + "' (it was bound to " + was + ")");
  }
  if (auto r = (*bindings)->save(); !r) return report_error(r.error().message, kExitFailure);
  return kExitOk;
}

Result<tls::Identity> coordinator_identity(const CoordinatorArgs &o, std::string &source) {
  if (!o.cert.empty() || !o.key.empty()) {
    if (o.cert.empty() || o.key.empty())
      return fail(ErrorCategory::usage, "cli", "--cert and --key go together");
    source = o.cert;
    auto id = tls::Identity::load(o.cert, o.key);
    if (!id) return id;
    // No client would accept it (they require serverAuth): say so now,
    // not in every client's handshake.
    auto why = tls::purpose_mismatch_of_pem(id->cert_pem, tls::Purpose::server);
    if (!why) return fail(ErrorCategory::usage, "cli", "--cert " + o.cert + ": " + why.error().message);
    if (!why->empty()) return fail(ErrorCategory::usage, "cli", "--cert " + o.cert + ": " + *why);
    return id;
  }
  std::string dir = resolve_state_dir(o.state_dir);
  bool created = false;
  auto id = load_or_create_identity(dir, "coordinator", "conec-coordinator", tls::CertificateRole::server, created);
  source = dir + "/coordinator.pem (" + (created ? "created" : "reused") + ")";
  return id;
}

// The client command line the banner suggests. A self-issued certificate
// can only be trusted by its fingerprint (--pin); one a CA issued is
// verified through that CA (--ca) against the name it was issued for, which
// is then the host to connect to. With --client-ca, clients also need a
// certificate that CA issued for their id.
std::vector<std::string> client_hint(const CoordinatorArgs &o, const tls::Identity &identity, const std::string &pin,
                                     uint16_t port) {
  std::string host = "HOST", trust = "--pin " + pin;
  std::vector<std::string> notes;
  if (auto self = tls::is_self_issued(identity.cert_pem); self && !*self) {
    trust = "--ca CA.pem";
    if (auto names = tls::certificate_names_of_pem(identity.cert_pem); names && !names->empty())
      host = names->front().find(':') == std::string::npos ? names->front() : "[" + names->front() + "]";
    notes.push_back("CA.pem: the CA certificate that issued " + o.cert);
  }
  std::string line = "clients connect with: conec client -c " + host + ":" + std::to_string(port) + " " + trust +
                     " -i NAME";
  if (!o.client_ca.empty()) {
    line += " --cert NAME.pem --key NAME.key";
    notes.push_back("NAME.pem, NAME.key: a certificate " + o.client_ca + " issued for NAME (conec cert issue --id NAME)");
  }
  std::vector<std::string> lines{line};
  for (const auto &n : notes) lines.push_back("  " + n);
  return lines;
}

int run_coordinator(const CoordinatorArgs &o, const GlobalOptions &global) {
  if (!o.forget.empty()) return run_forget(o, global);
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
  loop::Loop loop;
  coord::CoordinatorOptions co;
  co.listen = *listen;
  co.identity = *identity;
  co.client_ca_pem = clients.ca_pem;
  co.limits = o.limits;
  co.limits.max_message = o.max_message_mib << 20;
  co.limits.relay_bytes_per_second = static_cast<uint64_t>(o.relay_rate_mbps * 1e6);
  co.limits.relay_client_bytes_per_second = static_cast<uint64_t>(o.client_relay_rate_mbps * 1e6);
  co.limits.hello_timeout = static_cast<Duration>(o.hello_timeout_s * double(kSecond));
  co.limits.group_member_deadline = static_cast<Duration>(o.group_deadline_s * double(kSecond));
  co.limits.group_max_message = o.group_message_kib << 10;
  co.limits.group_queue_bytes = o.group_queue_mib << 20;
  // Clients keep their links alive every third of their own idle timeout.
  co.quic.idle_timeout = static_cast<Duration>(o.idle_timeout_s * double(kSecond));
  co.quic.unresponsive_timeout = co.quic.idle_timeout / 3;
  co.admission = o.admission;
  co.admission.retry = o.retry == "always" ? net::RetryPolicy::always
                       : o.retry == "never" ? net::RetryPolicy::never
                                            : net::RetryPolicy::automatic;
  if (o.client_ca.empty()) { // under --client-ca the CA binds ids to certificates
    std::string dir = resolve_state_dir(o.state_dir);
    if (auto r = ensure_state_dir(dir); !r) return report_error(r.error().message, kExitFailure);
    co.bindings = binding_options(o, dir);
  }
  auto coordinator = coord::Coordinator::create(loop, co);
  if (!coordinator) {
    int code = coordinator.error().category == ErrorCategory::io ? kExitFailure : kExitUsage;
    return report_error(coordinator.error().message, code);
  }

  // Handlers first: a signal right after the banner must not kill us.
  int signal_received = 0;
  auto on_signal = [&](int signum) {
    if (signal_received) return;
    signal_received = signum;
    CONEC_INFO("signal {}: closing {} connection(s)", signum, (*coordinator)->connection_count());
    (*coordinator)->shutdown();
    loop.stop();
  };
  loop::Signal sigint(loop, SIGINT, on_signal), sigterm(loop, SIGTERM, on_signal);

  auto fingerprint = identity->fingerprint();
  if (!global.quiet) {
    // Tests and scripts read the port and fingerprint from these lines.
    std::string pin = fingerprint ? *fingerprint : "?";
    log::notice(std::string("conec ") + CONEC_VERSION + " coordinator listening on " +
                (*coordinator)->local_address().to_string() + " (UDP, QUIC, ALPN " + std::string(tls::kAlpn) + ")");
    log::notice("certificate: " + source);
    log::notice("fingerprint: " + pin);
    if (const auto *b = (*coordinator)->bindings())
      log::notice("id bindings: " + b->path() + " (" + std::to_string(b->size()) + " ids; " +
                  (o.bind_expiry_days ? "idle ones expire after " + std::to_string(o.bind_expiry_days) + " days"
                                      : "never expire") +
                  ")");
    for (const auto &line : client_hint(o, *identity, pin, (*coordinator)->local_address().port()))
      log::notice(line);
  }

  loop.run();
  // Let close packets go out and closing periods pass (bounded).
  bool waited = false;
  loop::Timer limit(loop, [&] { waited = true; });
  limit.start(1000);
  while (!waited && (*coordinator)->connection_count() > 0) loop.run_once();
  coordinator->reset();
  return kExitOk;
}

} // namespace

Command add_coordinator_command(CLI::App &root, GlobalOptions &global) {
  auto options = std::make_shared<CoordinatorArgs>();
  CLI::App *app = root.add_subcommand("coordinator", "Run a coordinator until SIGINT/SIGTERM");
  add_global_options(*app, global);
  app->add_option("--listen", options->listen, "UDP address and port to listen on")
      ->default_str("0.0.0.0:1719")
      ->type_name("ADDR:PORT");
  app->add_option("--cert", options->cert, "Certificate (PEM) instead of the generated self-signed one")
      ->type_name("FILE");
  app->add_option("--key", options->key, "Private key (PEM) for --cert")->type_name("FILE");
  app->add_option("--client-ca", options->client_ca,
                  "Accept only client certificates signed by this CA (PEM)")
      ->type_name("FILE");
  app->add_option("--state-dir", options->state_dir,
                  "Where the generated certificate and the id bindings live (default: $CONEC_STATE_DIR or "
                  "~/.local/state/conec)")
      ->envname("CONEC_STATE_DIR")
      ->type_name("DIR");
  app->add_option("--bind-expiry", options->bind_expiry_days,
                  "Days an id may go unused before its key binding expires and anyone may take it (0: never)")
      ->default_val(options->bind_expiry_days)
      ->check(CLI::Range(0u, 36'500u))
      ->type_name("DAYS");
  app->add_option("--max-bindings", options->max_bindings,
                  "Most ids bound to keys; past it, new ids are refused until bindings expire")
      ->default_val(options->max_bindings);
  app->add_option("--forget", options->forget,
                  "Remove ID's key binding from the state directory and exit, so ID may register with a new key "
                  "(repeatable; no coordinator may be running on that state directory)")
      ->type_name("ID")
      ->allow_extra_args(false);
  app->add_option("--max-clients", options->limits.max_clients, "Most clients registered at once")
      ->default_val(options->limits.max_clients);
  app->add_option("--max-channels", options->limits.max_channels_per_client,
                  "Most channels (open or being introduced) per client")
      ->default_val(options->limits.max_channels_per_client);
  app->add_option("--max-pending", options->limits.max_pending_introductions,
                  "Most introductions waiting for an answer, all clients together")
      ->default_val(options->limits.max_pending_introductions);
  app->add_option("--max-pending-per-client", options->limits.max_pending_per_client,
                  "Most introductions one client may have waiting for an answer")
      ->default_val(options->limits.max_pending_per_client);
  app->add_option("--max-groups", options->limits.max_groups, "Most groups at once")
      ->default_val(options->limits.max_groups);
  app->add_option("--max-group-members", options->limits.max_group_members, "Most members per group")
      ->default_val(options->limits.max_group_members);
  app->add_option("--max-groups-per-client", options->limits.max_groups_per_client,
                  "Most groups one client may be a member of")
      ->default_val(options->limits.max_groups_per_client);
  app->add_option("--group-max-message", options->group_message_kib, "Largest group message, in KiB")
      ->default_val(options->group_message_kib)
      ->check(CLI::Range(1, 16384));
  app->add_option("--group-queue", options->group_queue_mib,
                  "MiB of messages held per group member beyond its flow control before the group's policy acts "
                  "(drop-oldest drops its oldest, lossless pauses the senders)")
      ->default_val(options->group_queue_mib)
      ->check(CLI::Range(1, 4096));
  app->add_option("--group-queue-messages", options->limits.group_queue_messages,
                  "Messages held per group member, as --group-queue")
      ->default_val(options->limits.group_queue_messages)
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  app->add_option("--group-deadline", options->group_deadline_s,
                  "Remove a group member that takes nothing this many seconds while messages wait for it")
      ->default_val(options->group_deadline_s)
      ->check(CLI::Range(0.1, 3600.0))
      ->type_name("SECONDS");
  app->add_option("--idle-timeout", options->idle_timeout_s,
                  "Close a client connection silent this many seconds (a third of it while data waits for its "
                  "acknowledgement); its channels' peers are told")
      ->default_val(options->idle_timeout_s)
      ->check(CLI::Range(0.3, 3600.0))
      ->type_name("SECONDS");
  app->add_option("--hello-timeout", options->hello_timeout_s,
                  "Seconds a new connection has to register before it is closed")
      ->default_val(options->hello_timeout_s)
      ->check(CLI::Range(0.1, 3600.0));
  app->add_option("--retry", options->retry,
                  "Address validation with QUIC Retry: auto (once --retry-above handshakes are in progress), "
                  "always, or never")
      ->default_val(options->retry)
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app->add_option("--retry-above", options->admission.retry_above,
                  "Handshakes in progress beyond which new clients must answer a Retry (--retry auto)")
      ->default_val(options->admission.retry_above);
  app->add_option("--max-handshakes", options->admission.max_handshakes,
                  "Most handshakes in progress at once; further Initials are dropped")
      ->default_val(options->admission.max_handshakes);
  app->add_option("--max-handshakes-per-host", options->admission.max_handshakes_per_address,
                  "Most handshakes in progress from one IP address")
      ->default_val(options->admission.max_handshakes_per_address);
  app->add_option("--max-message", options->max_message_mib, "Largest message on a data stream, in MiB")
      ->default_val(options->max_message_mib)
      ->check(CLI::Range(1, 1024));
  app->add_option("--relay-rate", options->relay_rate_mbps, "Relay budget per channel, in MB/s")
      ->default_val(options->relay_rate_mbps)
      ->check(CLI::PositiveNumber);
  app->add_option("--client-relay-rate", options->client_relay_rate_mbps,
                  "Relay budget per sending client across all its channels, in MB/s (logged when hit)")
      ->default_val(options->client_relay_rate_mbps)
      ->check(CLI::PositiveNumber);
  Prose prose;
  prose.description =
      "Runs a coordinator: it accepts clients over QUIC (UDP port 1719 by default), registers each under its id, "
      "introduces clients to each other and relays their end-to-end encrypted channels.\n\n"
      "With no certificate options it creates a self-signed certificate and key in its state directory on first "
      "run (key mode 0600), reuses them afterwards, and prints the fingerprint and a ready-to-paste client command "
      "line on stderr: with --pin for a self-signed certificate; with --ca and the name the certificate was issued "
      "for when a CA issued it; with --cert and --key as well under --client-ca. SIGINT or SIGTERM close every connection gracefully; the exit status is then 0.\n\n"
      "Hostile input is bounded: datagrams that are not QUIC are dropped before the QUIC stack sees them; "
      "handshakes in progress are capped overall and per source address, and past --retry-above new clients "
      "must first answer a stateless Retry (one more round trip, no state kept for addresses that never answer); "
      "a connection that does not register within --hello-timeout is closed. Each client is charged for what it "
      "asks: channels, introductions waiting, relay rate, and control replies it does not read (past 1 MiB "
      "unacknowledged it is closed with that reason). Offers a client has not accepted do not count against it.\n\n"
      "Ids are bound to keys on first use. Without --client-ca the coordinator records in its state directory "
      "(file id-bindings) the SHA-256 fingerprint of the public key each id first registered with, and refuses "
      "any other key for that id: the client exits 4 with \"id 'bob' is bound to another key (sha256:...)\". "
      "A renewed certificate with the same key keeps its id. Ids starting with anon- (what send, open and ping "
      "use without -i) are never recorded, so nobody owns them. A binding unused for --bind-expiry days expires. "
      "To let an id register with a new key, stop the coordinator and run conec coordinator --forget ID: it edits "
      "the record and exits, and refuses while a coordinator uses the state directory (it holds "
      "id-bindings.lock and would write its own copy back). The record has one line per id, "
      "\"<id> sha256:<64 hex> <last seen, seconds since 1970>\", lines starting with # are comments; a line "
      "that does not parse is reported with its number at start-up and skipped, and the next save keeps the "
      "file as it was in id-bindings.corrupt. New bindings are saved within a second, last-seen times once a "
      "minute and at exit, each time by replacing the file atomically (mode 0600). Under --client-ca nothing "
      "is recorded: the CA binds ids to certificates.";
  prose.examples = {
      {"conec coordinator", "Run on the embedded defaults: 0.0.0.0:1719, self-signed certificate in the state directory."},
      {"conec coordinator --cert /etc/conec/coord.pem --key /etc/conec/coord.key",
       "Run with a certificate issued for the server's host name (clients verify it with --ca or the system store)."},
      {"conec coordinator --client-ca ca.pem", "Accept only clients whose certificates ca.pem signed for their id."},
      {"conec coordinator --forget bob", "With the coordinator stopped: let bob register again with a new key."},
  };
  return Command{app, [options, &global] { return run_coordinator(*options, global); }, prose};
}

} // namespace conec::cli
