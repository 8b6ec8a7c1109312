// SendBuffer with shared chunks: several buffers (the streams of one
// broadcast) hold the same immutable storage, each with its own cursor and
// acknowledgements; the storage goes with the last reference.
#include <catch2/catch.hpp>

#include <ngtcp2/ngtcp2.h>

#include <memory>
#include <numeric>

#include "quic/send_buffer.hpp"

using namespace conec;
using quic::SendBuffer;

namespace {

SharedBytes shared_pattern(size_t n, uint8_t first) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), first);
  return std::make_shared<const Bytes>(std::move(b));
}

// Everything `buf` would hand to ngtcp2 now, concatenated, and the vectors.
Bytes unsent_bytes_of(const SendBuffer &buf, std::vector<ngtcp2_vec> *vecs_out = nullptr) {
  ngtcp2_vec vecs[16];
  size_t n = buf.unsent(vecs, std::size(vecs));
  Bytes out;
  for (size_t i = 0; i < n; ++i) out.insert(out.end(), vecs[i].base, vecs[i].base + vecs[i].len);
  if (vecs_out) vecs_out->assign(vecs, vecs + n);
  return out;
}

} // namespace

TEST_CASE("send buffer: two buffers share one chunk without copying it, and an ack in one leaves the other alone",
          "[quic][send_buffer]") {
  SharedBytes data = shared_pattern(1000, 0);
  const uint8_t *storage = data->data();
  SendBuffer a, b;
  a.append(data);
  b.append(data);
  CHECK(data.use_count() == 3);
  CHECK(a.end_offset() == 1000);
  CHECK(b.end_offset() == 1000);

  // Both hand ngtcp2 the one storage itself.
  std::vector<ngtcp2_vec> va, vb;
  CHECK(unsent_bytes_of(a, &va) == *data);
  CHECK(unsent_bytes_of(b, &vb) == *data);
  REQUIRE(va.size() == 1);
  REQUIRE(vb.size() == 1);
  CHECK(va[0].base == storage);
  CHECK(vb[0].base == storage);

  // a sends and gets everything acknowledged: its reference goes.
  a.mark_sent(1000);
  a.acknowledge(0, 1000);
  CHECK(a.unacked_bytes() == 0);
  CHECK(a.unsent_bytes() == 0);
  CHECK(data.use_count() == 2);

  // b has sent nothing yet and still offers all of it, unchanged.
  CHECK(b.unsent_bytes() == 1000);
  CHECK(b.unacked_bytes() == 1000);
  CHECK(unsent_bytes_of(b, &vb) == *data);
  CHECK(vb[0].base == storage);

  // b part-way: sent 600, 400 acknowledged; the chunk is still held, the
  // cursor continues inside it.
  b.mark_sent(600);
  b.acknowledge(0, 400);
  CHECK(b.unacked_bytes() == 600);
  CHECK(data.use_count() == 2);
  CHECK(unsent_bytes_of(b, &vb) == Bytes(data->begin() + 600, data->end()));
  CHECK(vb[0].base == storage + 600);

  // Acknowledgements arriving at a again (duplicates) change nothing.
  a.acknowledge(0, 1000);
  CHECK(a.unacked_bytes() == 0);
  CHECK(b.unacked_bytes() == 600);
}

TEST_CASE("send buffer: shared storage is freed once every holder has it acknowledged", "[quic][send_buffer]") {
  std::weak_ptr<const Bytes> watch;
  SendBuffer a, b;
  {
    SharedBytes data = shared_pattern(3000, 7);
    watch = data;
    a.append(data);
    b.append(std::move(data));
  }
  REQUIRE(watch.use_count() == 2); // the buffers are the only owners

  a.mark_sent(3000);
  b.mark_sent(3000);
  a.acknowledge(0, 1500);
  a.acknowledge(1500, 1500);
  CHECK(watch.use_count() == 1);
  b.acknowledge(0, 2999); // one byte short: still needed for retransmission
  CHECK(watch.use_count() == 1);
  CHECK_FALSE(watch.expired());
  b.acknowledge(2999, 1);
  CHECK(watch.expired());
  CHECK(a.unacked_bytes() == 0);
  CHECK(b.unacked_bytes() == 0);
}

TEST_CASE("send buffer: a holder destroyed unacknowledged (stream closed) releases its reference",
          "[quic][send_buffer]") {
  std::weak_ptr<const Bytes> watch;
  auto a = std::make_unique<SendBuffer>();
  SendBuffer b;
  {
    SharedBytes data = shared_pattern(500, 1);
    watch = data;
    a->append(data);
    b.append(data);
  }
  a->mark_sent(200);
  a.reset();
  CHECK(watch.use_count() == 1);
  b.mark_sent(500);
  b.acknowledge(0, 500);
  CHECK(watch.expired());
}

TEST_CASE("send buffer: owned and shared chunks mix in one stream, in order", "[quic][send_buffer]") {
  SharedBytes shared = shared_pattern(100, 100);
  std::weak_ptr<const Bytes> watch = shared;
  SendBuffer buf;
  buf.append(Bytes(50, 0xaa));           // [0, 50) owned
  buf.append(shared);                    // [50, 150) shared
  buf.append(Bytes{});                   // nothing
  buf.append(SharedBytes{});             // nothing
  buf.append(std::make_shared<const Bytes>()); // nothing
  buf.append(Bytes(30, 0xbb));           // [150, 180) owned
  shared.reset();
  CHECK(buf.end_offset() == 180);

  Bytes expected(50, 0xaa);
  expected.insert(expected.end(), watch.lock()->begin(), watch.lock()->end());
  expected.insert(expected.end(), 30, 0xbb);
  std::vector<ngtcp2_vec> v;
  CHECK(unsent_bytes_of(buf, &v) == expected);
  CHECK(v.size() == 3); // empty appends made no chunks

  // Send across chunk boundaries in odd steps; what is left is always the tail.
  buf.mark_sent(40);
  CHECK(unsent_bytes_of(buf) == Bytes(expected.begin() + 40, expected.end()));
  buf.mark_sent(70); // to 110, inside the shared chunk
  CHECK(unsent_bytes_of(buf, &v) == Bytes(expected.begin() + 110, expected.end()));
  CHECK(v.size() == 2);
  CHECK(buf.unsent_bytes() == 70);

  // Acknowledge the owned chunk and part of the shared one: shared kept.
  buf.acknowledge(0, 60);
  CHECK(buf.unacked_bytes() == 120);
  CHECK_FALSE(watch.expired());
  // Past the end of the shared chunk: it goes, the cursor stays correct.
  buf.mark_sent(50);
  buf.acknowledge(60, 100);
  CHECK(watch.expired());
  CHECK(unsent_bytes_of(buf) == Bytes(expected.begin() + 160, expected.end()));
  buf.mark_sent(20);
  CHECK(buf.unsent_bytes() == 0);
  CHECK(unsent_bytes_of(buf).empty());
  buf.acknowledge(160, 20);
  CHECK(buf.unacked_bytes() == 0);
}
