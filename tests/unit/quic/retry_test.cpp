// Stateless Retry tokens (quic/packet.hpp): they bind the client's address
// and original DCID, expire, and cannot be forged or altered.
#include <catch2/catch.hpp>

#include "quic/packet.hpp"

using namespace conec;

namespace {

struct Issued {
  quic::InitialPacket first;  // the client's first Initial
  quic::InitialPacket second; // its answer to our Retry, carrying the token
  Bytes token;
  size_t retry_size = 0;
};

Issued issue(const SockAddr &client, ByteView secret, uint64_t now) {
  Issued r;
  r.first.version = 1;
  r.first.dcid = Bytes(8, 0x11);
  r.first.scid = Bytes(16, 0x22);
  uint8_t out[1500];
  r.retry_size = quic::write_retry(out, r.first, client, secret, now);
  REQUIRE(r.retry_size > 0);
  // Retry: flags, version, DCID (the client's SCID), SCID (ours, new), token, 16-byte tag.
  size_t off = 5;
  size_t dcidlen = out[off++];
  REQUIRE(Bytes(out + off, out + off + dcidlen) == r.first.scid);
  off += dcidlen;
  size_t scidlen = out[off++];
  Bytes retry_scid(out + off, out + off + scidlen);
  off += scidlen;
  r.token.assign(out + off, out + r.retry_size - 16);
  r.second.version = 1;
  r.second.dcid = retry_scid;
  r.second.scid = r.first.scid;
  r.second.token = r.token;
  return r;
}

} // namespace

TEST_CASE("a Retry token proves the address and returns the original DCID", "[quic][retry]") {
  Bytes secret(32, 7);
  SockAddr client = SockAddr::loopback(AF_INET, 5000);
  uint64_t t0 = uint64_t(1'800'000'000) * kSecond;
  Issued r = issue(client, secret, t0);
  CHECK(r.retry_size < 200); // far below the >= 1200-byte Initial it answers: no amplification
  CHECK(quic::has_retry_token(r.second));
  CHECK_FALSE(quic::has_retry_token(r.first));

  auto odcid = quic::verify_retry_token(r.second, client, secret, 10 * kSecond, t0 + kSecond);
  REQUIRE(odcid);
  CHECK(*odcid == r.first.dcid);

  SECTION("from another port or host") {
    CHECK_FALSE(quic::verify_retry_token(r.second, SockAddr::loopback(AF_INET, 5001), secret, 10 * kSecond, t0));
    SockAddr other = *SockAddr::parse("127.0.0.2:5000", 0);
    CHECK_FALSE(quic::verify_retry_token(r.second, other, secret, 10 * kSecond, t0));
  }
  SECTION("expired") {
    CHECK_FALSE(quic::verify_retry_token(r.second, client, secret, 10 * kSecond, t0 + 11 * kSecond));
  }
  SECTION("made with another secret") {
    CHECK_FALSE(quic::verify_retry_token(r.second, client, Bytes(32, 8), 10 * kSecond, t0));
  }
  SECTION("any byte altered") {
    for (size_t i = 1; i < r.token.size(); ++i) {
      Bytes t = r.token;
      t[i] ^= 0x01;
      quic::InitialPacket p = r.second;
      p.token = t;
      CHECK_FALSE(quic::verify_retry_token(p, client, secret, 10 * kSecond, t0));
    }
  }
  SECTION("presented with another DCID") {
    quic::InitialPacket p = r.second;
    p.dcid = Bytes(16, 0x33);
    CHECK_FALSE(quic::verify_retry_token(p, client, secret, 10 * kSecond, t0));
  }
  SECTION("truncated") {
    for (size_t n = 0; n < r.token.size(); ++n) {
      quic::InitialPacket p = r.second;
      p.token = ByteView(r.token.data(), n);
      CHECK_FALSE(quic::verify_retry_token(p, client, secret, 10 * kSecond, t0));
    }
  }
}

TEST_CASE("a refused token is answered with a small INVALID_TOKEN close", "[quic][retry]") {
  quic::InitialPacket p;
  p.version = 1;
  p.dcid = Bytes(16, 1);
  p.scid = Bytes(16, 2);
  uint8_t out[1500];
  size_t n = quic::write_invalid_token_close(out, p);
  CHECK(n > 0);
  CHECK(n <= 1200);
  auto h = quic::parse_header(ByteView(out, n));
  REQUIRE(h);
  CHECK(h->long_header);
  CHECK(Bytes(h->dcid.begin(), h->dcid.end()) == p.scid);
}

TEST_CASE("only well-formed Initials of at least 1200 bytes are parsed as such", "[quic][retry]") {
  CHECK_FALSE(quic::parse_initial({}));
  Bytes small{0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0};
  CHECK_FALSE(quic::parse_initial(small));
  Bytes big = small;
  big.resize(1200);
  // A long header that is not an Initial with a valid length field is refused too.
  big[0] = 0xe0; // Handshake
  CHECK_FALSE(quic::parse_initial(big));
}
