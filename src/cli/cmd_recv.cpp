// `conec recv -i ID [--from PEER] [-o FILE] [-k]`: wait for an incoming
// stream, write it out, confirm it to the sender, exit 0 on its clean end.
// With -k, streams are taken one at a time in arrival order.
#include <fcntl.h>

#include <csignal>
#include <cstdio>
#include <deque>

#include "client_run.hpp"
#include "exit_codes.hpp"
#include "ping_echo.hpp"
#include "transfer_args.hpp"
#include "util/escape.hpp"

namespace conec::cli {
namespace {

struct RecvArgs {
  ClientArgs client;
  TransferArgs transfer;
  std::string from, output;
  bool keep = false;
};

class Receiver final : public channel::StreamHandler {
public:
  Receiver(ClientRun &run, const RecvArgs &args, OutputSink &sink)
      : run_(run), args_(args), sink_(sink), progress_(run.loop(), args.transfer.show_progress(), std::nullopt) {}

  // A new incoming stream: take it now or queue it behind the current one.
  void arrived(channel::Channel &ch, channel::Stream &s) {
    if (!s.bidirectional()) return s.reset(); // senders use bidirectional streams
    s.set_handler(*this);
    Item item{&ch, ch.peer(), s, {}, false, std::nullopt};
    if (current_ || (!args_.keep && taken_ > 0)) {
      if (!args_.keep) return s.reset();
      s.pause_reading();
      queue_.push_back(item);
      return;
    }
    begin(item);
  }

  void on_message(channel::Stream &s, Bytes m) override {
    if (!current_ || current_->stream != s) {
      // A waiting stream still delivers what its window let through before
      // the pause took effect: keep it for its turn (bounded by that window).
      for (Item &i : queue_)
        if (i.stream == s) i.early.push_back(std::move(m));
      return;
    }
    received_ += m.size();
    progress_.update(received_);
    sink_.write(s, current_->peer, m);
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    if (!current_ || current_->stream != s) {
      for (Item &i : queue_)
        if (i.stream == s) {
          i.has_end = true;
          i.ended = e;
        }
      return;
    }
    end(s, e);
  }

  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    sink_.forget(s);
    std::erase_if(queue_, [&](const Item &i) { return i.stream == s; });
    if (!current_ || current_->stream != s) return;
    if (!confirmed_) return cut(e ? e->message : "stream closed");
    // Our confirmation was acknowledged: this stream is done.
    progress_.done();
    if (args_.transfer.stats)
      std::fprintf(stderr, "conec: stats: %llu bytes from %s, path relay\n",
                   static_cast<unsigned long long>(received_), printable(current_->peer).c_str());
    current_.reset();
    if (!args_.keep) return run_.finish(kExitOk);
    if (!queue_.empty()) {
      Item next = queue_.front();
      queue_.pop_front();
      begin(next);
    }
  }
  void channel_closed(channel::Channel &ch, const Error &e) {
    if (current_ && current_->channel == &ch && !confirmed_) cut(e.message);
    std::erase_if(queue_, [&](const Item &i) { return i.channel == &ch; });
  }
  bool between_streams() const { return !current_; }

private:
  struct Item {
    const channel::Channel *channel; // identity only: never dereferenced (it may be gone)
    std::string peer;
    channel::Stream stream; // inert once the stream ended
    std::vector<Bytes> early; // messages that arrived while it waited
    bool has_end = false;     // its end arrived while it waited
    std::optional<Error> ended;
  };
  void begin(Item item) {
    current_ = Item{item.channel, item.peer, item.stream, {}, false, std::nullopt};
    ++taken_;
    received_ = 0;
    confirmed_ = false;
    for (Bytes &m : item.early) on_message(item.stream, std::move(m));
    if (item.has_end) return end(item.stream, item.ended);
    item.stream.resume_reading();
  }
  void end(channel::Stream &s, const std::optional<Error> &e) {
    if (e) return cut(e->message);
    // Everything arrived: confirm once it is written out. The stream may
    // be gone by then (the sender closed at once): the handle is inert.
    sink_.flush([this, stream = s] {
      if (!current_ || current_->stream != stream) return;
      if (sink_.error()) return cut("cannot write output: " + sink_.error()->message);
      (void)stream.send(as_bytes("ok " + std::to_string(received_)));
      (void)stream.finish();
      confirmed_ = true;
    });
  }
  void cut(const std::string &why) {
    std::string peer = current_ ? current_->peer : "?";
    progress_.done();
    run_.finish(kExitIncomplete, "transfer incomplete: the stream from '" + peer + "' was cut after " +
                                     std::to_string(received_) + " bytes: " + why);
  }

  ClientRun &run_;
  const RecvArgs &args_;
  OutputSink &sink_;
  Progress progress_;
  std::optional<Item> current_;
  std::deque<Item> queue_;
  size_t taken_ = 0;
  uint64_t received_ = 0;
  bool confirmed_ = false;
};

int run_recv(const RecvArgs &args, const GlobalOptions &global) {
  int fd = 1;
  if (!args.output.empty() && args.output != "-") {
    fd = ::open(args.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return report_error(errno_error("cli", "cannot write " + args.output, errno).message, kExitUsage);
  }
  ClientRun run(global, args.client);
  loop::Loop &loop = run.loop();
  OutputSink sink(loop, fd, args.transfer.framing(), args.transfer.tag);
  if (auto r = sink.open(); !r) return report_error("output: " + r.error().message, kExitUsage);
  Receiver receiver(run, args, sink);
  run.on_offer = [&](const std::string &peer) {
    return args.from.empty() || proto::canonical_id(peer) == proto::canonical_id(args.from);
  };
  run.on_stream = [&](channel::Channel &ch, channel::Stream &s) {
    if (!maybe_answer_ping(s)) receiver.arrived(ch, s);
  };
  run.on_channel_closed = [&](channel::Channel &ch, const Error &e) { receiver.channel_closed(ch, e); };
  run.on_signal = [&](int signum) {
    if (args.keep && receiver.between_streams()) return run.finish(kExitOk);
    run.finish(signal_exit_code(signum), "interrupted");
  };
  int code = run.run();
  bool closed = false;
  sink.close([&] { closed = true; });
  return run.drain(code, [&] { return closed; });
}

} // namespace

Command add_recv_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<RecvArgs>();
  CLI::App *app = root.add_subcommand("recv", "Receive a stream and write it to stdout or a file");
  add_global_options(*app, global);
  add_client_options(*app, args->client, true);
  app->add_option("--from", args->from, "Accept streams only from this peer (others get exit 5)")->type_name("PEER");
  app->add_option("-o,--output", args->output, "Write to FILE instead of stdout")->type_name("FILE");
  app->add_flag("-k,--keep", args->keep, "Keep receiving stream after stream, in arrival order, until interrupted");
  add_transfer_options(*app, args->transfer, true);
  Prose prose;
  prose.description =
      "Connects to the coordinator as ID and waits for a peer to send a stream (conec send). The stream is written "
      "to standard output (or FILE); once all of it is written, recv confirms it to the sender and exits 0. A stream "
      "cut short is exit 6, with a message saying how many bytes arrived.\n\n"
      "With --from, channels from any other peer are refused (their send exits 5). With -k, recv keeps receiving "
      "streams one at a time in arrival order (later ones wait their turn) until interrupted; SIGINT between streams "
      "exits 0.";
  prose.examples = {
      {"conec recv -i bob -o report.pdf", "Receive one file as bob."},
      {"conec recv -i bob --from alice | tar xz", "Unpack a stream, accepting it only from alice."},
      {"conec recv -i logs -k --lines --tag", "Collect lines from many senders, each prefixed with its id."},
  };
  return Command{app, [args, &global] { return run_recv(*args, global); }, prose};
}

} // namespace conec::cli
