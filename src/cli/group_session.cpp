#include "group_session.hpp"

#include <optional>

#include "client/group.hpp"
#include "exit_codes.hpp"
#include "stdio_bridge.hpp"
#include "util/escape.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

class GroupSession final : public client::GroupHandler {
public:
  GroupSession(ClientRun &run, const TransferArgs &transfer, std::string name, GroupMode mode, int in_fd,
               OutputSink &sink)
      : run_(run), transfer_(transfer), name_(std::move(name)), mode_(mode), in_fd_(in_fd), sink_(sink) {}

  void start() {
    client::GroupOptions options{mode_.receive, mode_.echo && mode_.receive, mode_.lossless};
    auto group = client::Group::join(run_.client(), name_, *this, options);
    if (!group) return run_.finish(kExitFailure, "cannot join @" + name_ + ": " + group.error().message);
    group_ = std::move(*group);
    if (!mode_.send) return;
    pump_.emplace(run_.loop(), in_fd_, transfer_.framing(), proto::kDefaultMaxMessage,
                  MessageOut{[this](ByteView m) { return group_->send(m); }, [this] { return group_->leave(); }},
                  [this](std::optional<Error> e) { input_done(std::move(e)); });
    if (auto r = pump_->start(); !r) run_.finish(kExitUsage, "cannot read input: " + r.error().message);
  }

  // recv -k on SIGINT/SIGTERM: leave, and exit 0 once the output is out.
  // A second signal (still leaving: the output or the coordinator is
  // stuck) stops at once.
  bool leave_quietly() {
    if (!group_ || mode_.send || leaving_ || group_->closed()) return false;
    leaving_ = true;
    (void)group_->leave();
    return true;
  }
  // The coordinator is gone: so is the membership (it is not resumed).
  bool coordinator_lost(const Error &e) {
    if (!group_ || run_.finished()) return false;
    cut("lost the coordinator: " + e.message);
    return true;
  }

  void on_joined(client::Group &g, const proto::GroupJoined &j) override {
    CONEC_INFO("joined @{} ({}, {} member{})", g.name(), proto::to_string(j.policy), j.members,
               j.members == 1 ? "" : "s");
    if (mode_.lossless && j.policy != proto::GroupPolicy::lossless)
      CONEC_WARN("@{} exists already and is {}: --lossless applies only to the member that creates a group",
                 g.name(), proto::to_string(j.policy));
  }
  void on_message_view(client::Group &g, std::string_view sender, ByteView payload) override {
    if (!first_sender_) first_sender_ = std::string(sender);
    sink_.write(g.stream(), sender, payload);
  }
  void on_lost(client::Group &g, uint64_t count) override {
    CONEC_WARN("lost {} message{} from @{} (this member fell behind)", count, count == 1 ? "" : "s", g.name());
  }
  void on_member(client::Group &g, proto::MemberEvent event, const std::string &id) override {
    const char *what = event == proto::MemberEvent::joined ? "joined" : event == proto::MemberEvent::left ? "left" : "was removed from";
    CONEC_DEBUG("'{}' {} @{}", printable(id), what, g.name());
    // recv without -k: the first sender we heard from is done.
    if (mode_.receive && !mode_.send && !mode_.keep && event != proto::MemberEvent::joined && first_sender_ == id &&
        !leaving_) {
      leaving_ = true;
      (void)g.leave();
    }
  }
  void on_writable(client::Group &) override {
    if (pump_) pump_->writable();
  }
  void on_closed(client::Group &g, const std::optional<Error> &e) override {
    if (run_.finished()) return;
    if (!e) {
      if (pump_ && !pump_->done()) return cut("the coordinator ended the membership early");
      return run_.finish(kExitOk);
    }
    if (e->category == ErrorCategory::limit || (e->category == ErrorCategory::peer && !g.joined()))
      return run_.finish(kExitRefused, e->message);
    cut(e->message);
  }

private:
  void input_done(std::optional<Error> e) {
    if (!e) return; // left: on_closed says when the coordinator took everything
    run_.finish(e->category == ErrorCategory::io ? kExitFailure : kExitUsage, "input: " + e->message);
  }
  void cut(const std::string &why) {
    if (run_.finished()) return;
    if (pump_)
      return run_.finish(kExitIncomplete, "transfer incomplete: " + std::to_string(pump_->bytes()) +
                                              " bytes sent to @" + name_ + ", not all taken: " + why);
    run_.finish(kExitIncomplete, why);
  }

  ClientRun &run_;
  const TransferArgs &transfer_;
  std::string name_;
  GroupMode mode_;
  int in_fd_;
  OutputSink &sink_;
  std::unique_ptr<client::Group> group_;
  std::optional<InputPump> pump_;
  std::optional<std::string> first_sender_; // recv without -k ends when it leaves
  bool leaving_ = false;
};

} // namespace

int run_group(const GlobalOptions &global, const ClientArgs &client, const TransferArgs &transfer,
              const std::string &peer, GroupMode mode, int in_fd) {
  std::string name = peer.substr(1);
  if (!proto::valid_id(name))
    return report_error("'" + printable(peer) +
                            "' is not a valid group (@ then 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)",
                        kExitUsage);
  ClientRun run(global, client);
  loop::Loop &loop = run.loop();
  OutputSink sink(loop, 1, transfer.framing(), transfer.tag);
  if (mode.receive)
    if (auto r = sink.open(); !r) return report_error("output: " + r.error().message, kExitUsage);
  GroupSession session(run, transfer, name, mode, in_fd, sink);
  run.on_ready = [&] { session.start(); };
  run.on_offer = [](const std::string &) { return false; }; // a group member takes no channels
  run.on_coordinator_loss = [&](const Error &e, bool) { return session.coordinator_lost(e); };
  run.on_signal = [&](int signum) {
    if (mode.keep && session.leave_quietly()) return;
    run.finish(signal_exit_code(signum), "interrupted");
  };
  int code = run.run();
  if (!mode.receive) return code;
  bool closed = false;
  sink.close([&] { closed = true; });
  return run.drain(code, [&] { return closed; });
}

} // namespace conec::cli
