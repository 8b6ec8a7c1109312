// The internal suites' log level (tests/support/catch_runner.cpp).
#include "util/log.hpp"

void conec_test_log_level(const char *level) { conec::log::configure(spdlog::level::from_str(level)); }
