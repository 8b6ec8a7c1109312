#pragma once
/// @file
/// @brief How much libconec logs. It writes only to stderr, never to stdout,
/// and never secrets; by default it logs warnings and errors.

#include "conec/export.hpp"

namespace conec {

/// Log levels, most verbose first.
enum class LogLevel { trace, debug, info, warn, error, off };

/// Sets the level of libconec's log (stderr, text lines). Safe to call at any time.
CONEC_API void set_log_level(LogLevel level);

} // namespace conec
