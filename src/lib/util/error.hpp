#pragma once
// Errors are values (ARCHITECTURE D8): the public types (conec/error.hpp)
// plus the helpers the library uses to make them.

#include <string>
#include <string_view>

#include "conec/error.hpp"

namespace conec {

// Shorthand for `return fail(...)` inside functions returning Result<T>.
inline Failure fail(ErrorCategory category, std::string layer, std::string message, int64_t code = 0) {
  return Failure(Error{category, code, std::move(layer), std::move(message)});
}
inline Failure fail(Error error) { return Failure(std::move(error)); }

// Error for a failed system call: "<what>: <strerror(errnum)>".
Error errno_error(std::string layer, std::string_view what, int errnum);

} // namespace conec
