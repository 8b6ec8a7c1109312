// The log formatter escapes every message, in both formats.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/log.hpp"

using namespace conec;

namespace {

// Runs `body` with stderr redirected to a temporary file; returns what was written.
template <class F> std::string capture_stderr(F body) {
  char path[] = "/tmp/conec-log-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  unlink(path);
  return text.str();
}

const std::string kForged = "id\"},{\"level\":\"error\",\"msg\":\"forged\n\x1b[2J\xff";

} // namespace

TEST_CASE("JSON log lines escape the message", "[util][log]") {
  std::string out = capture_stderr([] {
    log::configure(spdlog::level::info, log::Format::json);
    CONEC_INFO("refused '{}'", kForged);
    log::error_line("reason: " + kForged);
    log::configure(spdlog::level::warn, log::Format::text);
  });
  INFO(out);
  std::string escaped = R"(id\"},{\"level\":\"error\",\"msg\":\"forged\n\u001b[2J\ufffd)";
  CHECK(out.find(R"("level":"info","msg":"refused ')" + escaped + "'\"}\n") != std::string::npos);
  CHECK(out.find(R"("level":"error","msg":"reason: )" + escaped + "\"}\n") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 2);
  CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("text log lines show control characters escaped", "[util][log]") {
  std::string out = capture_stderr([] {
    log::configure(spdlog::level::info, log::Format::text);
    CONEC_WARN("closed: {}", kForged);
    log::error_line(kForged);
    log::notice("banner line");
    log::configure(spdlog::level::warn, log::Format::text);
  });
  std::string escaped = R"(id"},{"level":"error","msg":"forged\n\x1b[2J\xff)";
  CHECK(out == "conec: warning: closed: " + escaped + "\nconec: error: " + escaped + "\nbanner line\n");
}
