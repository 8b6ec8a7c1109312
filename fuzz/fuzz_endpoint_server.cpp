// A server-role net::Endpoint (server credentials, bound to 127.0.0.1:0) fed
// a script of datagrams through receive_for_testing, as if its socket had
// read them. Every input gets a fresh loop and endpoint, so state never
// leaks from one input into the next and loop.close() proves every handle
// (timers of half-open connections included) was released.
//
// Input: 1 byte of setup (retry policy), then records of
//   control byte: bits 0-1 source port index, bits 2-3 ECN, bit 4 run the
//                 loop once afterwards (deferred flushes, sends)
//   u16 length (mod 1501) + datagram bytes
#include <cstdlib>
#include <vector>

#include "fuzz_common.hpp"
#include "net/endpoint.hpp"

using namespace conec;

namespace {

struct Handler : quic::ConnectionHandler {};

constexpr size_t kMaxDatagrams = 64;

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  fuzz::quiet_logs();
  (void)fuzz::credentials(); // key generation outside the timed inputs
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::Input in(data, size);
  loop::Loop loop;
  {
    Handler handler; // outlives the endpoint, which may report to it while closing
    net::EndpointOptions o;
    o.bind = SockAddr::loopback(AF_INET, 0);
    o.server_credentials = fuzz::credentials();
    uint8_t setup = in.byte();
    o.admission.retry = setup % 3 == 0   ? net::RetryPolicy::always
                        : setup % 3 == 1 ? net::RetryPolicy::never
                                         : net::RetryPolicy::automatic;
    o.admission.retry_above = 2;       // so "automatic" switches within one input
    o.admission.max_handshakes = 8;    // and the caps are reachable too
    o.admission.max_handshakes_per_address = 4;
    auto ep = net::Endpoint::create(loop, o);
    if (!ep) std::abort();
    std::vector<std::unique_ptr<net::Session>> accepted;
    (*ep)->on_accept = [&](std::unique_ptr<net::Session> s) {
      s->set_handler(handler);
      accepted.push_back(std::move(s));
    };
    for (size_t i = 0; i < kMaxDatagrams && !in.empty(); ++i) {
      uint8_t control = in.byte();
      ByteView d = in.datagram(quic::kMaxUdpPayload);
      // Ports nobody listens on: replies go out and are lost.
      SockAddr from = SockAddr::loopback(AF_INET, uint16_t(40000 + (control & 3)));
      (*ep)->receive_for_testing({d, from, uint8_t(control >> 2 & 3)});
      if (control & 0x10) loop.run_nowait();
    }
    loop.run_nowait();
    if ((*ep)->connection_count() > kMaxDatagrams) std::abort(); // one connection per Initial at most
    accepted.clear(); // the application drops its sessions first, as it may
    loop.run_nowait();
  }
  if (!loop.close()) std::abort(); // a handle outlived the endpoint
  return 0;
}
