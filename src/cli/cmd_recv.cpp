// `conec recv -i ID [--from PEER] [-o FILE] [-k]`: wait for an incoming
// stream, write it out, confirm it to the sender, exit 0 on its clean end.
// With -k, streams are taken one at a time in arrival order.
#include <fcntl.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <map>

#include "client_run.hpp"
#include "exit_codes.hpp"
#include "part_file.hpp"
#include "ping_echo.hpp"
#include "group_session.hpp"
#include "size_announce.hpp"
#include "transfer_args.hpp"
#include "util/escape.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

struct RecvArgs {
  ClientArgs client;
  TransferArgs transfer;
  std::string from, output, group;
  bool keep = false, lossless = false;
};

class Receiver final : public channel::StreamHandler {
public:
  // `part`: the -o file (nullptr for stdout), committed on a clean end.
  Receiver(ClientRun &run, const RecvArgs &args, OutputSink &sink, PartFile *part)
      : run_(run), args_(args), sink_(sink), part_(part),
        progress_(run.loop(), args.transfer.show_progress(run.global().quiet), std::nullopt) {}

  // A new incoming stream: take it now or queue it behind the current one.
  void arrived(channel::Channel &ch, channel::Stream &s) {
    if (!s.bidirectional()) return s.reset(); // senders use bidirectional streams
    s.set_handler(*this);
    Item item{&ch, ch.peer(), peer_key_of(ch), path_of(ch), s, {}, false, std::nullopt, take_announced(&ch)};
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
    if (channel::Channel *ch = channel::channel_of(s)) current_->path = path_of(*ch); // where it ended (--stats)
    end(s, e);
  }

  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    sink_.forget(s);
    std::erase_if(queue_, [&](const Item &i) { return i.stream == s; });
    if (!current_ || current_->stream != s) return;
    if (!confirmed_) return cut(e ? e->message : "stream closed");
    // Our confirmation was acknowledged: this stream is done.
    progress_.done();
    if (args_.transfer.stats) stats();
    current_.reset();
    if (!args_.keep) return run_.finish(kExitOk);
    if (lost_ && queue_.empty()) return run_.finish(lost_->first, lost_->second); // -k: nothing more can come
    if (!queue_.empty()) {
      Item next = queue_.front();
      queue_.pop_front();
      begin(next);
    }
  }
  void channel_closed(channel::Channel &ch, const Error &e) {
    if (current_ && current_->channel == &ch && !confirmed_) cut(e.message);
    std::erase_if(queue_, [&](const Item &i) { return i.channel == &ch; });
    announced_.erase(&ch);
  }
  // The coordinator is gone during a stream. While the Client reconnects,
  // the stream goes on: over its direct path, or once its relay is back
  // (the channel's liveness ends it otherwise). Should the coordinator not
  // be back when the streams we have end, -k ends with the loss's exit
  // code. A relayed stream whose coordinator is gone for good is cut
  // (exit 6, not 3). Returns whether the loss is handled here.
  bool coordinator_lost(const Error &e, bool reconnecting, int code, std::string text) {
    if (!current_ || confirmed_) return false;
    channel::Channel *ch = channel::channel_of(current_->stream);
    bool direct = ch && ch->session().on_direct_path();
    if (!direct && !reconnecting) {
      cut("lost the coordinator: " + e.message);
      return true;
    }
    if (reconnecting)
      CONEC_WARN("lost the coordinator ({}); the transfer from '{}' {}", e.message, printable(current_->peer),
                 direct ? "goes on over its direct path" : "waits for its relay to come back");
    lost_ = {code, std::move(text)};
    return true;
  }
  void registered_again() { lost_.reset(); }
  // A sender announced its size (size_announce.hpp) on `ch`; it may come
  // before or after its data stream. One per channel is kept.
  void announced(const channel::Channel *ch, uint64_t size) {
    if (current_ && current_->channel == ch && !confirmed_) return progress_.set_total(size);
    for (Item &i : queue_)
      if (i.channel == ch) {
        i.size = size;
        return;
      }
    announced_[ch] = size;
  }
  // No stream in progress: none, or the current one is confirmed (its data
  // is all written; only the sender's acknowledgement of our confirmation
  // is on its way, and the sender may already have exited 0) and none waits.
  bool between_streams() const { return !current_ || (confirmed_ && queue_.empty()); }
  bool began() const { return taken_ > 0; }
  // For the error line of an interrupted recv.
  std::string interrupted_text() const {
    if (!current_ || confirmed_) return "interrupted";
    return "interrupted after " + std::to_string(received_) + " bytes from '" + current_->peer + "'" + kept();
  }

private:
  struct Item {
    const channel::Channel *channel; // identity only: never dereferenced (it may be gone)
    std::string peer;
    std::string peer_key;   // its public-key fingerprint (--stats)
    std::string path;       // the channel's path when the stream arrived, then when it ended (--stats)
    channel::Stream stream; // inert once the stream ended
    std::vector<Bytes> early; // messages that arrived while it waited
    bool has_end = false;     // its end arrived while it waited
    std::optional<Error> ended;
    std::optional<uint64_t> size; // announced by the sender
  };
  std::optional<uint64_t> take_announced(const channel::Channel *ch) {
    auto it = announced_.find(ch);
    if (it == announced_.end()) return std::nullopt;
    uint64_t size = it->second;
    announced_.erase(it);
    return size;
  }
  void begin(Item item) {
    current_ = Item{item.channel, item.peer, item.peer_key, item.path, item.stream, {}, false, std::nullopt, item.size};
    ++taken_;
    received_ = 0;
    confirmed_ = false;
    started_ = monotonic_now();
    progress_.restart(item.size ? item.size : take_announced(item.channel));
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
      // FILE replaces an older one only now, whole, and before the sender
      // hears that it arrived.
      if (part_)
        if (auto r = part_->commit(); !r) return cut(r.error().message);
      ended_ = monotonic_now();
      (void)stream.send(as_bytes("ok " + std::to_string(received_)));
      (void)stream.finish();
      confirmed_ = true;
    });
  }
  void cut(const std::string &why) {
    std::string peer = current_ ? current_->peer : "?";
    progress_.done();
    run_.finish(kExitIncomplete, "transfer incomplete: the stream from '" + peer + "' was cut after " +
                                     std::to_string(received_) + " bytes: " + why + kept());
  }
  // Where the partial output is, for error lines ("" for stdout, or once
  // an earlier stream of -k committed FILE).
  std::string kept() const {
    if (!part_ || part_->committed()) return "";
    return "; the " + std::to_string(received_) + " bytes received are kept in " + part_->writing_to();
  }
  void stats() {
    Duration elapsed = ended_ - started_;
    std::fprintf(stderr, "conec: stats: %llu bytes from %s in %.3f s (%s), path %s, peer key %s\n",
                 static_cast<unsigned long long>(received_), printable(current_->peer).c_str(), double(elapsed) / 1e9,
                 human_rate(received_, elapsed).c_str(), current_->path.c_str(), current_->peer_key.c_str());
  }

  ClientRun &run_;
  const RecvArgs &args_;
  OutputSink &sink_;
  PartFile *part_;
  Progress progress_;
  std::optional<Item> current_;
  std::deque<Item> queue_;
  std::map<const channel::Channel *, uint64_t> announced_; // sizes whose stream has not arrived
  size_t taken_ = 0;
  std::optional<std::pair<int, std::string>> lost_; // the coordinator's loss, while a stream outlives it
  uint64_t received_ = 0;
  bool confirmed_ = false;
  Timestamp started_ = 0, ended_ = 0; // the current stream's arrival and end (--stats)
};

int run_recv(const RecvArgs &args, const GlobalOptions &global) {
  if (!args.group.empty()) {
    if (!is_group(args.group))
      return report_error("'" + printable(args.group) + "' is not a group: recv takes @GROUP (streams from one "
                          "peer: --from PEER)", kExitUsage);
    if (!args.output.empty() || !args.from.empty())
      return report_error("-o and --from are for streams, not with @GROUP", kExitUsage);
    GroupMode mode;
    mode.receive = true;
    mode.keep = args.keep;
    mode.lossless = args.lossless;
    return run_group(global, args.client, args.transfer, args.group, mode, 0);
  }
  int fd = 1;
  std::optional<PartFile> part;
  if (!args.output.empty() && args.output != "-") {
    auto file = PartFile::open(args.output);
    if (!file) return report_error(file.error().message, kExitUsage);
    part.emplace(std::move(*file));
    fd = part->fd();
  }
  ClientRun run(global, args.client);
  loop::Loop &loop = run.loop();
  OutputSink sink(loop, fd, args.transfer.framing(), args.transfer.tag);
  if (auto r = sink.open(); !r) return report_error("output: " + r.error().message, kExitUsage);
  Receiver receiver(run, args, sink, part ? &*part : nullptr);
  run.on_offer = [&](const std::string &peer) {
    return args.from.empty() || proto::canonical_id(peer) == proto::canonical_id(args.from);
  };
  auto size_stream = [&](channel::Channel &ch, uint64_t size) { receiver.announced(&ch, size); };
  run.on_stream = [&](channel::Channel &ch, channel::Stream &s) {
    if (!maybe_answer_ping(s, size_stream)) receiver.arrived(ch, s);
  };
  run.on_channel_closed = [&](channel::Channel &ch, const Error &e) { receiver.channel_closed(ch, e); };
  run.on_coordinator_loss = [&](const Error &e, bool reconnecting) {
    return receiver.coordinator_lost(e, reconnecting, ClientRun::exit_code_for(e), run.coordinator_error_text(e));
  };
  run.on_registered_again = [&] { receiver.registered_again(); };
  run.on_signal = [&](int signum) {
    if (args.keep && receiver.between_streams()) return run.finish(kExitOk);
    run.finish(signal_exit_code(signum), receiver.interrupted_text());
  };
  int code = run.run();
  bool closed = false;
  sink.close([&] { closed = true; });
  code = run.drain(code, [&] { return closed; });
  if (part && !receiver.began()) part->discard_unused();
  return code;
}

} // namespace

Command add_recv_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<RecvArgs>();
  CLI::App *app = root.add_subcommand("recv", "Receive a stream and write it to stdout or a file");
  add_global_options(*app, global);
  add_client_options(*app, args->client, true);
  app->add_option("GROUP", args->group, "@GROUP: print what the members of a group send (instead of a stream)")
      ->type_name("@GROUP");
  app->add_option("--from", args->from, "Accept streams only from this peer (others get exit 5)")->type_name("PEER");
  app->add_option("-o,--output", args->output, "Write to FILE instead of stdout")->type_name("FILE");
  app->add_flag("-k,--keep", args->keep, "Keep receiving stream after stream, in arrival order, until interrupted");
  add_transfer_options(*app, args->transfer, true, true);
  add_lossless_option(*app, args->lossless);
  Prose prose;
  prose.description =
      "Connects to the coordinator as ID and waits for a peer to send a stream (conec send). The stream is written "
      "to standard output (or FILE); once all of it is written, recv confirms it to the sender and exits 0. A stream "
      "cut short (the sender or its connection lost) is exit 6, with a message saying how many bytes arrived. A "
      "stream outlives a lost or restarted coordinator: on a direct path it does not need it, and a relayed one "
      "resumes once recv and the sender have reconnected and re-presented its relay (if that takes longer than the "
      "channel's liveness allows, about 5 s, it is cut).\n\n"
      "With -o FILE the stream is written to FILE.part, which is renamed to FILE once the stream ended cleanly (an "
      "existing FILE is replaced only then); on a cut or an interruption FILE.part is kept and the error names it. A "
      "FILE that is a device or a fifo is written directly. With -k, FILE appears with the first complete stream and "
      "later ones are appended to it.\n\n"
      "A progress line (bytes, and the total, percent and ETA when the sender announced its size, as send FILE does) "
      "is shown when stderr is a terminal; --stats prints bytes, time, rate and path for each stream.\n\n"
      "With --from, channels from any other peer are refused (their send exits 5). With -k, recv keeps receiving "
      "streams one at a time in arrival order (later ones wait their turn) until interrupted; SIGINT between streams "
      "exits 0.\n\n"
      "With @GROUP, recv joins the group (creating it if needed; --lossless makes a new group lossless) and prints "
      "every message its members send, in the one order the coordinator gives the group (--tag prefixes each with "
      "its sender's id). It exits 0 once the first member it received from has left (as conec send @GROUP does at the "
      "end of its input); with -k it runs until interrupted, and SIGINT, SIGTERM or SIGHUP exit 0 once the output is "
      "written. In a drop-oldest group (the default) a member that falls behind loses its oldest messages instead "
      "of slowing the others: recv then prints 'conec: warning: lost N messages from @GROUP' and goes on. A member "
      "that takes nothing for the coordinator's deadline (default 10 s) while messages wait is removed: exit 6. "
      "A lossless group paces every sender to its slowest member instead.";
  prose.examples = {
      {"conec recv -i bob -o report.pdf", "Receive one file as bob."},
      {"conec recv -i watcher @status -k --lines --tag", "Print every line sent to @status, with its sender."},
      {"conec recv -i bob --from alice | tar xz", "Unpack a stream, accepting it only from alice."},
      {"conec recv -i logs -k --lines --tag", "Collect lines from many senders, each prefixed with its id."},
  };
  return Command{app, [args, &global] { return run_recv(*args, global); }, prose};
}

} // namespace conec::cli
