#include <map>
#include <mutex>
#include <vector>

#include "loop/internal.hpp"
#include "util/guard.hpp"

namespace conec::loop {

namespace detail {

void Poster::init(uv_loop_t *loop, Owned *owner) {
  owner_ = owner;
  uv_check_init(loop, &check_); // neither can fail
  uv_idle_init(loop, &idle_);
  check_.data = this;
  idle_.data = this;
  owner->hold();
  owner->hold();
  open_ = true;
}

void Poster::arm() {
  if (!open_ || armed_) return;
  armed_ = true;
  uv_check_start(&check_, on_check);
  uv_idle_start(&idle_, on_idle);
}

void Poster::disarm() {
  armed_ = false;
  uv_check_stop(&check_);
  uv_idle_stop(&idle_);
}

void Poster::on_check(uv_check_t *check) {
  auto *self = static_cast<Poster *>(check->data);
  if (!self->armed_) return;
  self->armed_ = false;
  guarded("deferred", [&] { self->owner_->run_posted(); });
  // Still open and not re-armed from inside: stop both handles. If re-armed,
  // they stay active and the check runs again next iteration (libuv does not
  // revisit a check handle within the iteration that ran it).
  if (self->open_ && !self->armed_) self->disarm();
}

void Poster::close() {
  if (!open_) return;
  open_ = false;
  armed_ = false;
  auto release = [](uv_handle_t *h) { static_cast<Poster *>(h->data)->owner_->release(); };
  // The second close callback may delete the owner and with it this Poster;
  // both handles are closed here, before that can happen.
  uv_close(reinterpret_cast<uv_handle_t *>(&check_), release);
  uv_close(reinterpret_cast<uv_handle_t *>(&idle_), release);
}

} // namespace detail

struct Deferred::Impl : detail::Owned {
  detail::Poster poster;
  std::function<void()> fn;

  void run_posted() override {
    if (!retired()) fn();
  }
};

Deferred::Deferred(Loop &loop, std::function<void()> fn) : impl_(new Impl) {
  impl_->fn = std::move(fn);
  impl_->poster.init(detail::uv(loop), impl_);
}

Deferred::~Deferred() {
  impl_->poster.close();
  impl_->retire();
}

void Deferred::schedule() { impl_->poster.arm(); }

bool Deferred::pending() const { return impl_->poster.armed(); }

namespace {

// Objects waiting for destroy_later, per Loop. Loops may run on different
// threads, hence the lock; it is never held while an object is destroyed.
struct Graveyard {
  std::unique_ptr<Deferred> sweeper;
  std::vector<std::function<void()>> pending;
};
std::mutex graves_lock;
std::map<const Loop *, Graveyard> graves;

std::vector<std::function<void()>> take_pending(const Loop &loop) {
  std::lock_guard lock(graves_lock);
  auto it = graves.find(&loop);
  if (it == graves.end()) return {};
  return std::exchange(it->second.pending, {});
}

} // namespace

void destroy_later(Loop &loop, std::function<void()> destroy) {
  Deferred *sweeper = nullptr;
  {
    std::lock_guard lock(graves_lock);
    Graveyard &g = graves[&loop];
    g.pending.push_back(std::move(destroy));
    if (!g.sweeper) {
      // One per Loop, reused; flush_graves() destroys it with the Graveyard.
      g.sweeper = std::make_unique<Deferred>(loop, [&loop] {
        for (auto &d : take_pending(loop)) d();
      });
    }
    sweeper = g.sweeper.get();
  }
  sweeper->schedule();
}

// Loop::close(): what is still waiting is destroyed now, then the sweeper.
void flush_graves(Loop &loop) {
  for (;;) {
    auto pending = take_pending(loop);
    if (pending.empty()) break;
    for (auto &d : pending) d();
  }
  std::unique_ptr<Deferred> sweeper;
  {
    std::lock_guard lock(graves_lock);
    auto it = graves.find(&loop);
    if (it == graves.end()) return;
    sweeper = std::move(it->second.sweeper);
    graves.erase(it);
  }
}

} // namespace conec::loop
