// conec: the command-line tool. Parses options, configures logging, runs
// one subcommand and turns its outcome into an exit code (SPEC §5).

#include <csignal>

#include "app.hpp"
#include "exit_codes.hpp"
#include "loop/loop.hpp"
#include "util/log.hpp"

namespace conec::cli {

static void configure_logging(const GlobalOptions &options) {
  spdlog::level::level_enum level = spdlog::level::warn;
  if (options.quiet) level = spdlog::level::err;
  else if (options.verbose == 1) level = spdlog::level::info;
  else if (options.verbose == 2) level = spdlog::level::debug;
  else if (options.verbose >= 3) level = spdlog::level::trace;
  log::configure(level, options.log_format == "json" ? log::Format::json : log::Format::text);
}

} // namespace conec::cli

int main(int argc, char **argv) {
  using namespace conec::cli;
  auto tree = build_app();
  CLI::App &app = *tree->app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    return report_error(std::string(e.what()) + " (see 'conec --help')", kExitUsage);
  }
  configure_logging(tree->global);
  // A signal after the outcome is decided must reach only the main thread,
  // where it is then blocked (see hold_exit_signals).
  conec::loop::start_workers_without({SIGHUP, SIGINT, SIGTERM});
  for (auto &command : tree->commands)
    if (command.app->parsed()) return command.run();
  return report_error("no subcommand given (see 'conec --help')", kExitUsage);
}
