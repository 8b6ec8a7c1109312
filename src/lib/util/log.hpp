#pragma once
// Logging facade: one spdlog logger named "conec" writing to stderr (the
// library never writes to stdout). Secrets are never passed to it.

#include <spdlog/spdlog.h>

#include <string_view>

namespace conec::log {

enum class Format { text, json };

// Configures the shared logger: level (trace..off) and line format. Safe to
// call more than once; the last call wins.
void configure(spdlog::level::level_enum level, Format format = Format::text);

// The shared logger (created on first use at level `warn`).
spdlog::logger &get();

} // namespace conec::log

#define CONEC_LOG(lvl, ...) ::conec::log::get().log(::spdlog::level::lvl, __VA_ARGS__)
#define CONEC_TRACE(...) CONEC_LOG(trace, __VA_ARGS__)
#define CONEC_DEBUG(...) CONEC_LOG(debug, __VA_ARGS__)
#define CONEC_INFO(...) CONEC_LOG(info, __VA_ARGS__)
#define CONEC_WARN(...) CONEC_LOG(warn, __VA_ARGS__)
#define CONEC_ERROR(...) CONEC_LOG(err, __VA_ARGS__)
