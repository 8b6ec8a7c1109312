// The coordinator's relay path (ARCHITECTURE D3) and the relay header
// helpers. A coordinator with two registered clients and one relayed
// channel between them is set up once, on real loopback sockets; each input
// is a script of relay-marked datagrams handed to the coordinator's
// endpoint (Coordinator::receive_for_testing) as if they came from either
// client's address or from a stranger, with the live token or one from the
// input. What the coordinator forwards really reaches the clients, so their
// relayed-input path runs too.
//
// Unlike the endpoint targets this one keeps state across inputs (rate
// buckets, the channel): a crash may need the inputs before it. The
// endpoint targets cover the client's relayed input deterministically.
//
// Input: records of
//   control byte: bits 0-1 source (0 initiator, 1 acceptor, 2-3 stranger),
//                 bit 2 token from the input (else the live one), bit 3 run
//                 the loop afterwards
//   [16 token bytes if bit 2] u16 length (mod 1484) + inner packet
#include <cstdlib>
#include <cstring>

#include "fuzz_common.hpp"
#include "net/relay.hpp"
#include "support/coord_fixture.hpp"

using namespace conec;

namespace {

struct Tap : coord::CoordinatorHandler {
  Bytes token;
  void on_relayed(ByteView d) override {
    if (token.empty()) token.assign(d.begin() + 1, d.begin() + 1 + net::kRelayTokenLength);
  }
};

struct World {
  Tap tap;
  test::CoordFixture fx{{}, &tap};
  test::ClientEvents alice_events, bob_events;
  SockAddr initiator, acceptor;
};

World *world() {
  static World *w = [] {
    auto *nw = new World; // never freed: shared by every input
    if (nw->fx.error || !nw->fx.join("alice", nw->alice_events) || !nw->fx.join("bob", nw->bob_events)) std::abort();
    if (!nw->fx.open(*nw->fx.client("alice"), "bob")) std::abort();
    if (!nw->fx.run_until([&] { return !nw->tap.token.empty(); })) std::abort();
    nw->initiator = nw->fx.client("alice")->observed_address();
    nw->acceptor = nw->fx.client("bob")->observed_address();
    return nw;
  }();
  return w;
}

// The helpers agree with the layout they document.
void check_helpers(ByteView d) {
  if (!net::is_relayed(d)) return;
  if (d[0] != net::kRelayMarker || d.size() <= net::kRelayHeaderLength) std::abort();
  ByteView token = net::relay_token_of(d), payload = net::relay_payload_of(d);
  if (token.size() != net::kRelayTokenLength || token.data() != d.data() + 1) std::abort();
  if (payload.size() + net::kRelayHeaderLength != d.size()) std::abort();
  SockAddr v = net::relay_virtual_address(token);
  if (!(v == net::relay_virtual_address(token))) std::abort(); // stable per token
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  (void)world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_helpers(ByteView(data, size));
  World &w = *world();
  fuzz::Input in(data, size);
  for (size_t i = 0; i < 64 && !in.empty(); ++i) {
    uint8_t control = in.byte();
    Bytes d{net::kRelayMarker};
    if (control & 4) {
      ByteView t = in.take(net::kRelayTokenLength);
      d.insert(d.end(), t.begin(), t.end());
      d.resize(net::kRelayHeaderLength);
    } else {
      d.insert(d.end(), w.tap.token.begin(), w.tap.token.end());
    }
    ByteView inner = in.datagram(net::kRelayedMaxUdpPayload);
    d.insert(d.end(), inner.begin(), inner.end());
    const SockAddr from = (control & 3) == 0 ? w.initiator
                          : (control & 3) == 1 ? w.acceptor
                                               : SockAddr::loopback(AF_INET, 40200);
    check_helpers(d);
    w.fx.coordinator->receive_for_testing({d, from, 0});
    if (control & 8) w.fx.loop.run_nowait();
  }
  w.fx.loop.run_nowait();
  return 0;
}
