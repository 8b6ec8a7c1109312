#pragma once
/// @file
/// @brief Channel: an end-to-end encrypted QUIC connection to one peer,
/// carrying any number of data streams of framed messages.

#include <cstddef>
#include <cstdint>
#include <string>

#include "conec/error.hpp"
#include "conec/stream.hpp"

namespace conec {

/// Where a client's peer channels may go.
enum class PathPolicy {
  automatic,   ///< relayed first, moved to a direct path when one can be made
  relay_only,  ///< always through the coordinator's relay
  direct_only, ///< fail a channel (Error code kNoDirectPath) unless a direct path can be made
};

/// Error::code (category peer) of a peer whose certificate this client refuses.
inline constexpr int64_t kPeerNotTrusted = 1001;
/// Error::code (category peer) of a PathPolicy::direct_only channel without a direct path.
inline constexpr int64_t kNoDirectPath = 1002;

/// A channel to one peer (SPEC §2): relayed through the coordinator at
/// first, moved to a direct path when the NATs allow. The Client owns its
/// channels; the application holds `Channel &` from ClientHandler callbacks
/// or Client::open_channel, valid until ClientHandler::on_channel_closed for
/// it returns. Any callback may call close(); destroying the Client destroys
/// every channel silently.
class CONEC_API Channel {
public:
  /// The peer's id.
  virtual const std::string &peer() const = 0;
  /// Whether the handshake is done and the channel not closed.
  virtual bool is_open() const = 0;
  /// Whether its packets go straight to the peer now (not through the
  /// coordinator's relay). Both are end-to-end encrypted.
  virtual bool direct() const = 0;
  /// Data streams alive now.
  virtual size_t stream_count() const = 0;
  /// Opens a data stream (bidirectional, or send-only) labelled `label`; set
  /// its handler with Stream::set_handler. Errors: usage (not open yet),
  /// limit (the peer's stream credit is used up: retry later), transport
  /// (closed).
  virtual Result<Stream> open_stream(bool bidirectional = true, const StreamLabel &label = {}) = 0;
  /// Closes the channel: every stream ends on both sides with an error, and
  /// the peer sees `code` and `reason`. Takes effect after the current
  /// callback; on_channel_closed follows.
  virtual void close(uint64_t code = 0, const std::string &reason = {}) = 0;

protected:
  Channel() = default;
  virtual ~Channel() = default; ///< not destroyed through this interface: the Client owns channels
  Channel(const Channel &) = delete;
  Channel &operator=(const Channel &) = delete;
};

} // namespace conec
