// Man pages: conec(1), the overview, and conec-<subcommand>(1) for each
// top-level subcommand. Structure and options come from the command tree;
// the only hand-written text here is what belongs to no single subcommand
// (what conec is, exit codes, environment, files), kept beside the code that
// defines it (exit_codes.hpp, state_dir.cpp) in meaning.
#include <algorithm>

#include "exit_codes.hpp"
#include "roff.hpp"
#include "writers.hpp"

namespace conec::docgen {
namespace {

using roff::bold;
using roff::code;
using roff::italic;

// Overview for conec(1): the root app has no Prose of its own.
constexpr const char *kOverview =
    "conec (COordinated NEtwork Channels) lets many named clients talk to each other through one coordinator "
    "over QUIC. The coordinator authenticates clients, keeps the directory of who is connected, introduces "
    "clients to each other and relays their packets when they cannot reach each other directly. "
    "Client-to-client channels are end-to-end encrypted QUIC connections between the two clients: they start "
    "relayed through the coordinator and move to a direct, hole-punched path when one can be made.\n\n"
    "The subcommands pipe standard input and output through data streams, netcat-style, so that files, "
    "pipelines and multi-client setups can be scripted in the shell. Logs, progress and errors go to "
    "standard "
    "error; standard output carries data only. The default UDP port is 1719.\n\n"
    "A client id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit, "
    "and is compared case-insensitively.";

// What a malicious or compromised coordinator can and cannot do, per mode
// (SPEC §3); the same text as docs/security.md.
constexpr const char *kSecurity =
    "In every mode a coordinator can refuse or delay service: refuse to register a client, refuse, delay or "
    "drop channels and relayed packets, and see who talks to whom, when and how much. It never holds the keys "
    "of a client-to-client channel: each is a QUIC connection between the two clients, which pin exactly the "
    "certificate the coordinator introduced, so a relaying coordinator forwards packets it can neither read nor "
    "alter. What it could do is introduce someone else under a peer's id; each client checks that itself, "
    "before it connects or accepts, and refuses with exit status 5 and both key fingerprints. A channel's relay "
    "token (16 random bytes the coordinator gives its two ends) buys relaying, never the channel's data; after a "
    "coordinator restart a relay is rebuilt only when both ends, registered under the ids the token was made "
    "for, present it naming each other.\n\n"
    "Groups are not channels: a group message (send, recv or open @GROUP) travels on the member's own "
    "connection to the coordinator, which reads every one and could drop, alter, reorder or forge one under any "
    "member's id. Members cannot pose as each other (the coordinator tags each message with the sender's "
    "registered id), but send through a group only what the coordinator may see.\n\n"
    "Default mode (self-signed client certificates). The coordinator binds each id to the key it first "
    "registered with (its id-bindings file), so while bob is offline nobody else can register as bob. A client "
    "records the key of every peer it has had a channel with (known-peers in its state directory, first use, "
    "like ssh's known_hosts) and refuses another key for that id from then on. A coordinator that lies about a "
    "peer the client has never talked to is caught only with --peer-pin ID=sha256:HEX (the peer's key or "
    "certificate fingerprint, as conec cert fingerprint prints it): give pins for the first contact that "
    "matters. Random ids (send, open and ping without --id) are never recorded by either side.\n\n"
    "CA mode (conec coordinator --client-ca, clients with --cert from that CA). The CA binds ids to keys: a "
    "client accepts a peer only with a certificate that chains to its CA (--peer-ca, or --ca when that CA "
    "issued our own --cert) and carries the peer's id; known peers are not consulted, so reissued "
    "certificates just work. A coordinator that can issue no certificates from that CA cannot pose as anyone. "
    "Certificates have one role each: conec cert issue --id makes client-only certificates, --host "
    "coordinator-only ones.\n\n"
    "The coordinator's own identity is checked by the client against the system trust store, --ca or --pin; a "
    "mismatch is exit status 3, never a warning.";

struct ExitStatus {
  int code;
  const char *meaning;
};
// SPEC §5; the numbers come from exit_codes.hpp so they cannot drift.
constexpr ExitStatus kExitStatuses[] = {
    {cli::kExitOk, "Success."},
    {cli::kExitFailure, "Runtime failure."},
    {cli::kExitUsage, "Usage error: bad option, bad id, unreadable certificate or key file."},
    {cli::kExitCoordinator, "Cannot reach or trust the coordinator."},
    {cli::kExitRefused, "Refused by the coordinator (id in use, id bound to another key, not authorized, limits)."},
    {cli::kExitPeer, "Peer not connected or refused."},
    {cli::kExitIncomplete, "Transfer incomplete: the stream or connection was lost before every byte was "
                           "acknowledged or before a clean end."},
    {cli::kExitTimeout, "The --timeout expired."},
    {cli::kExitSighup, "Interrupted by SIGHUP (a closed terminal, or ssh ending its ProxyCommand)."},
    {cli::kExitSigint, "Interrupted by SIGINT."},
    {cli::kExitSigterm, "Interrupted by SIGTERM."},
};

struct EnvVar {
  const char *name;
  const char *meaning;
};
// The environment defaults SPEC §5 promises; conec(1) lists them all even
// before every subcommand reading them exists.
constexpr EnvVar kEnvironment[] = {
    {"CONEC_COORD", "Default coordinator address, HOST[:PORT] (port 1719 when omitted)."},
    {"CONEC_ID", "Default client id."},
    {"CONEC_PIN", "Default coordinator certificate fingerprint, in the form sha256:HEX that conec cert "
                  "fingerprint prints; ignored when --ca is given."},
    {"CONEC_STATE_DIR", "The state directory, where generated certificates and keys are kept (see FILES)."},
};

std::string header(const std::string &title) {
  return std::string(".\\\" Generated by conec-docgen from the conec command tree; do not edit.\n") +
         ".\\\" Regenerate with: " + kRegenerate + "\n" + ".TH " + title + " 1 \"\" \"conec " +
         CONEC_VERSION + "\" \"User Commands\"\n";
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// SYNOPSIS lines for `cmd` and, below it, each runnable nested command.
// Global options are summarised; OPTIONS lists them.
std::string synopsis(const CommandDoc &cmd) {
  std::string out;
  // The root always gets a line; a nested command only if runnable itself.
  if (cmd.path.empty() || !cmd.requires_subcommand || cmd.subcommands.empty()) {
    out += ".PP\n.B " + code(cmd.invocation()) + "\n";
    bool has_global = std::any_of(cmd.options.begin(), cmd.options.end(), [](auto &o) { return o.global; });
    if (has_global && !cmd.path.empty()) out += "[\\fIglobal options\\fR]\n";
    for (const auto &o : cmd.options)
      if (!o.global || cmd.path.empty()) out += roff::synopsis_item(o) + "\n";
    if (!cmd.subcommands.empty()) out += italic("COMMAND") + "\n[" + italic("ARGS") + "]\n";
    for (const auto &p : cmd.positionals) out += roff::synopsis_item(p) + "\n";
  }
  for (const auto &sub : cmd.subcommands)
    if (!cmd.path.empty()) out += synopsis(sub);
  return out;
}

// Options and positionals of `cmd`, in --help order, grouped by CLI11 group;
// global options are left to `global_section`.
std::string option_list(const CommandDoc &cmd, bool include_global) {
  std::string out;
  for (const auto &p : cmd.positionals) out += roff::option_entry(p);
  std::vector<std::string> groups;
  for (const auto &o : cmd.options)
    if ((include_global || !o.global) && std::find(groups.begin(), groups.end(), o.group) == groups.end())
      groups.push_back(o.group);
  for (const auto &group : groups) {
    if (group != "Options") out += ".PP\n" + roff::text(group) + ":\n";
    for (const auto &o : cmd.options)
      if ((include_global || !o.global) && o.group == group) out += roff::option_entry(o);
  }
  return out;
}

std::string exit_status() {
  std::string out = ".SH EXIT STATUS\n";
  for (const auto &e : kExitStatuses)
    out += ".TP\n.B " + std::to_string(e.code) + "\n" + roff::text(e.meaning) + "\n";
  out += ".PP\nEach failure prints one line " + bold("conec: error: ...") +
         " naming the cause on standard error.\n";
  return out;
}

// Which option names (and, on conec(1), commands) read `var` in `cmd`'s tree.
void env_users(const CommandDoc &cmd, const std::string &var, std::vector<std::string> &options,
               std::vector<std::string> &commands) {
  for (const auto &o : cmd.options)
    if (o.env == var) {
      if (std::find(options.begin(), options.end(), o.spelled()) == options.end())
        options.push_back(o.spelled());
      if (std::find(commands.begin(), commands.end(), cmd.invocation()) == commands.end())
        commands.push_back(cmd.invocation());
    }
  for (const auto &p : cmd.positionals)
    if (p.env == var) options.push_back(p.positional);
  for (const auto &sub : cmd.subcommands) env_users(sub, var, options, commands);
}

bool has_pin(const std::vector<std::string> &vars) {
  return std::find(vars.begin(), vars.end(), "CONEC_PIN") != vars.end();
}

std::string environment(const CommandDoc &cmd, bool overview) {
  std::vector<std::string> vars;
  if (overview)
    for (const auto &e : kEnvironment) vars.push_back(e.name);
  for (const auto &v : cmd.env_vars())
    if (std::find(vars.begin(), vars.end(), v) == vars.end()) vars.push_back(v);
  if (overview) vars.push_back("XDG_STATE_HOME");
  if (vars.empty()) return "";
  std::string out = ".SH ENVIRONMENT\n";
  for (const auto &var : vars) {
    std::string meaning =
        var == "XDG_STATE_HOME" ? "Locates the state directory when CONEC_STATE_DIR is unset." : "";
    for (const auto &e : kEnvironment)
      if (var == e.name) meaning = e.meaning;
    std::vector<std::string> options, commands;
    env_users(cmd, var, options, commands);
    out += ".TP\n.B " + code(var) + "\n" + roff::text(meaning) + "\n";
    if (!options.empty()) {
      std::string names;
      for (size_t i = 0; i < options.size(); ++i) names += (i ? "; " : "") + bold(options[i]);
      out += "Default for " + names;
      if (overview) {
        std::string where;
        for (size_t i = 0; i < commands.size(); ++i) where += (i ? ", " : "") + bold(commands[i]);
        out += " (" + where + ")";
      }
      out += ".\n";
    }
  }
  out += ".PP\n" + roff::text("An option given on the command line beats the environment: a variable only "
                               "supplies the default of an option left out.");
  if (has_pin(vars))
    out += " " + bold("CONEC_PIN") + roff::text(" is also ignored when ") + bold("--ca") +
           roff::text(" is given, so a pin exported for one coordinator does not override trusting another "
                      "through its CA.");
  out += "\n";
  return out;
}

std::string files() {
  return ".SH FILES\n"
         ".PP\nThe state directory is " +
         italic("$CONEC_STATE_DIR") + " if set, else " + italic("$XDG_STATE_HOME/conec") + ", else " +
         italic("~/.local/state/conec") +
         "; it is created with mode 0700. Keys are created with mode 0600.\n"
         ".TP\n" +
         italic("coordinator.pem") + ", " + italic("coordinator.key") +
         "\n"
         "The coordinator's self-signed certificate and private key, created by " +
         bold("conec coordinator") +
         " on first run when no certificate is given, reused afterwards.\n"
         ".TP\n" +
         italic("clients/ID.pem") + ", " + italic("clients/ID.key") +
         "\n"
         "A client's self-signed certificate and private key, where ID is its id in canonical form, "
         "generated on "
         "first use when no certificate is given and cached.\n"
         ".TP\n" +
         italic("known-peers") +
         "\n"
         "A client's record of the key each peer id was first seen with, one line per peer: coordinator "
         "(HOST:PORT), id, sha256 key fingerprint, first-seen time. A peer introduced later with another key is "
         "refused; delete its line to accept a new key.\n"
         ".TP\n" +
         italic("id-bindings") +
         "\n"
         "The coordinator's record of the key each id registered with (default mode); see " +
         bold("conec coordinator --forget") + ".\n";
}

std::string see_also(const CommandDoc &root, const std::string &self) {
  std::vector<std::string> refs;
  if (self != root.man_name()) refs.push_back(".BR conec (1)");
  for (const auto &sub : root.subcommands)
    if (sub.man_name() != self) {
      std::string page = sub.man_name().substr(0, sub.man_name().size() - 2);
      if (std::find(refs.begin(), refs.end(), ".BR \\%" + code(page) + " (1)") == refs.end())
        refs.push_back(".BR \\%" + code(page) + " (1)");
    }
  std::string out = ".SH SEE ALSO\n";
  for (size_t i = 0; i < refs.size(); ++i) out += refs[i] + (i + 1 < refs.size() ? ",\n" : "\n");
  return out;
}

std::string overview_page(const CommandDoc &root) {
  std::string summary = root.summary;
  if (summary.rfind("conec - ", 0) == 0) summary.erase(0, 8); // CLI11's title repeats the name
  std::string out = header("CONEC");
  out += ".SH NAME\nconec \\- " + roff::text(roff::lower_first(summary)) + "\n";
  out += ".SH SYNOPSIS\n.ad l\n" + synopsis(root) + ".ad\n";
  out += ".SH DESCRIPTION\n" + roff::paragraphs(kOverview);
  out += ".SH COMMANDS\n";
  for (const auto &sub : root.subcommands) {
    std::string page = sub.man_name().substr(0, sub.man_name().size() - 2);
    out +=
        ".TP\n" + bold(sub.name) + "\n" + roff::text(sub.summary) + "; see\n.BR \\%" + code(page) + " (1).\n";
  }
  out +=
      ".SH OPTIONS\n.PP\nThese options work before or after the subcommand name.\n" + option_list(root, true);
  out += ".SH SECURITY\n" + roff::paragraphs(kSecurity);
  out += exit_status() + environment(root, true) + files() + see_also(root, root.man_name());
  return out;
}

std::string examples(const ProseDoc &prose) {
  if (prose.examples.empty()) return "";
  std::string out = ".SH EXAMPLES\n";
  for (const auto &[command, explanation] : prose.examples)
    out += ".PP\n" + roff::text(explanation) + "\n.PP\n.in +4n\n.EX\n$ " + code(command) + "\n.EE\n.in\n";
  return out;
}

std::string subcommand_page(const CommandDoc &root, const CommandDoc &cmd) {
  std::string out = header(upper("conec-" + cmd.name));
  out +=
      ".SH NAME\n" + code("conec-" + cmd.name) + " \\- " + roff::text(roff::lower_first(cmd.summary)) + "\n";
  out += ".SH SYNOPSIS\n.ad l\n" + synopsis(cmd) + ".ad\n";
  out += ".SH DESCRIPTION\n" +
         roff::paragraphs(cmd.prose.description.empty() ? cmd.summary + "." : cmd.prose.description);
  if (!cmd.footer.empty()) out += roff::paragraphs(cmd.footer);
  out += ".SH OPTIONS\n" + option_list(cmd, false);
  // Nested subcommands (conec cert ca, ...) share this page, one part each.
  std::vector<const CommandDoc *> pending;
  for (const auto &sub : cmd.subcommands) pending.push_back(&sub);
  for (size_t i = 0; i < pending.size(); ++i) {
    const CommandDoc &sub = *pending[i];
    std::string summary = sub.summary;
    if (!summary.empty() && summary.back() != '.') summary += '.';
    out += ".SS \"" + code(sub.invocation()) + "\"\n" + roff::text(summary) + "\n";
    if (!sub.prose.description.empty()) out += roff::paragraphs(sub.prose.description);
    out += option_list(sub, false);
    for (const auto &nested : sub.subcommands) pending.push_back(&nested);
  }
  // Global options once for the page, whichever of its commands has them.
  std::vector<const OptionDoc *> globals;
  auto add_globals = [&globals](const CommandDoc &c) {
    for (const auto &o : c.options)
      if (o.global &&
          std::none_of(globals.begin(), globals.end(), [&](auto *g) { return g->spelled() == o.spelled(); }))
        globals.push_back(&o);
  };
  add_globals(cmd);
  for (const auto *sub : pending) add_globals(*sub);
  if (!globals.empty()) {
    out += ".SS \"Global options\"\nThese work before or after the subcommand name.\n";
    for (const auto *o : globals) out += roff::option_entry(*o);
  }
  out += examples(cmd.prose);
  for (const auto &sub : pending) out += examples(sub->prose);
  out += exit_status() + environment(cmd, false);
  std::vector<std::string> vars = cmd.env_vars();
  if (std::find(vars.begin(), vars.end(), "CONEC_STATE_DIR") != vars.end()) out += files();
  out += see_also(root, cmd.man_name());
  return out;
}

} // namespace

FileSet man_pages(const CommandDoc &root) {
  FileSet pages;
  pages["man/" + root.man_name()] = overview_page(root);
  for (const auto &sub : root.subcommands) pages["man/" + sub.man_name()] = subcommand_page(root, sub);
  return pages;
}

} // namespace conec::docgen
