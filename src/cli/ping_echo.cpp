#include "ping_echo.hpp"

#include <map>
#include <memory>

#include "util/log.hpp"

namespace conec::cli {
namespace {

class Echo;

// Owns every Echo until both of its streams are closed. A Channel destroyed
// without closing its streams reports nothing more, so its Echo stays here
// (harmless, never touched again) until exit frees it.
std::map<Echo *, std::unique_ptr<Echo>> &echoes() {
  static std::map<Echo *, std::unique_ptr<Echo>> all;
  return all;
}

class Echo final : public channel::StreamHandler {
public:
  Echo(const channel::Stream &in, OtherUniStream other) : in_(in), other_(std::move(other)) {}

  void on_message(channel::Stream &s, Bytes m) override {
    if (s != in_ || claimed_) return; // the pinger does not write on our echo stream
    if (!out_) return first(m);
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
    if (!in_ && !out_) echoes().erase(this); // last use of `this`
  }

private:
  void first(const Bytes &m) {
    channel::Channel *ch = in_.channel(); // alive: we are in its on_message
    if (as_chars(m) != kPingMagic && other_ && other_(in_, m)) {
      claimed_ = true; // someone else's convention (size_announce.hpp)
      return;
    }
    if (as_chars(m) != kPingMagic) {
      CONEC_DEBUG("ping echo: unidirectional stream from '{}' is not a ping; reset", ch->peer());
      return in_.reset();
    }
    auto out = ch->open_stream(false);
    if (!out) return abandon("cannot open the echo stream: " + out.error().message);
    out_ = *out;
    out_.set_handler(*this);
    CONEC_INFO("answering a ping from '{}'", ch->peer());
    if (auto r = out_.send(as_bytes(kPongMagic)); !r) abandon("cannot echo: " + r.error().message);
  }
  void abandon(const std::string &why) {
    CONEC_DEBUG("ping echo: {}", why);
    // Each reset reports on_closed later (never from inside reset()).
    out_.reset(); // each a no-op if that stream already ended
    in_.reset();
  }

  channel::Stream in_, out_; // empty until opened / once closed
  OtherUniStream other_;
  bool claimed_ = false;
};

} // namespace

bool maybe_answer_ping(const channel::Stream &incoming, OtherUniStream other) {
  if (incoming.bidirectional() || !incoming.incoming()) return false;
  auto echo = std::make_unique<Echo>(incoming, std::move(other));
  incoming.set_handler(*echo);
  Echo *raw = echo.get();
  echoes().emplace(raw, std::move(echo));
  return true;
}

size_t ping_echoes_active() { return echoes().size(); }

} // namespace conec::cli
