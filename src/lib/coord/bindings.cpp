// IdBindings: the id -> public key record, its file format and its atomic saves.
#include "coord/bindings.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>

#include "proto/control.hpp"
#include "tls/identity.hpp"
#include "util/record_file.hpp"

namespace conec::coord {

namespace {

constexpr size_t kMaxProblemsShown = 20;

constexpr std::string_view kHeader =
    "# conec coordinator id bindings (trust on first use), one per line:\n"
    "#   <id> sha256:<SHA-256 of the client's public key> <last seen, seconds since 1970>\n"
    "# Edit only while no coordinator uses this file; `conec coordinator --forget ID` removes one.\n";

// The fingerprint in its one printed form, or "" if `text` is not one.
std::string normal_fingerprint(std::string_view text) {
  auto pin = tls::parse_pin(text);
  return pin ? "sha256:" + to_hex(*pin) : std::string();
}

std::string lock_holder(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  bool digits =
      !pid.empty() && std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits ? " (process " + pid + ")" : "";
}

} // namespace

IdBindings::IdBindings(BindingOptions options, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd) {}

IdBindings::~IdBindings() {
  if (lock_fd_ >= 0) ::close(lock_fd_); // releases the lock
}

Result<std::unique_ptr<IdBindings>> IdBindings::open(BindingOptions options, int64_t now) {
  if (options.path.empty()) return fail(ErrorCategory::usage, "coord", "no id bindings file given");
  std::string lock = options.path + ".lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(errno_error("coord", "open " + lock, errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder = lock_holder(fd);
    ::close(fd);
    if (err == EWOULDBLOCK)
      return fail(ErrorCategory::io, "coord",
                  options.path + " is in use by another process" + holder +
                      ", a coordinator on the same state directory; stop it first");
    return fail(errno_error("coord", "lock " + lock, err));
  }
  // Who holds it, for the message above (best effort).
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);

  std::unique_ptr<IdBindings> b(new IdBindings(std::move(options), fd));
  if (auto r = b->load(now); !r) return fail(r.error());
  return b;
}

Result<void> IdBindings::load(int64_t now) {
  std::map<std::string, size_t> seen; // id -> line it was bound on
  auto read = read_record_lines(options_.path, kMaxBindingLine, 0, "coord",
                                [&](std::string_view line, size_t number, bool overlong) {
                                  parse_line(line, number, overlong, seen);
                                });
  if (!read) return fail(read.error());
  const std::string &path = options_.path;
  if (problem_count_ > kMaxProblemsShown)
    problems_.push_back(path + ": " + std::to_string(problem_count_ - kMaxProblemsShown) +
                        " more lines skipped");
  keep_original_ = problem_count_ > 0;
  expire(now);
  return {};
}

void IdBindings::problem(size_t number, const std::string &why) {
  if (++problem_count_ <= kMaxProblemsShown)
    problems_.push_back(options_.path + ":" + std::to_string(number) + ": " + why);
}

void IdBindings::parse_line(std::string_view line, size_t number, bool overlong,
                            std::map<std::string, size_t> &seen) {
  if (overlong) return problem(number, "longer than " + std::to_string(kMaxBindingLine) + " bytes; skipped");
  auto fields = split_fields(line);
  if (fields.empty() || fields[0].front() == '#') return; // blank or comment
  if (fields.size() != 3)
    return problem(number, "expected '<id> sha256:<hex> <last-seen>', found " +
                               std::to_string(fields.size()) + " fields; skipped");
  if (!proto::valid_id(fields[0])) return problem(number, "not a valid id; skipped");
  std::string id = proto::canonical_id(fields[0]);
  if (!bindable_id(id))
    return problem(number, "ids starting '" + std::string(kUnboundIdPrefix) + "' are never bound; skipped");
  std::string fingerprint = normal_fingerprint(fields[1]);
  if (fingerprint.empty()) return problem(number, "not a sha256:<64 hex> fingerprint; skipped");
  int64_t last_seen = -1;
  auto [end, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), last_seen);
  if (ec != std::errc() || end != fields[2].data() + fields[2].size() || last_seen < 0)
    return problem(number, "last-seen is not a number of seconds since 1970; skipped");
  if (auto it = seen.find(id); it != seen.end())
    return problem(number,
                   "'" + id + "' is already bound on line " + std::to_string(it->second) + "; skipped");
  seen.emplace(id, number);
  records_[id] = Record{std::move(fingerprint), last_seen};
}

bool IdBindings::expired(const Record &r, int64_t now) const {
  return options_.expiry_seconds > 0 && now - r.last_seen > options_.expiry_seconds;
}

IdBindings::Verdict IdBindings::check(std::string_view id, std::string_view fingerprint, int64_t now,
                                      std::string *bound) const {
  if (!bindable_id(id)) return Verdict::unbound;
  auto it = records_.find(proto::canonical_id(id));
  bool live = it != records_.end() && !expired(it->second, now);
  if (live && it->second.fingerprint == fingerprint) return Verdict::known;
  if (live) {
    if (bound) *bound = it->second.fingerprint;
    return Verdict::mismatch;
  }
  // An expired record would be replaced, not added.
  size_t others = records_.size() - (it != records_.end() ? 1 : 0);
  return others >= options_.max_bindings ? Verdict::full : Verdict::fresh;
}

bool IdBindings::bind(std::string_view id, std::string_view fingerprint, int64_t now) {
  if (!bindable_id(id)) return false;
  auto [it, inserted] = records_.try_emplace(proto::canonical_id(id));
  bool fresh = inserted || it->second.fingerprint != fingerprint;
  it->second = Record{std::string(fingerprint), now};
  dirty_ = true;
  return fresh;
}

void IdBindings::touch(std::string_view id, int64_t now) {
  auto it = records_.find(proto::canonical_id(id));
  if (it == records_.end() || it->second.last_seen == now) return;
  it->second.last_seen = now;
  dirty_ = true;
}

std::string IdBindings::forget(std::string_view id) {
  auto it = records_.find(proto::canonical_id(id));
  if (it == records_.end()) return {};
  std::string fingerprint = std::move(it->second.fingerprint);
  records_.erase(it);
  dirty_ = true;
  return fingerprint;
}

size_t IdBindings::expire(int64_t now) {
  size_t n = std::erase_if(records_, [&](const auto &kv) { return expired(kv.second, now); });
  if (n) dirty_ = true;
  return n;
}

const IdBindings::Record *IdBindings::find(std::string_view id) const {
  auto it = records_.find(proto::canonical_id(id));
  return it == records_.end() ? nullptr : &it->second;
}

Result<void> IdBindings::save() {
  if (!dirty_) return {};
  const std::string &path = options_.path;
  if (keep_original_) {
    // The lines open() skipped are gone from what we write: keep them for
    // the operator (a hard link, so the file itself is never missing).
    keep_original_ = false;
    std::string corrupt = path + ".corrupt";
    ::unlink(corrupt.c_str());
    (void)::link(path.c_str(), corrupt.c_str());
  }
  std::string text(kHeader);
  for (const auto &[id, r] : records_)
    text += id + " " + r.fingerprint + " " + std::to_string(r.last_seen) + "\n";

  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(errno_error("coord", "create " + tmp, errno));
  auto wrote = [&]() -> Result<void> {
    if (::fchmod(fd, 0600) != 0) return fail(errno_error("coord", "chmod " + tmp, errno));
    if (auto r = write_all(fd, text, tmp, "coord"); !r) return r;
    if (::fsync(fd) != 0) return fail(errno_error("coord", "fsync " + tmp, errno));
    return {};
  }();
  if (::close(fd) != 0 && wrote) wrote = fail(errno_error("coord", "close " + tmp, errno));
  if (!wrote) {
    ::unlink(tmp.c_str());
    return wrote;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(errno_error("coord", "rename " + tmp + " to " + path, err));
  }
  sync_directory_of(path); // the rename is durable only once the directory is synced
  dirty_ = false;
  return {};
}

} // namespace conec::coord
