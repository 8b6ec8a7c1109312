#include <cstdlib>
#include <map>
#include <string>

#include "loop/internal.hpp"
#include "util/log.hpp"

namespace conec::loop {

namespace detail {

Error uv_error(std::string_view what, int status) {
  return Error{ErrorCategory::io, status, "loop", std::string(what) + ": " + uv_strerror(status)};
}

void Owned::release() {
  if (--holds_ == 0 && retired_) delete this;
}

void Owned::retire() {
  retired_ = true;
  if (holds_ == 0) delete this;
}

void Owned::close(uv_handle_t *handle) {
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t *h) { static_cast<Owned *>(h->data)->release(); });
}

} // namespace detail

namespace {

uv_loop_t *as_uv(void *loop) { return static_cast<uv_loop_t *>(loop); }

// Handles the loop still knows about (uv_walk skips libuv's internal ones).
struct HandleCensus {
  int open = 0;    // not closing: a wrapper still alive, or a leak
  int closing = 0; // close callback pending
  std::map<std::string, int> open_types;
};

HandleCensus census(uv_loop_t *loop) {
  HandleCensus c;
  uv_walk(
      loop,
      [](uv_handle_t *h, void *arg) {
        auto &counts = *static_cast<HandleCensus *>(arg);
        if (uv_is_closing(h)) {
          ++counts.closing;
        } else {
          ++counts.open;
          ++counts.open_types[uv_handle_type_name(uv_handle_get_type(h))];
        }
      },
      &c);
  return c;
}

std::string describe_open(const HandleCensus &c) {
  std::string text = std::to_string(c.open) + (c.open == 1 ? " handle" : " handles") + " still open (";
  bool first = true;
  for (const auto &[type, count] : c.open_types) {
    if (!first) text += ", ";
    first = false;
    text += std::to_string(count) + " " + type;
  }
  return text + ")";
}

} // namespace

} // namespace conec::loop

// The public Loop (conec/loop.hpp).
namespace conec {
using namespace loop; // as_uv, HandleCensus

Loop::Loop() : owned_(true) {
  auto *loop = new uv_loop_t;
  int status = uv_loop_init(loop);
  // uv_loop_init fails only when the process is out of descriptors or memory;
  // nothing sensible can run without a loop.
  if (status != 0) {
    CONEC_ERROR("loop: cannot create the event loop: {}", uv_strerror(status));
    std::abort();
  }
  loop_ = loop;
}

Loop::Loop(uv_loop_s *uv_loop) : loop_(uv_loop), owned_(false) {}

Loop::~Loop() {
  if (closed_) return;
  if (!owned_) {
    loop::flush_graves(*this); // nothing may outlive the Loop, borrowed or not
    return;
  }
  auto closed = close();
  if (!closed) {
    // Handles still reference the uv_loop_t: freeing it would turn their
    // later use into a use-after-free, so it is leaked instead.
    CONEC_WARN("{}; leaking the event loop", closed.error().describe());
  }
}

void Loop::run() { uv_run(as_uv(loop_), UV_RUN_DEFAULT); }

bool Loop::run_once() { return uv_run(as_uv(loop_), UV_RUN_ONCE) != 0; }

bool Loop::run_nowait() { return uv_run(as_uv(loop_), UV_RUN_NOWAIT) != 0; }

void Loop::stop() { uv_stop(as_uv(loop_)); }

uint64_t Loop::now_ms() const { return uv_now(as_uv(loop_)); }

void Loop::update_time() { uv_update_time(as_uv(loop_)); }

Result<void> Loop::close() {
  if (closed_) return {};
  loop::flush_graves(*this); // objects destroyed from inside callbacks (loop::destroy_later)
  if (!owned_) {
    closed_ = true; // the embedder owns the uv_loop_t and closes it
    return {};
  }
  auto *loop = as_uv(loop_);
  HandleCensus c = census(loop);
  if (c.open > 0) {
    return fail(ErrorCategory::internal, "loop", "cannot close the event loop: " + describe_open(c));
  }
  // Only handles of destroyed wrappers (closing) and their requests in
  // flight remain; no user callback can run, so let them finish.
  uv_run(loop, UV_RUN_DEFAULT);
  c = census(loop);
  if (c.open > 0) { // a close callback opened something new
    return fail(ErrorCategory::internal, "loop", "cannot close the event loop: " + describe_open(c));
  }
  int status = uv_loop_close(loop);
  if (status != 0) {
    return fail(ErrorCategory::internal, "loop",
                std::string("cannot close the event loop: ") + uv_strerror(status), status);
  }
  delete loop;
  loop_ = nullptr;
  closed_ = true;
  return {};
}

} // namespace conec
