// ClientConn: one client's control conversation with the coordinator —
// hello, authorization, and dispatch of later requests.
#include "coord/client_conn.hpp"
#include "coord/groups.hpp"

#include <algorithm>

#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec::coord {

ClientConn::ClientConn(Coordinator &coordinator, std::unique_ptr<net::Session> session, bool over_capacity)
    : coord_(coordinator), over_capacity_(over_capacity) {
  channel::ChannelOptions options;
  options.max_message = coordinator.options_.limits.max_message;
  options.max_buffered = coordinator.options_.limits.max_buffered;
  channel_ = std::make_unique<channel::Channel>(std::move(session), "", *this, options);
  // The clock runs from the first packet: the handshake counts too, so a
  // connection that never completes it or never says Hello is closed.
  hello_timer_ = std::make_unique<loop::Timer>(coordinator.loop_, [this] {
    if (registered_ || gone_ || over_limit_) return;
    ++coord_.stats_.closed_no_hello;
    CONEC_INFO("coordinator: closing {}: no Hello within {} ms", address().to_string(),
               coord_.options_.limits.hello_timeout / kMillisecond);
    channel_->close(static_cast<uint64_t>(proto::RefuseCode::timeout),
                    "no Hello within " + std::to_string(coord_.options_.limits.hello_timeout / kMillisecond) + " ms");
  });
  hello_timer_->start(coordinator.options_.limits.hello_timeout / kMillisecond);
}

void ClientConn::on_open(channel::Channel &) {
  certificate_ = channel_->session().peer_certificate();
  if (over_capacity_) {
    ++coord_.stats_.closed_over_limit;
    size_t max = coord_.options_.limits.max_clients;
    CONEC_INFO("coordinator: refusing {}: {} connections open", address().to_string(), max);
    over_limit_ = true;
    channel_->close(static_cast<uint64_t>(proto::RefuseCode::limit),
                    "the coordinator serves its maximum of " + std::to_string(max) + " clients");
  }
}

void ClientConn::on_stream(channel::Channel &, channel::Stream &stream) {
  if (registered_ && stream.label().kind == proto::StreamKind::group && stream.bidirectional())
    return coord_.groups_->open(*this, stream); // the coordinator's own business
  if (registered_) {
    coord_.handler_->on_stream(id_, stream); // ClientConns are freed only by the reaper
    if (stream.has_handler()) return;
  }
  // Nobody takes it: refuse it at once rather than buffer what it carries.
  ++coord_.stats_.streams_refused;
  stream.reset();
}

void ClientConn::send(const proto::ControlMessage &message) {
  if (over_limit_) return;
  if (auto r = channel_->send_control(message); !r) {
    CONEC_DEBUG("coordinator: cannot send {} to '{}': {}", proto::message_name(message), id_, r.error().message);
    return;
  }
  size_t limit = coord_.options_.limits.max_control_backlog;
  if (channel_->control_backlog() > limit) {
    // It asks and does not read the answers (withholds credit or acks):
    // the replies would pile up here without bound.
    over_limit_ = true;
    closed_by_us_ = true;
    ++coord_.stats_.closed_over_limit;
    std::string why = "control backlog over " + std::to_string(limit >> 10) +
                      " KiB: the client does not read its control stream";
    CONEC_WARN("coordinator: closing '{}' ({}): {}", id_, address().to_string(), why);
    channel_->close(static_cast<uint64_t>(proto::RefuseCode::limit), why);
  }
}

void ClientConn::refuse(proto::RefuseCode code, const std::string &reason) {
  ++coord_.stats_.clients_refused;
  CONEC_INFO("coordinator: refused {}: {}", address().to_string(), reason);
  send(proto::Refused{code, reason});
  // Close after the Refused message is acknowledged, so it is not lost; the
  // close code carries the same reason for clients that miss it.
  channel_->session().close(static_cast<uint64_t>(code), reason, true);
}

void ClientConn::protocol_violation(const std::string &why) {
  ++coord_.stats_.protocol_errors;
  closed_by_us_ = true;
  CONEC_WARN("coordinator: closing {} ({}): protocol violation: {}", address().to_string(),
             id_.empty() ? "no id yet" : id_, why);
  channel_->close(static_cast<uint64_t>(proto::RefuseCode::protocol), "protocol violation: " + why);
}

void ClientConn::on_control(channel::Channel &, proto::ControlMessage message) {
  if (auto *h = std::get_if<proto::Hello>(&message)) {
    if (registered_) return protocol_violation("second Hello");
    return hello(*h);
  }
  if (!registered_) return protocol_violation(std::string(proto::message_name(message)) + " before Hello");
  if (auto *r = std::get_if<proto::ChannelRequest>(&message)) return coord_.request_channel(*this, *r);
  if (auto *r = std::get_if<proto::IntroductionReply>(&message)) return coord_.introduction_reply(*this, *r);
  if (auto *r = std::get_if<proto::RelayResume>(&message)) return coord_.resume_relays(*this, *r);
  protocol_violation(std::string(proto::message_name(message)) + " is not a client message");
}

Result<void> ClientConn::authorize(const std::string &id) const {
  auto has = tls::certificate_has_id(certificate_, id);
  if (!has) return fail(ErrorCategory::tls, "coord", "unreadable client certificate: " + has.error().message);
  if (!*has)
    return fail(ErrorCategory::tls, "coord",
                "certificate is not valid for id '" + id + "' (its ids: " +
                    tls::certificate_ids_text(certificate_, "none") + ")");
  return {};
}

std::optional<std::string> ClientConn::application_refusal(const std::string &id) const {
  if (coord_.silenced_) return "the coordinator is shutting down"; // its owner is gone
  const auto &authorize = coord_.options_.authorize;
  if (!authorize) return std::nullopt;
  AuthRequest request;
  request.id = id;
  request.fingerprint = tls::fingerprint_of_der(certificate_);
  if (auto key = tls::public_key_fingerprint(certificate_)) request.key_fingerprint = *key;
  request.address = address();
  request.certificate = certificate_;
  AuthDecision decision = authorize(request); // an exception closes this connection (util/guard.hpp)
  if (decision && decision->empty()) decision = "refused by the coordinator's authorization";
  return decision;
}

void ClientConn::hello(const proto::Hello &hello) {
  if (certificate_.empty()) certificate_ = channel_->session().peer_certificate();
  if (hello.version != proto::kProtocolVersion)
    return refuse(proto::RefuseCode::version, "client speaks conec protocol " + std::to_string(hello.version) +
                                                  ", this coordinator speaks " +
                                                  std::to_string(proto::kProtocolVersion));
  if (!proto::valid_id(hello.id))
    return refuse(proto::RefuseCode::bad_id,
                  "invalid id '" + hello.id.substr(0, 80) +
                      "': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  if (auto auth = authorize(hello.id); !auth) return refuse(proto::RefuseCode::not_authorized, auth.error().message);
  if (auto refusal = application_refusal(hello.id)) return refuse(proto::RefuseCode::not_authorized, *refusal);
  // Before the in-use check: an impostor of a connected id learns it is
  // bound (final) rather than in use (worth retrying).
  if (auto refusal = coord_.binding_refusal(*this, hello.id)) return refuse(refusal->code, refusal->reason);
  std::string key = proto::canonical_id(hello.id);
  if (coord_.directory_.contains(key))
    return refuse(proto::RefuseCode::id_in_use, "id '" + hello.id + "' is in use by a connected client");
  if (coord_.directory_.size() >= coord_.options_.limits.max_clients)
    return refuse(proto::RefuseCode::limit, "the coordinator serves its maximum of " +
                                                std::to_string(coord_.options_.limits.max_clients) + " clients");
  id_ = hello.id;
  key_ = key;
  local_ = hello.local;
  registered_ = true;
  coord_.registered(*this);
  announced = relay_address();
  send(proto::Welcome{id_, announced, coord_.options_.limits.max_message});
}

void ClientConn::on_closed(channel::Channel &, const Error &error) {
  if (gone_) return;
  gone_ = true;
  coord_.departed(*this, error);
}

} // namespace conec::coord
