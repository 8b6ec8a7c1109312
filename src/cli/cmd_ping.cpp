// `conec ping PEER`: open a channel to PEER and measure application-level
// round trips on it (probes echoed by PEER's conec, see ping_echo.hpp), and
// say which path the channel uses.
//
// Output (stdout, the command's data): one line per reply, with the path
// the channel used when the reply came (a switch shows as a change)
//   reply from bob: seq=1 time=0.41 ms path=relay
//   reply from bob: seq=2 time=0.12 ms path=direct 10.99.0.2:40123
// and a summary once the run is over (also after SIGINT or --timeout),
// with the path at the end
//   4 sent, 4 received, min/avg/max = 0.38/0.41/0.45 ms, path direct 10.99.0.2:40123
// Exit 0 if at least one reply came, else 5.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "client_run.hpp"
#include "exit_codes.hpp"
#include "ping_echo.hpp"
#include "util/escape.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

struct PingArgs {
  ClientArgs client;
  std::string peer;
  unsigned count = 4;
  double interval = 1.0; // seconds between probes
};

// How long to wait for outstanding replies after the last probe.
constexpr uint64_t kLingerMs = 2000;

std::string ms(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", double(d) / double(kMillisecond));
  return buf;
}

class Pinger final : public channel::StreamHandler {
public:
  Pinger(ClientRun &run, const PingArgs &args) : run_(run), args_(args) {}

  void requested() { requested_at_ = monotonic_now(); }

  // Pings go on over an open channel while the Client reconnects: direct,
  // or through the relay once it is back (lost pings count as lost).
  bool coordinator_lost(const Error &e, bool reconnecting) {
    if (!channel_ || !reconnecting) return false;
    CONEC_WARN("lost the coordinator ({}); pinging '{}' goes on", e.message, printable(args_.peer));
    return true;
  }
  void start(channel::Channel &ch) {
    channel_ = &ch;
    path_ = path_of(ch);
    peer_key_ = peer_key_of(ch);
    CONEC_INFO("channel to '{}' open in {} ms (path {}, peer key {})", args_.peer,
               ms(monotonic_now() - requested_at_), path_, peer_key_);
    auto stream = ch.open_stream(false, {proto::StreamKind::ping, {}});
    if (!stream)
      return run_.finish(kExitFailure,
                         "cannot open a stream to '" + args_.peer + "': " + stream.error().message);
    out_ = *stream;
    out_.set_handler(*this);
    uint64_t every = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(args_.interval * 1000)));
    probe_timer_.emplace(run_.loop(), [this] { probe(); });
    probe_timer_->start(0, every);
  }

  // A stream PEER opened: the echo stream, or something we do not want.
  // On the other end of a channel to ourselves (ping -i ME ME), we are the
  // one answering.
  void incoming(channel::Channel &ch, channel::Stream &s) {
    if (&ch != channel_) {
      if (!maybe_answer_ping(s)) s.reset();
      return;
    }
    if (s.bidirectional() || in_ || s.label().kind != proto::StreamKind::ping_echo) return s.reset();
    in_ = s;
    in_.set_handler(*this);
    answered_ = true; // PEER knows pings: it opened the echo stream
  }

  void on_message(channel::Stream &s, Bytes m) override {
    if (s != in_) return;
    std::string_view text = as_chars(m);
    uint64_t seq = 0;
    if (text.starts_with("seq=")) std::from_chars(text.data() + 4, text.data() + text.size(), seq);
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end()) {
      CONEC_WARN("ignoring an unexpected reply from '{}': '{}'", args_.peer, std::string(text.substr(0, 64)));
      return;
    }
    Duration rtt = monotonic_now() - it->second;
    outstanding_.erase(it);
    rtts_.push_back(rtt);
    if (channel_) path_ = path_of(*channel_);
    std::printf("reply from %s: seq=%llu time=%s ms path=%s\n", args_.peer.c_str(),
                static_cast<unsigned long long>(seq), ms(rtt).c_str(), path_.c_str());
    std::fflush(stdout);
    if (sent_ == args_.count && outstanding_.empty()) done();
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    if (s == in_ && e && !run_.finished()) lost("the echo stream was cut: " + e->message);
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    if (s == in_) in_ = {};
    if (s != out_) return;
    out_ = {};
    if (!e || run_.finished()) return;
    // Reset before any answer: PEER's conec does not know pings.
    if (!answered_) return not_answering(e->message);
    lost("the ping stream was cut: " + e->message);
  }

  void channel_closed(channel::Channel &ch, const Error &e) {
    if (&ch != channel_) return;
    channel_ = nullptr;
    lost("the channel to '" + args_.peer + "' closed: " + e.message);
  }

  // The summary line, once, if the channel ever opened.
  void summary() {
    if (summarized_ || !channel_opened()) return;
    summarized_ = true;
    if (channel_) path_ = path_of(*channel_);
    std::printf("%u sent, %zu received", sent_, rtts_.size());
    if (!rtts_.empty()) {
      Duration lo = *std::min_element(rtts_.begin(), rtts_.end());
      Duration hi = *std::max_element(rtts_.begin(), rtts_.end());
      Duration sum = 0;
      for (Duration d : rtts_) sum += d;
      std::printf(", min/avg/max = %s/%s/%s ms", ms(lo).c_str(), ms(sum / rtts_.size()).c_str(),
                  ms(hi).c_str());
    }
    std::printf(", path %s, peer key %s\n", path_.c_str(), peer_key_.c_str());
    std::fflush(stdout);
  }

private:
  bool channel_opened() const { return !path_.empty(); }

  void probe() {
    if (!out_ || run_.finished()) return;
    if (sent_ == args_.count) return;
    uint64_t seq = ++sent_;
    outstanding_[seq] = monotonic_now();
    if (auto r = out_.send(as_bytes("seq=" + std::to_string(seq))); !r) {
      // Refused before any answer: PEER's conec stopped reading our pings.
      if (!answered_) return not_answering(r.error().message);
      return lost("cannot send probe " + std::to_string(seq) + ": " + r.error().message);
    }
    if (sent_ == args_.count) {
      probe_timer_->stop();
      linger_.emplace(run_.loop(), [this] { done(); });
      linger_->start(kLingerMs);
    }
  }
  void done() {
    if (run_.finished()) return;
    (void)out_.finish(); // fails harmlessly if it already ended
    if (!rtts_.empty()) return run_.finish(kExitOk);
    run_.finish(kExitPeer, "no reply from '" + args_.peer + "': " + std::to_string(sent_) +
                               " probe(s) sent, none answered");
  }
  // The channel or a stream ended early: like packet loss if some replies
  // came (exit 0, with a warning), a failure otherwise.
  void lost(const std::string &why) {
    if (run_.finished()) return;
    if (!rtts_.empty()) {
      CONEC_WARN("{}", why);
      return run_.finish(kExitOk);
    }
    run_.finish(kExitPeer, "no reply from '" + args_.peer + "': " + why);
  }
  void not_answering(const std::string &detail) {
    if (run_.finished()) return;
    run_.finish(kExitPeer,
                "'" + args_.peer +
                    "' does not answer pings (it must run a conec client that accepts channels, such as "
                    "conec recv or conec client, of a version that knows ping): " +
                    detail);
  }

  ClientRun &run_;
  const PingArgs &args_;
  channel::Channel *channel_ = nullptr;
  channel::Stream out_; // probes to PEER (empty until opened / once closed)
  channel::Stream in_;  // echoes from PEER
  std::string path_;
  std::string peer_key_; // the peer's public-key fingerprint (summary line)
  std::optional<loop::Timer> probe_timer_, linger_;
  Timestamp requested_at_ = 0;
  unsigned sent_ = 0;
  bool answered_ = false;
  bool summarized_ = false;
  std::map<uint64_t, Timestamp> outstanding_; // seq -> when sent
  std::vector<Duration> rtts_;
};

int run_ping(const PingArgs &args, const GlobalOptions &global) {
  ClientRun run(global, args.client);
  Pinger pinger(run, args);
  run.on_ready = [&] {
    pinger.requested();
    run.open_channel(args.peer, [&](channel::Channel &ch) { pinger.start(ch); });
  };
  // We only ask for channels, except for a channel to ourselves.
  run.on_offer = [&](const std::string &peer) {
    return proto::canonical_id(peer) == proto::canonical_id(run.client().id());
  };
  run.on_stream = [&](channel::Channel &ch, channel::Stream &s) { pinger.incoming(ch, s); };
  run.on_channel_closed = [&](channel::Channel &ch, const Error &e) { pinger.channel_closed(ch, e); };
  run.on_coordinator_loss = [&](const Error &e, bool reconnecting) { return pinger.coordinator_lost(e, reconnecting); };
  int code = run.run();
  pinger.summary(); // also after SIGINT, --timeout or a lost channel
  return code;
}

} // namespace

Command add_ping_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<PingArgs>();
  CLI::App *app = root.add_subcommand("ping", "Measure round-trip times to PEER and show the path in use");
  add_global_options(*app, global);
  app->add_option("PEER", args->peer, "The client to ping")->required()->type_name("PEER");
  app->add_option("-n,--count", args->count, "Number of probes to send")
      ->default_val(args->count)
      ->check(CLI::Range(1u, 1000000u))
      ->type_name("N");
  app->add_option("--interval", args->interval, "Seconds between probes")
      ->default_val(args->interval)
      ->check(CLI::Range(0.001, 3600.0))
      ->type_name("SECONDS");
  add_client_options(*app, args->client, false);
  Prose prose;
  prose.description =
      "Connects to the coordinator (under a fresh random id unless --id is given), opens a channel to PEER "
      "and "
      "sends COUNT small probes on it, one every INTERVAL seconds. PEER's conec echoes each one; ping prints "
      "a line "
      "per reply on standard output with the round-trip time and the path the channel used for it (relay: "
      "through the coordinator; direct ADDRESS: hole-punched, to the peer at ADDRESS), so the switch from the "
      "relay to a direct path shows as a change; then a summary line with the number of probes sent and "
      "answered, the minimum, average and maximum round-trip time, and the path at the end. It waits up to 2 seconds after the last probe for late "
      "replies. The summary is also printed when ping is interrupted or --timeout expires.\n\n"
      "Round-trip times are measured at the application level, through the channel's encryption and flow "
      "control: "
      "they include what a data stream between the two clients would see, not just the network. PEER must be "
      "a "
      "conec client that accepts channels (conec recv, conec client); its conec answers on its own, without "
      "disturbing the streams it is receiving.\n\n"
      "The exit status is 0 if at least one reply came, 5 if PEER is not connected, refuses the channel or "
      "answers none of the probes.";
  prose.examples = {
      {"conec ping bob",
       "Four probes to bob, one per second (CONEC_COORD and CONEC_PIN set in the environment)."},
      {"conec ping -c coord.example:1719 --pin sha256:... -n 10 --interval 0.2 bob",
       "Ten probes, five per second."},
      {"conec ping -n 1 bob >/dev/null && echo bob is there", "Check that bob is connected and answering."},
  };
  return Command{app, [args, &global] { return run_ping(*args, global); }, prose};
}

} // namespace conec::cli
