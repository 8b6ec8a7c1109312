// KnownPeers: reading and appending the known-peers file.
#include "client/known_peers.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "proto/control.hpp"
#include "tls/identity.hpp"
#include "util/record_file.hpp"

namespace conec::client {

namespace {

constexpr size_t kMaxProblemsShown = 20;
// How long remember() waits for another process's lock: 20 x 10 ms.
constexpr int kLockTries = 20;
constexpr useconds_t kLockRetryMicroseconds = 10'000;

constexpr std::string_view kHeader =
    "# conec known peers (trust on first use), one per line:\n"
    "#   <coordinator> <id> sha256:<SHA-256 of the peer's public key> <first seen, seconds since 1970>\n"
    "# Delete a line to accept that peer's new key.\n";

// Closes a descriptor (and so releases its flock) on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

} // namespace

Result<std::optional<KnownPeer>> KnownPeers::find(std::string_view coordinator, std::string_view id,
                                                  size_t *lines) {
  problems_.clear();
  size_t count = 0;
  std::string key = proto::canonical_id(id);
  std::optional<KnownPeer> found;
  auto problem = [&](size_t number, const std::string &why) {
    if (++count <= kMaxProblemsShown) problems_.push_back(path_ + ":" + std::to_string(number) + ": " + why);
  };
  auto read = read_record_lines(path_, kMaxKnownPeerLine, kMaxKnownPeersFile, "client", [&](std::string_view text, size_t number,
                                                                         bool overlong) {
    if (lines) *lines = number;
    if (overlong) return problem(number, "longer than " + std::to_string(kMaxKnownPeerLine) + " bytes; skipped");
    auto fields = split_fields(text);
    if (fields.empty() || fields[0].front() == '#') return;
    if (fields.size() != 4)
      return problem(number, "expected '<coordinator> <id> sha256:<hex> <first-seen>', found " +
                                 std::to_string(fields.size()) + " fields; skipped");
    if (!proto::valid_id(fields[1])) return problem(number, "not a valid id; skipped");
    auto pin = tls::parse_pin(fields[2]);
    if (!pin) return problem(number, "not a sha256:<64 hex> fingerprint; skipped");
    // The first record wins: remember() never adds a second one, so a
    // later line for the same peer was added by hand.
    if (!found && fields[0] == coordinator && proto::canonical_id(fields[1]) == key)
      found = KnownPeer{"sha256:" + to_hex(*pin), number};
  });
  if (!read) return fail(read.error());
  if (count > kMaxProblemsShown)
    problems_.push_back(path_ + ": " + std::to_string(count - kMaxProblemsShown) + " more lines skipped");
  return found;
}

Result<std::optional<KnownPeer>> KnownPeers::lookup(std::string_view coordinator, std::string_view id) {
  return find(coordinator, id, nullptr);
}

Result<KnownPeer> KnownPeers::remember(std::string_view coordinator, std::string_view id,
                                       std::string_view fingerprint, int64_t now) {
  // One record per line, fields without blanks: nothing else may get in.
  bool clean = !coordinator.empty() && std::none_of(coordinator.begin(), coordinator.end(), [](char c) {
    return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
  if (!clean || !proto::valid_id(id))
    return fail(ErrorCategory::usage, "client", "not a recordable peer (coordinator or id malformed)");
  if (auto dir = make_private_dirs(directory_of(path_)); !dir) return fail(dir.error());
  std::string lock_path = path_ + ".lock";
  Fd lock{::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (lock.fd < 0) return fail(errno_error("client", "open " + lock_path, errno));
  // Bounded: a process of ours stopped (^Z) while holding the lock must not
  // freeze this one's event loop; the record is then simply not written.
  for (int tries = 0; ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (errno != EWOULDBLOCK && errno != EINTR) return fail(errno_error("client", "lock " + lock_path, errno));
    if (tries >= kLockTries)
      return fail(ErrorCategory::io, "client", lock_path + " stays locked by another process; not recorded");
    ::usleep(kLockRetryMicroseconds);
  }

  size_t lines = 0;
  auto existing = find(coordinator, id, &lines);
  if (!existing) return fail(existing.error());
  if (*existing) return **existing;

  Fd file{::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) return fail(errno_error("client", "open " + path_, errno));
  std::string text = lines == 0 ? std::string(kHeader) : std::string();
  // A line cut short by a killed writer must not swallow ours.
  if (lines > 0) {
    char last = '\n';
    if (::pread(file.fd, &last, 1, ::lseek(file.fd, 0, SEEK_END) - 1) == 1 && last != '\n') text += '\n';
  }
  std::string record = std::string(coordinator) + " " + proto::canonical_id(id) + " " + std::string(fingerprint) +
                       " " + std::to_string(now) + "\n";
  text += record;
  if (auto r = write_all(file.fd, text, path_, "client"); !r) return fail(r.error());
  if (::fsync(file.fd) != 0) return fail(errno_error("client", "fsync " + path_, errno));
  if (lines == 0) sync_directory_of(path_);
  // After the header's three lines, or after the last line read (a cut one
  // was counted, and is now terminated).
  size_t header_lines = static_cast<size_t>(std::count(kHeader.begin(), kHeader.end(), '\n'));
  return KnownPeer{std::string(fingerprint), lines == 0 ? header_lines + 1 : lines + 1};
}

} // namespace conec::client
