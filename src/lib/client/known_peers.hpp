#pragma once
// KnownPeers: the key each peer id was first seen with, per coordinator
// (trust on first use, like ssh's known_hosts), kept in a client's state
// directory so that a coordinator that later introduces someone else under
// a known id is caught by the client itself (SPEC §3).
//
// The file, one peer per line:
//   <coordinator> <id> sha256:<64 hex> <first-seen>
// coordinator as the user names it (HOST:PORT; ids are names within one
// coordinator); id in canonical (lower-case) form; the SHA-256 of the
// peer certificate's SubjectPublicKeyInfo (tls::public_key_fingerprint), so
// a renewed certificate with the same key is still known; first-seen in
// seconds since 1970. Blank lines and lines starting with '#' are ignored;
// a line that does not parse is skipped (and named in problems()). To
// accept a peer's new key, delete its line.
//
// Many processes of one user share the file (a recv and a send at once):
// every lookup reads it afresh, and remember() appends under an exclusive
// flock on `<path>.lock` after reading it again, so two first uses cannot
// record two keys for one id.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace conec::client {

// Longest line read (a valid one is under 220 bytes), and largest file (a
// lookup of a bigger one fails: every channel would pay for reading it).
inline constexpr size_t kMaxKnownPeerLine = 512;
inline constexpr size_t kMaxKnownPeersFile = 16u << 20;

struct KnownPeer {
  std::string fingerprint; // "sha256:<hex>" of the public key
  size_t line = 0;         // where it is recorded (1-based)
};

class KnownPeers {
public:
  explicit KnownPeers(std::string path) : path_(std::move(path)) {}

  // The record for `id` under `coordinator`, if any. Errors: io (unreadable).
  Result<std::optional<KnownPeer>> lookup(std::string_view coordinator, std::string_view id);
  // Records `id` -> `fingerprint` under `coordinator` (now: seconds since
  // 1970), unless a record exists already (written meanwhile by another
  // process): then that one is returned and nothing is written. Creates
  // the file 0600. Errors: io.
  Result<KnownPeer> remember(std::string_view coordinator, std::string_view id, std::string_view fingerprint,
                             int64_t now);

  const std::string &path() const { return path_; }
  // Lines the last read skipped, as "<path>:<line>: <why>" (at most 20).
  const std::vector<std::string> &problems() const { return problems_; }

private:
  Result<std::optional<KnownPeer>> find(std::string_view coordinator, std::string_view id, size_t *lines);

  std::string path_;
  std::vector<std::string> problems_;
};

} // namespace conec::client
