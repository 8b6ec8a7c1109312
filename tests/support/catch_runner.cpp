// Catch2's runner, compiled once for every test executable (it is the
// slowest file to compile). CONEC_TEST_LOG=trace|debug|info|warn|error shows
// the library's log while debugging a test (default: warnings only); each
// test main says how to set it (conec_test_log_level).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

void conec_test_log_level(const char *level);

int main(int argc, char **argv) {
  if (const char *level = std::getenv("CONEC_TEST_LOG")) conec_test_log_level(level);
  return Catch::Session().run(argc, argv);
}
