#include "client_args.hpp"

#include <cstdio>

#include "state_dir.hpp"

namespace conec::cli {

void add_client_options(CLI::App &app, ClientArgs &a, bool id_required) {
  app.add_option("-c,--coord", a.coord, "Coordinator address HOST[:PORT] (default port 1719)")
      ->envname("CONEC_COORD")
      ->type_name("HOST[:PORT]");
  auto *id = app.add_option("-i,--id", a.id,
                            id_required ? "Our client id" : "Our client id (default: a fresh random id)")
                 ->envname("CONEC_ID")
                 ->type_name("ID");
  if (id_required) id->required();
  app.add_option("--cert", a.cert, "Our certificate (PEM); default: a self-signed one for the id, cached")
      ->type_name("FILE");
  app.add_option("--key", a.key, "Private key (PEM) for --cert")->type_name("FILE");
  auto *ca = app.add_option("--ca", a.ca,
                            "Trust the coordinator's certificate if this CA (PEM) signed it (ignores CONEC_PIN)")
                 ->type_name("FILE");
  auto *pin = app.add_option("--pin", a.pin, "Trust the coordinator's certificate by fingerprint")
                  ->envname("CONEC_PIN")
                  ->type_name("sha256:HEX")
                  ->excludes(ca);
  // An option on the command line beats the environment: CLI11 does that for
  // each option and its own variable, but CONEC_PIN is another option's
  // default, so a --ca on the command line switches it off while parsing
  // (before CLI11 reads the environment, which happens only for options
  // still unset once the command line is consumed). --pin with --ca is a
  // usage error.
  ca->trigger_on_parse()->each([pin](const std::string &) { pin->envname(""); });
  app.add_option("--peer-pin", a.peer_pins,
                 "Accept peer ID only with this certificate or key fingerprint (repeatable)")
      ->allow_extra_args(false) // one ID=PIN per --peer-pin: the next word may be PEER
      ->type_name("ID=sha256:HEX");
  app.add_option("--peer-ca", a.peer_ca,
                 "Accept peers only with a certificate this CA (PEM) issued for their id (default: --ca, "
                 "if it issued our --cert)")
      ->type_name("FILE");
  app.add_option("--state-dir", a.state_dir, "Where generated certificates and known peers are kept")
      ->envname("CONEC_STATE_DIR")
      ->type_name("DIR");
  app.add_option("--timeout", a.timeout, "Give up after this many seconds (exit 7)")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  app.add_option("--idle-timeout", a.idle_timeout,
                 "Give up a peer or coordinator silent this many seconds; a third of it while data is "
                 "unacknowledged (keepalives every third)")
      ->default_val(a.idle_timeout)
      ->check(CLI::Range(0.3, 3600.0))
      ->type_name("SECONDS");
  app.add_flag("--relay-only", a.relay_only, "Keep channels on the coordinator's relay");
  app.add_flag("--direct-only", a.direct_only, "Fail unless a direct (hole-punched) path can be made");
}

static Result<std::string> read_file(const std::string &path, const std::string &what) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return fail(ErrorCategory::usage, "cli", errno_error("cli", what + " " + path, errno).message);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

static std::string random_id() {
  uint8_t r[6];
  random_bytes(r);
  return std::string(proto::kUnboundIdPrefix) + to_hex(r);
}

// "HOST:PORT" as the known-peers file names the coordinator.
static std::string coordinator_label(const std::string &host, uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// How this client checks peers itself (client/peer_trust.hpp): --peer-pin,
// the CA (--peer-ca, or --ca when that CA issued our own certificate: one
// CA for everything is CA mode) and, otherwise, known peers in the state
// directory.
static Result<void> make_peer_trust(const ClientArgs &a, client::ClientOptions &o) {
  client::PeerTrustOptions &t = o.peer_trust;
  for (const auto &spec : a.peer_pins) {
    auto eq = spec.find('=');
    if (eq == std::string::npos)
      return fail(ErrorCategory::usage, "cli", "--peer-pin " + spec + ": expected ID=sha256:HEX");
    std::string id = spec.substr(0, eq);
    if (!proto::valid_id(id)) return fail(ErrorCategory::usage, "cli", "--peer-pin " + spec + ": invalid id '" + id + "'");
    auto pin = tls::parse_pin(spec.substr(eq + 1));
    if (!pin) return fail(ErrorCategory::usage, "cli", "--peer-pin " + spec + ": " + pin.error().message);
    std::string fingerprint = "sha256:" + to_hex(*pin);
    auto [it, fresh] = t.pins.emplace(proto::canonical_id(id), fingerprint);
    if (!fresh && it->second != fingerprint)
      return fail(ErrorCategory::usage, "cli", "--peer-pin: two different pins for '" + id + "'");
  }
  if (!a.peer_ca.empty()) {
    auto pem = read_file(a.peer_ca, "--peer-ca");
    if (!pem) return fail(pem.error());
    t.ca_pem = *pem;
  } else if (o.verify_coordinator.mode == tls::PeerVerification::Mode::ca && !a.cert.empty()) {
    const std::string &pem = o.verify_coordinator.ca_pem; // --ca, read for the coordinator
    auto der = tls::der_of_pem(o.identity.cert_pem);
    if (der && tls::verify_with_ca(*der, pem)) t.ca_pem = pem;
  }
  t.coordinator = coordinator_label(o.coordinator_name, o.coordinator.port());
  t.known_peers_path = resolve_state_dir(a.state_dir) + "/known-peers";
  return {};
}

Result<client::ClientOptions> make_client_options(const ClientArgs &a) {
  client::ClientOptions o;
  if (a.relay_only && a.direct_only) return fail(ErrorCategory::usage, "cli", "--relay-only and --direct-only exclude each other");
  if (a.coord.empty())
    return fail(ErrorCategory::usage, "cli", "no coordinator: give -c HOST[:PORT] or set CONEC_COORD");
  auto addr = SockAddr::parse(a.coord, 1719);
  if (!addr) {
    Error e = addr.error();
    e.category = ErrorCategory::usage;
    e.message = "--coord " + a.coord + ": " + e.message;
    return fail(e);
  }
  o.coordinator = *addr;
  // One knob for liveness: idle channels and coordinator links send a
  // keepalive every third of it, and a transfer whose data goes
  // unacknowledged for a third of it is given up (default 15 s: 5 s).
  auto idle = static_cast<Duration>(a.idle_timeout * double(kSecond));
  o.quic.idle_timeout = idle;
  o.quic.keepalive = idle / 3;
  o.quic.unresponsive_timeout = idle / 3;
  o.coordinator_name = host_part(a.coord);
  o.id = a.id.empty() ? random_id() : a.id;
  if (!proto::valid_id(o.id))
    return fail(ErrorCategory::usage, "cli",
                "invalid id '" + o.id + "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");

  if (!a.cert.empty() || !a.key.empty()) {
    if (a.cert.empty() || a.key.empty()) return fail(ErrorCategory::usage, "cli", "--cert and --key go together");
    auto id = tls::Identity::load(a.cert, a.key);
    if (!id) return fail(id.error());
    o.identity = *id;
  } else if (a.id.empty()) {
    tls::CertificateRequest request; // throwaway id: nothing worth caching
    request.name = o.id;
    request.role = tls::CertificateRole::client;
    auto id = tls::generate_self_signed(request);
    if (!id) return fail(id.error());
    o.identity = *id;
  } else {
    bool created = false;
    auto id = load_or_create_identity(resolve_state_dir(a.state_dir) + "/clients", proto::canonical_id(o.id), o.id,
                                      tls::CertificateRole::client, created);
    if (!id) return fail(ErrorCategory::usage, "cli", id.error().message);
    o.identity = *id;
  }

  if (!a.pin.empty()) {
    auto pin = tls::parse_pin(a.pin);
    if (!pin) return fail(ErrorCategory::usage, "cli", "--pin: " + pin.error().message);
    o.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
    o.verify_coordinator.pin = *pin;
  } else if (!a.ca.empty()) {
    auto pem = read_file(a.ca, "--ca");
    if (!pem) return fail(pem.error());
    o.verify_coordinator.mode = tls::PeerVerification::Mode::ca;
    o.verify_coordinator.ca_pem = *pem;
    o.verify_coordinator.expected_name = o.coordinator_name;
  } else {
    o.verify_coordinator.mode = tls::PeerVerification::Mode::system;
    o.verify_coordinator.expected_name = o.coordinator_name;
  }
  if (auto trust = make_peer_trust(a, o); !trust) return fail(trust.error()); // after --ca is read
  o.path_policy = a.relay_only    ? net::PathPolicy::relay_only
                  : a.direct_only ? net::PathPolicy::direct_only
                                  : net::PathPolicy::automatic;
  return o;
}

} // namespace conec::cli
