// Writes the seed corpora (fuzz/corpus/<target>/) in the input formats the
// targets document: real client Initials, encoded control messages, framed
// streams. Run by hand when a format changes:
//   build-fuzz/fuzz/make_seeds fuzz/corpus
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fuzz_common.hpp"
#include "net/relay.hpp"
#include "proto/control.hpp"
#include "proto/framing.hpp"
#include "quic/connection.hpp"

using namespace conec;

namespace {

std::filesystem::path root;

void put(const std::string &target, const std::string &name, const Bytes &b) {
  auto dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char *>(b.data()), std::streamsize(b.size()));
}

// A record of the endpoint targets: control byte, u16 length, bytes.
void record(Bytes &out, uint8_t control, const Bytes &d) {
  out.push_back(control);
  out.push_back(uint8_t(d.size() >> 8));
  out.push_back(uint8_t(d.size()));
  out.insert(out.end(), d.begin(), d.end());
}

// The first datagram a real client sends: an Initial with a ClientHello.
Bytes client_initial() {
  quic::ConnectionHandler handler;
  quic::Path path{SockAddr::loopback(AF_INET, 40000), SockAddr::loopback(AF_INET, 4433)};
  auto c = quic::Connection::connect(quic::Config{}, fuzz::credentials(), "fuzz.test", path, handler, monotonic_now());
  if (!c) std::abort();
  Bytes buffer(64 * quic::kMaxUdpPayload);
  auto batch = (*c)->write(buffer, 1, monotonic_now());
  if (batch.size == 0) std::abort();
  buffer.resize(batch.segment_size ? std::min(batch.size, batch.segment_size) : batch.size);
  return buffer;
}

Bytes long_header(uint32_t version, size_t padding) {
  Bytes d{0xc0, uint8_t(version >> 24), uint8_t(version >> 16), uint8_t(version >> 8), uint8_t(version), 8};
  d.insert(d.end(), 8, 0x11);
  d.push_back(8);
  d.insert(d.end(), 8, 0x22);
  d.resize(d.size() + padding, 0);
  return d;
}

void endpoint_seeds(const Bytes &initial) {
  for (auto [name, setup] : {std::pair{"initial_retry_always", 0}, {"initial_retry_never", 1}}) {
    Bytes in{uint8_t(setup)};
    record(in, 0x10, initial);
    put("fuzz_endpoint_server", name, in);
  }
  Bytes many{2}; // automatic Retry above 2 handshakes, from several sources
  for (uint8_t i = 0; i < 4; ++i) record(many, uint8_t(0x10 | i), initial);
  put("fuzz_endpoint_server", "initials_automatic_retry", many);
  Bytes odd{1};
  Bytes shorth(40, 0x33);
  shorth[0] = 0x40;
  record(odd, 0x00, shorth);
  record(odd, 0x11, long_header(0x1a2a3a4a, 1200)); // unknown version
  record(odd, 0x02, {});
  record(odd, 0x03, {0x80});
  put("fuzz_endpoint_server", "short_unknown_version_empty", odd);

  // Client: Version Negotiation addressed to the outgoing connection (the
  // harness patches in its ids), a relayed Initial for accept_relayed, noise.
  Bytes vn{0x80, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x1d, 0, 0, 0, 1};
  Bytes client;
  record(client, 0x18, vn);
  put("fuzz_endpoint_client", "version_negotiation", client);
  Bytes relayed;
  record(relayed, 0x15, initial);
  record(relayed, 0x07, initial); // wrong token
  record(relayed, 0x06, initial); // from a stranger
  put("fuzz_endpoint_client", "relayed_initial", relayed);
  Bytes mixed;
  record(mixed, 0x08, shorth);
  record(mixed, 0x10, initial);
  record(mixed, 0x01, shorth);
  put("fuzz_endpoint_client", "short_and_initial", mixed);

  // Relay: the live token from each side, an input token, a stranger.
  Bytes r;
  record(r, 0x08, initial);
  record(r, 0x09, shorth);
  put("fuzz_relay", "live_token_both_sides", r);
  Bytes t{0x0e};
  t.insert(t.end(), net::kRelayTokenLength, 0x77);
  t.push_back(0);
  t.push_back(40);
  t.insert(t.end(), shorth.begin(), shorth.end());
  put("fuzz_relay", "unknown_token_stranger", t);
}

void control_seeds() {
  proto::Introduction intro;
  intro.request_id = 7;
  intro.channel_id = 3;
  intro.peer = "bob";
  intro.peer_certificate = Bytes(40, 0x30);
  intro.role = 1;
  intro.relay_token = Bytes(proto::kRelayTokenLength, 0x5a);
  intro.peer_observed = SockAddr::loopback(AF_INET, 4433);
  intro.peer_local = {SockAddr::loopback(AF_INET6, 1), SockAddr::loopback(AF_INET, 2)};
  std::vector<std::pair<std::string, proto::ControlMessage>> messages = {
      {"hello", proto::Hello{1, "alice", {}}},
      {"welcome", proto::Welcome{"alice", SockAddr::loopback(AF_INET6, 9000), 1 << 20}},
      {"refused", proto::Refused{proto::RefuseCode::id_in_use, "taken"}},
      {"channel_request", proto::ChannelRequest{5, "bob"}},
      {"introduction", intro},
      {"introduction_reply", proto::IntroductionReply{3, false, "busy"}},
      {"channel_joined", proto::ChannelJoined{5, 3}},
      {"channel_error", proto::ChannelError{5, proto::RefuseCode::timeout, "no answer"}},
      {"channel_closed", proto::ChannelClosed{3, "gone"}},
  };
  for (auto &[name, m] : messages) put("fuzz_control", name, proto::encode(m));
}

void framing_seeds() {
  Bytes stream;
  proto::append_frame(stream, as_bytes("hello"));
  proto::append_frame(stream, {});
  proto::append_frame(stream, Bytes(200, 0x61));
  Bytes in{3, 1, 7, 0};
  in.insert(in.end(), stream.begin(), stream.end());
  put("fuzz_framing", "three_messages", in);
  Bytes big{1, 64};
  proto::append_frame_header(big, 1000); // over the target's 300-byte maximum
  big.resize(big.size() + 20, 0x62);
  put("fuzz_framing", "too_long", big);
  Bytes cut{2, 2, 3};
  proto::append_frame(cut, Bytes(70, 0x63)); // two-byte header
  cut.resize(cut.size() - 10);
  put("fuzz_framing", "cut_short", cut);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  fuzz::quiet_logs();
  root = argv[1];
  endpoint_seeds(client_initial());
  control_seeds();
  framing_seeds();
  return 0;
}
