// conec-rogue-coordinator: a coordinator that lies about peers, for tests of
// what clients catch themselves (SPEC §3, client/peer_trust.hpp). It is the
// real Coordinator with its test hooks set; never installed.
//
//   conec-rogue-coordinator --listen ADDR --cert F --key F [--client-ca F]
//                           [--substitute-own-cert] [--impersonate ID=OTHER]...
//
// --substitute-own-cert: every Introduction carries the coordinator's own
//   certificate instead of the peer's (a coordinator posing as the peer).
// --impersonate bob=mallory: channel requests for bob go to mallory, and
//   every introduction of mallory names bob (with mallory's certificate):
//   whoever asks for bob, or is offered a channel by mallory, is told it is
//   talking to bob.
// --route bob=mallory: channel requests for bob go to mallory, introduced
//   under its own name.
// Prints the banner lines tests read ("listening on", "fingerprint:",
// "clients connect with:") to stderr and runs until SIGTERM/SIGINT.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "coord/coordinator.hpp"
#include "loop/loop.hpp"
#include "proto/control.hpp"
#include "tls/identity.hpp"

using namespace conec;

namespace {

std::string read_file(const char *path) {
  std::string out;
  if (std::FILE *f = std::fopen(path, "rb")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

int usage(const char *why) {
  std::fprintf(stderr, "conec-rogue-coordinator: %s\n", why);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string listen = "127.0.0.1:0", cert, key, client_ca;
  bool substitute = false;
  std::map<std::string, std::string> impersonate; // canonical victim id -> the impostor that gets its requests
  std::map<std::string, std::string> route;       // canonical id -> who gets its requests instead
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--listen") listen = value();
    else if (a == "--cert") cert = value();
    else if (a == "--key") key = value();
    else if (a == "--client-ca") client_ca = read_file(value().c_str());
    else if (a == "--substitute-own-cert") substitute = true;
    else if (a == "--impersonate") {
      std::string v = value();
      auto eq = v.find('=');
      if (eq == std::string::npos) return usage("--impersonate takes ID=OTHER");
      impersonate[proto::canonical_id(v.substr(0, eq))] = v.substr(eq + 1);
    } else if (a == "--route") {
      std::string v = value();
      auto eq = v.find('=');
      if (eq == std::string::npos) return usage("--route takes ID=OTHER");
      route[proto::canonical_id(v.substr(0, eq))] = v.substr(eq + 1);
    } else return usage(("unknown argument " + a).c_str());
  }
  auto addr = SockAddr::parse(listen, 1719);
  if (!addr) return usage("bad --listen");
  auto identity = tls::Identity::load(cert, key);
  if (!identity) return usage(identity.error().message.c_str());
  auto own_der = tls::der_of_pem(identity->cert_pem);
  if (!own_der) return usage("unreadable --cert");

  loop::Loop loop;
  coord::CoordinatorOptions co;
  co.listen = *addr;
  co.identity = *identity;
  co.client_ca_pem = client_ca;
  std::map<std::string, std::string> victim_of; // canonical impostor id -> the id it poses as
  for (const auto &[victim, impostor] : impersonate) {
    victim_of[proto::canonical_id(impostor)] = victim;
    route[victim] = impostor;
  }
  co.tamper_route = [&route](const std::string &peer) {
    auto it = route.find(proto::canonical_id(peer));
    return it == route.end() ? peer : it->second;
  };
  co.tamper_introduction = [&](proto::Introduction &intro) {
    if (substitute) intro.peer_certificate = *own_der;
    if (auto it = victim_of.find(proto::canonical_id(intro.peer)); it != victim_of.end()) intro.peer = it->second;
  };
  auto coordinator = coord::Coordinator::create(loop, co);
  if (!coordinator) return usage(coordinator.error().message.c_str());
  auto stop = [&](int) {
    (*coordinator)->shutdown();
    loop.stop();
  };
  loop::Signal sigint(loop, SIGINT, stop), sigterm(loop, SIGTERM, stop);
  std::fprintf(stderr, "rogue coordinator listening on %s\nfingerprint: %s\nclients connect with: (this lies)\n",
               (*coordinator)->local_address().to_string().c_str(), identity->fingerprint().value_or("?").c_str());
  std::fflush(stderr);
  loop.run();
  return 0;
}
