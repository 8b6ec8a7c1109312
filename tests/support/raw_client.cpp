#include "support/raw_client.hpp"

#include "support/quic_pair.hpp"

namespace conec::test {

RawClient::RawClient(loop::Loop &loop, const SockAddr &coordinator, const tls::Identity &identity) {
  net::EndpointOptions o;
  o.bind = SockAddr::loopback(coordinator.family(), 0);
  endpoint_ = std::move(*net::Endpoint::create(loop, o));
  tls::PeerVerification verify;
  verify.mode = tls::PeerVerification::Mode::pin;
  verify.pin = *tls::parse_pin(*server_identity().fingerprint());
  auto credentials = *tls::Credentials::create(identity, verify);
  session_ = std::move(*endpoint_->connect(coordinator, credentials, "", *this));
}

RawClient::~RawClient() { close(); }

void RawClient::close() {
  session_.reset();
  endpoint_.reset();
}

bool RawClient::send(const proto::ControlMessage &message) {
  if (!control_) {
    auto id = session_->open_stream(true);
    if (!id) return false;
    control_ = *id;
  }
  Bytes frame;
  proto::append_frame(frame, proto::encode(message));
  return bool(session_->write(*control_, std::move(frame)));
}

void RawClient::on_stream_data(quic::StreamId id, ByteView data, bool) {
  if (control_ && id == *control_) {
    control_bytes += data.size();
    if (!withhold_credit) session_->consume(id, data.size());
    if (!reader_.feed(data)) return;
    while (auto payload = reader_.next())
      if (auto m = proto::decode(*payload)) received.push_back(std::move(*m));
    return;
  }
  session_->consume(id, data.size());
}

} // namespace conec::test
