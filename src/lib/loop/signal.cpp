#include <optional>
#include <string>

#include "loop/internal.hpp"
#include "util/log.hpp"

namespace conec::loop {

struct Signal::Impl : detail::Owned {
  uv_signal_t signal{};
  std::function<void(int)> on_signal;
  std::optional<Error> start_error;

  static void on_raised(uv_signal_t *handle, int signum) {
    auto *self = of<Impl>(handle);
    if (!self->retired()) self->on_signal(signum);
  }
};

Signal::Signal(Loop &loop, int signum, std::function<void(int)> on_signal) : impl_(new Impl) {
  impl_->on_signal = std::move(on_signal);
  uv_signal_init(detail::uv(loop), &impl_->signal); // cannot fail on Unix
  impl_->signal.data = static_cast<detail::Owned *>(impl_);
  impl_->hold();
  int status = uv_signal_start(&impl_->signal, Impl::on_raised, signum);
  if (status != 0) {
    // Only an invalid signal number fails: a programming error, not a
    // runtime condition, so it is logged rather than returned.
    impl_->start_error = detail::uv_error("watching signal " + std::to_string(signum), status);
    CONEC_ERROR("{}", impl_->start_error->describe());
  }
}

Signal::~Signal() {
  impl_->close(reinterpret_cast<uv_handle_t *>(&impl_->signal));
  impl_->retire();
}

void Signal::keep_alive(bool on) {
  auto *handle = reinterpret_cast<uv_handle_t *>(&impl_->signal);
  on ? uv_ref(handle) : uv_unref(handle);
}

} // namespace conec::loop
