// `conec client -i ID [--exec CMD] [-k]`: stay connected as ID and serve the
// bidirectional streams peers open to us (`conec open ID`), like `nc -l`.
//
//  - Without --exec, the first stream is bridged to stdin/stdout exactly as
//    `open` does it (half-close both ways), and the command exits when it is
//    done: 0 when both directions ended cleanly, 6 when it was cut. With -k
//    the next stream is served after it, in arrival order (later ones wait,
//    paused). Standard input can only be read once: after its end, later
//    streams get a sending side that is finished at once; a stream cut
//    while stdin is still open loses the input read for it but not yet sent.
//  - With --exec CMD every incoming stream runs `sh -c CMD` concurrently,
//    its stdin fed with the stream's messages and its stdout sent back on
//    the stream; CONEC_PEER and CONEC_ID are set. It starts when the stream
//    arrives (streams are announced before any data), and once it exited
//    with its output ended the stream is no longer read
//    (kStreamErrorExited), which ends the peer's `open` cleanly. At most --max-procs
//    commands run at once: later streams wait paused (holding back the
//    peer's credit) in arrival order, and beyond --max-queued waiting ones
//    are reset with kStreamErrorBusy, which `conec open` reports as busy
//    (exit 5). The command serves until SIGHUP/SIGINT/SIGTERM (children
//    get SIGTERM first).
//
// The coordinator connection is kept: once registered, a lost connection
// (coordinator gone, unreachable or restarted) is re-established by the
// Client from the same socket (ClientOptions::reconnect: 0.25 s doubling to
// 30 s, with jitter) and the id registered again. Streams in flight go on:
// on direct channels they never needed the coordinator, and relayed ones
// resume once both ends re-presented their relay. A refusal, an untrusted
// coordinator or a failure before the first registration still ends the
// command with the exit code of SPEC §5; "id in use" after a reconnection
// is retried, since the coordinator may still hold our previous connection.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <list>

#include "client_run.hpp"
#include "util/escape.hpp"
#include "exit_codes.hpp"
#include "loop/process.hpp"
#include "ping_echo.hpp"
#include "stream_codes.hpp"
#include "transfer_args.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

// A stream closed with the channel because the peer closed it normally
// (code 0), as `conec open` does right after its stream is done: if both
// directions had already ended cleanly, only the peer's acknowledgement of
// our end was still on its way, and the peer has everything.
bool closed_by_peer_normally(const channel::Stream &s, const Error &e) {
  channel::Channel *ch = channel::channel_of(s);
  return e.category == ErrorCategory::peer && e.code == 0 && (!ch || !ch->is_open());
}

struct ClientCmdArgs {
  ClientArgs client;
  TransferArgs transfer;
  std::string exec;
  unsigned max_procs = 64;  // --exec: commands running at once
  unsigned max_queued = 64; // --exec: streams waiting for one of them
  bool keep = false;
};

class Service;

// What the service does with incoming streams (stdio bridge or --exec).
class Server {
public:
  virtual ~Server() = default;
  // Before connecting: prepare outputs. Errors are usage errors.
  virtual Result<void> open() { return {}; }
  virtual void arrived(channel::Channel &ch, channel::Stream &s) = 0;
  // The run is over: let go of every stream, ask children to stop.
  virtual void stop() = 0;
  // Nothing left to wait for after stop() (children exited).
  virtual bool idle() const { return true; }
  // Last step before exiting: close outputs (bounded by the caller).
  virtual void close_output(std::function<void()> done) { done(); }
};

// ---------------------------------------------------------------------------
// The client connection, kept alive across coordinator restarts.

class Service final : public client::ClientHandler {
public:
  explicit Service(const ClientCmdArgs &args) : args_(args) {}
  ~Service() override { client_.reset(); }

  void set_server(Server &server) { server_ = &server; }
  int run();
  void finish(int code, const std::string &error = {}) {
    if (exit_code_) return;
    exit_code_ = code;
    error_ = error;
    loop_.stop();
  }
  bool finished() const { return exit_code_.has_value(); }
  loop::Loop &loop() { return loop_; }
  const std::string &id() const { return options_.id; }
  const ClientCmdArgs &args() const { return args_; }

private:
  void on_registered(client::Client &c) override {
    if (c.reregistrations()) CONEC_INFO("reconnected to the coordinator as '{}'", c.id());
  }
  // The Client reconnects by itself (ClientOptions::reconnect); its peer
  // channels, and the streams on them, stay: direct ones need no
  // coordinator, relayed ones resume once it is back (or end by their
  // channel's liveness checks if it is not back in time).
  void on_coordinator_lost(client::Client &, const Error &error) override {
    CONEC_WARN("lost the connection to coordinator {}: {}; reconnecting", args_.client.coord, error.message);
  }
  void on_disconnected(client::Client &, const Error &error) override {
    if (finished()) return;
    finish(ClientRun::exit_code_for(error),
           ClientRun::coordinator_error_text(error, args_.client.coord, options_.identity.cert_pem));
  }
  void on_peer_stream(client::Client &, channel::Channel &ch, channel::Stream &s) override {
    if (finished()) return s.reset();
    if (!maybe_answer_ping(s)) server_->arrived(ch, s);
  }

  const ClientCmdArgs &args_;
  loop::Loop loop_;
  client::ClientOptions options_;
  Server *server_ = nullptr;
  std::unique_ptr<client::Client> client_;
  std::optional<int> exit_code_;
  std::string error_;
};

int Service::run() {
  auto options = make_client_options(args_.client);
  if (!options) return report_error(options.error().message, kExitUsage);
  options_ = *options;
  options_.reconnect = true;
  if (auto r = server_->open(); !r) return report_error(r.error().message, kExitUsage);
  auto client = client::Client::create(loop_, options_, *this);
  if (!client) {
    int code = client.error().category == ErrorCategory::usage ? kExitUsage : kExitFailure;
    return report_error(client.error().message, code);
  }
  client_ = std::move(*client);
  CONEC_INFO("connecting to {} as '{}'", options_.coordinator.to_string(), client_->id());

  auto signal = [this](int signum) { finish(signal_exit_code(signum), "interrupted"); };
  // SIGHUP too: ssh ends a ProxyCommand (and a closed terminal its jobs) with it.
  loop::Signal sighup(loop_, SIGHUP, signal), sigint(loop_, SIGINT, signal), sigterm(loop_, SIGTERM, signal);
  std::optional<loop::Timer> deadline;
  if (args_.client.timeout > 0) {
    deadline.emplace(loop_, [this] {
      finish(kExitTimeout, "timed out after " + std::to_string(args_.client.timeout) + " s");
    });
    deadline->start(static_cast<uint64_t>(args_.client.timeout * 1000));
  }
  while (!exit_code_ && loop_.run_once()) {
  }

  // Wind down: streams let go, children asked to stop (bounded wait), the
  // coordinator told goodbye, outputs closed.
  server_->stop();
  bool waited = false;
  loop::Timer limit(loop_, [&] { waited = true; });
  limit.start(2000);
  while (!server_->idle() && !waited && loop_.run_once()) {
  }
  client_->close();
  waited = false;
  limit.start(300);
  while (!waited && !client_->closes_sent() && loop_.run_once()) {
  }
  bool closed = false;
  server_->close_output([&] { closed = true; });
  waited = false;
  limit.start(2000);
  while (!closed && !waited && loop_.run_once()) {
  }
  hold_exit_signals(); // the watchers above go with this frame
  if (!error_.empty()) report_error(error_, exit_code_.value_or(kExitFailure));
  return exit_code_.value_or(kExitFailure);
}

// ---------------------------------------------------------------------------
// Without --exec: streams bridged to stdin/stdout one at a time.

class StdioServer final : public Server, public channel::StreamHandler {
public:
  StdioServer(Service &service, const ClientCmdArgs &args)
      : service_(service), args_(args), sink_(service.loop(), 1, args.transfer.framing(), args.transfer.tag),
        progress_(service.loop(), args.transfer.show_progress() && !args.keep, std::nullopt) {}

  Result<void> open() override {
    if (auto r = sink_.open(); !r) return fail(ErrorCategory::usage, "cli", "output: " + r.error().message);
    return {};
  }

  void arrived(channel::Channel &ch, channel::Stream &s) override {
    if (!s.bidirectional()) return s.reset(); // `open` uses bidirectional streams
    if (current_ || (!args_.keep && taken_ > 0)) {
      if (!args_.keep) return s.reset(); // one stream only
      s.set_handler(*this);
      s.pause_reading();
      queue_.push_back(Item{ch.peer(), s, {}, {}});
      return;
    }
    s.set_handler(*this);
    begin(Item{ch.peer(), s, {}, {}});
  }

  void on_message(channel::Stream &s, Bytes m) override {
    if (current_ && current_->stream == s) return deliver(s, std::move(m));
    // A waiting stream is paused, but what was decoded already still comes:
    // keep it for its turn (at most about one flow-control window).
    if (Item *item = queued(s)) item->pending.push_back(std::move(m));
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    if (current_ && current_->stream == s) return ended(e);
    if (Item *item = queued(s)) item->end = e;
  }
  void on_writable(channel::Stream &s) override {
    if (current_ && current_->stream == s && pump_) pump_->writable();
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    sink_.forget(s);
    if (!current_ || current_->stream != s) {
      std::erase_if(queue_, [&](const Item &i) { return i.stream == s; });
      return;
    }
    bool clean = !e || (peer_ended_ && input_finished_ && closed_by_peer_normally(s, *e));
    current_->stream = {};
    drop_pump();
    if (!clean) return cut(e->message);
    closed_ = true; // both directions ended cleanly
    check_done();
  }

  void stop() override { detach_all(); }
  void close_output(std::function<void()> done) override { sink_.close(std::move(done)); }

private:
  struct Item {
    std::string peer;
    channel::Stream stream; // inert once the stream ended; empty once it closed
    std::vector<Bytes> pending;                  // messages that came while it waited
    std::optional<std::optional<Error>> end;     // its end, if that came too
  };

  Item *queued(channel::Stream &s) {
    for (auto &i : queue_)
      if (i.stream == s) return &i;
    return nullptr;
  }

  void begin(Item item) {
    current_ = Item{item.peer, item.stream, {}, {}};
    peer_ = item.peer;
    ++taken_;
    ++serial_;
    received_ = sent_ = 0;
    closed_ = output_done_ = peer_ended_ = input_finished_ = false;
    started_ = monotonic_now();
    CONEC_INFO("serving a stream from '{}'", peer_);
    channel::Stream s = item.stream;
    if (stdin_ended_) {
      // Standard input was used up by an earlier stream.
      if (auto r = s.finish(); !r) return cut(r.error().message);
      input_finished_ = true;
    } else {
      pump_.emplace(service_.loop(), 0, args_.transfer.framing(), proto::kDefaultMaxMessage, s,
                    [this](std::optional<Error> e) { input_done(std::move(e)); });
      if (auto r = pump_->start(); !r) {
        s.reset();
        return service_.finish(kExitUsage, "cannot read input: " + r.error().message);
      }
    }
    if (!item.end) s.resume_reading(); // before the sink may pause it again
    for (auto &m : item.pending) deliver(s, std::move(m));
    if (item.end) ended(*item.end);
  }

  void deliver(channel::Stream &s, Bytes m) {
    received_ += m.size();
    progress_.update(received_ + sent());
    sink_.write(s, peer_, m);
  }

  // The peer's side of the current stream ended.
  void ended(const std::optional<Error> &e) {
    if (e) return cut(e->message);
    peer_ended_ = true;
    auto done = [this, serial = serial_] {
      if (!current_ || serial_ != serial) return;
      output_done_ = true;
      check_done();
    };
    // Half-close: the reader of our stdout sees its end now, unless later
    // streams (-k) still need stdout.
    if (args_.keep) sink_.flush(done);
    else sink_.close(done);
  }

  void input_done(std::optional<Error> e) {
    if (!e) {
      stdin_ended_ = input_finished_ = true; // our side is finished; the close follows
      return;
    }
    if (current_) current_->stream.reset(); // no-op if it already ended
    if (e->category == ErrorCategory::io) return service_.finish(kExitFailure, "input: " + e->message);
    if (e->category == ErrorCategory::limit || e->category == ErrorCategory::usage)
      return service_.finish(kExitUsage, "input: " + e->message);
    cut(e->message);
  }

  uint64_t sent() const { return pump_ ? pump_->bytes() : sent_; }

  void drop_pump() {
    if (!pump_) return;
    sent_ = pump_->bytes();
    pump_.reset(); // the stream must not be touched again
  }

  void check_done() {
    if (!current_ || !closed_ || !output_done_ || service_.finished()) return;
    if (sink_.error()) return service_.finish(kExitFailure, "cannot write output: " + sink_.error()->message);
    progress_.update(received_ + sent());
    progress_.done();
    if (args_.transfer.stats) stats();
    CONEC_INFO("the stream from '{}' is done: {} bytes received, {} bytes sent", peer_, received_, sent());
    current_.reset();
    if (!args_.keep) return service_.finish(kExitOk);
    next();
  }

  void next() {
    if (queue_.empty()) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    begin(std::move(item));
  }

  void cut(const std::string &why) {
    if (!current_ || service_.finished()) return;
    std::string text = "the stream from '" + peer_ + "' was cut after " + std::to_string(received_) +
                       " bytes received and " + std::to_string(sent()) + " bytes sent: " + why;
    progress_.done();
    if (!args_.keep) return service_.finish(kExitIncomplete, "transfer incomplete: " + text);
    CONEC_WARN("{}", text);
    const channel::Stream &s = current_->stream;
    s.clear_handler();
    sink_.forget(s);
    s.reset();
    drop_pump();
    current_.reset();
    next();
  }

  void detach_all() {
    drop_pump();
    if (current_) {
      current_->stream.clear_handler();
      sink_.forget(current_->stream);
    }
    current_.reset();
    for (auto &i : queue_) {
      i.stream.clear_handler();
      sink_.forget(i.stream);
    }
    queue_.clear();
  }

  void stats() {
    Duration elapsed = monotonic_now() - started_;
    std::fprintf(stderr, "conec: stats: %llu bytes received from %s, %llu bytes sent in %.3f s (%s), path relay\n",
                 static_cast<unsigned long long>(received_), printable(peer_).c_str(), static_cast<unsigned long long>(sent()),
                 double(elapsed) / 1e9, human_rate(received_ + sent(), elapsed).c_str());
  }

  Service &service_;
  const ClientCmdArgs &args_;
  OutputSink sink_;
  Progress progress_;
  std::optional<Item> current_;
  std::deque<Item> queue_;
  std::string peer_;
  std::optional<InputPump> pump_;
  bool stdin_ended_ = false;
  size_t taken_ = 0;
  uint64_t serial_ = 0; // which stream is current (callbacks of earlier ones are stale)
  uint64_t received_ = 0, sent_ = 0;
  bool closed_ = false, output_done_ = false, peer_ended_ = false, input_finished_ = false;
  Timestamp started_ = 0;
};

// ---------------------------------------------------------------------------
// --exec CMD: one child per stream, all at once.

class ExecServer;

// One incoming stream bridged to one `sh -c CMD`: the stream's messages go to
// the child's stdin (the stream's end closes it), the child's stdout goes
// back on the stream (its end finishes our side). Done once the stream is
// closed (or cut) and the child has exited.
class ExecSession final : public channel::StreamHandler {
public:
  ExecSession(ExecServer &server, channel::Channel &ch, const channel::Stream &s);
  Result<void> start(const std::string &command, const std::string &our_id);

  void on_message(channel::Stream &s, Bytes m) override {
    received_ += m.size();
    // The command stopped reading (its stdin pipe is broken): discard the
    // rest, keeping the window open so the peer can finish.
    if (sink_->error()) return;
    sink_->write(s, peer_, m);
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    if (e) return cut(e->message);
    peer_ended_ = true;
    sink_->close([] {}); // end of file for the command
  }
  void on_writable(channel::Stream &) override {
    if (pump_) pump_->writable();
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &e) override {
    bool clean = !e || (output_finished_ && ((peer_ended_ && closed_by_peer_normally(s, *e)) ||
                                             (stopped_reading_ && e->code == int64_t(kStreamErrorExited))));
    sink_->forget(s);
    stream_ = {};
    drop_pump();
    if (!clean) return cut(e->message);
    stream_closed_ = true;
    check_done();
  }

  // The stream is gone (connection lost, shutting down): let go of it,
  // close the child's pipes and ask it to stop.
  void detach();
  bool exited() const { return !process_.running(); }
  channel::Channel *channel() const { return channel::channel_of(stream_); } // null once detached or gone
  const std::string &peer() const { return peer_; }

private:
  void exited_with(const loop::ProcessExit &x);
  void output_done(std::optional<Error> e) {
    if (!e) {
      CONEC_DEBUG("command for '{}': end of output after {} bytes", peer_, sent());
      output_finished_ = true; // our side is finished
      return stop_if_over();
    }
    cut("the command's output: " + e->message);
  }
  // The command exited and its output ended: the session is over even if
  // the peer still sends (rsync, ssh-style services). Reading stops so the
  // peer's `open` ends too.
  void stop_if_over() {
    if (process_.running() || !output_finished_ || peer_ended_ || stopped_reading_ || cut_ || !stream_) return;
    CONEC_DEBUG("command for '{}' is over: no longer reading the stream", peer_);
    stopped_reading_ = true;
    sink_->forget(stream_);
    stream_.stop_reading(kStreamErrorExited);
    sink_->close([] {});
  }
  void cut(const std::string &why);
  void check_done();
  uint64_t sent() const { return pump_ ? pump_->bytes() : sent_; }
  void drop_pump() {
    if (!pump_) return;
    sent_ = pump_->bytes();
    pump_.reset();
  }

  ExecServer &server_;
  const ClientCmdArgs &args_;
  std::string peer_;
  channel::Stream stream_; // inert once the stream ended; empty once detached
  loop::Process process_;
  std::optional<OutputSink> sink_;  // the child's stdin
  std::optional<InputPump> pump_;   // the child's stdout
  std::optional<loop::Timer> kill_timer_;
  uint64_t received_ = 0, sent_ = 0;
  bool peer_ended_ = false, output_finished_ = false, stream_closed_ = false, reported_ = false, cut_ = false;
  bool stopped_reading_ = false; // the command exited before the peer's end
  Timestamp started_ = monotonic_now();
};

// Streams beyond --max-procs wait here, paused, until a command exits.
class ExecServer final : public Server, public channel::StreamHandler {
public:
  ExecServer(Service &service, const ClientCmdArgs &args)
      : service_(service), args_(args), reaper_(service.loop(), [this] { dead_.clear(); }) {}
  ~ExecServer() override {
    // Sessions go before the Client (their streams' handlers).
    detach_all();
    sessions_.clear();
    dead_.clear();
  }

  void arrived(channel::Channel &ch, channel::Stream &s) override {
    if (!s.bidirectional()) return s.reset();
    if (running() < args_.max_procs) return serve(Waiting{s, {}, {}});
    if (waiting_.size() >= args_.max_queued) {
      CONEC_WARN("refused a stream from '{}': busy ({} commands running, --max-procs {}; {} streams waiting, "
                 "--max-queued {})",
                 ch.peer(), running(), args_.max_procs, waiting_.size(), args_.max_queued);
      return s.reset(kStreamErrorBusy);
    }
    // Paused: the peer can send about one flow-control window, kept below.
    s.set_handler(*this);
    s.pause_reading();
    waiting_.push_back(Waiting{s, {}, {}});
    CONEC_INFO("stream from '{}' waits: {} commands running (--max-procs {}), {} waiting", ch.peer(), running(),
               args_.max_procs, waiting_.size());
  }

  // A waiting stream's events (serve() hands them over when its turn comes).
  void on_message(channel::Stream &s, Bytes m) override {
    if (Waiting *w = waiting(s)) w->pending.push_back(std::move(m));
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    if (Waiting *w = waiting(s)) w->end = e;
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &) override {
    std::erase_if(waiting_, [&](const Waiting &w) { return w.stream == s; });
  }

  // A command exited: its slot goes to the first waiting stream.
  void slot_freed() {
    while (!waiting_.empty() && running() < args_.max_procs && !service_.finished()) {
      Waiting w = std::move(waiting_.front());
      waiting_.pop_front();
      serve(std::move(w));
    }
  }
  void stop() override { detach_all(); }
  bool idle() const override {
    for (auto &s : sessions_)
      if (!s->exited()) return false;
    return true;
  }

  // The session is over: destroyed outside its own callbacks.
  void done(ExecSession &session) {
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->get() != &session) continue;
      dead_.push_back(std::move(*it));
      sessions_.erase(it);
      reaper_.schedule();
      return;
    }
  }
  Service &service() { return service_; }
  const ClientCmdArgs &args() const { return args_; }

private:
  struct Waiting {
    channel::Stream stream; // a handle: inert if the stream is gone meanwhile
    std::vector<Bytes> pending;              // messages that came while it waited
    std::optional<std::optional<Error>> end; // its end, if that came too
  };
  Waiting *waiting(channel::Stream &s) {
    for (auto &w : waiting_)
      if (w.stream == s) return &w;
    return nullptr;
  }
  size_t running() const {
    return static_cast<size_t>(std::count_if(sessions_.begin(), sessions_.end(), [](auto &s) { return !s->exited(); }));
  }

  // Starts the command for `w` and replays what arrived while it waited.
  void serve(Waiting w) {
    channel::Stream &s = w.stream;
    channel::Channel *ch = channel::channel_of(s);
    if (!ch) return; // it ended while it waited
    auto session = std::make_unique<ExecSession>(*this, *ch, s);
    if (auto r = session->start(args_.exec, service_.id()); !r) {
      CONEC_ERROR("cannot serve a stream from '{}': {}", ch->peer(), r.error().message);
      s.clear_handler();
      s.reset();
      return;
    }
    ExecSession &started = *session;
    sessions_.push_back(std::move(session));
    s.resume_reading();
    for (auto &m : w.pending) started.on_message(s, std::move(m));
    if (w.end) started.on_end(s, *w.end);
  }

  // Detaching may finish a session (moving it to dead_): iterate a copy.
  void detach_all() {
    std::vector<ExecSession *> all;
    for (auto &s : sessions_) all.push_back(s.get());
    for (ExecSession *s : all) s->detach();
    for (auto &w : waiting_) w.stream.clear_handler();
    waiting_.clear();
  }

  Service &service_;
  const ClientCmdArgs &args_;
  std::list<std::unique_ptr<ExecSession>> sessions_;
  std::deque<Waiting> waiting_;
  std::vector<std::unique_ptr<ExecSession>> dead_;
  loop::Deferred reaper_;
};

ExecSession::ExecSession(ExecServer &server, channel::Channel &ch, const channel::Stream &s)
    : server_(server), args_(server.args()), peer_(ch.peer()), stream_(s),
      process_(server.service().loop(), [this](const loop::ProcessExit &x) { exited_with(x); }) {}

Result<void> ExecSession::start(const std::string &command, const std::string &our_id) {
  loop::ProcessOptions o;
  o.argv = {"/bin/sh", "-c", command};
  o.env = {{"CONEC_PEER", peer_}, {"CONEC_ID", our_id}};
  o.own_group = true; // stopping it stops its whole pipeline
  if (auto r = process_.spawn(o); !r) return r;
  loop::Loop &loop = server_.service().loop();
  sink_.emplace(loop, process_.take_stdin(), args_.transfer.framing(), args_.transfer.tag);
  if (auto r = sink_->open(); !r) return r;
  pump_.emplace(loop, process_.take_stdout(), args_.transfer.framing(), proto::kDefaultMaxMessage, stream_,
                [this](std::optional<Error> e) { output_done(std::move(e)); });
  if (auto r = pump_->start(); !r) return r;
  stream_.set_handler(*this);
  CONEC_INFO("stream from '{}': running the command (pid {})", peer_, process_.pid());
  return {};
}

void ExecSession::detach() {
  stream_.clear_handler(); // each a no-op once the stream ended
  if (sink_) sink_->forget(stream_);
  stream_ = {};
  drop_pump();
  sink_.reset(); // end of file for the child
  stream_closed_ = true;
  if (process_.running() && !kill_timer_) {
    (void)process_.kill(SIGTERM);
    // A command that ignores SIGTERM gets SIGKILL a little later.
    kill_timer_.emplace(server_.service().loop(), [this] {
      if (process_.running()) (void)process_.kill(SIGKILL);
    });
    kill_timer_->start(5000);
  }
  check_done();
}

void ExecSession::exited_with(const loop::ProcessExit &x) {
  if (x.success())
    CONEC_DEBUG("command for '{}' (pid {}) exited", peer_, process_.pid());
  else
    CONEC_INFO("command for '{}' (pid {}) ended: {}", peer_, process_.pid(), x.describe());
  stop_if_over();
  check_done(); // may hand this session to the reaper; it lives until then
  server_.slot_freed();
}

void ExecSession::cut(const std::string &why) {
  if (cut_) return;
  cut_ = true;
  CONEC_WARN("the stream from '{}' was cut after {} bytes received and {} bytes sent: {}", peer_, received_, sent(),
             why);
  stream_.clear_handler();
  if (sink_) sink_->forget(stream_);
  stream_.reset();
  stream_ = {};
  detach();
}

void ExecSession::check_done() {
  if (reported_ || !stream_closed_ || process_.running()) return;
  reported_ = true;
  if (!cut_) {
    Duration elapsed = monotonic_now() - started_;
    CONEC_INFO("the stream from '{}' is done: {} bytes received, {} bytes sent", peer_, received_, sent());
    if (args_.transfer.stats)
      std::fprintf(stderr, "conec: stats: %llu bytes received from %s, %llu bytes sent in %.3f s (%s), path relay\n",
                   static_cast<unsigned long long>(received_), printable(peer_).c_str(), static_cast<unsigned long long>(sent()),
                   double(elapsed) / 1e9, human_rate(received_ + sent(), elapsed).c_str());
  }
  server_.done(*this);
}

int run_client(const ClientCmdArgs &args) {
  if (!args.exec.empty()) {
    // A child that quits without reading its input must not kill us: its
    // stdin pipe then fails with EPIPE (children get default dispositions).
    std::signal(SIGPIPE, SIG_IGN);
  }
  Service service(args);
  std::unique_ptr<Server> server;
  if (args.exec.empty()) server = std::make_unique<StdioServer>(service, args);
  else server = std::make_unique<ExecServer>(service, args);
  service.set_server(*server);
  int code = service.run();
  server.reset(); // before the Client goes with the service
  return code;
}

} // namespace

Command add_client_command(CLI::App &root, GlobalOptions &global) {
  auto args = std::make_shared<ClientCmdArgs>();
  CLI::App *app = root.add_subcommand(
      "client", "Stay connected as ID and serve the streams peers open (like nc -l), optionally with a command each");
  add_global_options(*app, global);
  add_client_options(*app, args->client, true);
  app->add_option("--exec", args->exec,
                  "Run `sh -c CMD` for each incoming stream, up to --max-procs at once, bridged to its stdin/stdout "
                  "(CONEC_PEER is the peer's id)")
      ->type_name("CMD");
  app->add_option("--max-procs", args->max_procs,
                  "With --exec: most commands running at once; later streams wait their turn")
      ->default_val(args->max_procs)
      ->check(CLI::Range(1u, 100000u))
      ->type_name("N");
  app->add_option("--max-queued", args->max_queued,
                  "With --exec: most streams waiting for a command; further ones are refused as busy")
      ->default_val(args->max_queued)
      ->type_name("N");
  app->add_flag("-k,--keep", args->keep,
                "Without --exec: after a stream is done, serve the next one (one at a time, in arrival order)");
  add_transfer_options(*app, args->transfer, true);
  Prose prose;
  prose.description =
      "Connects to the coordinator as ID and stays connected, serving the bidirectional streams that peers open "
      "with `conec open ID` - the listening side of open, like `nc -l`. If the coordinator goes away after we "
      "registered, client reconnects from the same socket with exponential backoff (0.25 s doubling up to 30 s, "
      "with jitter), registers again and re-presents the relays of its live channels: streams in flight go on. "
      "Those on a direct (hole-punched) channel never needed the coordinator; relayed ones stall and resume once "
      "the coordinator relays for both ends again, which it does after a restart too, provided both come back "
      "within its resume grace (10 s) and before the channel's own liveness check gives up (5 s without an answer "
      "while data waits, or the idle timeout). A refusal (id in use at start-up, id bound to "
      "another key, not authorized), an untrusted coordinator, or a coordinator that cannot be reached at "
      "start-up still ends it (exit 4, 3).\n\n"
      "Without --exec, the first incoming stream is bridged to standard input and output exactly like open does: "
      "the peer's data is written to stdout and its end closes stdout; stdin is sent to the peer and its end "
      "finishes our side. client exits 0 once both directions ended cleanly, 6 if the stream was cut. Other "
      "streams are refused meanwhile. With -k, client serves stream after stream in arrival order (later ones "
      "wait their turn) until interrupted; standard input can be read only once, so after its end later streams "
      "get no data from us (our side ends at once), and stdout stays open between streams.\n\n"
      "With --exec CMD, every incoming stream runs `sh -c CMD`, concurrently: the stream's "
      "messages are written to the command's standard input (the peer's end closes it) and the command's standard "
      "output is sent back (its end finishes our side); its standard error is ours. The command starts as soon as "
      "the stream arrives, before the peer sends anything, so it may speak first. Once it has exited and its "
      "output has ended, the stream stops being read, which ends the peer's `conec open` with exit 0 (as ssh ends "
      "when the remote command does). The environment has "
      "CONEC_PEER (the peer's id) and CONEC_ID (ours). Flow control holds a fast peer back while the command does "
      "not read, and pauses the command's output while the peer does not. A command exiting non-zero is logged "
      "(-v). At most --max-procs commands (default 64) run at once; a stream arriving "
      "while that many run waits, in arrival order, without its data being read (flow control holds the peer "
      "back), and once --max-queued streams (default 64) wait, further ones are refused: the stream is reset "
      "with code 0x4259 and the peer's `conec open` reports that we are busy (exit 5). With --exec, client "
      "serves until SIGHUP, SIGINT or SIGTERM (exit 129, 130, 143); running commands get SIGTERM then.";
  prose.examples = {
      {"conec client -i bob > in.txt < out.txt", "Accept one stream: save what the peer sends, answer with a file."},
      {"conec client -i upper --exec 'tr a-z A-Z'", "A service: every `conec open upper` gets its input upper-cased."},
      {"conec client -i shell --exec 'echo \"hello $CONEC_PEER\"; cat'", "Greet each peer by id, then echo."},
      {"conec client -i log -k --lines --tag >> chat.log < /dev/null", "Collect lines from one peer after another."},
  };
  return Command{app, [args] { return run_client(*args); }, prose};
}

} // namespace conec::cli
