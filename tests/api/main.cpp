// The API suite sets the log level through the public API alone
// (tests/support/catch_runner.cpp has main).
#include <conec/log.hpp>

#include <string_view>

void conec_test_log_level(const char *level) {
  std::string_view l = level;
  conec::set_log_level(l == "trace"   ? conec::LogLevel::trace
                       : l == "debug" ? conec::LogLevel::debug
                       : l == "info"  ? conec::LogLevel::info
                       : l == "error" ? conec::LogLevel::error
                                      : conec::LogLevel::warn);
}
