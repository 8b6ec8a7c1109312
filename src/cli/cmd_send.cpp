// `conec send PEER [FILE]`: send FILE (or stdin) to PEER as one stream and
// exit 0 only once PEER's receiving process confirmed every byte.
//
// Wire convention with `recv`: one bidirectional stream; data messages go
// out, then our end of stream; the receiver answers "ok <bytes>" after it
// wrote everything, then ends its side. When the input's size is known (a
// regular FILE), a unidirectional stream opened just before announces it
// (size_announce.hpp).
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include "client_run.hpp"
#include "exit_codes.hpp"
#include "group_session.hpp"
#include "size_announce.hpp"
#include "util/log.hpp"
#include "transfer_args.hpp"
#include "util/escape.hpp"

namespace conec::cli {
namespace {

struct SendArgs {
  ClientArgs client;
  TransferArgs transfer;
  std::string peer, file;
  bool lossless = false;
};

class Sender final : public channel::StreamHandler {
public:
  Sender(ClientRun &run, const SendArgs &args, int fd, std::optional<uint64_t> size)
      : run_(run), args_(args), fd_(fd), size_(size),
        progress_(run.loop(), args.transfer.show_progress(run.global().quiet), size) {}

  void start(channel::Channel &ch) {
    peer_key_ = peer_key_of(ch);
    if (size_) announce(ch, *size_);
    auto stream = ch.open_stream(true);
    if (!stream) return run_.finish(kExitFailure, "cannot open a stream to '" + args_.peer + "': " + stream.error().message);
    stream_ = *stream;
    stream_.set_handler(*this);
    started_ = monotonic_now();
    pump_.emplace(run_.loop(), fd_, args_.transfer.framing(), proto::kDefaultMaxMessage, stream_,
                  [this](std::optional<Error> e) { input_done(std::move(e)); });
    if (auto r = pump_->start(); !r) run_.finish(kExitUsage, "cannot read input: " + r.error().message);
    progress_.start_clock();
    progress_timer_.emplace(run_.loop(), [this] { progress_.update(pump_->bytes()); });
    progress_timer_->start(100, 100);
  }

  void on_writable(channel::Stream &) override { pump_->writable(); }
  void on_message(channel::Stream &, Bytes m) override { ack_ = std::string(as_chars(m)); }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    if (e) return incomplete(e->message);
    std::string expected = "ok " + std::to_string(pump_->bytes());
    if (!pump_->done() || ack_ != expected)
      return incomplete(ack_.empty() ? "the receiver ended without confirming"
                                     : "the receiver confirmed '" + ack_ + "', expected '" + expected + "'");
    progress_.update(pump_->bytes());
    progress_.done();
    if (args_.transfer.stats) stats();
    run_.finish(kExitOk);
  }
  void on_closed(channel::Stream &, const std::optional<Error> &e) override {
    if (e) incomplete(e->message);
  }
  void channel_closed(const Error &e) { incomplete(e.message); }
  // Once the stream is open the coordinator's loss cuts a relayed one (the
  // relay goes with it): exit 6 with the byte count, not 3. On a direct
  // path the transfer goes on; should that path fail later, the channel's
  // end (no relay to fall back to) ends it.
  bool coordinator_lost(const Error &e, bool reconnecting) {
    if (!pump_ || run_.finished()) return false;
    if (channel::Channel *ch = channel::channel_of(stream_); ch && ch->session().on_direct_path()) {
      if (reconnecting)
        CONEC_WARN("lost the coordinator ({}); the transfer to '{}' goes on over its direct path", e.message,
                   printable(args_.peer));
      return true;
    }
    if (reconnecting) {
      // The relay stalls; it resumes once both ends are back with the
      // coordinator (and the channel ends by its own liveness otherwise).
      CONEC_WARN("lost the coordinator ({}); the transfer to '{}' waits for its relay to come back", e.message,
                 printable(args_.peer));
      return true;
    }
    incomplete("lost the coordinator: " + e.message);
    return true;
  }

private:
  void input_done(std::optional<Error> e) {
    if (e) {
      stream_.reset(); // no-op if it already ended
      run_.finish(e->category == ErrorCategory::io ? kExitFailure : kExitUsage, "input: " + e->message);
    }
  }
  void incomplete(const std::string &why) {
    if (run_.finished()) return;
    progress_.done();
    run_.finish(kExitIncomplete, "transfer incomplete: the stream to '" + args_.peer + "' was cut after " +
                                     std::to_string(pump_ ? pump_->bytes() : 0) + " bytes sent, none confirmed: " + why);
  }
  void stats() {
    Duration elapsed = monotonic_now() - started_;
    channel::Channel *ch = channel::channel_of(stream_);
    std::string path = ch ? path_of(*ch) : "relay";
    std::fprintf(stderr, "conec: stats: %llu bytes to %s in %.3f s (%s), path %s, peer key %s\n",
                 static_cast<unsigned long long>(pump_->bytes()), printable(args_.peer).c_str(), double(elapsed) / 1e9,
                 human_rate(pump_->bytes(), elapsed).c_str(), path.c_str(), peer_key_.c_str());
  }
  // Best effort: the size only feeds the receiver's progress line.
  static void announce(channel::Channel &ch, uint64_t size) {
    auto side = ch.open_stream(false, {proto::StreamKind::size, {}});
    if (!side) return;
    (void)side->send(as_bytes(size_announcement(size)));
    (void)side->finish();
  }

  ClientRun &run_;
  const SendArgs &args_;
  int fd_;
  std::optional<uint64_t> size_;
  std::string peer_key_; // the peer's public-key fingerprint (--stats)
  Progress progress_;
  std::optional<loop::Timer> progress_timer_;
  channel::Stream stream_; // inert once the stream ended
  std::optional<InputPump> pump_;
  std::string ack_;
  Timestamp started_ = 0;
};

int run_send(const SendArgs &args, const GlobalOptions &global) {
  int fd = 0;
  if (is_group(args.peer)) {
    if (!args.file.empty() && args.file != "-") {
      fd = ::open(args.file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return report_error(errno_error("cli", "cannot read " + args.file, errno).message, kExitUsage);
    }
    GroupMode mode;
    mode.send = true;
    mode.lossless = args.lossless;
    return run_group(global, args.client, args.transfer, args.peer, mode, fd);
  }
  std::optional<uint64_t> size;
  if (!args.file.empty() && args.file != "-") {
    fd = ::open(args.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return report_error(errno_error("cli", "cannot read " + args.file, errno).message, kExitUsage);
    struct stat st{};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  }
  ClientRun run(global, args.client);
  Sender sender(run, args, fd, size);
  run.on_ready = [&] { run.open_channel(args.peer, [&](channel::Channel &ch) { sender.start(ch); }); };
  run.on_channel_closed = [&](channel::Channel &, const Error &e) { sender.channel_closed(e); };
  run.on_coordinator_loss = [&](const Error &e, bool reconnecting) { return sender.coordinator_lost(e, reconnecting); };
  run.on_offer = [](const std::string &) { return false; }; // we only send
  return run.run();
}

} // namespace

Command add_send_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<SendArgs>();
  CLI::App *app = root.add_subcommand("send", "Send a file or stdin to PEER; exit 0 once PEER confirmed every byte");
  add_global_options(*app, global);
  app->add_option("PEER", args->peer, "The receiving client's id, or @GROUP to send to every member of a group")
      ->required()
      ->type_name("PEER");
  app->add_option("FILE", args->file, "File to send (default: stdin)")->type_name("FILE");
  add_client_options(*app, args->client, false);
  add_transfer_options(*app, args->transfer, false, true);
  add_lossless_option(*app, args->lossless);
  Prose prose;
  prose.description =
      "Connects to the coordinator (under a fresh random id unless --id is given), asks it for a channel to PEER "
      "and sends FILE, or standard input, as one stream. The exit status is 0 only after PEER's receiving process "
      "(conec recv) confirmed that it received and wrote every byte; a stream or connection lost before that is "
      "exit 6, with a message saying how much was sent. The transfer outlives a lost or restarted coordinator: on a "
      "direct path it does not need it, and a relayed one resumes once send and PEER have reconnected and "
      "re-presented its relay (if that takes longer than the channel's liveness allows, about 5 s, it is exit 6).\n\n"
      "A progress line is shown when stderr is a terminal (-q or --no-progress hide it, --progress forces it); FILE's "
      "size is announced to the receiver for its own progress line. --stats prints bytes, time, rate and path.\n\n"
      "With --lines (or --null) each input line (record) is one message; otherwise the input is a byte stream cut "
      "into messages.\n\n"
      "With PEER @GROUP the input goes to every member of the group, each message tagged with our id; send joins "
      "the group (creating it if it does not exist: --lossless makes it a lossless group) and exits 0 once the "
      "coordinator took every message. Members that fall behind may lose messages (see conec-recv(1)).";
  prose.examples = {
      {"conec send -c coord.example:1719 --pin sha256:... bob report.pdf", "Send a file to bob."},
      {"uptime | conec send @status --lines", "Broadcast a line to every member of @status."},
      {"tar cz src | conec send bob", "Stream a pipeline (CONEC_COORD and CONEC_PIN set in the environment)."},
      {"conec send bob --lines < events.log", "One message per line."},
  };
  return Command{app, [args, &global] { return run_send(*args, global); }, prose};
}

} // namespace conec::cli
