#include "util/error.hpp"

#include <cstring>

namespace conec {

std::string_view to_string(ErrorCategory category) {
  switch (category) {
  case ErrorCategory::usage: return "usage";
  case ErrorCategory::io: return "io";
  case ErrorCategory::tls: return "tls";
  case ErrorCategory::transport: return "transport";
  case ErrorCategory::protocol: return "protocol";
  case ErrorCategory::limit: return "limit";
  case ErrorCategory::timeout: return "timeout";
  case ErrorCategory::peer: return "peer";
  case ErrorCategory::internal: return "internal";
  }
  return "unknown";
}

std::string Error::describe() const {
  if (layer.empty()) return message;
  return layer + ": " + message;
}

Error errno_error(std::string layer, std::string_view what, int errnum) {
  return Error{ErrorCategory::io, errnum, std::move(layer),
               std::string(what) + ": " + std::strerror(errnum)};
}

} // namespace conec
