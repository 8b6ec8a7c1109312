#pragma once
// Exception barrier for code called back from C (libuv, ngtcp2, GnuTLS):
// an exception must never unwind through C frames (undefined behaviour).
// Every C callback that can reach application code runs it through
// guarded(); what escapes is caught, logged with where it happened, and
// reported to the caller as a failure (the QUIC layer then closes the
// affected connection with the exception's text, see quic/callbacks.cpp).

#include <exception>
#include <string>
#include <utility>

namespace conec {

// The text of an exception for logs and errors.
std::string describe_exception(std::exception_ptr e);
// Logs an exception that escaped a callback (`where`: "timer", ...).
void log_escaped(const char *where, const std::string &what) noexcept;

// How many guarded() calls are running on this thread. Every callback from
// C into conec goes through guarded(), so > 0 means library code is on the
// stack below the caller: an object it may still touch must not be freed
// now (api/ then destroys a Client or Coordinator with loop::destroy_later).
inline thread_local int guarded_depth = 0;

// Runs `f`; returns whether it finished without throwing. On an exception
// `what` (if given) receives its text; it is logged either way.
template <class F> bool guarded(const char *where, F &&f, std::string *what = nullptr) noexcept {
  struct Depth {
    Depth() { ++guarded_depth; }
    ~Depth() { --guarded_depth; }
  } depth;
  try {
    std::forward<F>(f)();
    return true;
  } catch (...) {
    std::string text;
    try {
      text = describe_exception(std::current_exception());
    } catch (...) {
      text = "an exception (out of memory describing it)";
    }
    log_escaped(where, text);
    if (what) {
      try {
        *what = std::move(text);
      } catch (...) {
      }
    }
    return false;
  }
}

} // namespace conec
