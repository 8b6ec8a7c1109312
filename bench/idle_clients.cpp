// idle_clients: many registered, idle conec clients in one process, for
// bench/idle.py (the coordinator's memory and CPU per idle client). Not a
// test: it prints figures (`key value` lines on stdout); it exits 1 with a
// message if a client fails to register or drops while idle.
//
//   idle_clients --coord ADDR:PORT --pin sha256:... [--count 1000] [--prefix c]
//                [--concurrency 0] [--identities DIR] [--key ecdsa|ed25519]
//
// Raises RLIMIT_NOFILE to the hard limit (every client has its own UDP
// socket), makes one self-signed identity per client (ids PREFIX0 ..
// PREFIX{N-1}; with --identities DIR they are loaded from / saved to DIR so
// later runs skip generation), starts every client (at most --concurrency
// registrations in flight; 0 = all at once), and once all are registered
// prints
//   identity_seconds S   generating (or loading) the identities
//   registered N
//   seconds S            first Client::create to the last Welcome
//   rss_kib K            this process's VmRSS
//   ready
// then stays idle (keepalives only) until SIGTERM/SIGINT, when it prints
// `disconnected D` (clients lost while idle; also reported as they happen
// on stderr) and `cpu_s X`, closes every client and exits (1 if D > 0).
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "loop/loop.hpp"
#include "util/clock.hpp"

using namespace conec;

namespace {

[[noreturn]] void die(const std::string &what) {
  std::fprintf(stderr, "idle_clients: %s\n", what.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long vm_rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

struct Counters {
  size_t registered = 0;
  size_t failed = 0;
  size_t lost_idle = 0;
  bool idle = false;
  bool closing = false; // we close them ourselves: not a failure
};

struct Events : client::ClientHandler {
  Counters &counters;
  std::string id;
  bool registered = false;
  Events(Counters &c, std::string i) : counters(c), id(std::move(i)) {}
  void on_registered(client::Client &) override {
    registered = true;
    ++counters.registered;
  }
  void on_disconnected(client::Client &, const Error &e) override {
    if (counters.closing) return;
    std::fprintf(stderr, "idle_clients: %s: %s%s\n", id.c_str(),
                 registered ? "disconnected: " : "not registered: ", e.describe().c_str());
    if (!registered)
      ++counters.failed;
    else if (counters.idle)
      ++counters.lost_idle;
    if (registered) --counters.registered;
    registered = false;
  }
};

std::vector<tls::Identity> identities(const std::string &prefix, size_t count, const std::string &dir,
                                      tls::KeyType key) {
  std::vector<tls::Identity> out;
  out.reserve(count);
  if (!dir.empty()) ::mkdir(dir.c_str(), 0700);
  for (size_t i = 0; i < count; ++i) {
    std::string id = prefix + std::to_string(i);
    std::string cert = dir + "/" + id + ".pem", keyfile = dir + "/" + id + ".key";
    if (!dir.empty()) {
      if (auto loaded = tls::Identity::load(cert, keyfile)) {
        out.push_back(std::move(*loaded));
        continue;
      }
    }
    tls::CertificateRequest request;
    request.name = id;
    request.key_type = key;
    request.validity_days = 30;
    auto made = tls::generate_self_signed(request);
    if (!made) die("identity for " + id + ": " + made.error().describe());
    if (!dir.empty())
      if (auto r = made->save(cert, keyfile); !r) die(r.error().describe());
    out.push_back(std::move(*made));
  }
  return out;
}

} // namespace

int main(int argc, char **argv) {
  std::string coord, pin, prefix = "c", dir;
  size_t count = 1000, concurrency = 0;
  tls::KeyType key = tls::KeyType::ecdsa_p256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    try {
      if (k == "--coord")
        coord = v;
      else if (k == "--pin")
        pin = v;
      else if (k == "--count")
        count = std::stoul(v);
      else if (k == "--prefix")
        prefix = v;
      else if (k == "--concurrency")
        concurrency = std::stoul(v);
      else if (k == "--identities")
        dir = v;
      else if (k == "--key")
        key = v == "ed25519" ? tls::KeyType::ed25519 : tls::KeyType::ecdsa_p256;
      else
        die("unknown option " + k);
    } catch (const std::exception &) {
      die("bad value for " + k + ": " + v);
    }
  }
  if (coord.empty() || pin.empty() || count == 0) {
    std::fprintf(stderr, "usage: idle_clients --coord ADDR:PORT --pin sha256:... [--count N] [--prefix c] "
                         "[--concurrency K] [--identities DIR] [--key ecdsa|ed25519]\n");
    return 2;
  }

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) die("setrlimit(RLIMIT_NOFILE)");
  if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < count + 64)
    die("RLIMIT_NOFILE hard limit " + std::to_string(nofile.rlim_cur) + " is too low for " +
        std::to_string(count) + " clients (one UDP socket each)");

  client::ClientOptions base;
  auto addr = SockAddr::parse(coord, 0);
  if (!addr) die(addr.error().describe());
  base.coordinator = *addr;
  base.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
  auto p = tls::parse_pin(pin);
  if (!p) die(p.error().describe());
  base.verify_coordinator.pin = *p;

  Timestamp g0 = monotonic_now();
  std::vector<tls::Identity> ids = identities(prefix, count, dir, key);
  double identity_seconds = double(monotonic_now() - g0) / 1e9;
  std::printf("identity_seconds %.3f\n", identity_seconds);
  std::fflush(stdout);

  loop::Loop loop;
  Counters counters;
  std::vector<std::unique_ptr<Events>> events;
  std::vector<std::unique_ptr<client::Client>> clients;
  events.reserve(count);
  clients.reserve(count);
  bool stop = false;
  auto on_stop = [&](int) {
    stop = true;
    loop.stop();
  };
  loop::Signal term(loop, SIGTERM, on_stop), intr(loop, SIGINT, on_stop);

  Timestamp t0 = monotonic_now();
  auto start_more = [&] {
    while (clients.size() < count &&
           (concurrency == 0 || clients.size() - counters.registered - counters.failed < concurrency)) {
      size_t i = clients.size();
      client::ClientOptions o = base;
      o.id = prefix + std::to_string(i);
      o.identity = std::move(ids[i]);
      events.push_back(std::make_unique<Events>(counters, o.id));
      auto c = client::Client::create(loop, std::move(o), *events.back());
      if (!c) die("client " + std::to_string(i) + ": " + c.error().describe());
      clients.push_back(std::move(*c));
    }
  };
  start_more();
  while (!stop && counters.registered + counters.failed < count) {
    loop.run_once();
    start_more();
  }
  if (stop)
    die("interrupted before every client registered (" + std::to_string(counters.registered) + " of " +
        std::to_string(count) + ")");
  if (counters.failed) die(std::to_string(counters.failed) + " clients failed to register");
  double secs = double(monotonic_now() - t0) / 1e9;
  counters.idle = true;
  std::printf("registered %zu\nseconds %.3f\nrss_kib %ld\nready\n", counters.registered, secs, vm_rss_kib());
  std::fflush(stdout);

  while (!stop) loop.run();
  std::printf("disconnected %zu\nstill_registered %zu\ncpu_s %.3f\n", counters.lost_idle, counters.registered,
              cpu_seconds());
  std::fflush(stdout);
  counters.closing = true;
  for (auto &c : clients) c->close();
  Timestamp deadline = monotonic_now() + 300 * kMillisecond;
  while (monotonic_now() < deadline && loop.run_nowait()) {
  }
  clients.clear();
  return counters.lost_idle ? 1 : 0;
}
