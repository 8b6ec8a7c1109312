#pragma once
// Stream handlers for bulk tests: HashSink counts and hashes what a stream
// delivers; BlockPump writes numbered pattern blocks as fast as the stream
// takes them, then finishes it.

#include <catch2/catch.hpp>

#include <optional>

#include "channel/channel.hpp"
#include "support/loopback.hpp"

namespace conec::test {

struct HashSink : channel::StreamHandler {
  size_t bytes = 0;
  bool ended = false;
  std::optional<Error> error;
  Sha256 hash;
  void on_message(channel::Stream &, Bytes m) override {
    bytes += m.size();
    hash.update(m);
  }
  void on_end(channel::Stream &, const std::optional<Error> &e) override {
    ended = true;
    error = e;
  }
};

struct BlockPump : channel::StreamHandler {
  BlockPump(uint64_t seed_, size_t size_, size_t count_) : seed(seed_), size(size_), count(count_) {}
  uint64_t seed;
  size_t size, count, next = 0;
  Sha256 sent;
  size_t total() const { return size * count; }
  void on_writable(channel::Stream &s) override { fill(s); }
  void fill(channel::Stream &s) {
    while (next < count) {
      Bytes m = pattern_block(seed, next++, size);
      sent.update(m);
      auto w = s.send(m);
      REQUIRE(w);
      if (*w == quic::WriteState::would_block) return;
    }
    REQUIRE(s.finish());
  }
};

} // namespace conec::test
