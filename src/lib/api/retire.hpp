#pragma once
// How the public Client and Coordinator let go of their internal object:
// at once when no library code is on the stack below (guarded_depth == 0),
// else silenced now (nothing reaches the application again) and freed by
// loop::destroy_later once that code has returned.

#include <memory>

#include "loop/loop.hpp"
#include "util/guard.hpp"

namespace conec::api {

template <class T> void retire(Loop &loop, std::unique_ptr<T> inner) {
  if (!inner || guarded_depth == 0) return; // freed here, at once
  inner->silence();
  std::shared_ptr<T> held(std::move(inner));
  loop::destroy_later(loop, [held]() mutable { held.reset(); });
}

} // namespace conec::api
