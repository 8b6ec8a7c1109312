#include "util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "util/escape.hpp"

namespace conec::log {
namespace {

// Log messages carry peer-chosen text (ids, close and refusal reasons), so
// the message is never written raw: these two pattern flags replace spdlog's
// %v. Escaping here, in the formatter, means no call site can forget it.
constexpr char kJsonMessageFlag = 'j'; // the message as the inside of a JSON string
constexpr char kTextMessageFlag = 'k'; // the message with control characters made visible

constexpr const char *kJsonPattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%j"})";

class EscapedMessage final : public spdlog::custom_flag_formatter {
public:
  explicit EscapedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg &msg, const std::tm &, spdlog::memory_buf_t &dest) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string escaped;
    if (json_) append_json_escaped(escaped, text);
    else append_printable(escaped, text);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<EscapedMessage>(json_); }

private:
  bool json_;
};

void set_pattern(spdlog::logger &logger, Format format, std::string text_pattern) {
  bool json = format == Format::json;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(json ? spdlog::pattern_time_type::utc
                                                                    : spdlog::pattern_time_type::local);
  formatter->add_flag<EscapedMessage>(kJsonMessageFlag, true);
  formatter->add_flag<EscapedMessage>(kTextMessageFlag, false);
  formatter->set_pattern(json ? std::string(kJsonPattern) : std::move(text_pattern));
  logger.set_formatter(std::move(formatter));
}

struct Loggers {
  Loggers() {
    // A formatter belongs to a sink, so each logger has its own (console
    // sinks share one lock, so lines never interleave).
    log = std::make_shared<spdlog::logger>("conec", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    log->set_level(spdlog::level::warn);
    // Lines for the user whatever the log level (banner, final error).
    user = std::make_shared<spdlog::logger>("conec-user", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    user->set_level(spdlog::level::trace);
    apply(spdlog::level::warn, Format::text);
  }
  void apply(spdlog::level::level_enum level, Format f) {
    format = f;
    log->set_level(level);
    set_pattern(*log, f, level <= spdlog::level::debug ? "conec: %H:%M:%S.%e %l: %k" : "conec: %l: %k");
    set_pattern(*user, f, "%k");
  }
  std::shared_ptr<spdlog::logger> log, user;
  Format format = Format::text;
};

Loggers &loggers() {
  static Loggers instance;
  return instance;
}

} // namespace

spdlog::logger &get() { return *loggers().log; }

void configure(spdlog::level::level_enum level, Format format) { loggers().apply(level, format); }

void notice(std::string_view line) { loggers().user->info("{}", line); }

void error_line(std::string_view message) {
  Loggers &l = loggers();
  if (l.format == Format::json) l.user->error("{}", message);
  else l.user->error("conec: error: {}", message);
}

} // namespace conec::log
