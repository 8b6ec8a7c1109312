// Catch2's main for the public API suite, plus CONEC_TEST_LOG=trace|debug|
// info|warn|error to see libconec's log while debugging (default: warnings).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <conec/log.hpp>

#include <cstdlib>
#include <string_view>

int main(int argc, char **argv) {
  if (const char *level = std::getenv("CONEC_TEST_LOG")) {
    std::string_view l = level;
    conec::set_log_level(l == "trace"   ? conec::LogLevel::trace
                         : l == "debug" ? conec::LogLevel::debug
                         : l == "info"  ? conec::LogLevel::info
                         : l == "error" ? conec::LogLevel::error
                                        : conec::LogLevel::warn);
  }
  return Catch::Session().run(argc, argv);
}
