// A client-side net::Endpoint (no server credentials) with one outgoing
// connection and one relay registered for accept_relayed, fed a script of
// datagrams through receive_for_testing: from the connection's server, from
// the relay (raw, or wrapped in marker + token), and from strangers. A fresh
// loop and endpoint per input (see fuzz_endpoint_server.cpp).
//
// The outgoing connection's ids are random, so a fuzzer could never address
// it; the harness reads the Initial it sent (the "server" is a real socket)
// and, when asked, patches the datagram's connection ids to that
// connection's, which makes e.g. Version Negotiation reachable.
//
// Input: records of
//   control byte: bits 0-1 source (0 server, 1 relay, 2 stranger, 3 relay
//                 address of another token), bit 2 wrap in the relay header,
//                 bit 3 patch connection ids, bit 4 run the loop afterwards
//   u16 length (mod 1501) + datagram bytes
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "net/endpoint.hpp"
#include "net/relay.hpp"

using namespace conec;

namespace {

struct Handler : quic::ConnectionHandler {};

constexpr size_t kMaxDatagrams = 64;
const Bytes kToken(net::kRelayTokenLength, 0x5a);
const SockAddr kRelay = SockAddr::loopback(AF_INET, 40100); // nothing listens
const SockAddr kStranger = SockAddr::loopback(AF_INET, 40101);

// The "server" the client connects to: a real socket, created once.
net::UdpSocket *server_socket() {
  static auto s = net::UdpSocket::bind(SockAddr::loopback(AF_INET, 0));
  if (!s) std::abort();
  return &*s;
}

// Connection ids of the client's first Initial (its dcid and scid).
struct Ids {
  Bytes dcid, scid;
};

std::optional<Ids> read_initial(net::UdpSocket &s) {
  std::optional<Ids> ids;
  (void)s.receive([&](const net::Datagram &d) {
    auto h = quic::parse_header(d.data);
    if (!ids && h && h->long_header) ids = Ids{Bytes(h->dcid.begin(), h->dcid.end()), Bytes(h->scid.begin(), h->scid.end())};
  });
  return ids;
}

// Addresses the datagram to the client connection: its dcid becomes the
// client's scid; a long header's scid becomes the client's original dcid.
void patch(Bytes &d, const Ids &ids) {
  if (d.empty()) return;
  if (!(d[0] & 0x80)) {
    if (d.size() >= 1 + ids.scid.size()) std::memcpy(&d[1], ids.scid.data(), ids.scid.size());
    return;
  }
  Bytes out(d.begin(), d.begin() + std::min<size_t>(d.size(), 5));
  out.resize(5);
  out.push_back(uint8_t(ids.scid.size()));
  out.insert(out.end(), ids.scid.begin(), ids.scid.end());
  out.push_back(uint8_t(ids.dcid.size()));
  out.insert(out.end(), ids.dcid.begin(), ids.dcid.end());
  // The rest of the fuzzer's bytes follow the ids it replaced (if it had any).
  size_t rest = 5;
  if (d.size() > rest) rest += 1 + std::min<size_t>(d[rest], 20);
  if (d.size() > rest) rest += 1 + std::min<size_t>(d[rest], 20);
  if (d.size() > rest) out.insert(out.end(), d.begin() + ptrdiff_t(rest), d.end());
  d = std::move(out);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  (void)fuzz::credentials();
  (void)server_socket();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  net::UdpSocket &server = *server_socket();
  while (read_initial(server)) {} // what earlier inputs left behind
  loop::Loop loop;
  {
    Handler handler, relayed_handler;
    net::EndpointOptions o;
    o.bind = SockAddr::loopback(AF_INET, 0);
    auto ep = net::Endpoint::create(loop, o);
    if (!ep) std::abort();
    auto out = (*ep)->connect(server.local_address(), fuzz::credentials(), "fuzz.test", handler);
    if (!out) std::abort();
    (*ep)->add_relay(kToken, kRelay);
    std::unique_ptr<net::Session> relayed;
    if (!(*ep)->accept_relayed(kToken, fuzz::credentials(), [&](std::unique_ptr<net::Session> s) {
          s->set_handler(relayed_handler);
          relayed = std::move(s);
        }))
      std::abort();
    loop.run_nowait(); // sends the Initial
    std::optional<Ids> ids = read_initial(server);

    for (size_t i = 0; i < kMaxDatagrams && !in.empty(); ++i) {
      uint8_t control = in.byte();
      ByteView raw = in.datagram(quic::kMaxUdpPayload);
      Bytes d(raw.begin(), raw.end());
      if ((control & 8) && ids) patch(d, *ids);
      if (control & 4) {
        Bytes wrapped{net::kRelayMarker};
        wrapped.insert(wrapped.end(), kToken.begin(), kToken.end());
        if ((control & 3) == 3) wrapped[1] ^= 1; // a token nobody registered
        wrapped.insert(wrapped.end(), d.begin(), d.end());
        d = std::move(wrapped);
      }
      const SockAddr &from = (control & 3) == 0 ? server.local_address() : (control & 3) == 2 ? kStranger : kRelay;
      (*ep)->receive_for_testing({d, from, 0});
      if (control & 0x10) loop.run_nowait();
    }
    loop.run_nowait();
    out->reset();
    relayed.reset();
    loop.run_nowait();
  }
  if (!loop.close()) std::abort();
  return 0;
}
