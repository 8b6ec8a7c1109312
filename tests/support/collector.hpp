#pragma once
// Collector: a StreamHandler that records what one stream delivers — the
// bytes (as text when asked, always hashed), its end and its close.

#include <optional>
#include <string>

#include "channel/channel.hpp"
#include "support/loopback.hpp"

namespace conec::test {

struct Collector : channel::StreamHandler {
  bool keep_text = true; // append messages to `text` (else only count and hash)
  std::string text;
  size_t bytes = 0;
  Sha256 hash;
  bool ended = false;
  std::optional<Error> end_error;
  bool closed = false;
  std::optional<Error> close_error;

  void on_message(channel::Stream &, Bytes m) override {
    bytes += m.size();
    hash.update(m);
    if (keep_text) text.append(as_chars(m));
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    ended = true;
    end_error = e;
  }
  void on_closed(channel::Stream &, const std::optional<Error> &e) override {
    closed = true;
    close_error = e;
  }
};

} // namespace conec::test
