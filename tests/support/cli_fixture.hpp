#pragma once
// A real `conec coordinator` process on a free loopback port, and helpers
// to run client subcommands against it (tests/cli/).

#include <string>
#include <vector>

#include "support/process.hpp"

namespace conec::test {

std::string make_temp_dir();
void remove_tree(const std::string &dir);

struct CliCoordinator {
  // Starts `conec coordinator` with `extra` arguments and waits for its
  // banner; --listen 127.0.0.1:0 unless `extra` has a --listen.
  explicit CliCoordinator(const std::string &state_dir, std::vector<std::string> extra = {});
  // The same with another program (argv head) that prints the same banner
  // lines, such as CONEC_ROGUE_BINARY; `state_dir` is only remembered.
  CliCoordinator(std::vector<std::string> program, const std::string &state_dir, std::vector<std::string> extra);
  // Arguments that point a client subcommand at this coordinator.
  std::vector<std::string> client_args() const;
  Process process;
  bool ready = false;
  uint16_t port = 0;
  std::string fingerprint, state_dir;
};

// argv for `conec <words...> <coordinator args>`.
std::vector<std::string> conec_argv(const CliCoordinator &coord, std::vector<std::string> words);

// Writes `size` pseudo-random bytes to `path`; returns their SHA-256 hex.
std::string write_random_file(const std::string &path, size_t size, uint64_t seed);
// SHA-256 hex of a file's contents ("" if unreadable).
std::string file_sha256(const std::string &path);

} // namespace conec::test
