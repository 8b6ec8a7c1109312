// End-to-end backpressure with real processes: a fast producer piping into
// `conec send` and a slow consumer reading `conec recv`'s output. Every
// process must stay within bounded memory rather than buffer the transfer.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <thread>

#include "support/cli_fixture.hpp"
#include "support/loopback.hpp"

using namespace conec;
using test::CliCoordinator;
using test::Process;

namespace {

// Resident set size of a live process, in bytes (0 if it is gone).
size_t rss_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

} // namespace

TEST_CASE("a fast producer and a slow consumer keep every process's memory bounded", "[cli][backpressure]") {
  constexpr size_t kTotal = size_t{256} << 20;
  // Growth over each process's idle footprint: far below what buffering the
  // transfer would take (a quarter of it).
  constexpr size_t kGrowth = size_t{64} << 20;
#if defined(__SANITIZE_ADDRESS__)
  // ASan parks freed memory in a quarantine (256 MiB by default), which
  // would count as resident here; without it RSS shows what is really held.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  setenv("ASAN_OPTIONS", (asan + ":quarantine_size_mb=0").c_str(), 1);
#endif
  std::string dir = test::make_temp_dir();
  CliCoordinator coord(dir);
  REQUIRE(coord.ready);
  std::string in = dir + "/in", out = dir + "/out";
  REQUIRE(mkfifo(in.c_str(), 0600) == 0);
  REQUIRE(mkfifo(out.c_str(), 0600) == 0);

  Process bob(test::conec_argv(coord, {"recv", "-i", "bob", "-o", out, "-v"}));
  // Opening a fifo blocks until both ends exist: start the reader thread first.
  std::atomic<size_t> consumed{0};
  test::Sha256 got;
  std::thread consumer([&] {
    int fd = open(out.c_str(), O_RDONLY);
    std::vector<uint8_t> buf(256 * 1024);
    for (ssize_t n; (n = read(fd, buf.data(), buf.size())) > 0;) {
      got.update(ByteView(buf.data(), size_t(n)));
      consumed += size_t(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(2)); // ~100 MB/s at most: slower than the network
    }
    close(fd);
  });
  REQUIRE(bob.wait_for_stderr("registered as"));
  // Idle footprints (sanitizer builds have large fixed overheads).
  size_t base_client = rss_of(bob.pid), base_coord = rss_of(coord.process.pid);
  Process alice(test::conec_argv(coord, {"send", "bob", in, "--no-progress"}));
  test::Sha256 sent;
  std::thread producer([&] {
    int fd = open(in.c_str(), O_WRONLY);
    for (size_t off = 0, i = 0; off < kTotal; ++i) {
      Bytes block = test::pattern_block(77, i, 1 << 20);
      sent.update(block);
      for (size_t w = 0; w < block.size();) {
        ssize_t n = write(fd, block.data() + w, block.size() - w);
        if (n <= 0) break;
        w += size_t(n);
      }
      off += block.size();
    }
    close(fd);
  });
  size_t peak_alice = 0, peak_bob = 0, peak_coord = 0;
  for (int i = 0; i < 1200 && consumed < kTotal; ++i) {
    peak_alice = std::max(peak_alice, rss_of(alice.pid));
    peak_bob = std::max(peak_bob, rss_of(bob.pid));
    peak_coord = std::max(peak_coord, rss_of(coord.process.pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  producer.join();
  CHECK(alice.wait(60) == 0);
  CHECK(bob.wait(60) == 0);
  consumer.join();
  CHECK(consumed == kTotal);
  CHECK(got.hex() == sent.hex());
  INFO("idle RSS: client " << (base_client >> 20) << " MiB, coordinator " << (base_coord >> 20) << " MiB");
  INFO("peak RSS: send " << (peak_alice >> 20) << " MiB, recv " << (peak_bob >> 20) << " MiB, coordinator "
                         << (peak_coord >> 20) << " MiB");
  CHECK(peak_alice > 0);
  CHECK(peak_alice < base_client + kGrowth);
  CHECK(peak_bob < base_client + kGrowth);
  CHECK(peak_coord < base_coord + kGrowth);
  test::remove_tree(dir);
}
