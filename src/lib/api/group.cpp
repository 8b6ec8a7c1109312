// The public conec::Group (include/conec/group.hpp) over client::Group.
// client::Group may be destroyed from inside its handler's callbacks, so the
// application may destroy this wrapper (which owns it) from them too.
#include "api/client_impl.hpp"
#include "client/group.hpp"

namespace conec::api {

namespace {

class GroupImpl final : public conec::Group, private client::GroupHandler {
public:
  explicit GroupImpl(conec::GroupHandler &handler) : handler_(handler) {}

  Result<void> start(client::Client &client, const std::string &name, GroupOptions options) {
    auto joined = client::Group::join(client, name, *this, options);
    if (!joined) return fail(joined.error());
    inner_ = std::move(*joined);
    return {};
  }

  const std::string &name() const override { return inner_->name(); }
  bool joined() const override { return inner_->joined() && !inner_->closed(); }
  std::optional<GroupSettings> settings() const override { return inner_->info(); }
  std::vector<std::string> members() const override { return inner_->members(); }
  uint64_t lost() const override { return inner_->lost(); }
  Result<WriteState> send(ByteView message) override { return inner_->send(message); }
  Result<void> leave() override { return inner_->leave(); }
  void pause_receiving(bool paused) override {
    if (paused)
      inner_->pause_receiving();
    else
      inner_->resume_receiving();
  }

private:
  // Each forwards and returns at once: the application may have destroyed us.
  void on_joined(client::Group &, const GroupSettings &settings) override { handler_.on_joined(*this, settings); }
  void on_message(client::Group &, const std::string &sender, Bytes payload) override {
    handler_.on_message(*this, sender, std::move(payload));
  }
  void on_lost(client::Group &, uint64_t count) override { handler_.on_lost(*this, count); }
  void on_member(client::Group &, MemberEvent event, const std::string &id) override {
    handler_.on_member(*this, event, id);
  }
  void on_writable(client::Group &) override { handler_.on_writable(*this); }
  void on_closed(client::Group &, const std::optional<Error> &error) override { handler_.on_closed(*this, error); }

  conec::GroupHandler &handler_;
  std::unique_ptr<client::Group> inner_;
};

} // namespace

} // namespace conec::api

namespace conec {

Result<std::unique_ptr<Group>> Group::join(Client &client, const std::string &name, GroupHandler &handler,
                                           GroupOptions options) {
  // Every conec::Client is an api::ClientImpl (Client::create makes them).
  auto &inner = static_cast<api::ClientImpl &>(client).inner();
  auto group = std::make_unique<api::GroupImpl>(handler);
  if (auto r = group->start(inner, name, options); !r) return fail(r.error());
  return std::unique_ptr<Group>(std::move(group));
}

} // namespace conec
