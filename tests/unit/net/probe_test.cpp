// Direct-path probes: only the channel's two sides can make ones that
// verify, each changed byte or role breaks them, replies are bound to the
// probe they answer, and nothing amplifies.
#include <catch2/catch.hpp>

#include "net/probe.hpp"
#include "net/relay.hpp"

using namespace conec;
using namespace conec::net;

namespace {
Bytes token(uint8_t fill) { return Bytes(kRelayTokenLength, fill); }
} // namespace

TEST_CASE("probes: a probe and its reply verify for the other side's role only", "[net][probe]") {
  ProbeKey key = probe_key(token(7));
  Probe probe = new_probe();
  Bytes wire = encode_probe(key, ProbeRole::initiator, probe);
  CHECK(wire.size() == kProbeLength);
  CHECK(wire[0] == kProbeMarker);
  CHECK(is_probe(wire));
  CHECK_FALSE(is_relayed(wire)); // never taken for a relayed datagram
  CHECK((wire[0] & 0x40) == 0);  // nor for a QUIC packet (fixed bit clear)
  REQUIRE(probe_path_id(wire));
  CHECK(*probe_path_id(wire) == key.path_id);

  auto got = decode_probe(key, ProbeRole::initiator, wire);
  REQUIRE(got);
  CHECK(got->kind == ProbeKind::probe);
  CHECK(got->nonce == probe.nonce);
  // Reflected back at its sender, it claims the wrong role.
  CHECK_FALSE(decode_probe(key, ProbeRole::acceptor, wire));

  Probe reply = reply_to(*got);
  Bytes answer = encode_probe(key, ProbeRole::acceptor, reply);
  CHECK(answer.size() == wire.size()); // answering never amplifies
  auto back = decode_probe(key, ProbeRole::acceptor, answer);
  REQUIRE(back);
  CHECK(back->kind == ProbeKind::reply);
  CHECK(back->echo == probe.nonce);
  CHECK(back->nonce != probe.nonce);
}

TEST_CASE("probes: another channel's key, any changed byte, or a wrong length does not verify", "[net][probe]") {
  ProbeKey key = probe_key(token(7)), other = probe_key(token(8));
  CHECK(key.path_id != other.path_id);
  CHECK(key.key != other.key);
  Bytes wire = encode_probe(key, ProbeRole::acceptor, new_probe());
  CHECK_FALSE(decode_probe(other, ProbeRole::acceptor, wire));
  for (size_t i = 0; i < wire.size(); ++i) {
    for (uint8_t bit : {uint8_t(0x01), uint8_t(0x80)}) {
      Bytes bad = wire;
      bad[i] ^= bit;
      INFO("byte " << i << " bit " << int(bit));
      CHECK_FALSE(decode_probe(key, ProbeRole::acceptor, bad));
    }
  }
  Bytes shorter(wire.begin(), wire.end() - 1), longer = wire;
  longer.push_back(0);
  CHECK_FALSE(is_probe(shorter));
  CHECK_FALSE(decode_probe(key, ProbeRole::acceptor, shorter));
  CHECK_FALSE(decode_probe(key, ProbeRole::acceptor, longer));
  CHECK_FALSE(decode_probe(key, ProbeRole::acceptor, Bytes()));
  CHECK_FALSE(probe_path_id(Bytes(kProbeLength, 0)));
}

TEST_CASE("probes: a probe must have a zero echo and a reply a non-zero one, even when signed", "[net][probe]") {
  ProbeKey key = probe_key(token(1));
  Probe p = new_probe();
  p.echo[3] = 1; // a "probe" echoing something
  CHECK_FALSE(decode_probe(key, ProbeRole::initiator, encode_probe(key, ProbeRole::initiator, p)));
  Probe r = reply_to(new_probe());
  r.echo = {}; // a "reply" echoing nothing
  CHECK_FALSE(decode_probe(key, ProbeRole::initiator, encode_probe(key, ProbeRole::initiator, r)));
  Probe k = new_probe();
  k.kind = static_cast<ProbeKind>(3); // unknown kind, correctly signed
  CHECK_FALSE(decode_probe(key, ProbeRole::initiator, encode_probe(key, ProbeRole::initiator, k)));
  // The token never appears on the wire.
  Bytes tok = token(1), wire = encode_probe(key, ProbeRole::initiator, new_probe());
  CHECK(std::search(wire.begin(), wire.end(), tok.begin(), tok.begin() + 8) == wire.end());
}
