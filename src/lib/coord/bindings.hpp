#pragma once
// IdBindings: the public key each id first registered with (trust on first
// use, like ssh's known_hosts but kept by the coordinator), so that while
// bob is offline nobody else can register as bob with a fresh key (SPEC §3).
//
// The record is a text file, one binding per line:
//   <id> sha256:<64 hex> <last-seen>
// id in canonical (lower-case) form; the SHA-256 of the client certificate's
// SubjectPublicKeyInfo (tls::public_key_fingerprint), so a renewed
// certificate with the same key keeps its id; last-seen in seconds since
// 1970 (UTC). Fields are separated by spaces or tabs; blank lines and lines
// starting with '#' are ignored; the last line needs no newline. A line
// that does not parse (or is over kMaxBindingLine bytes) is reported with
// its number and skipped; the first save afterwards keeps the file as it
// was in `<path>.corrupt`. Saves replace the file atomically (temp file,
// fsync, rename, fsync of the directory), mode 0600.
//
// One process at a time: open() takes an exclusive lock on `<path>.lock`
// (flock, released when the process ends, even killed), so an operator's
// `conec coordinator --forget` cannot race a running coordinator that would
// write its records back.
//
// Threading: none; the coordinator's loop owns it.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/control.hpp"
#include "util/error.hpp"

namespace conec::coord {

// Longest line the parser reads (a valid one is under 150 bytes).
inline constexpr size_t kMaxBindingLine = 512;

struct BindingOptions {
  std::string path;                     // the record file; empty: ids are not bound
  int64_t expiry_seconds = 30 * 86'400; // a record idle this long expires; 0: never
  size_t max_bindings = 100'000;        // further new ids are refused (RefuseCode::limit)
};

// Ids starting with proto::kUnboundIdPrefix ("anon-") are never recorded.
using proto::bindable_id;
using proto::kUnboundIdPrefix;

class IdBindings {
public:
  struct Record {
    std::string fingerprint; // "sha256:<hex>" of the public key
    int64_t last_seen = 0;   // seconds since 1970
  };
  // What a registration under an id with a key would meet.
  enum class Verdict {
    unbound,  // the id is never recorded (kUnboundIdPrefix)
    known,    // recorded with this key
    fresh,    // not recorded (or expired): bind() records it
    mismatch, // recorded with another key: refuse
    full,     // not recorded, and max_bindings records exist: refuse
  };

  ~IdBindings();
  IdBindings(const IdBindings &) = delete;
  IdBindings &operator=(const IdBindings &) = delete;

  // Locks and reads `options.path` (a missing file is an empty record),
  // dropping records expired at `now`. Errors: io (unreadable, or locked
  // by another process: the message says so).
  static Result<std::unique_ptr<IdBindings>> open(BindingOptions options, int64_t now);

  // Read-only: what registering `id` with `fingerprint` at `now` meets.
  // `bound`, if given, receives the recorded fingerprint on a mismatch.
  Verdict check(std::string_view id, std::string_view fingerprint, int64_t now,
                std::string *bound = nullptr) const;
  // Records (or refreshes) `id` -> `fingerprint`, last seen `now`, after
  // check() said known or fresh. Returns whether a new binding was made
  // (save it soon). Does nothing for unbound ids.
  bool bind(std::string_view id, std::string_view fingerprint, int64_t now);
  // Sets last-seen of a recorded `id` to `now` (dirty, not saved).
  void touch(std::string_view id, int64_t now);
  // Removes `id`'s record; returns its fingerprint, or "" if there was none.
  std::string forget(std::string_view id);
  // Drops records idle longer than the expiry; returns how many.
  size_t expire(int64_t now);

  // Writes the file atomically if anything changed since the last save.
  Result<void> save();
  bool dirty() const { return dirty_; }

  const Record *find(std::string_view id) const;
  size_t size() const { return records_.size(); }
  const std::string &path() const { return options_.path; }
  const BindingOptions &options() const { return options_; }
  // Lines open() skipped, as "<path>:<line>: <why>" (at most the first 20,
  // then one line saying how many more).
  const std::vector<std::string> &problems() const { return problems_; }

private:
  IdBindings(BindingOptions options, int lock_fd);
  Result<void> load(int64_t now);
  void parse_line(std::string_view line, size_t number, bool overlong, std::map<std::string, size_t> &seen);
  void problem(size_t number, const std::string &why);
  bool expired(const Record &r, int64_t now) const;

  BindingOptions options_;
  int lock_fd_ = -1;
  std::map<std::string, Record, std::less<>> records_; // canonical id -> record
  std::vector<std::string> problems_;
  size_t problem_count_ = 0;
  bool dirty_ = false;
  bool keep_original_ = false; // open() skipped lines: keep the file as <path>.corrupt
};

} // namespace conec::coord
