#include "app.hpp"

namespace conec::cli {

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
