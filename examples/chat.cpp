// chat COORD PIN ID [PEER]: a two-party chat. With PEER it opens a channel
// to PEER; without, it waits for someone to open one. Each line of stdin is
// one message; each message received is one line on stdout. EOF on stdin
// ends our side; the program exits once both sides ended.
//
// It runs its own libuv loop (reading stdin with libuv) and lends it to
// conec: conec::Loop(uv_loop_t *).
#include "common.hpp"

#include <uv.h>

namespace {

class Chat final : public conec::ClientHandler, public conec::StreamHandler {
public:
  Chat(uv_loop_t *uv, std::string peer) : uv_(uv), peer_(std::move(peer)) {}
  int exit_code = 1;

  void on_registered(conec::Client &client) override {
    if (peer_.empty()) return std::fprintf(stderr, "chat: %s waiting\n", client.id().c_str()), void();
    client.open_channel(peer_, [this](conec::Result<conec::Channel *> channel) {
      if (!channel) return fail(channel.error().describe());
      auto stream = (*channel)->open_stream(true, {conec::StreamKind::data, "chat"});
      if (!stream) return fail(stream.error().describe());
      start(*stream);
    });
  }
  void on_disconnected(conec::Client &, const conec::Error &why) override { fail(why.describe()); }
  bool on_channel_offer(conec::Client &, const std::string &) override { return peer_.empty() && !stream_; }
  void on_stream(conec::Client &, conec::Channel &, conec::Stream &s) override {
    if (!stream_ && s.bidirectional()) start(s);
  }

  // StreamHandler
  void on_message(conec::Stream &, conec::Bytes line) override {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  void on_end(conec::Stream &, const std::optional<conec::Error> &error) override {
    if (error) return fail("peer's side cut: " + error->describe());
    peer_done_ = true;
    maybe_done();
  }
  void on_closed(conec::Stream &, const std::optional<conec::Error> &error) override {
    if (error) fail("chat ended: " + error->describe());
  }

  // stdin, from libuv
  void input(const char *data, size_t n) {
    pending_.append(data, n);
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos; pending_.erase(0, nl + 1))
      if (auto r = stream_.send(conec::as_bytes(std::string_view(pending_).substr(0, nl))); !r)
        return fail(r.error().describe());
  }
  void input_ended() {
    if (!pending_.empty()) input("\n", 1); // a last line without its newline
    if (auto r = stream_.finish(); !r) return fail(r.error().describe());
    we_done_ = true;
    maybe_done();
  }

  // Before the Chat goes: libuv owns stdin_ until its close callback.
  void close_stdin() {
    if (reading_) uv_close(reinterpret_cast<uv_handle_t *>(&stdin_), nullptr);
    reading_ = false;
  }

private:
  void start(const conec::Stream &s);
  void maybe_done() {
    if (!we_done_ || !peer_done_) return;
    exit_code = 0;
    uv_stop(uv_);
  }
  void fail(const std::string &why) {
    if (exit_code == 0) return;
    std::fprintf(stderr, "chat: %s\n", why.c_str());
    uv_stop(uv_);
  }

  uv_loop_t *uv_;
  std::string peer_;
  conec::Stream stream_;
  uv_pipe_t stdin_{};
  std::string pending_;
  bool we_done_ = false, peer_done_ = false, reading_ = false;
};

// Reads stdin (a pipe or terminal) once the conversation has its stream.
void Chat::start(const conec::Stream &s) {
  stream_ = s;
  stream_.set_handler(*this);
  uv_pipe_init(uv_, &stdin_, 0);
  stdin_.data = this;
  reading_ = true;
  if (uv_pipe_open(&stdin_, 0) != 0) return fail("stdin must be a pipe or a terminal");
  auto alloc = [](uv_handle_t *, size_t, uv_buf_t *buf) {
    static char block[65536];
    *buf = uv_buf_init(block, sizeof block);
  };
  uv_read_start(reinterpret_cast<uv_stream_t *>(&stdin_), alloc, [](uv_stream_t *h, ssize_t n, const uv_buf_t *buf) {
    auto *chat = static_cast<Chat *>(h->data);
    if (n > 0) return chat->input(buf->base, size_t(n));
    if (n == UV_EOF || n < 0) {
      uv_read_stop(h);
      chat->input_ended();
    }
  });
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) example::die("usage: chat COORD PIN ID [PEER]");
  uv_loop_t uv;
  uv_loop_init(&uv);
  int code = 1;
  {
    conec::Loop loop(&uv); // borrowed: we run and close it
    Chat chat(&uv, argc == 5 ? argv[4] : "");
    auto client = conec::Client::create(loop, example::client_options(argv), chat);
    if (!client) example::die(client.error().describe());
    uv_run(&uv, UV_RUN_DEFAULT);
    example::close_client(loop, *client);
    chat.close_stdin();
    uv_run(&uv, UV_RUN_NOWAIT); // its close callback
    code = chat.exit_code;
  }
  uv_run(&uv, UV_RUN_DEFAULT); // what conec closed
  uv_loop_close(&uv);
  return code;
}
