// `conec cert`: certificates for CA mode (SPEC §3).
//   conec cert ca --out P                          new CA: P.pem, P.key
//   conec cert issue --ca P (--id ID | --host H) --out Q   leaf signed by P
//   conec cert fingerprint FILE | -i ID [--key]    sha256:<hex>, as --pin and --peer-pin take it
// stdout carries only the fingerprint (data a script may capture); what was
// written, and how to use it, goes to stderr.
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "command.hpp"
#include "exit_codes.hpp"
#include "proto/control.hpp"
#include "state_dir.hpp"
#include "tls/identity.hpp"

namespace conec::cli {
namespace {

struct CaArgs {
  std::string out;
  std::string name = "conec CA";
  unsigned days = 3650;
  std::string key_type = "ecdsa";
  bool force = false;
};

struct IssueArgs {
  std::string ca, id, host, out;
  unsigned days = 825;
  std::string key_type = "ecdsa";
  bool force = false;
};

struct CertArgs {
  CaArgs ca;
  IssueArgs issue;
  std::string fingerprint_file;
  std::string fingerprint_id, state_dir; // -i ID: our own cached identity
  bool key_fingerprint = false;          // --key: of the public key, not the certificate
  CLI::App *ca_app = nullptr, *issue_app = nullptr, *fingerprint_app = nullptr;
};

// "ca.pem" and "ca" both name the pair ca.pem + ca.key.
std::string stem_of(const std::string &path) {
  constexpr std::string_view suffix = ".pem";
  if (path.size() > suffix.size() && path.ends_with(suffix))
    return path.substr(0, path.size() - suffix.size());
  return path;
}

tls::KeyType key_type_of(const std::string &name) {
  return name == "ed25519" ? tls::KeyType::ed25519 : tls::KeyType::ecdsa_p256;
}

bool exists(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// Before generating anything: the directory must exist and, unless
// --force, neither output file may.
std::optional<int> check_outputs(const std::string &stem, bool force) {
  std::string dir = std::filesystem::path(stem).parent_path().string();
  if (dir.empty()) dir = ".";
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0)
    return report_error("--out " + stem + ": directory '" + dir + "': " + std::strerror(errno), kExitUsage);
  if (!S_ISDIR(st.st_mode))
    return report_error("--out " + stem + ": '" + dir + "' is not a directory", kExitUsage);
  if (force) return std::nullopt;
  for (const std::string &path : {stem + ".pem", stem + ".key"})
    if (exists(path))
      return report_error("'" + path + "' already exists; use --force to replace " + stem + ".pem and " +
                              stem + ".key",
                          kExitUsage);
  return std::nullopt;
}

// Saves the pair and prints its fingerprint on stdout.
int save_and_print(const tls::Identity &identity, const std::string &stem, const GlobalOptions &global,
                   const std::string &what, const std::string &hint) {
  auto fingerprint = identity.fingerprint();
  if (!fingerprint) return report_error(fingerprint.error().message, kExitFailure);
  if (auto r = identity.save(stem + ".pem", stem + ".key"); !r)
    return report_error(r.error().message, kExitFailure);
  std::printf("%s\n", fingerprint->c_str());
  std::fflush(stdout);
  if (!global.quiet)
    std::fprintf(stderr, "conec: wrote %s.pem (%s) and %s.key (its private key, mode 0600)\n%s", stem.c_str(),
                 what.c_str(), stem.c_str(), hint.c_str());
  return kExitOk;
}

int run_ca(const CaArgs &a, const GlobalOptions &global) {
  std::string stem = stem_of(a.out);
  if (a.name.empty()) return report_error("--name must not be empty", kExitUsage);
  if (auto code = check_outputs(stem, a.force)) return *code;
  tls::CertificateRequest request;
  request.name = a.name;
  request.key_type = key_type_of(a.key_type);
  request.validity_days = a.days;
  request.role = tls::CertificateRole::ca;
  auto ca = tls::generate_self_signed(request);
  if (!ca)
    return report_error(ca.error().message,
                        ca.error().category == ErrorCategory::usage ? kExitUsage : kExitFailure);
  std::string hint = "conec: next: conec cert issue --ca " + stem +
                     " --host HOST --out coord; conec cert issue --ca " + stem + " --id ID --out ID\n";
  return save_and_print(*ca, stem, global,
                        "CA certificate '" + a.name + "', valid " + std::to_string(a.days) + " days", hint);
}

// Host names as certificates carry them: DNS labels (a leading "*." for a
// wildcard) or an IPv4/IPv6 address.
bool plausible_host(const std::string &host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '*' ||
          c == '_'))
      return false;
  return true;
}

int run_issue(const IssueArgs &a, const GlobalOptions &global) {
  if (a.id.empty() == a.host.empty())
    return report_error("give --id ID (a client certificate) or --host NAME (a coordinator certificate)",
                        kExitUsage);
  if (!a.id.empty() && !proto::valid_id(a.id))
    return report_error("invalid id '" + a.id +
                            "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit",
                        kExitUsage);
  if (!a.host.empty() && !plausible_host(a.host))
    return report_error("invalid --host '" + a.host + "': give a DNS name or an IP address", kExitUsage);
  std::string ca_stem = stem_of(a.ca), stem = stem_of(a.out);
  std::error_code ec1, ec2;
  if (std::filesystem::weakly_canonical(ca_stem, ec1) == std::filesystem::weakly_canonical(stem, ec2) &&
      !ec1 && !ec2)
    return report_error("--out " + a.out + " would replace the CA itself; choose another name", kExitUsage);
  auto ca = tls::Identity::load(ca_stem + ".pem", ca_stem + ".key");
  if (!ca) return report_error("--ca " + a.ca + ": " + ca.error().message, kExitUsage);
  if (auto code = check_outputs(stem, a.force)) return *code;

  tls::CertificateRequest request;
  request.name = a.id.empty() ? a.host : a.id;
  request.role = a.id.empty() ? tls::CertificateRole::server : tls::CertificateRole::client;
  request.key_type = key_type_of(a.key_type);
  request.validity_days = a.days;
  auto issued = tls::issue_certificate(*ca, request);
  if (!issued)
    return report_error("--ca " + a.ca + ": " + issued.error().message,
                        issued.error().category == ErrorCategory::usage ? kExitUsage : kExitFailure);
  std::string what, hint;
  if (!a.id.empty()) {
    what = "certificate for client id '" + a.id + "' signed by " + ca_stem + ".pem";
    hint = "conec: use: conec ... -i " + a.id + " --cert " + stem + ".pem --key " + stem + ".key --ca " +
           ca_stem + ".pem\n";
  } else {
    what = "certificate for coordinator host '" + a.host + "' signed by " + ca_stem + ".pem";
    hint = "conec: use: conec coordinator --cert " + stem + ".pem --key " + stem + ".key --client-ca " +
           ca_stem + ".pem; clients: -c " + a.host + " --ca " + ca_stem + ".pem\n";
  }
  return save_and_print(*issued, stem, global, what + ", valid " + std::to_string(a.days) + " days", hint);
}

// The text of a certificate file, bounded. Errors: usage, naming the file.
Result<std::string> read_certificate_file(const std::string &file) {
  std::FILE *f = std::fopen(file.c_str(), "rb");
  if (!f) return fail(ErrorCategory::usage, "cli", "cannot read '" + file + "': " + std::strerror(errno));
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0 && text.size() <= (1u << 20)) text.append(buf, n);
  bool read_error = std::ferror(f);
  int errnum = errno;
  std::fclose(f);
  if (read_error) return fail(ErrorCategory::usage, "cli", "cannot read '" + file + "': " + std::strerror(errnum));
  if (text.size() > (1u << 20))
    return fail(ErrorCategory::usage, "cli", "'" + file + "' is larger than 1 MiB: not a certificate");
  return text;
}

int run_fingerprint(const CertArgs &a) {
  std::string file = a.fingerprint_file;
  if (!file.empty() && !a.fingerprint_id.empty())
    return report_error("fingerprint: give FILE or -i ID, not both", kExitUsage);
  if (file.empty() && a.fingerprint_id.empty())
    return report_error("fingerprint: give a certificate FILE, or -i ID for our own identity", kExitUsage);
  if (!a.fingerprint_id.empty()) {
    // Our own identity, created now if this id never ran here, so that its
    // fingerprint can be handed to peers (--peer-pin) before first contact.
    if (!proto::valid_id(a.fingerprint_id))
      return report_error("invalid id '" + a.fingerprint_id +
                              "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit",
                          kExitUsage);
    std::string dir = resolve_state_dir(a.state_dir) + "/clients";
    bool created = false;
    auto identity = load_or_create_identity(dir, proto::canonical_id(a.fingerprint_id), a.fingerprint_id,
                                            tls::CertificateRole::client, created);
    if (!identity) return report_error(identity.error().message, kExitUsage);
    file = dir + "/" + proto::canonical_id(a.fingerprint_id) + ".pem";
    if (created) std::fprintf(stderr, "conec: created %s for '%s'\n", file.c_str(), a.fingerprint_id.c_str());
  }
  auto text = read_certificate_file(file);
  if (!text) return report_error(text.error().message, kExitUsage);

  Result<Bytes> der = fail(ErrorCategory::usage, "cli", "empty file");
  if (text->find("-----BEGIN") != std::string::npos) {
    der = tls::der_of_pem(*text);
  } else if (!text->empty()) {
    // Not PEM: accept a DER certificate (what some tools export).
    if (tls::certificate_names(as_bytes(*text)))
      der = Bytes(as_bytes(*text).begin(), as_bytes(*text).end());
    else
      der = fail(ErrorCategory::usage, "cli", "neither PEM nor DER");
  }
  if (!der) return report_error("'" + file + "' does not hold a certificate (" + der.error().message + ")", kExitUsage);
  Result<std::string> fingerprint =
      a.key_fingerprint ? tls::public_key_fingerprint(*der) : Result<std::string>(tls::fingerprint_of_der(*der));
  if (!fingerprint)
    return report_error("'" + file + "' does not hold a certificate (" + fingerprint.error().message + ")",
                        kExitUsage);
  std::printf("%s\n", fingerprint->c_str());
  if (!a.fingerprint_id.empty())
    std::fprintf(stderr, "conec: peers pin '%s' with --peer-pin %s=%s\n", a.fingerprint_id.c_str(),
                 proto::canonical_id(a.fingerprint_id).c_str(), fingerprint->c_str());
  return kExitOk;
}

} // namespace

Command add_cert_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<CertArgs>();
  CLI::App *app = root.add_subcommand("cert", "Create a CA, issue certificates, print fingerprints");
  add_global_options(*app, global);
  app->require_subcommand(1);

  CaArgs &ca = args->ca;
  CLI::App *ca_app =
      app->add_subcommand("ca", "Create a certificate authority: writes P.pem and P.key (0600)");
  add_global_options(*ca_app, global);
  ca_app->add_option("--out", ca.out, "Write the CA to P.pem and its key to P.key")
      ->required()
      ->type_name("P");
  ca_app->add_option("--name", ca.name, "The CA's name (certificate subject)")
      ->default_val(ca.name)
      ->type_name("NAME");
  ca_app->add_option("--days", ca.days, "Validity in days")
      ->default_val(ca.days)
      ->check(CLI::Range(1u, 36500u))
      ->type_name("N");
  ca_app->add_option("--key-type", ca.key_type, "Key algorithm")
      ->default_val(ca.key_type)
      ->check(CLI::IsMember({"ecdsa", "ed25519"}));
  ca_app->add_flag("--force", ca.force, "Replace P.pem and P.key if they exist");

  IssueArgs &is = args->issue;
  CLI::App *issue_app = app->add_subcommand("issue", "Issue a certificate signed by a CA for a client id or "
                                                     "a coordinator host: writes Q.pem and Q.key (0600)");
  add_global_options(*issue_app, global);
  issue_app->add_option("--ca", is.ca, "The CA to sign with: P.pem and P.key (as written by 'conec cert ca')")
      ->required()
      ->type_name("P");
  auto *id =
      issue_app->add_option("--id", is.id, "Issue a client certificate for this client id (client-only; the id as URI "
                                               "urn:conec:id:ID)")->type_name("ID");
  auto *host =
      issue_app
          ->add_option("--host", is.host, "Issue a coordinator certificate for this host name or IP address "
                                     "(coordinator-only)")
          ->type_name("NAME");
  id->excludes(host);
  host->excludes(id);
  issue_app->add_option("--out", is.out, "Write the certificate to Q.pem and its key to Q.key")
      ->required()
      ->type_name("Q");
  issue_app->add_option("--days", is.days, "Validity in days")
      ->default_val(is.days)
      ->check(CLI::Range(1u, 36500u))
      ->type_name("N");
  issue_app->add_option("--key-type", is.key_type, "Key algorithm")
      ->default_val(is.key_type)
      ->check(CLI::IsMember({"ecdsa", "ed25519"}));
  issue_app->add_flag("--force", is.force, "Replace Q.pem and Q.key if they exist");

  CLI::App *fp_app = app->add_subcommand(
      "fingerprint", "Print the SHA-256 fingerprint of a certificate in the form --pin takes");
  add_global_options(*fp_app, global);
  fp_app->add_option("FILE", args->fingerprint_file, "Certificate file (PEM or DER; the first certificate counts)")
      ->type_name("FILE");
  fp_app->add_option("-i,--id", args->fingerprint_id,
                     "Instead of FILE: our own certificate for this client id (created if missing)")
      ->type_name("ID");
  fp_app->add_option("--state-dir", args->state_dir, "Where our certificates are kept (with -i)")
      ->envname("CONEC_STATE_DIR")
      ->type_name("DIR");
  fp_app->add_flag("--key", args->key_fingerprint,
                   "Print the public key's fingerprint (what known peers record; survives certificate renewal)");

  args->ca_app = ca_app;
  args->issue_app = issue_app;
  args->fingerprint_app = fp_app;

  Prose prose;
  prose.description =
      "Makes the certificates for CA mode, where the coordinator accepts only clients whose certificates a "
      "CA of "
      "yours signed for their id (conec coordinator --client-ca), and clients verify the coordinator against "
      "the "
      "same CA (--ca) instead of a pin. Without CA mode, nothing here is needed: clients generate "
      "self-signed "
      "certificates and the coordinator prints its pin.\n\n"
      "conec cert ca --out P creates a CA: its certificate P.pem (give it to everyone) and its private key "
      "P.key "
      "(mode 0600; keep it offline if you can, it can make certificates for any id). conec cert issue --ca P "
      "--id ID --out Q makes a client certificate for ID; conec cert issue --ca P --host NAME --out Q makes "
      "a "
      "coordinator certificate for the host name or IP address clients use in -c. Each writes Q.pem and "
      "Q.key "
      "(0600). A .pem suffix on P or Q is optional: --out ca and --out ca.pem both write ca.pem and ca.key. "
      "Existing files are never replaced without --force. conec cert fingerprint FILE prints a certificate's "
      "SHA-256 fingerprint; conec cert fingerprint -i ID prints our own for client id ID (from the state "
      "directory, created if it is missing), the pin peers give with --peer-pin ID=...; --key prints the "
      "public key's instead, which survives renewal and is what known peers, ping and --stats show.\n\n"
      "Each certificate has one role, and both sides check it. --id certificates are client-only (extended key "
      "usage clientAuth) and carry the id as the URI urn:conec:id:ID, with no host name, so no client accepts "
      "one as a coordinator's, even for an id like 127.0.0.77 (exit 3); --host certificates are "
      "coordinator-only (serverAuth), and a coordinator refuses them from clients (exit 4) and conec "
      "coordinator refuses to start with a client-only one. Certificates made before roles existed, which carry "
      "both usages and the id as their name, keep working as either.\n\n"
      "ca and issue print the new certificate's fingerprint, and fingerprint prints the file's, on standard "
      "output as one line sha256:<64 hex digits>, exactly as --pin takes it; what was written goes to "
      "standard "
      "error. Keys are ECDSA P-256 unless --key-type ed25519. The exit status is 0 on success and 2 for a "
      "usage "
      "error: a bad id or host name, an existing output file, an unreadable or non-PEM file, a CA file that "
      "is "
      "not a CA or whose key does not match.\n\n"
      "Setting up CA mode, on the machine holding the CA: create the CA, issue the coordinator's certificate "
      "for "
      "the name clients connect to, issue one certificate per client id, and copy ca.pem with each pair to "
      "where it "
      "is used (see the examples). Run the coordinator with --cert, --key and --client-ca ca.pem; each "
      "client "
      "connects with --ca ca.pem --cert and --key of its id. A client whose certificate the CA did not sign "
      "is "
      "rejected during the TLS handshake (exit 4); one that claims an id its certificate was not issued for "
      "is "
      "refused (exit 4).";
  prose.examples = {
      {"conec cert ca --out ca --name 'Example CA'", "Create ca.pem and ca.key; print the CA's fingerprint."},
      {"conec cert issue --ca ca --host coord.example.org --out coord",
       "A coordinator certificate (coord.pem, coord.key) for the name clients use in -c."},
      {"conec cert issue --ca ca --id alice --out alice",
       "A client certificate for id alice (alice.pem, alice.key)."},
      {"conec coordinator --cert coord.pem --key coord.key --client-ca ca.pem",
       "Run the coordinator in CA mode: only clients with certificates from ca.pem, each for its own id."},
      {"conec recv -c coord.example.org --ca ca.pem --cert alice.pem --key alice.key -i alice",
       "A client in CA mode: it trusts the coordinator through ca.pem and proves it is alice."},
      {"conec cert fingerprint coord.pem", "The fingerprint to give clients that use --pin instead of --ca."},
      {"conec cert fingerprint -i bob --key",
       "bob's own key fingerprint, for peers to pin him before first contact (--peer-pin bob=...)."},
  };
  auto run = [args, &global]() -> int {
    if (args->ca_app->parsed()) return run_ca(args->ca, global);
    if (args->issue_app->parsed()) return run_issue(args->issue, global);
    if (args->fingerprint_app->parsed()) return run_fingerprint(*args);
    return report_error("cert: give one of ca, issue, fingerprint (see 'conec cert --help')", kExitUsage);
  };
  return Command{app, run, prose};
}

} // namespace conec::cli
