#include "util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace conec::log {

static std::shared_ptr<spdlog::logger> make_logger() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("conec", sink);
  logger->set_level(spdlog::level::warn);
  logger->set_pattern("conec: %l: %v");
  return logger;
}

spdlog::logger &get() {
  static std::shared_ptr<spdlog::logger> logger = make_logger();
  return *logger;
}

void configure(spdlog::level::level_enum level, Format format) {
  auto &logger = get();
  logger.set_level(level);
  if (format == Format::json) {
    // Messages are ours (no user bytes), so plain escaping of quotes suffices.
    logger.set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);
  } else {
    logger.set_pattern(level <= spdlog::level::debug ? "conec: %H:%M:%S.%e %l: %v" : "conec: %l: %v");
  }
}

} // namespace conec::log
