#include "util/guard.hpp"

#include <stdexcept>

#include "util/log.hpp"

namespace conec {

std::string describe_exception(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception &x) {
    return x.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

void log_escaped(const char *where, const std::string &what) noexcept {
  try {
    CONEC_ERROR("an exception escaped a {} callback: {}", where, what);
  } catch (...) {
  }
}

} // namespace conec
