#include "support/cli_fixture.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "support/loopback.hpp"

namespace conec::test {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/conec-test-XXXXXX";
  return mkdtemp(tmpl);
}

void remove_tree(const std::string &dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

CliCoordinator::CliCoordinator(const std::string &dir, std::vector<std::string> extra)
    : CliCoordinator({CONEC_BINARY, "coordinator", "--state-dir", dir}, dir, std::move(extra)) {}

CliCoordinator::CliCoordinator(std::vector<std::string> program, const std::string &dir,
                               std::vector<std::string> extra)
    : process([&] {
        std::vector<std::string> argv = std::move(program);
        if (std::find(extra.begin(), extra.end(), "--listen") == extra.end())
          argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
      }()),
      state_dir(dir) {
  ready = process.wait_for_stderr("clients connect with:");
  std::smatch m;
  if (std::regex_search(process.err, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")))
    port = static_cast<uint16_t>(std::stoi(m[1]));
  if (std::regex_search(process.err, m, std::regex("fingerprint: (sha256:[0-9a-f]{64})"))) fingerprint = m[1];
}

std::vector<std::string> CliCoordinator::client_args() const {
  return {"-c", "127.0.0.1:" + std::to_string(port), "--pin", fingerprint, "--state-dir", state_dir};
}

std::vector<std::string> conec_argv(const CliCoordinator &coord, std::vector<std::string> words) {
  std::vector<std::string> argv{CONEC_BINARY};
  argv.insert(argv.end(), words.begin(), words.end());
  auto extra = coord.client_args();
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::string write_random_file(const std::string &path, size_t size, uint64_t seed) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  Sha256 hash;
  for (size_t off = 0, i = 0; off < size; ++i) {
    size_t n = std::min<size_t>(1 << 20, size - off);
    Bytes block = pattern_block(seed, i, n);
    std::fwrite(block.data(), 1, n, f);
    hash.update(block);
    off += n;
  }
  std::fclose(f);
  return hash.hex();
}

std::string file_sha256(const std::string &path) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  Sha256 hash;
  uint8_t buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) hash.update(ByteView(buf, n));
  std::fclose(f);
  return hash.hex();
}

} // namespace conec::test
