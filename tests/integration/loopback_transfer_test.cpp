// Real UDP sockets on 127.0.0.1: bulk data, many streams, message limits.
#include <catch2/catch.hpp>

#include "proto/framing.hpp"
#include "support/loopback.hpp"

using namespace conec;
using conec::test::LoopbackPair;

TEST_CASE("256 MiB on one stream arrive with the same SHA-256", "[integration][bulk]") {
  constexpr size_t kBlock = 256 * 1024;
  constexpr uint64_t kBlocks = 1024; // 256 MiB
  LoopbackPair pair;
  REQUIRE(pair.handshake());

  test::Sha256 sent_hash, received_hash;
  uint64_t received = 0;
  bool fin = false;
  pair.server_events.data = [&](quic::StreamId id, ByteView d, bool f) {
    received_hash.update(d);
    received += d.size();
    fin |= f;
    pair.server_session->consume(id, d.size());
  };
  auto id = pair.client_session->open_stream(false);
  REQUIRE(id);
  uint64_t next_block = 0;
  size_t would_block = 0;
  std::function<void()> pump = [&] {
    while (next_block < kBlocks) {
      Bytes block = test::pattern_block(1, next_block, kBlock);
      sent_hash.update(block);
      bool last = ++next_block == kBlocks;
      auto state = pair.client_session->write(*id, std::move(block), last);
      REQUIRE(state);
      if (*state == quic::WriteState::would_block) {
        ++would_block;
        return;
      }
    }
  };
  pair.client_events.writable = [&](quic::StreamId) { pump(); };
  pump();
  REQUIRE(test::run_until(pair.loop, [&] { return fin || pair.client_events.closed.has_value(); }, 240));
  CHECK(received == kBlock * kBlocks);
  CHECK(received_hash.hex() == sent_hash.hex());
  CHECK(would_block > 0); // the sender really was held back by its budget
  CHECK_FALSE(pair.client_events.closed);
  REQUIRE(pair.shutdown());
}

TEST_CASE("1000 concurrent streams each deliver their messages in order", "[integration]") {
  constexpr int kStreams = 1000, kMessages = 20;
  LoopbackPair pair;
  REQUIRE(pair.handshake());

  std::map<quic::StreamId, proto::MessageReader> readers;
  std::map<quic::StreamId, int> next_seq;
  std::map<quic::StreamId, int> stream_index;
  int finished = 0, errors = 0;
  pair.server_events.data = [&](quic::StreamId id, ByteView d, bool fin) {
    auto &reader = readers[id];
    if (!reader.feed(d)) ++errors;
    while (auto m = reader.next()) {
      // Each message is "<stream index>:<seq>" followed by filler.
      std::string text(as_chars(*m).substr(0, as_chars(*m).find('|')));
      int index = std::stoi(text.substr(0, text.find(':')));
      int seq = std::stoi(text.substr(text.find(':') + 1));
      if (!stream_index.contains(id)) stream_index[id] = index;
      if (stream_index[id] != index || seq != next_seq[id]) ++errors;
      ++next_seq[id];
    }
    if (fin) {
      if (!reader.finish() || next_seq[id] != kMessages) ++errors;
      ++finished;
    }
    pair.server_session->consume(id, d.size());
  };
  // Interleave: message k of every stream before message k+1 of any.
  std::vector<quic::StreamId> ids;
  for (int s = 0; s < kStreams; ++s) {
    auto id = pair.client_session->open_stream(false);
    REQUIRE(id);
    ids.push_back(*id);
  }
  for (int k = 0; k < kMessages; ++k) {
    for (int s = 0; s < kStreams; ++s) {
      Bytes frame;
      std::string body = std::to_string(s) + ":" + std::to_string(k) + "|" + std::string(100 + (s * 7 + k) % 300, 'x');
      proto::append_frame(frame, as_bytes(body));
      REQUIRE(pair.client_session->write(ids[s], std::move(frame), k == kMessages - 1));
    }
  }
  REQUIRE(test::run_until(pair.loop, [&] { return finished == kStreams || pair.client_events.closed; }, 120));
  CHECK(errors == 0);
  CHECK(finished == kStreams);
  CHECK(stream_index.size() == kStreams);
  REQUIRE(pair.shutdown());
}

TEST_CASE("a message over the maximum size is rejected with the limit error", "[integration]") {
  LoopbackPair pair;
  REQUIRE(pair.handshake());
  constexpr uint64_t kTooLarge = 0x4d4c; // application code the reader uses
  proto::MessageReader reader(1 << 20);
  std::optional<Error> read_error;
  pair.server_events.data = [&](quic::StreamId id, ByteView d, bool) {
    pair.server_session->consume(id, d.size());
    if (read_error) return;
    if (auto r = reader.feed(d); !r) {
      read_error = r.error();
      pair.server_session->stop_reading(id, kTooLarge);
    }
  };
  auto id = pair.client_session->open_stream(false);
  REQUIRE(id);
  Bytes frame;
  proto::append_frame_header(frame, (1 << 20) + 1);
  frame.resize(frame.size() + 4096, 'a'); // start of the oversized body
  REQUIRE(pair.client_session->write(*id, std::move(frame)));
  // The writer learns it through the stream's end carrying the reader's code.
  REQUIRE(test::run_until(pair.loop, [&] { return pair.client_events.closed_streams.contains(*id); }, 10));
  REQUIRE(read_error);
  CHECK(read_error->category == ErrorCategory::limit);
  CHECK(read_error->message == "message of 1048577 bytes exceeds the maximum message size of 1048576 bytes");
  CHECK(pair.client_events.closed_streams[*id] == kTooLarge);
  CHECK_FALSE(pair.client_session->write(*id, to_bytes("more")));
  // The connection itself is unharmed.
  CHECK_FALSE(pair.client_events.closed);
  REQUIRE(pair.shutdown());
}
