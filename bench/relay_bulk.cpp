// relay_bulk: one-stream bulk transfer between two clients relayed through a
// coordinator, three processes on loopback, for bench/relay.py. Not a test:
// it prints figures (`key value` lines on stdout), it does not judge them,
// but it fails loudly (exit 1, message on stderr) if the data is wrong.
//
//   relay_bulk coordinator [--listen 127.0.0.1:0] [--relay-rate BYTES_PER_S] [--retry never|auto|always]
//       prints "port N" and "fingerprint sha256:..." at once; on SIGTERM or
//       SIGINT prints cpu_s, relayed_bytes and the other relay counters
//       and exits 0. SIGUSR1 prints heap figures (for bench/idle.py).
//   relay_bulk recv --coord ADDR:PORT --pin sha256:... [--id bob] [--bytes N] [--sha256]
//       accepts one channel, reads one incoming stream to its end, verifies
//       every byte (and the total, given --bytes), prints bytes, seconds
//       (first byte to end), cpu_s.
//   relay_bulk send --coord ADDR:PORT --pin sha256:... [--id alice] [--peer bob]
//                   [--bytes N] [--message BYTES] [--sha256]
//       opens a channel to the peer (retrying while it is not registered yet),
//       sends N bytes on one unidirectional stream in messages of 1 MiB with
//       backpressure, finishes, waits until the stream closes cleanly (every
//       byte acknowledged) and prints seconds, goodput_MBps, cpu_s.
//   recv and send exit 1 after --timeout seconds (default 600).
//
// Data check: message i carries its index (8 bytes, little endian) followed
// by a slice of a fixed pseudo-random block that depends on i; the receiver
// compares every message with what it must be (memcmp: cheap enough not to
// distort the figures), so loss, duplication, reordering, truncation and
// corruption all fail the run. --sha256 additionally hashes the whole
// stream on both sides (GnuTLS; costs CPU) and prints `sha256 HEX`.
#include <malloc.h>
#include <sys/resource.h>

#include <gnutls/crypto.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "client/client.hpp"
#include "coord/coordinator.hpp"
#include "loop/loop.hpp"
#include "util/clock.hpp"

using namespace conec;

namespace {

[[noreturn]] void die(const std::string &what) {
  std::fprintf(stderr, "relay_bulk: %s\n", what.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

tls::Identity identity(const std::string &name) {
  tls::CertificateRequest request;
  request.name = name;
  request.validity_days = 1;
  auto id = tls::generate_self_signed(request);
  if (!id) die("identity for " + name + ": " + id.error().describe());
  return *id;
}

// ---- the data pattern --------------------------------------------------

constexpr size_t kPatternSpan = 64 * 1024; // message i starts at offset (i * 4093) % kPatternSpan

struct Pattern {
  Bytes block;
  explicit Pattern(size_t message) : block(message + kPatternSpan) {
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (auto &b : block) { // xorshift64*
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      b = static_cast<uint8_t>((x * 0x2545f4914f6cdd1dULL) >> 56);
    }
  }
  const uint8_t *slice(uint64_t index) const { return block.data() + (index * 4093) % kPatternSpan; }
  // Message `index` of `size` bytes (size >= 8, except a last message of < 8
  // bytes, which holds the low bytes of the index only).
  void fill(Bytes &out, uint64_t index, size_t size) const {
    out.resize(size);
    uint8_t idx[8];
    for (int k = 0; k < 8; ++k) idx[k] = static_cast<uint8_t>(index >> (8 * k));
    size_t head = std::min<size_t>(8, size);
    std::memcpy(out.data(), idx, head);
    if (size > head) std::memcpy(out.data() + head, slice(index), size - head);
  }
  bool check(ByteView m, uint64_t index, size_t size) const {
    if (m.size() != size) return false;
    uint8_t idx[8];
    for (int k = 0; k < 8; ++k) idx[k] = static_cast<uint8_t>(index >> (8 * k));
    size_t head = std::min<size_t>(8, size);
    if (std::memcmp(m.data(), idx, head) != 0) return false;
    return size == head || std::memcmp(m.data() + head, slice(index), size - head) == 0;
  }
};

struct Sha256 {
  gnutls_hash_hd_t h = nullptr;
  Sha256() {
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) die("gnutls_hash_init failed");
  }
  ~Sha256() {
    if (h) gnutls_hash_deinit(h, nullptr);
  }
  void update(ByteView d) { gnutls_hash(h, d.data(), d.size()); }
  std::string hex() {
    uint8_t out[32];
    gnutls_hash_output(h, out);
    std::string s;
    char buf[3];
    for (uint8_t b : out) {
      std::snprintf(buf, sizeof buf, "%02x", b);
      s += buf;
    }
    return s;
  }
};

// ---- options -------------------------------------------------------------

struct Args {
  std::string mode, listen = "127.0.0.1:0", coord, pin, id, peer = "bob";
  uint64_t bytes = uint64_t{1} << 30;
  size_t message = 1 << 20;
  uint64_t relay_rate = 0;  // 0: the coordinator's default budget
  std::string retry = "auto"; // coordinator: never, auto, always
  uint64_t timeout_s = 600; // recv/send give up (exit 1) after this long
  bool sha256 = false;
  bool bytes_given = false;
};

Args parse(int argc, char **argv) {
  Args a;
  a.mode = argc > 1 ? argv[1] : "";
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--sha256") {
      a.sha256 = true;
      continue;
    }
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    try {
      if (k == "--listen")
        a.listen = v;
      else if (k == "--coord")
        a.coord = v;
      else if (k == "--pin")
        a.pin = v;
      else if (k == "--id")
        a.id = v;
      else if (k == "--peer")
        a.peer = v;
      else if (k == "--bytes")
        a.bytes = std::stoull(v), a.bytes_given = true;
      else if (k == "--message")
        a.message = std::stoull(v);
      else if (k == "--relay-rate")
        a.relay_rate = std::stoull(v);
      else if (k == "--retry")
        a.retry = v;
      else if (k == "--timeout")
        a.timeout_s = std::stoull(v);
      else
        die("unknown option " + k);
    } catch (const std::exception &) {
      die("bad value for " + k + ": " + v);
    }
  }
  if (a.id.empty()) a.id = a.mode == "send" ? "alice" : "bob";
  if (a.message < 8 || a.message > proto::kDefaultMaxMessage) die("--message must be 8..16 MiB");
  return a;
}

// ---- coordinator -----------------------------------------------------------

int run_coordinator(const Args &a) {
  loop::Loop loop;
  auto listen = SockAddr::parse(a.listen, 0);
  if (!listen) die(listen.error().describe());
  coord::CoordinatorOptions o;
  o.listen = *listen;
  o.identity = identity("conec-bench-coordinator");
  if (a.relay_rate) o.limits.relay_bytes_per_second = a.relay_rate;
  if (a.relay_rate) o.limits.relay_client_bytes_per_second = a.relay_rate;
  o.admission.retry = a.retry == "never"    ? net::RetryPolicy::never
                      : a.retry == "always" ? net::RetryPolicy::always
                                            : net::RetryPolicy::automatic;
  auto fp = o.identity.fingerprint();
  if (!fp) die(fp.error().describe());
  auto c = coord::Coordinator::create(loop, o);
  if (!c) die(c.error().describe());
  coord::Coordinator &coordinator = **c;
  std::printf("port %u\nfingerprint %s\n", coordinator.local_address().port(), fp->c_str());
  std::fflush(stdout);

  bool stop = false;
  auto on_stop = [&](int) {
    stop = true;
    loop.stop();
  };
  loop::Signal term(loop, SIGTERM, on_stop), intr(loop, SIGINT, on_stop);
  loop::Signal usr1(loop, SIGUSR1, [&](int) {
    struct mallinfo2 mi = mallinfo2();
    std::printf(
        "heap_in_use %zu\nheap_mmapped %zu\nheap_arena %zu\nconnections %zu\nclients %zu\ncpu_s %.3f\n",
        mi.uordblks + mi.hblkhd, mi.hblkhd, mi.arena, coordinator.connection_count(),
        coordinator.clients().size(), cpu_seconds());
    std::printf("end\n");
    std::fflush(stdout);
  });
  while (!stop) loop.run();

  double cpu = cpu_seconds();
  const auto &s = coordinator.stats();
  std::printf("cpu_s %.3f\nrelayed_bytes %llu\nrelayed_datagrams %llu\nrelay_dropped_rate %llu\n"
              "relay_dropped_token %llu\nrelay_dropped_address %llu\nclients_registered %llu\n",
              cpu, (unsigned long long)s.relayed_bytes, (unsigned long long)s.relayed_datagrams,
              (unsigned long long)s.relay_dropped_rate, (unsigned long long)s.relay_dropped_token,
              (unsigned long long)s.relay_dropped_address, (unsigned long long)s.clients_registered);
  const auto &e = coordinator.endpoint_stats();
  std::printf("retries_sent %llu\ninitials_over_limit %llu\ndropped_malformed %llu\n",
              (unsigned long long)e.retries_sent, (unsigned long long)e.initials_over_limit,
              (unsigned long long)e.dropped_malformed);
  std::fflush(stdout);
  coordinator.shutdown();
  Timestamp deadline = monotonic_now() + 300 * kMillisecond;
  while (coordinator.connection_count() > 0 && monotonic_now() < deadline) loop.run_nowait();
  c->reset();
  return 0;
}

// ---- clients ------------------------------------------------------------------

client::ClientOptions client_options(const Args &a) {
  if (a.coord.empty() || a.pin.empty()) die("--coord and --pin are required");
  client::ClientOptions o;
  auto addr = SockAddr::parse(a.coord, 0);
  if (!addr) die(addr.error().describe());
  o.coordinator = *addr;
  o.verify_coordinator.mode = tls::PeerVerification::Mode::pin;
  auto pin = tls::parse_pin(a.pin);
  if (!pin) die(pin.error().describe());
  o.verify_coordinator.pin = *pin;
  o.id = a.id;
  o.identity = identity(a.id);
  return o;
}

struct Events : client::ClientHandler {
  bool registered = false;
  std::optional<Error> disconnected;
  std::function<void(channel::Channel &, channel::Stream &)> stream;
  std::function<void(channel::Channel &, const Error &)> peer_closed;
  void on_registered(client::Client &) override { registered = true; }
  void on_disconnected(client::Client &, const Error &e) override { disconnected = e; }
  void on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) override {
    if (stream) stream(ch, s);
  }
  void on_peer_closed(client::Client &, channel::Channel &ch, const Error &e) override {
    if (peer_closed) peer_closed(ch, e);
  }
};

void wait_registered(loop::Loop &loop, Events &ev, Duration limit) {
  Timestamp deadline = monotonic_now() + limit;
  loop::Timer tick(loop, [] {});
  tick.start(50, 50);
  while (!ev.registered && !ev.disconnected && monotonic_now() < deadline) loop.run_once();
  if (ev.disconnected) die("coordinator connection failed: " + ev.disconnected->describe());
  if (!ev.registered) die("not registered after " + std::to_string(limit / kSecond) + " s");
}

// Receives one stream and checks every message.
struct Receiver : channel::StreamHandler {
  const Pattern &pattern;
  uint64_t message_size;
  std::optional<Sha256> sha;
  uint64_t bytes = 0, messages = 0;
  Timestamp first = 0, last = 0;
  bool ended = false, closed = false;
  std::optional<Error> error;
  Receiver(const Pattern &p, uint64_t m, bool hash) : pattern(p), message_size(m) {
    if (hash) sha.emplace();
  }
  void on_message(channel::Stream &s, Bytes m) override {
    if (!first) first = monotonic_now();
    // Every message is message_size bytes but the last; a short one must be last.
    if (messages > 0 && bytes % message_size != 0)
      fail(s, "message " + std::to_string(messages) + " follows a short message");
    size_t expect = m.size() <= message_size && !m.empty() ? m.size() : message_size;
    if (!pattern.check(m, messages, expect))
      fail(s, "message " + std::to_string(messages) + " (" + std::to_string(m.size()) +
                  " bytes, at stream offset " + std::to_string(bytes) + ") is not what was sent");
    if (sha) sha->update(m);
    bytes += m.size();
    ++messages;
  }
  void fail(channel::Stream &, const std::string &why) { die("data check failed: " + why); }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    last = monotonic_now();
    ended = true;
    if (e) error = e;
  }
  void on_closed(channel::Stream &, const std::optional<Error> &e) override {
    closed = true;
    if (e && !error) error = e;
  }
};

// Exits 1 if the run takes longer than --timeout seconds.
std::unique_ptr<loop::Timer> watchdog(loop::Loop &loop, const Args &a) {
  auto t = std::make_unique<loop::Timer>(
      loop, [s = a.timeout_s] { die("gave up after " + std::to_string(s) + " s"); });
  t->keep_alive(false);
  t->start(a.timeout_s * 1000);
  return t;
}

int run_recv(const Args &a) {
  loop::Loop loop;
  auto guard = watchdog(loop, a);
  Events ev;
  Pattern pattern(a.message);
  std::unique_ptr<Receiver> rx;
  bool peer_gone = false;
  ev.stream = [&](channel::Channel &, channel::Stream &s) {
    if (rx) {
      s.reset();
      return;
    }
    rx = std::make_unique<Receiver>(pattern, a.message, a.sha256);
    s.set_handler(*rx);
  };
  ev.peer_closed = [&](channel::Channel &, const Error &) { peer_gone = true; };
  auto c = client::Client::create(loop, client_options(a), ev);
  if (!c) die(c.error().describe());
  double cpu0 = cpu_seconds();
  wait_registered(loop, ev, 15 * kSecond);
  std::printf("registered %s\n", a.id.c_str());
  std::fflush(stdout);
  while (!(rx && rx->ended) && !ev.disconnected && !(peer_gone && !rx)) loop.run_once();
  if (ev.disconnected) die("coordinator connection lost: " + ev.disconnected->describe());
  if (!rx) die("the peer channel closed before any stream arrived");
  if (rx->error)
    die("stream ended abnormally after " + std::to_string(rx->bytes) + " bytes: " + rx->error->describe());
  if (a.bytes_given && rx->bytes != a.bytes)
    die("received " + std::to_string(rx->bytes) + " bytes, expected " + std::to_string(a.bytes));
  double cpu = cpu_seconds() - cpu0;
  double secs = double(rx->last - rx->first) / 1e9;
  std::printf("bytes %llu\nmessages %llu\nseconds %.3f\ncpu_s %.3f\n", (unsigned long long)rx->bytes,
              (unsigned long long)rx->messages, secs, cpu);
  if (rx->sha) std::printf("sha256 %s\n", rx->sha->hex().c_str());
  std::fflush(stdout);
  // Stay until the sender has seen its stream close and closes the channel
  // (leaving first could cut the last acknowledgements short).
  Timestamp deadline = monotonic_now() + 5 * kSecond;
  loop::Timer tick(loop, [] {});
  tick.start(50, 50);
  while (!peer_gone && !ev.disconnected && monotonic_now() < deadline) loop.run_once();
  tick.stop();
  (*c)->close();
  deadline = monotonic_now() + 200 * kMillisecond;
  while (monotonic_now() < deadline && loop.run_nowait()) {
  }
  return 0;
}

struct Sender : channel::StreamHandler {
  std::function<void()> pump;
  bool closed = false;
  std::optional<Error> error;
  void on_writable(channel::Stream &) override { pump(); }
  void on_closed(channel::Stream &, const std::optional<Error> &e) override {
    closed = true;
    error = e;
  }
};

int run_send(const Args &a) {
  loop::Loop loop;
  auto guard = watchdog(loop, a);
  Events ev;
  Timestamp start = monotonic_now();
  auto c = client::Client::create(loop, client_options(a), ev);
  if (!c) die(c.error().describe());
  client::Client &client = **c;
  wait_registered(loop, ev, 15 * kSecond);

  // Channel to the peer; it may not have registered yet.
  channel::Channel *ch = nullptr;
  Timestamp deadline = monotonic_now() + 15 * kSecond;
  for (;;) {
    std::optional<Result<channel::Channel *>> outcome;
    client.open_channel(a.peer, [&](Result<channel::Channel *> r) { outcome = std::move(r); });
    while (!outcome && !ev.disconnected) loop.run_once();
    if (ev.disconnected) die("coordinator connection lost: " + ev.disconnected->describe());
    if (*outcome) {
      ch = **outcome;
      break;
    }
    const Error &e = outcome->error();
    bool unknown = e.category == ErrorCategory::peer && e.code == int64_t(proto::RefuseCode::unknown_peer);
    if (!unknown || monotonic_now() > deadline) die("channel to " + a.peer + ": " + e.describe());
    loop::Timer wait(loop, [] {});
    wait.start(100);
    while (wait.active()) loop.run_once();
  }
  Timestamp channel_open = monotonic_now();
  bool channel_closed = false;
  std::optional<Error> channel_error;
  ev.peer_closed = [&](channel::Channel &, const Error &e) {
    channel_closed = true;
    channel_error = e;
    ch = nullptr;
  };

  auto s = ch->open_stream(false);
  if (!s) die("open_stream: " + s.error().describe());
  channel::Stream stream = *s;
  Sender tx;
  stream.set_handler(tx);
  Pattern pattern(a.message);
  std::optional<Sha256> sha;
  if (a.sha256) sha.emplace();
  Bytes m;
  uint64_t sent = 0, index = 0;
  bool finished = false;
  tx.pump = [&] {
    while (sent < a.bytes) {
      size_t n = size_t(std::min<uint64_t>(a.message, a.bytes - sent));
      pattern.fill(m, index++, n);
      if (sha) sha->update(m);
      sent += n;
      auto w = stream.send(m);
      if (!w) die("send: " + w.error().describe());
      if (*w == quic::WriteState::would_block) return;
    }
    if (!finished) {
      finished = true;
      if (auto r = stream.finish(); !r) die("finish: " + r.error().describe());
    }
  };
  double cpu0 = cpu_seconds();
  Timestamp t0 = monotonic_now();
  tx.pump();
  while (!tx.closed && !channel_closed && !ev.disconnected) loop.run_once();
  Timestamp t1 = monotonic_now();
  double cpu = cpu_seconds() - cpu0;
  if (!tx.closed)
    die("channel closed during the transfer: " + (channel_error ? channel_error->describe() : "?"));
  if (tx.error)
    die("stream closed with an error after " + std::to_string(sent) + " bytes: " + tx.error->describe());
  if (sent != a.bytes || !finished) die("sender stopped early");
  double secs = double(t1 - t0) / 1e9;
  std::printf("bytes %llu\nseconds %.3f\ngoodput_MBps %.1f\ncpu_s %.3f\nsetup_s %.3f\n",
              (unsigned long long)sent, secs, double(sent) / secs / 1e6, cpu,
              double(channel_open - start) / 1e9);
  if (sha) std::printf("sha256 %s\n", sha->hex().c_str());
  if (ch) {
    auto st = ch->session().stats();
    std::printf("srtt_us %.0f\npmtu %zu\n", double(st.smoothed_rtt) / 1e3, st.max_udp_payload);
  }
  std::fflush(stdout);
  client.close();
  deadline = monotonic_now() + 200 * kMillisecond;
  while (monotonic_now() < deadline && loop.run_nowait()) {
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Args a = parse(argc, argv);
  if (a.mode == "coordinator") return run_coordinator(a);
  if (a.mode == "recv") return run_recv(a);
  if (a.mode == "send") return run_send(a);
  std::fprintf(stderr, "usage: relay_bulk coordinator [--listen ADDR:PORT] [--relay-rate B/s]\n"
                       "       relay_bulk recv --coord ADDR:PORT --pin sha256:... [--id bob] [--sha256]\n"
                       "       relay_bulk send --coord ADDR:PORT --pin sha256:... [--id alice] [--peer bob] "
                       "[--bytes N] [--message B] [--sha256]\n"
                       "       (recv and send: [--timeout S], default 600)\n");
  return 2;
}
