#pragma once
// The addresses a peer on our own network might reach our socket at: the
// "local" hole-punching candidates a client announces in its Hello (SPEC §4:
// peers behind one NAT reach each other without hairpinning).

#include <vector>

#include "util/sockaddr.hpp"

namespace conec::net {

// For a socket bound to `bound`: that address if it is a specific one;
// for a wildcard, every up interface's unicast address of the socket's
// family (IPv4 also for a dual-stack IPv6 socket), with the socket's port.
// Loopback is left out unless the socket is bound to it, and so are IPv6
// link-local addresses (they need a scope no peer can use). At most `max`.
std::vector<SockAddr> local_addresses(const SockAddr &bound, size_t max);

// 127/8, ::1, 0.0.0.0, ::, and IPv4-mapped forms of them.
bool is_loopback_or_unspecified(const SockAddr &a);
// 255.255.255.255 (a subnet's broadcast address cannot be told from here).
bool is_broadcast(const SockAddr &a);

} // namespace conec::net
