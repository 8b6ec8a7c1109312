#include "app.hpp"

#include "util/log.hpp"

namespace conec::cli {

void add_global_options(CLI::App &app, GlobalOptions &options) {
  app.add_flag("-v,--verbose", options.verbose, "More log output on stderr (-vv debug, -vvv trace)");
  app.add_flag("-q,--quiet", options.quiet, "Only errors on stderr");
  app.add_option("--log-format", options.log_format, "Log line format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
}

int report_error(const std::string &message, int code) {
  // Messages quote peers (refusal and close reasons): the log formatter shows
  // control characters escaped, so a peer cannot drive the user's terminal
  // or fake lines, and --log-format json keeps stderr all JSON.
  log::error_line(message);
  return code;
}

std::unique_ptr<AppTree> build_app() {
  auto tree = std::make_unique<AppTree>();
  tree->app = std::make_unique<CLI::App>(
      "conec - COordinated NEtwork Channels: named clients talking through one coordinator over QUIC");
  CLI::App &app = *tree->app;
  app.name("conec");
  app.set_version_flag("-V,--version", std::string("conec ") + CONEC_VERSION);
  app.require_subcommand(1);
  add_global_options(app, tree->global);
  tree->commands.push_back(add_coordinator_command(app, tree->global));
  tree->commands.push_back(add_send_command(app, tree->global));
  tree->commands.push_back(add_recv_command(app, tree->global));
  tree->commands.push_back(add_open_command(app, tree->global));
  tree->commands.push_back(add_client_command(app, tree->global));
  tree->commands.push_back(add_ping_command(app, tree->global));
  tree->commands.push_back(add_cert_command(app, tree->global));
  return tree;
}

} // namespace conec::cli
