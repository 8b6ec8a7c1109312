#pragma once
// SockAddr is public (conec/address.hpp): QUIC paths, relay bindings and
// options all use it.

#include "conec/address.hpp"
#include "util/error.hpp"

#include <string>
#include <string_view>

namespace conec {

// The host part of "host[:port]", "[v6]:port" or a bare IPv6 address, as a
// certificate names it ("[::1]:5" -> "::1", "a.example:5" -> "a.example").
std::string host_part(std::string_view address);

} // namespace conec
