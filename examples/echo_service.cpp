// echo_service COORD PIN ID: a client that accepts every channel and sends
// each message it receives on a bidirectional stream back on that stream,
// in order; it ends its side when the peer ends its own. Backpressure: while
// a stream cannot take more, it stops reading that stream (the peer's writer
// is held back by QUIC flow control). Runs until the coordinator goes.
#include "common.hpp"

#include <map>

namespace {

class Echo final : public conec::ClientHandler, public conec::StreamHandler {
public:
  explicit Echo(conec::Loop &loop) : loop_(loop) {}

  void on_registered(conec::Client &c) override { std::fprintf(stderr, "echo_service: %s ready\n", c.id().c_str()); }
  void on_disconnected(conec::Client &, const conec::Error &why) override {
    std::fprintf(stderr, "echo_service: %s\n", why.describe().c_str());
    loop_.stop();
  }
  void on_stream(conec::Client &, conec::Channel &, conec::Stream &s) override {
    if (!s.bidirectional()) return s.reset(); // nothing to echo on
    s.set_handler(*this);
  }

  // StreamHandler
  void on_message(conec::Stream &s, conec::Bytes message) override {
    auto sent = s.send(message);
    if (!sent) return s.reset();
    if (*sent == conec::WriteState::would_block) s.pause_reading(); // until on_writable
  }
  void on_writable(conec::Stream &s) override { s.resume_reading(); }
  void on_end(conec::Stream &s, const std::optional<conec::Error> &error) override {
    if (!error) (void)s.finish(); // after every echoed message
  }

private:
  conec::Loop &loop_;
};

} // namespace

int main(int argc, char **argv) {
  if (argc != 4) example::die("usage: echo_service COORD PIN ID");
  conec::Loop loop;
  Echo echo(loop);
  auto client = conec::Client::create(loop, example::client_options(argv), echo);
  if (!client) example::die(client.error().describe());
  loop.run();
  example::close_client(loop, *client);
  return 0;
}
