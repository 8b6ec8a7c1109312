#pragma once
// Logging facade: one spdlog logger named "conec" writing to stderr (the
// library never writes to stdout). Secrets are never passed to it.
//
// Messages may contain text a remote peer chose (ids, close and refusal
// reasons); the logger's formatter escapes every message, so call sites pass
// such text as is. JSON lines are one object per line whose "msg" is
// JSON-escaped (quotes, backslash, control characters, malformed UTF-8 as
// U+FFFD); text lines show control characters as visible escapes (\x1b, \n;
// util/escape.hpp). Change the format only through configure(): spdlog's
// set_pattern() would install a formatter that writes messages raw.

#include <spdlog/spdlog.h>

#include <string_view>

namespace conec::log {

enum class Format { text, json };

// Configures the shared logger: level (trace..off) and line format. Safe to
// call more than once; the last call wins.
void configure(spdlog::level::level_enum level, Format format = Format::text);

// The shared logger (created on first use at level `warn`, text format).
spdlog::logger &get();

// Writes `line` to stderr whatever the log level (callers honour --quiet):
// as is (escaped) in text format, as an "info" record in JSON format, so
// that with --log-format json every line on stderr is a JSON object.
void notice(std::string_view line);

// Writes the command's final error: "conec: error: <message>" in text
// format, an "error" record with msg <message> in JSON format.
void error_line(std::string_view message);

} // namespace conec::log

#define CONEC_LOG(lvl, ...) ::conec::log::get().log(::spdlog::level::lvl, __VA_ARGS__)
#define CONEC_TRACE(...) CONEC_LOG(trace, __VA_ARGS__)
#define CONEC_DEBUG(...) CONEC_LOG(debug, __VA_ARGS__)
#define CONEC_INFO(...) CONEC_LOG(info, __VA_ARGS__)
#define CONEC_WARN(...) CONEC_LOG(warn, __VA_ARGS__)
#define CONEC_ERROR(...) CONEC_LOG(err, __VA_ARGS__)
