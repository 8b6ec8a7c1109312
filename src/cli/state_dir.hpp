#pragma once
// The state directory: where conec keeps generated certificates and keys
// ($CONEC_STATE_DIR, else $XDG_STATE_HOME/conec, else ~/.local/state/conec).

#include <string>

#include "tls/identity.hpp"
#include "util/error.hpp"

namespace conec::cli {

// The directory to use, given an explicit --state-dir (may be empty).
std::string resolve_state_dir(const std::string &explicit_dir);

// Creates `dir` and its missing parents, like mkdir -p but private (0700).
// Directories that exist are left as they are.
Result<void> ensure_state_dir(const std::string &dir);

// The coordinator's record of ids bound to client keys (coord/bindings.hpp).
inline std::string bindings_path(const std::string &dir) { return dir + "/id-bindings"; }

// Loads `<dir>/<stem>.pem` + `<dir>/<stem>.key`, or creates a self-signed
// identity for `name` in `role` there on first use (a pair already there is
// used whatever its role): directories it creates are 0700,
// the key 0600, and the pair is written so that the key never appears
// without its certificate (Identity::save). Half a pair (one file without
// the other, left by a process killed while creating it) is replaced with a
// warning; stray temporaries of killed writers are removed. Processes
// sharing `dir` take turns (flock on it). `created` tells which happened.
Result<tls::Identity> load_or_create_identity(const std::string &dir, const std::string &stem,
                                              const std::string &name, tls::CertificateRole role,
                                              bool &created);

} // namespace conec::cli
