#pragma once
/// @file
/// @brief The library's version.

#include <string_view>

#include "conec/export.hpp"

namespace conec {

/// The version of the libconec in use, e.g. "0.1.0" (the headers may be of
/// another build: this is the library's own).
CONEC_API std::string_view version();

} // namespace conec
