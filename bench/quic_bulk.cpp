// quic_bulk: one-stream QUIC bulk transfer between two processes, for
// bench/bulk.sh. Not a test: it prints figures, it does not judge them.
//
//   quic_bulk server [--listen ADDR:PORT]   prints "port N" on stdout, serves one client
//   quic_bulk client --connect ADDR:PORT --bytes N
//
// The server echoes the first message of every bidirectional stream that
// starts with "echo", and answers the bulk stream's end with the byte count
// it received. Each side prints its CPU seconds (user+sys) on exit.
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "loop/loop.hpp"
#include "net/endpoint.hpp"
#include "util/clock.hpp"

using namespace conec;

static double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static tls::Identity identity(const char *name) {
  tls::CertificateRequest request;
  request.name = name;
  request.validity_days = 1;
  auto id = tls::generate_self_signed(request);
  if (!id) {
    std::fprintf(stderr, "quic_bulk: %s\n", id.error().describe().c_str());
    std::exit(1);
  }
  return *id;
}

struct Server : quic::ConnectionHandler {
  loop::Loop &loop;
  std::unique_ptr<net::Session> session;
  std::map<quic::StreamId, uint64_t> counts;
  bool done = false;
  explicit Server(loop::Loop &l) : loop(l) {}
  void on_stream_data(quic::StreamId id, ByteView d, bool fin) override {
    uint64_t &n = counts[id];
    if (n == 0 && d.size() >= 4 && std::memcmp(d.data(), "echo", 4) == 0) {
      (void)session->write(id, Bytes(d.begin(), d.end()), true);
    }
    n += d.size();
    session->consume(id, d.size());
    if (fin && n > 4) (void)session->write(id, to_bytes(std::to_string(n)), true);
  }
  void on_connection_closed(const Error &) override {
    done = true;
    loop.stop();
  }
};

static int run_server(const std::string &listen) {
  loop::Loop loop;
  auto bind = SockAddr::parse(listen, 0);
  if (!bind) return std::fprintf(stderr, "quic_bulk: %s\n", bind.error().describe().c_str()), 2;
  net::EndpointOptions o;
  o.bind = *bind;
  o.server_credentials = *tls::Credentials::create(identity("bench-server"), tls::PeerVerification::any());
  auto ep = net::Endpoint::create(loop, o);
  if (!ep) return std::fprintf(stderr, "quic_bulk: %s\n", ep.error().describe().c_str()), 1;
  Server server(loop);
  (*ep)->on_accept = [&](std::unique_ptr<net::Session> s) {
    server.session = std::move(s);
    server.session->set_handler(server);
  };
  std::printf("port %u\n", (*ep)->local_address().port());
  std::fflush(stdout);
  while (!server.done) loop.run_once();
  std::fprintf(stderr, "server_cpu_s %.3f\n", cpu_seconds());
  server.session.reset();
  ep->reset();
  return 0;
}

struct Client : quic::ConnectionHandler {
  loop::Loop &loop;
  net::Session *session = nullptr;
  bool handshake = false, echoed = false, finished = false;
  std::optional<Error> closed;
  Timestamp handshake_at = 0, echo_at = 0;
  quic::StreamId echo_id = -1, bulk_id = -1;
  std::string reply;
  std::function<void()> pump;
  explicit Client(loop::Loop &l) : loop(l) {}
  void on_handshake_completed() override {
    handshake = true;
    handshake_at = monotonic_now();
    // Stream credit arrives with the handshake: send the echo request now.
    auto echo = session->open_stream(true);
    if (!echo) {
      closed = echo.error();
      return;
    }
    echo_id = *echo;
    (void)session->write(echo_id, to_bytes("echo hello"), true);
  }
  void on_stream_data(quic::StreamId id, ByteView d, bool fin) override {
    session->consume(id, d.size());
    if (id == echo_id && fin) {
      echoed = true;
      echo_at = monotonic_now();
    }
    if (id == bulk_id) {
      reply.append(as_chars(d));
      finished |= fin;
    }
  }
  void on_stream_writable(quic::StreamId) override { pump(); }
  void on_connection_closed(const Error &e) override { closed = e; }
};

static int run_client(const std::string &connect, uint64_t bytes) {
  loop::Loop loop;
  auto remote = SockAddr::parse(connect, 0);
  if (!remote) return std::fprintf(stderr, "quic_bulk: %s\n", remote.error().describe().c_str()), 2;
  net::EndpointOptions o;
  o.bind = SockAddr::any(remote->family(), 0);
  auto ep = net::Endpoint::create(loop, o);
  if (!ep) return std::fprintf(stderr, "quic_bulk: %s\n", ep.error().describe().c_str()), 1;
  auto creds = *tls::Credentials::create(identity("bench-client"), tls::PeerVerification::any());
  Client client(loop);
  Timestamp start = monotonic_now();
  auto session = (*ep)->connect(*remote, creds, "bench-server", client);
  if (!session) return std::fprintf(stderr, "quic_bulk: %s\n", session.error().describe().c_str()), 1;
  client.session = session->get();
  while (!client.echoed && !client.closed) loop.run_once();
  if (client.closed) return std::fprintf(stderr, "quic_bulk: %s\n", client.closed->describe().c_str()), 1;

  Bytes block(256 * 1024);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 131 + 7);
  uint64_t sent = 0;
  client.bulk_id = *client.session->open_stream(true);
  client.pump = [&] {
    while (sent < bytes) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - sent));
      sent += n;
      auto st = client.session->write(client.bulk_id, Bytes(block.begin(), block.begin() + n), sent == bytes);
      if (!st || *st == quic::WriteState::would_block) return;
    }
  };
  double cpu0 = cpu_seconds();
  Timestamp t0 = monotonic_now();
  client.pump();
  while (!client.finished && !client.closed) loop.run_once();
  Timestamp t1 = monotonic_now();
  double cpu = cpu_seconds() - cpu0;
  if (client.closed) return std::fprintf(stderr, "quic_bulk: %s\n", client.closed->describe().c_str()), 1;
  if (client.reply != std::to_string(bytes)) {
    std::fprintf(stderr, "quic_bulk: server counted %s bytes, sent %llu\n", client.reply.c_str(),
                 static_cast<unsigned long long>(bytes));
    return 1;
  }
  double secs = double(t1 - t0) / 1e9;
  auto st = client.session->stats();
  std::printf("bytes %llu\nseconds %.3f\ngoodput_MBps %.1f\nclient_cpu_s %.3f\nhandshake_ms %.2f\n"
              "first_echo_ms %.2f\nsrtt_us %.0f\npmtu %zu\n",
              static_cast<unsigned long long>(bytes), secs, double(bytes) / secs / 1e6, cpu,
              double(client.handshake_at - start) / 1e6, double(client.echo_at - start) / 1e6,
              double(st.smoothed_rtt) / 1e3, st.max_udp_payload);
  client.session->close(0, "done");
  Timestamp deadline = monotonic_now() + 200 * kMillisecond;
  while (monotonic_now() < deadline && loop.run_nowait()) {
  }
  session->reset();
  ep->reset();
  return 0;
}

int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  std::string listen = "127.0.0.1:0", connect;
  uint64_t bytes = uint64_t{1} << 30;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--listen") listen = v;
    else if (k == "--connect") connect = v;
    else if (k == "--bytes") bytes = std::stoull(v);
  }
  if (mode == "server") return run_server(listen);
  if (mode == "client" && !connect.empty()) return run_client(connect, bytes);
  std::fprintf(stderr, "usage: quic_bulk server [--listen ADDR:PORT] | client --connect ADDR:PORT [--bytes N]\n");
  return 2;
}
