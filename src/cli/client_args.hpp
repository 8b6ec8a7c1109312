#pragma once
// Options every client subcommand shares (SPEC §5): coordinator, id,
// identity, coordinator trust, timeout, path policy — with their
// environment defaults — and their translation into client::ClientOptions.

#include <string>
#include <vector>

#include "client/client.hpp"
#include "command.hpp"

namespace conec::cli {

struct ClientArgs {
  std::string coord;     // -c/--coord HOST[:PORT]        (CONEC_COORD)
  std::string id;        // -i/--id                      (CONEC_ID)
  std::string cert, key; // our certificate and key
  std::string ca;        // trust the coordinator via this CA file
  std::string pin;       // ... or via its fingerprint   (CONEC_PIN, unless --ca is given)
  std::string state_dir; //                              (CONEC_STATE_DIR)
  std::vector<std::string> peer_pins; // --peer-pin ID=sha256:HEX, repeatable
  std::string peer_ca;   // peers must carry a certificate this CA issued for their id
  double timeout = 0;    // seconds; 0 = no limit
  double idle_timeout = 15; // seconds: a silent peer or coordinator is given up (see make_client_options)
  bool relay_only = false, direct_only = false;
};

// Adds the shared client options to `app`. `id_required`: recv and client
// need an id; send, open and ping make one up.
void add_client_options(CLI::App &app, ClientArgs &args, bool id_required);

// Builds library options. Errors (usage, exit 2): no coordinator given, bad
// address or id, unreadable certificate/key/CA, malformed pin,
// --relay-only with --direct-only.
Result<client::ClientOptions> make_client_options(const ClientArgs &args);

} // namespace conec::cli
