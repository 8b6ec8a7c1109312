// auth_coordinator PORT ID...: a coordinator on 127.0.0.1:PORT (0: any free
// port) that lets in only the listed ids, whatever certificate they bring.
// Prints "PORT FINGERPRINT" on stdout once listening, so clients can pin it;
// logs who comes and goes on stderr. Runs until killed.
#include <conec/conec.hpp>

#include <cstdio>
#include <set>
#include <string>

namespace {

class Log final : public conec::CoordinatorHandler {
public:
  void on_client_registered(const conec::ClientInfo &c) override {
    std::fprintf(stderr, "auth_coordinator: %s registered from %s\n", c.id.c_str(), c.address.to_string().c_str());
  }
  void on_client_left(const std::string &id, const conec::Error &why) override {
    std::fprintf(stderr, "auth_coordinator: %s left (%s)\n", id.c_str(), why.describe().c_str());
  }
};

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: auth_coordinator PORT ID...\n");
    return 2;
  }
  std::set<std::string> allowed(argv + 2, argv + argc);

  auto identity = conec::Identity::generate_coordinator("127.0.0.1");
  if (!identity) return std::fprintf(stderr, "%s\n", identity.error().describe().c_str()), 1;
  conec::CoordinatorOptions options;
  options.listen = std::string("127.0.0.1:") + argv[1];
  options.identity = *identity;
  // The custom authorization: the TLS handshake proved the client holds the
  // key of a certificate valid for `id`; we decide whether that id may join.
  options.authorize = [&allowed](const conec::AuthRequest &request) -> conec::AuthDecision {
    if (allowed.contains(request.id)) return std::nullopt;
    std::fprintf(stderr, "auth_coordinator: refusing %s (key %s)\n", request.id.c_str(),
                 request.key_fingerprint.c_str());
    return "id '" + request.id + "' is not on this coordinator's list";
  };

  conec::Loop loop;
  Log log;
  auto coordinator = conec::Coordinator::create(loop, options, &log);
  if (!coordinator) return std::fprintf(stderr, "%s\n", coordinator.error().describe().c_str()), 1;
  std::printf("%u %s\n", (*coordinator)->local_address().port(), identity->fingerprint()->c_str());
  std::fflush(stdout);
  loop.run();
  return 0;
}
