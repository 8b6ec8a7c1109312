#include "state_dir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace conec::cli {

std::string resolve_state_dir(const std::string &explicit_dir) {
  if (!explicit_dir.empty()) return explicit_dir;
  if (const char *env = std::getenv("CONEC_STATE_DIR"); env && *env) return env;
  if (const char *xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/conec";
  const char *home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/conec";
}

static Result<void> make_dirs(const std::string &path) {
  // Parents are created like `mkdir -p`; the last component is private.
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string parent = path.substr(0, pos);
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return fail(errno_error("cli", "create directory " + parent, errno));
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(errno_error("cli", "create state directory " + path, errno));
  return {};
}

Result<tls::Identity> load_or_create_identity(const std::string &dir, const std::string &stem,
                                              const std::string &name, bool &created) {
  std::string cert = dir + "/" + stem + ".pem", key = dir + "/" + stem + ".key";
  struct stat st{};
  created = false;
  if (stat(cert.c_str(), &st) == 0 || stat(key.c_str(), &st) == 0) return tls::Identity::load(cert, key);
  if (auto r = make_dirs(dir); !r) return fail(r.error());
  tls::CertificateRequest request;
  request.name = name;
  auto identity = tls::generate_self_signed(request);
  if (!identity) return identity;
  if (auto r = identity->save(cert, key); !r) return fail(r.error());
  created = true;
  return identity;
}

} // namespace conec::cli
