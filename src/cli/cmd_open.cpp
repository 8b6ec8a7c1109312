// `conec open [-i ID] PEER`: one bidirectional stream to PEER, like
// `nc HOST PORT`: stdin goes out, what PEER sends comes out on stdout.
//
// The stream is announced at once (an empty STREAM frame), so PEER may
// speak first. Half-close both ways: stdin's end finishes our sending side;
// PEER's clean end closes our stdout (a pipe reader sees end-of-file) while
// stdin may still be read. Exit 0 once both directions ended cleanly (our
// end is acknowledged, PEER's arrived, stdout is flushed), or once PEER's
// --exec command exited after its output (kStreamErrorExited: it stops
// reading, like ssh's remote command); a stream or channel cut
// before that is exit 6, except a stream a busy `conec client --exec` refused
// (kStreamErrorBusy): exit 5, saying so. Unlike send/recv there is no confirmation protocol:
// the stream carries the user's bytes only (the listening side is
// `conec client`).
#include <cstdio>

#include "client_run.hpp"
#include "exit_codes.hpp"
#include "group_session.hpp"
#include "stream_codes.hpp"
#include "transfer_args.hpp"
#include "util/escape.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

// A stream closed with the channel because the peer closed it normally
// (code 0), as a peer does right after its own stream is done: if both
// directions had already ended cleanly, only the peer's acknowledgement of
// our end was still on its way, and the peer has everything.
bool closed_by_peer_normally(const channel::Stream &s, const Error &e) {
  channel::Channel *ch = channel::channel_of(s);
  return e.category == ErrorCategory::peer && e.code == 0 && (!ch || !ch->is_open());
}

// PEER is a `conec client --exec` whose command exited after its output
// ended: it reads no more of ours, and the session is over (like ssh when
// the remote command exits, whatever stdin still holds).
bool command_exited(const Error &e) {
  return e.category == ErrorCategory::peer && e.code == static_cast<int64_t>(kStreamErrorExited);
}

struct OpenArgs {
  ClientArgs client;
  TransferArgs transfer;
  std::string peer;
  bool lossless = false, no_echo = false;
};

class Opener final : public channel::StreamHandler {
public:
  Opener(ClientRun &run, const OpenArgs &args, OutputSink &sink)
      : run_(run), args_(args), sink_(sink), progress_(run.loop(), args.transfer.show_progress(), std::nullopt) {}

  void start(channel::Channel &ch) {
    auto stream = ch.open_stream(true);
    if (!stream) return run_.finish(kExitFailure, "cannot open a stream to '" + args_.peer + "': " + stream.error().message);
    stream_ = *stream;
    stream_.set_handler(*this);
    started_ = monotonic_now();
    pump_.emplace(run_.loop(), 0, args_.transfer.framing(), proto::kDefaultMaxMessage, stream_,
                  [this](std::optional<Error> e) { input_done(std::move(e)); });
    if (auto r = pump_->start(); !r) {
      stream_.reset();
      return run_.finish(kExitUsage, "cannot read input: " + r.error().message);
    }
    progress_timer_.emplace(run_.loop(), [this] {
      progress_.update(sent() + received_);
      if (channel::Channel *c = channel::channel_of(stream_)) path_ = path_of(*c); // for --stats once the channel is gone
    });
    progress_timer_->start(100, 100);
  }

  void on_message(channel::Stream &s, Bytes m) override {
    received_ += m.size();
    sink_.write(s, channel::channel_of(s)->peer(), m); // alive during its callback
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    if (e) return incomplete(*e);
    peer_ended_ = true;
    // PEER is done sending: end our output now (half-close), even though
    // stdin may still be going.
    sink_.close([this] {
      output_closed_ = true;
      check_done();
    });
  }
  void on_writable(channel::Stream &) override {
    if (pump_) pump_->writable();
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    bool clean = !e || (peer_ended_ && ((input_finished_ && closed_by_peer_normally(s, *e)) || command_exited(*e)));
    sink_.forget(s);
    stream_ = {};
    stopped_sent_ = sent();
    pump_.reset(); // nothing more to read for a stream that is gone
    if (!clean) return incomplete(*e);
    closed_ = true; // both directions ended cleanly
    check_done();
  }
  // The session outlives the coordinator: on a direct path it never needs
  // it; a relayed one waits while the Client reconnects and resumes its
  // relay. Gone for good, a relayed one ends (the coordinator's exit code).
  bool coordinator_lost(const Error &e, bool reconnecting) {
    channel::Channel *ch = channel::channel_of(stream_);
    if (!ch || run_.finished()) return false;
    if (ch->session().on_direct_path()) {
      if (reconnecting)
        CONEC_WARN("lost the coordinator ({}); the session with '{}' goes on over its direct path", e.message,
                   printable(args_.peer));
      return true;
    }
    if (!reconnecting) return false;
    CONEC_WARN("lost the coordinator ({}); the session with '{}' waits for its relay to come back", e.message,
               printable(args_.peer));
    return true;
  }
  void channel_closed(const Error &e) {
    if (!closed_) incomplete(e);
  }

private:
  uint64_t sent() const { return pump_ ? pump_->bytes() : stopped_sent_; }

  void input_done(std::optional<Error> e) {
    if (!e) {
      input_finished_ = true; // PEER's end and the close follow
      return;
    }
    if (e->category == ErrorCategory::peer && stream_) {
      // PEER stopped reading: its end (and whether its command exited, a
      // clean end) comes with the stream's close.
      return;
    }
    stream_.reset(); // no-op if it already ended
    if (e->category == ErrorCategory::io) return run_.finish(kExitFailure, "input: " + e->message);
    if (e->category == ErrorCategory::limit || e->category == ErrorCategory::usage)
      return run_.finish(kExitUsage, "input: " + e->message);
    incomplete(*e); // PEER stopped reading, channel gone
  }

  void check_done() {
    if (!closed_ || !output_closed_ || run_.finished()) return;
    if (sink_.error()) return run_.finish(kExitFailure, "cannot write output: " + sink_.error()->message);
    progress_.update(sent() + received_);
    progress_.done();
    if (args_.transfer.stats) stats();
    run_.finish(kExitOk);
  }

  void incomplete(const Error &why) {
    if (run_.finished()) return;
    progress_.done();
    if (why.category == ErrorCategory::peer && why.code == static_cast<int64_t>(kStreamErrorBusy))
      return run_.finish(kExitPeer, "'" + args_.peer + "' is busy: it runs its maximum of commands (--max-procs) " +
                                        "and as many streams wait (--max-queued); try again later");
    run_.finish(kExitIncomplete, "transfer incomplete: " + std::to_string(sent()) + " bytes sent, " +
                                     std::to_string(received_) + " bytes received from '" + args_.peer +
                                     "' before the stream was cut: " + why.message);
  }

  void stats() {
    Duration elapsed = monotonic_now() - started_;
    channel::Channel *ch = channel::channel_of(stream_);
    std::string path = ch ? path_of(*ch) : path_;
    std::fprintf(stderr, "conec: stats: %llu bytes sent, %llu bytes received in %.3f s (%s), path %s\n",
                 static_cast<unsigned long long>(sent()), static_cast<unsigned long long>(received_),
                 double(elapsed) / 1e9, human_rate(sent() + received_, elapsed).c_str(), path.c_str());
  }

  ClientRun &run_;
  const OpenArgs &args_;
  OutputSink &sink_;
  Progress progress_;
  std::optional<loop::Timer> progress_timer_;
  channel::Stream stream_; // inert once the stream ended
  std::optional<InputPump> pump_;
  uint64_t received_ = 0, stopped_sent_ = 0;
  std::string path_ = "relay";
  bool peer_ended_ = false, input_finished_ = false, closed_ = false, output_closed_ = false;
  Timestamp started_ = 0;
};

int run_open(const OpenArgs &args, const GlobalOptions &global) {
  if (is_group(args.peer)) {
    GroupMode mode;
    mode.send = mode.receive = true;
    mode.echo = !args.no_echo;
    mode.lossless = args.lossless;
    return run_group(global, args.client, args.transfer, args.peer, mode, 0);
  }
  ClientRun run(global, args.client);
  loop::Loop &loop = run.loop();
  OutputSink sink(loop, 1, args.transfer.framing(), args.transfer.tag);
  if (auto r = sink.open(); !r) return report_error("output: " + r.error().message, kExitUsage);
  {
    Opener opener(run, args, sink);
    run.on_ready = [&] { run.open_channel(args.peer, [&](channel::Channel &ch) { opener.start(ch); }); };
    run.on_channel_closed = [&](channel::Channel &, const Error &e) { opener.channel_closed(e); };
    run.on_coordinator_loss = [&](const Error &e, bool reconnecting) { return opener.coordinator_lost(e, reconnecting); };
    run.on_offer = [](const std::string &) { return false; }; // we only open
    int code = run.run();
    bool closed = false;
    sink.close([&] { closed = true; });
    return run.drain(code, [&] { return closed; });
  }
}

} // namespace

Command add_open_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<OpenArgs>();
  CLI::App *app =
      root.add_subcommand("open", "Open a bidirectional stream to PEER: stdin to PEER, PEER to stdout (like nc HOST PORT)");
  add_global_options(*app, global);
  app->add_option("PEER", args->peer,
                  "The client to connect to (its `conec client` serves the stream), or @GROUP to talk with a group")
      ->required()
      ->type_name("PEER");
  add_client_options(*app, args->client, false);
  add_transfer_options(*app, args->transfer, true);
  add_lossless_option(*app, args->lossless);
  app->add_flag("--no-echo", args->no_echo, "With @GROUP: do not print our own messages");
  Prose prose;
  prose.description =
      "Connects to the coordinator (under a fresh random id unless --id is given), asks it for a channel to PEER "
      "and opens one bidirectional stream on it, like `nc HOST PORT`: standard input is sent to PEER and what PEER "
      "sends is written to standard output. PEER is usually a `conec client`, which bridges the stream to its own "
      "stdin/stdout or to a command (--exec).\n\n"
      "The stream is opened at once, so either side may speak first (a service that greets, a git server). "
      "Both directions close independently: the end of standard input ends our sending side (PEER sees end of "
      "file), and PEER's end closes standard output while input may still be read. open exits 0 once both "
      "directions have ended cleanly and everything was written out, or, like ssh, once a `conec client --exec` "
      "PEER's command has exited after its output ended (whatever standard input still holds is not sent). "
      "A stream or connection lost before that is "
      "exit 6, with a message saying how many bytes were sent and received; an unknown or refusing PEER is exit 5, "
      "and so is a `conec client --exec` PEER too busy to take the stream (--max-procs).\n\n"
      "With --lines (or --null) each input line (record) is one message and each message received is printed as "
      "a line; --tag prefixes each received message with PEER's id.\n\n"
      "With PEER @GROUP, open joins the group: standard input goes to every member and every member's messages "
      "(ours too, unless --no-echo) are written to standard output, like a chat; the end of standard input leaves "
      "the group (exit 0 once the coordinator took every message). See conec-recv(1) for what happens to members "
      "that fall behind.";
  prose.examples = {
      {"echo hello | conec open -c coord.example:1719 --pin sha256:... bob", "Send a line to bob's client and print its answer."},
      {"conec open bob < request.json > reply.json", "Use a `conec client -i bob --exec CMD` as a remote service."},
      {"conec open --lines chat", "An interactive line-by-line conversation with `conec client -i chat --lines`."},
      {"conec open -i ann @team --lines --tag --no-echo", "Chat with everyone in @team."},
  };
  return Command{app, [args, &global] { return run_open(*args, global); }, prose};
}

} // namespace conec::cli
