// Test main: Catch2's, plus CONEC_TEST_LOG=trace|debug|info to see the
// library's log lines while debugging a test (default: warnings only).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "util/log.hpp"

int main(int argc, char **argv) {
  if (const char *level = std::getenv("CONEC_TEST_LOG"))
    conec::log::configure(spdlog::level::from_str(level));
  return Catch::Session().run(argc, argv);
}
