// file_sender COORD PIN ID send PEER FILE: sends FILE to PEER in 64 KiB
// messages on one stream, with backpressure, and exits 0 once the peer has
// taken all of it (it ended its side after reading ours).
// file_sender COORD PIN ID receive: waits for one stream, writes what it
// carries to stdout, and exits 0 once it ended cleanly.
#include "common.hpp"

#include <cstring>

namespace {

class FileSender final : public conec::ClientHandler, public conec::StreamHandler {
public:
  FileSender(conec::Loop &loop, std::string peer, std::FILE *file) : loop_(loop), peer_(std::move(peer)), file_(file) {}
  int exit_code = 1;

  void on_registered(conec::Client &client) override {
    if (!file_) return; // receiving: wait for the sender
    client.open_channel(peer_, [this](conec::Result<conec::Channel *> channel) {
      if (!channel) return fail(channel.error().describe());
      auto stream = (*channel)->open_stream(true, {conec::StreamKind::data, "file"});
      if (!stream) return fail(stream.error().describe());
      stream->set_handler(*this);
      pump(*stream);
    });
  }
  void on_disconnected(conec::Client &, const conec::Error &why) override { fail(why.describe()); }
  void on_stream(conec::Client &, conec::Channel &, conec::Stream &s) override {
    if (!file_) s.set_handler(*this); // receiving
  }
  void on_channel_closed(conec::Client &, conec::Channel &, const conec::Error &why) override {
    if (exit_code != 0) fail("channel closed: " + why.describe());
  }

  // StreamHandler
  void on_writable(conec::Stream &s) override { pump(s); }
  void on_message(conec::Stream &, conec::Bytes data) override { // receiving
    if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size()) fail("cannot write stdout");
  }
  void on_end(conec::Stream &s, const std::optional<conec::Error> &error) override {
    if (error) return fail("stream cut: " + error->describe());
    if (file_) return done(); // sending: the peer ended its side after taking everything
    if (std::fflush(stdout) != 0) return fail("cannot write stdout");
    (void)s.finish(); // receiving: tell the sender we have it all
    done();
  }

private:
  // Sends until the stream says would_block (on_writable resumes) or the file ends.
  void pump(conec::Stream &s) {
    conec::Bytes chunk(64 * 1024);
    for (;;) {
      size_t n = std::fread(chunk.data(), 1, chunk.size(), file_);
      if (n == 0) {
        if (std::ferror(file_)) return fail("cannot read the file");
        if (auto r = s.finish(); !r) fail(r.error().describe());
        return;
      }
      auto sent = s.send(conec::ByteView(chunk.data(), n));
      if (!sent) return fail(sent.error().describe());
      if (*sent == conec::WriteState::would_block) return;
    }
  }
  void done() {
    exit_code = 0;
    loop_.stop();
  }
  void fail(const std::string &why) {
    if (exit_code == 0) return;
    std::fprintf(stderr, "file_sender: %s\n", why.c_str());
    loop_.stop();
  }

  conec::Loop &loop_;
  std::string peer_;
  std::FILE *file_;
};

} // namespace

int main(int argc, char **argv) {
  bool send = argc == 7 && std::strcmp(argv[4], "send") == 0;
  if (!send && !(argc == 5 && std::strcmp(argv[4], "receive") == 0))
    example::die("usage: file_sender COORD PIN ID send PEER FILE | file_sender COORD PIN ID receive");
  std::FILE *file = send ? std::fopen(argv[6], "rb") : nullptr;
  if (send && !file) example::die(std::string("cannot open ") + argv[6] + ": " + std::strerror(errno));

  conec::Loop loop;
  FileSender app(loop, send ? argv[5] : "", file);
  auto client = conec::Client::create(loop, example::client_options(argv), app);
  if (!client) example::die(client.error().describe());
  loop.run();
  example::close_client(loop, *client);
  if (file) std::fclose(file);
  return app.exit_code;
}
