#include "net/peer_path.hpp"

namespace conec::net {

std::string_view to_string(PathKind kind) { return kind == PathKind::direct ? "direct" : "relay"; }

std::string PeerPath::describe() const { return std::string(to_string(current())); }

} // namespace conec::net
