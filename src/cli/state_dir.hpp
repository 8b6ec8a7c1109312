#pragma once
// The state directory: where conec keeps generated certificates and keys
// ($CONEC_STATE_DIR, else $XDG_STATE_HOME/conec, else ~/.local/state/conec).

#include <string>

#include "tls/identity.hpp"
#include "util/error.hpp"

namespace conec::cli {

// The directory to use, given an explicit --state-dir (may be empty).
std::string resolve_state_dir(const std::string &explicit_dir);

// Loads `<dir>/<stem>.pem` + `<dir>/<stem>.key`, or creates a self-signed
// identity for `name` there (directory 0700, key 0600) on first use.
// `created` tells which happened.
Result<tls::Identity> load_or_create_identity(const std::string &dir, const std::string &stem,
                                              const std::string &name, bool &created);

} // namespace conec::cli
