// The public conec::Coordinator (include/conec/coordinator.hpp) over
// coord::Coordinator.
#include <memory>

#include "api/retire.hpp"
#include "coord/coordinator.hpp"

namespace conec::api {

namespace {

class CoordinatorImpl final : public conec::Coordinator, private coord::CoordinatorHandler {
public:
  explicit CoordinatorImpl(conec::CoordinatorHandler *handler) : handler_(handler ? *handler : default_) {}
  // From inside a callback (the handler's, authorize): retire() defers it.
  ~CoordinatorImpl() override {
    if (inner_) retire(*loop_, std::move(inner_));
  }

  Result<void> start(Loop &loop, coord::CoordinatorOptions options) {
    loop_ = &loop;
    auto created = coord::Coordinator::create(loop, std::move(options), this);
    if (!created) return fail(created.error());
    inner_ = std::move(*created);
    return {};
  }

  SockAddr local_address() const override { return inner_->local_address(); }
  std::vector<ClientInfo> clients() const override { return inner_->clients(); }
  std::vector<ChannelInfo> channels() const override { return inner_->channels(); }
  std::vector<GroupInfo> groups() const override { return inner_->groups(); }
  CoordinatorStats stats() const override { return inner_->stats(); }
  size_t connection_count() const override { return inner_->connection_count(); }
  void shutdown() override { inner_->shutdown(); }

private:
  void on_client_registered(const ClientInfo &info, channel::Channel &) override { handler_.on_client_registered(info); }
  void on_client_left(const std::string &id, const Error &error) override { handler_.on_client_left(id, error); }

  conec::CoordinatorHandler default_;
  conec::CoordinatorHandler &handler_;
  Loop *loop_ = nullptr;
  std::unique_ptr<coord::Coordinator> inner_;
};

Failure option_error(const std::string &option, const std::string &why) {
  return fail(ErrorCategory::usage, "coordinator", "CoordinatorOptions::" + option + ": " + why);
}

} // namespace

} // namespace conec::api

namespace conec {

Result<std::unique_ptr<Coordinator>> Coordinator::create(Loop &loop, CoordinatorOptions options,
                                                         CoordinatorHandler *handler) {
  coord::CoordinatorOptions co;
  auto listen = SockAddr::parse(options.listen, 1719);
  if (!listen) return api::option_error("listen", listen.error().message);
  co.listen = *listen;
  if (options.identity.cert_pem.empty() || options.identity.key_pem.empty())
    return api::option_error("identity", "a coordinator needs a certificate and its key "
                                         "(Identity::generate_coordinator makes one)");
  co.identity = std::move(options.identity);
  co.client_ca_pem = std::move(options.client_ca_pem);
  co.limits = options.limits;
  // As `conec coordinator --idle-timeout`: a client link unresponsive for a
  // third of it is given up.
  co.quic.idle_timeout = options.idle_timeout;
  co.quic.unresponsive_timeout = options.idle_timeout / 3;
  if (co.client_ca_pem.empty()) co.bindings.path = std::move(options.bindings_path);
  co.authorize = std::move(options.authorize);
  auto impl = std::make_unique<api::CoordinatorImpl>(handler);
  if (auto r = impl->start(loop, std::move(co)); !r) return fail(r.error());
  return std::unique_ptr<Coordinator>(std::move(impl));
}

} // namespace conec
