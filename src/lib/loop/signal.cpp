#include <pthread.h>
#include <signal.h>

#include <optional>
#include <string>

#include "loop/internal.hpp"
#include "util/guard.hpp"
#include "util/log.hpp"

namespace conec::loop {

struct Signal::Impl : detail::Owned {
  uv_signal_t signal{};
  std::function<void(int)> on_signal;
  std::optional<Error> start_error;

  static void on_raised(uv_signal_t *handle, int signum) {
    auto *self = of<Impl>(handle);
    if (!self->retired()) guarded("signal", [&] { self->on_signal(signum); });
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

void start_workers_without(std::initializer_list<int> signals) {
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  // libuv creates all of its pool's threads at the first queued work, each
  // inheriting the signal mask of the thread that queued it: this one.
  uv_loop_t loop;
  if (uv_loop_init(&loop) == 0) {
    uv_work_t work{};
    uv_queue_work(&loop, &work, [](uv_work_t *) {}, nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

} // namespace conec::loop
