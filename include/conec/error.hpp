#pragma once
/// @file
/// @brief Errors are values: every fallible call returns Result<T>.
///
/// Nothing in libconec throws across its boundary. An exception thrown by an
/// application callback is caught where the library called it: it closes the
/// affected channel (or connection) with an Error of category internal whose
/// message names the exception.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "conec/export.hpp"

// libstdc++ 12 hides std::expected from clang 14 (see expected_compat.hpp).
#if !defined(__cpp_lib_expected)
#include "conec/detail/expected_compat.hpp"
#endif

namespace conec {

/// What kind of failure an Error is (the conec CLI maps categories to exit codes).
enum class ErrorCategory : uint8_t {
  usage,     ///< bad argument or configuration given by the caller
  io,        ///< an operating-system call failed (socket, file)
  tls,       ///< certificate, key, verification or handshake failure
  transport, ///< QUIC-level failure (closed, idle timeout, protocol violation)
  protocol,  ///< malformed or oversized conec wire data
  limit,     ///< a configured limit was hit
  timeout,   ///< a deadline passed
  peer,      ///< the peer refused or closed with an application error
  internal,  ///< broken invariant, unexpected library result, or a callback threw
};

/// The category's name, e.g. "transport".
CONEC_API std::string_view to_string(ErrorCategory category);

/// One failure: its category, a numeric code, the layer that produced it and
/// a sentence a user can act on.
struct CONEC_API Error {
  ErrorCategory category = ErrorCategory::internal; ///< what kind of failure
  /// errno, a QUIC or TLS library code, an application error code (peer), a
  /// refusal code (see RefuseCode), or 0.
  int64_t code = 0;
  std::string layer;   ///< where it was noticed ("quic", "client", ...)
  std::string message; ///< what happened, in words

  /// "layer: message", the form used in logs and `conec: error:` lines.
  std::string describe() const;
};

/// Why the coordinator refused something: Error::code (category peer) of a
/// refused registration, channel or group, as on the wire (docs/protocol.md).
enum class RefuseCode : uint64_t {
  bad_id = 1,         ///< id syntax
  id_in_use = 2,      ///< another connected client holds the id
  not_authorized = 3, ///< certificate not valid for the id, or the coordinator's authorization refused it
  limit = 4,          ///< a configured limit was hit
  version = 5,        ///< unsupported protocol version
  unknown_peer = 6,   ///< channel to an id that is not connected
  peer_refused = 7,   ///< the peer declined the channel
  timeout = 8,        ///< the peer did not answer the introduction in time
  protocol = 9,       ///< malformed or out-of-sequence message
  id_bound = 10,      ///< the id is bound to another client key
};

#if defined(__cpp_lib_expected)
/// A T, or the Error that prevented it.
template <class T> using Result = std::expected<T, Error>;
/// What a function returning Result<T> returns on failure.
using Failure = std::unexpected<Error>;
#else
/// A T, or the Error that prevented it (std::expected's stand-in on g++ 12).
template <class T> using Result = compat::expected<T, Error>;
/// What a function returning Result<T> returns on failure.
using Failure = compat::unexpected<Error>;
#endif

} // namespace conec
