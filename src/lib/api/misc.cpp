// Small public functions: version() and set_log_level().
#include "conec/log.hpp"
#include "conec/version.hpp"
#include "util/log.hpp"

namespace conec {

std::string_view version() { return CONEC_VERSION; }

void set_log_level(LogLevel level) {
  static constexpr spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug,
                                                         spdlog::level::info,  spdlog::level::warn,
                                                         spdlog::level::err,   spdlog::level::off};
  log::configure(levels[static_cast<int>(level)]);
}

} // namespace conec
