#pragma once
// Errors are values (ARCHITECTURE D8): every fallible function returns
// Result<T>; nothing throws across the library boundary or a C callback.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

// libstdc++ 12 hides std::expected from clang 14 (see expected_compat.hpp).
#if !defined(__cpp_lib_expected)
#include "util/expected_compat.hpp"
#endif

namespace conec {

// What kind of failure an Error is; the CLI maps categories to exit codes.
enum class ErrorCategory : uint8_t {
  usage,     // bad argument or configuration given by the caller
  io,        // operating-system call failed (socket, file)
  tls,       // certificate, key, verification or handshake failure
  transport, // QUIC-level failure (closed, idle timeout, protocol violation)
  protocol,  // malformed or oversized conec wire data
  limit,     // a configured limit was hit
  timeout,   // a deadline passed
  peer,      // the peer refused or closed with an application error
  internal,  // broken invariant or unexpected library result
};

std::string_view to_string(ErrorCategory category);

// One failure: its category, a numeric code (errno, GnuTLS or ngtcp2 code, or
// 0), the layer that produced it, and a sentence a user can act on.
struct Error {
  ErrorCategory category = ErrorCategory::internal;
  int64_t code = 0;
  std::string layer;
  std::string message;

  // "layer: message" — the form used in logs and `conec: error:` lines.
  std::string describe() const;
};

#if defined(__cpp_lib_expected)
template <class T> using Result = std::expected<T, Error>;
using Failure = std::unexpected<Error>;
#else
template <class T> using Result = compat::expected<T, Error>;
using Failure = compat::unexpected<Error>;
#endif

// Shorthand for `return fail(...)` inside functions returning Result<T>.
inline Failure fail(ErrorCategory category, std::string layer, std::string message, int64_t code = 0) {
  return Failure(Error{category, code, std::move(layer), std::move(message)});
}
inline Failure fail(Error error) { return Failure(std::move(error)); }

// Error for a failed system call: "<what>: <strerror(errnum)>".
Error errno_error(std::string layer, std::string_view what, int errnum);

} // namespace conec
