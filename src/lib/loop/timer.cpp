#include "loop/internal.hpp"
#include "util/guard.hpp"

namespace conec::loop {

struct Timer::Impl : detail::Owned {
  uv_timer_t timer{};
  std::function<void()> on_fire;

  static void on_timer(uv_timer_t *handle) {
    auto *self = of<Impl>(handle);
    if (!self->retired()) guarded("timer", [&] { self->on_fire(); });
  }
};

Timer::Timer(Loop &loop, std::function<void()> on_fire) : impl_(new Impl) {
  impl_->on_fire = std::move(on_fire);
  uv_timer_init(detail::uv(loop), &impl_->timer); // cannot fail
  impl_->timer.data = static_cast<detail::Owned *>(impl_);
  impl_->hold();
}

Timer::~Timer() {
  impl_->close(reinterpret_cast<uv_handle_t *>(&impl_->timer));
  impl_->retire();
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms) {
  uv_timer_start(&impl_->timer, Impl::on_timer, timeout_ms, repeat_ms);
}

void Timer::stop() { uv_timer_stop(&impl_->timer); }

bool Timer::active() const { return uv_is_active(reinterpret_cast<const uv_handle_t *>(&impl_->timer)) != 0; }

void Timer::keep_alive(bool on) {
  auto *handle = reinterpret_cast<uv_handle_t *>(&impl_->timer);
  on ? uv_ref(handle) : uv_unref(handle);
}

} // namespace conec::loop
