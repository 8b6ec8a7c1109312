// Coordinator: ids bound to keys — the check at registration, and when the
// record is saved (new bindings within a second, last-seen once a minute
// and at the end).
#include <ctime>

#include "coord/client_conn.hpp"
#include "tls/identity.hpp"
#include "util/log.hpp"

namespace conec::coord {

namespace {

constexpr uint64_t kTickMs = 60'000;           // last-seen refresh and save
constexpr Duration kMinSaveInterval = kSecond; // new bindings: at most one save a second

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

} // namespace

Result<void> Coordinator::open_bindings() {
  if (options_.bindings.path.empty() || !options_.client_ca_pem.empty()) return {};
  auto b = IdBindings::open(options_.bindings, unix_now());
  if (!b) return fail(b.error());
  bindings_ = std::move(*b);
  for (const auto &p : bindings_->problems()) CONEC_WARN("coordinator: id bindings: {}", p);
  bindings_tick_ = std::make_unique<loop::Timer>(loop_, [this] { bindings_tick(); });
  bindings_tick_->keep_alive(false);
  bindings_tick_->start(kTickMs, kTickMs);
  bindings_save_ = std::make_unique<loop::Timer>(loop_, [this] { save_bindings(); });
  bindings_save_->keep_alive(false);
  return {};
}

std::optional<proto::Refused> Coordinator::binding_refusal(ClientConn &client, const std::string &id) {
  if (!bindings_ || !bindable_id(id)) return std::nullopt;
  auto fingerprint = tls::public_key_fingerprint(client.certificate());
  if (!fingerprint)
    return proto::Refused{proto::RefuseCode::not_authorized,
                          "unreadable client certificate: " + fingerprint.error().message};
  client.key_fingerprint = *fingerprint;
  std::string bound;
  switch (bindings_->check(id, *fingerprint, unix_now(), &bound)) {
  case IdBindings::Verdict::mismatch:
    return proto::Refused{proto::RefuseCode::id_bound, "id '" + id + "' is bound to another key (" + bound +
                                                           "); this client's key is " + *fingerprint};
  case IdBindings::Verdict::full:
    return proto::Refused{proto::RefuseCode::limit, "the coordinator holds its maximum of " +
                                                        std::to_string(bindings_->options().max_bindings) +
                                                        " id bindings"};
  default: return std::nullopt;
  }
}

void Coordinator::bind(ClientConn &client) {
  if (!bindings_ || client.key_fingerprint.empty()) return;
  if (!bindings_->bind(client.key(), client.key_fingerprint, unix_now())) return;
  CONEC_INFO("coordinator: bound id '{}' to key {}", client.key(), client.key_fingerprint);
  save_bindings_soon();
}

void Coordinator::save_bindings_soon() {
  if (bindings_save_->active()) return; // already due
  Duration since = monotonic_now() - bindings_saved_;
  if (since >= kMinSaveInterval) return save_bindings();
  bindings_save_->start((kMinSaveInterval - since) / kMillisecond + 1);
}

void Coordinator::save_bindings() {
  if (!bindings_) return;
  int64_t now = unix_now();
  for (const auto &[key, client] : directory_) bindings_->touch(key, now);
  if (!bindings_->dirty()) return;
  bindings_saved_ = monotonic_now();
  if (bindings_save_) bindings_save_->stop();
  if (auto r = bindings_->save(); !r)
    CONEC_WARN("coordinator: cannot save id bindings: {}", r.error().message);
}

void Coordinator::bindings_tick() {
  int64_t now = unix_now();
  for (const auto &[key, client] : directory_) bindings_->touch(key, now); // connected ones never expire
  if (size_t n = bindings_->expire(now)) CONEC_INFO("coordinator: {} id binding(s) expired", n);
  save_bindings();
}

} // namespace conec::coord
