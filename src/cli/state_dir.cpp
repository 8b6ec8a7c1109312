#include "state_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "util/log.hpp"
#include "util/record_file.hpp"

namespace conec::cli {

std::string resolve_state_dir(const std::string &explicit_dir) {
  if (!explicit_dir.empty()) return explicit_dir;
  if (const char *env = std::getenv("CONEC_STATE_DIR"); env && *env) return env;
  if (const char *xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/conec";
  const char *home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/conec";
}

namespace {


// Holds an exclusive flock on a directory: processes sharing a state
// directory (many clients starting at once) create and check identities one
// at a time, so none sees another's pair half in place. Where flock is not
// supported it silently does nothing: the write order alone still never
// shows a key without its certificate.
class DirLock {
public:
  explicit DirLock(const std::string &dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0)
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_); // releases the lock
  }
  DirLock(const DirLock &) = delete;
  DirLock &operator=(const DirLock &) = delete;

private:
  int fd_;
};

// Temporaries of Identity::save left by killed processes (only writers
// holding the lock create them, so none is in use now).
void remove_stray_temporaries(const std::string &dir) {
  DIR *d = opendir(dir.c_str());
  if (!d) return;
  while (dirent *e = readdir(d))
    if (tls::is_save_temporary(e->d_name)) {
      std::string path = dir + "/" + e->d_name;
      if (::unlink(path.c_str()) == 0) CONEC_DEBUG("removed {}, left by an interrupted process", path);
    }
  closedir(d);
}

bool exists(const std::string &path) {
  struct stat st{};
  return lstat(path.c_str(), &st) == 0;
}

} // namespace

Result<void> ensure_state_dir(const std::string &dir) { return make_private_dirs(dir); }

Result<tls::Identity> load_or_create_identity(const std::string &dir, const std::string &stem,
                                              const std::string &name, tls::CertificateRole role,
                                              bool &created) {
  std::string cert = dir + "/" + stem + ".pem", key = dir + "/" + stem + ".key";
  created = false;
  if (auto r = make_private_dirs(dir); !r) return fail(r.error());
  DirLock lock(dir);
  bool have_cert = exists(cert), have_key = exists(key);
  if (have_cert && have_key) return tls::Identity::load(cert, key);
  // Half a pair: a process was killed while creating it (older versions
  // wrote the key first; this one the certificate). It was never complete,
  // so no one relies on it: replace it. The orphan key goes first, so that
  // a crash from here on cannot pair it with the new certificate.
  if (have_key) {
    CONEC_WARN("{} has no certificate beside it ({}): it was left half-written; creating a new identity", key, cert);
    if (::unlink(key.c_str()) != 0 && errno != ENOENT) return fail(errno_error("cli", "remove " + key, errno));
  } else if (have_cert) {
    CONEC_WARN("{} has no key beside it ({}): it was left half-written; creating a new identity", cert, key);
  }
  remove_stray_temporaries(dir);
  tls::CertificateRequest request;
  request.name = name;
  request.role = role;
  auto identity = tls::generate_self_signed(request);
  if (!identity) return identity;
  if (auto r = identity->save(cert, key); !r) return fail(r.error());
  created = true;
  return identity;
}

} // namespace conec::cli
