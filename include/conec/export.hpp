#pragma once
/// @file
/// @brief CONEC_API: marks what libconec exports.
///
/// libconec is built with hidden symbol visibility; only declarations marked
/// CONEC_API are part of its ABI. Applications never define it.

#if defined(__GNUC__) || defined(__clang__)
/// Exported from libconec (default visibility).
#define CONEC_API __attribute__((visibility("default")))
#else
#define CONEC_API
#endif
