// What every example client does: parse "COORD PIN ID", make options, and
// shut a Client down cleanly (close packets out before it is destroyed).
#pragma once

#include <conec/conec.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace example {

[[noreturn]] inline void die(const std::string &what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

// argv: COORD (host:port) PIN (the coordinator's "sha256:..." fingerprint) ID
inline conec::ClientOptions client_options(char **argv) {
  conec::ClientOptions o;
  o.coordinator = argv[1];
  o.trust = conec::CoordinatorTrust::pinned(argv[2]);
  o.id = argv[3];
  o.reconnect = false; // an example run should end if the coordinator goes
  return o;
}

inline void close_client(conec::Loop &loop, std::unique_ptr<conec::Client> &client) {
  if (!client) return;
  client->close();
  for (int i = 0; i < 1000 && !client->closes_sent(); i++) loop.run_nowait();
  client.reset();
}

} // namespace example
