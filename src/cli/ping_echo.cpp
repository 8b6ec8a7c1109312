#include "ping_echo.hpp"

#include <map>
#include <memory>

#include "size_announce.hpp"
#include "util/log.hpp"

namespace conec::cli {
namespace {

class SideStream;

// Owns every SideStream until its streams are closed. A Channel destroyed
// without closing its streams reports nothing more, so its SideStream stays
// here (harmless, never touched again) until exit frees it.
std::map<SideStream *, std::unique_ptr<SideStream>> &side_streams() {
  static std::map<SideStream *, std::unique_ptr<SideStream>> all;
  return all;
}

// Answers one ping stream (echo) or reads one size announcement.
class SideStream final : public channel::StreamHandler {
public:
  SideStream(const channel::Stream &in, SizeAnnounced size) : in_(in), size_(std::move(size)) {}

  // Opens the echo stream of a ping; false if that failed (both reset).
  bool answer() {
    channel::Channel *ch = channel::channel_of(in_);
    auto out = ch->open_stream(false, {proto::StreamKind::ping_echo, {}});
    if (!out) {
      abandon("cannot open the echo stream: " + out.error().message);
      return false;
    }
    out_ = *out;
    out_.set_handler(*this);
    CONEC_INFO("answering a ping from '{}'", ch->peer());
    return true;
  }

  void on_message(channel::Stream &s, Bytes m) override {
    if (s != in_) return;
    if (!out_) return size_message(m);
    if (m.size() > kMaxPingMessage)
      return abandon("probe larger than " + std::to_string(kMaxPingMessage) + " bytes");
    auto sent = out_.send(m);
    if (!sent) return abandon("cannot echo: " + sent.error().message);
    // The pinger reads slowly: stop taking probes until the echo drains.
    if (*sent == quic::WriteState::would_block) in_.pause_reading();
  }
  void on_writable(channel::Stream &s) override {
    if (s == out_) in_.resume_reading(); // no-op once it ended
  }
  void on_end(channel::Stream &s, const std::optional<Error> &e) override {
    if (s != in_ || !out_) return;
    if (e)
      out_.reset();
    else
      (void)out_.finish();
  }
  void on_closed(channel::Stream &s, const std::optional<Error> &) override {
    // Forget each stream as it closes (a handle compares equal to its
    // stream even once that is gone).
    if (s == in_) in_ = {};
    if (s == out_) out_ = {};
    if (!in_ && !out_) side_streams().erase(this); // last use of `this`
  }

private:
  void size_message(const Bytes &m) {
    if (sized_) return; // one announcement per stream
    sized_ = true;
    auto size = parse_size_announcement(m);
    if (!size) {
      CONEC_DEBUG("ignoring a malformed size announcement from '{}'", channel::channel_of(in_)->peer());
      return;
    }
    if (size_) size_(*channel::channel_of(in_), *size); // alive: we are in its on_message
  }
  void abandon(const std::string &why) {
    CONEC_DEBUG("ping echo: {}", why);
    // Each reset reports on_closed later (never from inside reset()).
    out_.reset(); // each a no-op if that stream already ended
    in_.reset();
  }

  channel::Stream in_, out_; // empty until opened / once closed
  SizeAnnounced size_;
  bool sized_ = false;
};

} // namespace

bool maybe_answer_ping(const channel::Stream &incoming, SizeAnnounced size) {
  proto::StreamLabel label = incoming.label();
  bool ping = label.kind == proto::StreamKind::ping && !incoming.bidirectional();
  bool announcement = label.kind == proto::StreamKind::size && !incoming.bidirectional();
  if (label.kind == proto::StreamKind::data && incoming.bidirectional()) return false;
  if (!ping && !announcement) {
    CONEC_DEBUG("resetting a stream labelled {} ({}directional) from '{}'", proto::describe(label),
                incoming.bidirectional() ? "bi" : "uni", channel::channel_of(incoming) ? channel::channel_of(incoming)->peer() : "");
    incoming.reset();
    return true;
  }
  auto side = std::make_unique<SideStream>(incoming, ping ? SizeAnnounced{} : std::move(size));
  incoming.set_handler(*side);
  SideStream *raw = side.get();
  side_streams().emplace(raw, std::move(side));
  if (ping) raw->answer();
  return true;
}

size_t ping_echoes_active() { return side_streams().size(); }

} // namespace conec::cli
