#include "fuzz_common.hpp"

#include <algorithm>
#include <cstdlib>

#include "util/log.hpp"

namespace conec::fuzz {

uint8_t Input::byte() {
  if (data_.empty()) return 0;
  uint8_t b = data_[0];
  data_ = data_.subspan(1);
  return b;
}

uint16_t Input::u16() {
  uint16_t hi = byte();
  return uint16_t(hi << 8 | byte());
}

ByteView Input::take(size_t n) {
  n = std::min(n, data_.size());
  ByteView out = data_.first(n);
  data_ = data_.subspan(n);
  return out;
}

ByteView Input::datagram(size_t max) { return take(u16() % (max + 1)); }

const tls::Identity &identity() {
  static const tls::Identity id = [] {
    tls::CertificateRequest request;
    request.name = "fuzz.test";
    request.validity_days = 30;
    auto r = tls::generate_self_signed(request);
    if (!r) std::abort();
    return *r;
  }();
  return id;
}

std::shared_ptr<tls::Credentials> credentials() {
  static const std::shared_ptr<tls::Credentials> c = [] {
    auto r = tls::Credentials::create(identity(), tls::PeerVerification::any());
    if (!r) std::abort();
    return *r;
  }();
  return c;
}

void quiet_logs() { log::configure(spdlog::level::off); }

} // namespace conec::fuzz
