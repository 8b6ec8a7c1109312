// initial_flood: sends genuine QUIC Initials (each from a new ngtcp2 client
// connection, so every one has its own connection ids and would open a
// server connection) at a fixed rate from several loopback source
// addresses, and never answers: what a spoofing attacker's handshake flood
// looks like to a coordinator. For bench/flood.py; not a test.
//
//   initial_flood --target ADDR:PORT [--rate 3000] [--seconds 10] [--hosts 16]
// Sources are 127.0.0.(2..hosts+1), each socket bound to port 0. Prints
// sent, seconds and achieved_rate. Sending only to loopback.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "quic/connection.hpp"
#include "tls/identity.hpp"
#include "util/clock.hpp"

using namespace conec;

namespace {

struct Quiet : quic::ConnectionHandler {};

[[noreturn]] void die(const std::string &what) {
  std::fprintf(stderr, "initial_flood: %s\n", what.c_str());
  std::_Exit(1);
}

} // namespace

int main(int argc, char **argv) {
  std::string target_text;
  double rate = 3000, seconds = 10;
  int hosts = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--target") target_text = v;
    else if (k == "--rate") rate = std::stod(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--hosts") hosts = std::stoi(v);
    else die("unknown option " + k);
  }
  auto target = SockAddr::parse(target_text, 0);
  if (!target) die("--target: " + target.error().message);
  if (!(target->to_string().rfind("127.", 0) == 0)) die("--target must be a loopback address");

  std::vector<int> fds;
  std::vector<SockAddr> sources;
  for (int h = 0; h < hosts; ++h) {
    auto bind = *SockAddr::parse("127.0.0." + std::to_string(2 + h) + ":0", 0);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0 || ::bind(fd, bind.get(), bind.size()) != 0) die("cannot bind " + bind.to_string());
    SockAddr local;
    local.reset_for_output();
    ::getsockname(fd, local.get(), local.size_ptr());
    fds.push_back(fd);
    sources.push_back(local);
  }
  tls::CertificateRequest req;
  req.name = "flood";
  auto identity = tls::generate_self_signed(req);
  if (!identity) die(identity.error().describe());
  auto credentials = tls::Credentials::create(*identity, tls::PeerVerification::any());
  if (!credentials) die(credentials.error().describe());

  Quiet handler;
  Bytes out(quic::kMaxUdpPayload * 2);
  Timestamp start = monotonic_now(), end = start + Timestamp(seconds * double(kSecond));
  uint64_t sent = 0;
  for (Timestamp now = start; now < end; now = monotonic_now()) {
    uint64_t due = uint64_t(double(now - start) / double(kSecond) * rate);
    if (sent >= due) {
      usleep(200);
      continue;
    }
    size_t h = sent % fds.size();
    auto conn = quic::Connection::connect(quic::Config{}, *credentials, "flood", quic::Path{sources[h], *target},
                                          handler, now);
    if (!conn) die(conn.error().describe());
    auto batch = (*conn)->write(out, 1, now);
    if (batch.size && ::sendto(fds[h], out.data(), batch.size, 0, target->get(), target->size()) > 0) ++sent;
  }
  double took = double(monotonic_now() - start) / double(kSecond);
  std::printf("sent %llu\nseconds %.3f\nachieved_rate %.0f\n", (unsigned long long)sent, took, double(sent) / took);
  for (int fd : fds) ::close(fd);
  return 0;
}
