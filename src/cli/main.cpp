// conec: the command-line tool. Placeholder until the CLI issue; prints version.
#include <CLI/CLI.hpp>
#include <cstdio>

int main(int argc, char **argv) {
  CLI::App app{"conec - COordinated NEtwork Channels over QUIC"};
  app.set_version_flag("-V,--version", std::string("conec ") + CONEC_VERSION);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
