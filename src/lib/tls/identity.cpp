// Identity files: loading with errors that name the file and the cause, and
// saving so that a key is never readable by others, not even for a moment.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "tls/gnutls_raii.hpp"
#include "tls/identity.hpp"

namespace conec::tls {

namespace {

// Closes a file descriptor on every path out of a function.
class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error (a delayed write error can surface here).
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

private:
  int fd_;
};

// Loading errors are usage errors (the caller named a wrong file); saving
// errors are io errors (the system failed us).
Error file_error(std::string_view what, const std::string &path, int errnum,
                 ErrorCategory category = ErrorCategory::usage) {
  return Error{category, errnum, "tls", std::string(what) + " '" + path + "': " + std::strerror(errnum)};
}

Result<std::string> read_file(const std::string &path, std::string_view what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(file_error("cannot read " + std::string(what), path, errno));
  std::string text;
  std::array<char, 4096> buf{};
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(file_error("cannot read " + std::string(what), path, errno));
    if (n == 0) break;
    text.append(buf.data(), static_cast<size_t>(n));
    // Certificates and keys are a few KiB; refuse to slurp something huge
    // that was passed by mistake.
    if (text.size() > (1u << 20))
      return fail(ErrorCategory::usage, "tls", std::string(what) + " '" + path + "' is larger than 1 MiB");
  }
  return text;
}

constexpr std::string_view kTempMarker = ".tmp-";
constexpr size_t kTempSuffixHex = 16;

// Writes `data` to a fresh temporary file beside `path`, created with
// `mode`, and syncs it; returns its name. O_EXCL ensures we never write
// through a file (or symlink) someone else prepared; creating with the final
// mode means the key is 0600 from its first byte.
Result<std::string> write_temporary(const std::string &path, std::string_view data, mode_t mode) {
  std::array<uint8_t, kTempSuffixHex / 2> suffix{};
  random_bytes(suffix);
  std::string tmp = path + std::string(kTempMarker) + to_hex(suffix);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return fail(file_error("cannot create", tmp, errno, ErrorCategory::io));

  auto abandon = [&tmp](int errnum, std::string_view what) {
    ::unlink(tmp.c_str());
    return fail(file_error(what, tmp, errnum, ErrorCategory::io));
  };
  // The umask may have removed bits from a certificate's 0644; set exactly.
  if (::fchmod(fd.get(), mode) != 0) return abandon(errno, "cannot set mode of");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abandon(errno, "cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return abandon(errno, "cannot sync");
  if (fd.close() != 0) return abandon(errno, "cannot write");
  return tmp;
}

// Renames a temporary from write_temporary() over `path` (removing it on
// failure).
Result<void> put_in_place(const std::string &tmp, const std::string &path) {
  if (::rename(tmp.c_str(), path.c_str()) == 0) return {};
  int errnum = errno;
  ::unlink(tmp.c_str());
  return fail(file_error("cannot replace", path, errnum, ErrorCategory::io));
}

// Makes renames in `path`'s directory durable; failure here loses nothing
// already visible, so it is not reported.
void sync_directory_of(const std::string &path) {
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
}

} // namespace

} // namespace conec::tls

// Members of the public conec::Identity (conec/identity.hpp).
namespace conec {
using namespace tls;

Result<Identity> Identity::load(const std::string &cert_path, const std::string &key_path) {
  auto cert = read_file(cert_path, "certificate file");
  if (!cert) return fail(cert.error());
  auto key = read_file(key_path, "key file");
  if (!key) return fail(key.error());

  auto chain = detail::import_crt_chain(*cert);
  if (!chain)
    return fail(ErrorCategory::usage, "tls",
                "certificate file '" + cert_path + "' does not hold a PEM certificate (" +
                    chain.error().message + ")");
  auto x509_key = detail::import_key(*key);
  if (!x509_key)
    return fail(ErrorCategory::usage, "tls",
                "key file '" + key_path + "' does not hold an unencrypted PEM private key (" +
                    x509_key.error().message + ")");

  auto crt_id = detail::crt_key_id(chain->front().get());
  if (!crt_id)
    return fail(ErrorCategory::usage, "tls",
                "certificate file '" + cert_path + "': " + crt_id.error().message);
  auto key_id = detail::key_key_id(x509_key->get());
  if (!key_id)
    return fail(ErrorCategory::usage, "tls", "key file '" + key_path + "': " + key_id.error().message);
  if (*crt_id != *key_id)
    return fail(ErrorCategory::usage, "tls",
                "key file '" + key_path + "' does not match the certificate in '" + cert_path +
                    "' (different public keys)");
  return Identity{std::move(*cert), std::move(*key)};
}

Result<void> Identity::save(const std::string &cert_path, const std::string &key_path) const {
  // Both files are written in full before either is renamed into place,
  // certificate first: a crash leaves only temporaries (see
  // is_save_temporary), or the new certificate beside the old key (which
  // load() reports as a mismatch) or beside no key; never a key without
  // its certificate.
  auto cert_tmp = write_temporary(cert_path, cert_pem, 0644);
  if (!cert_tmp) return fail(cert_tmp.error());
  auto key_tmp = write_temporary(key_path, key_pem, 0600);
  if (!key_tmp) {
    ::unlink(cert_tmp->c_str());
    return fail(key_tmp.error());
  }
  if (auto r = put_in_place(*cert_tmp, cert_path); !r) {
    ::unlink(key_tmp->c_str());
    return r;
  }
  if (auto r = put_in_place(*key_tmp, key_path); !r) return r;
  sync_directory_of(cert_path);
  if (key_path.substr(0, key_path.rfind('/') + 1) != cert_path.substr(0, cert_path.rfind('/') + 1))
    sync_directory_of(key_path);
  return {};
}

} // namespace conec

namespace conec::tls {

bool is_save_temporary(std::string_view file_name) {
  size_t at = file_name.rfind(kTempMarker);
  if (at == std::string_view::npos || file_name.size() - at - kTempMarker.size() != kTempSuffixHex) return false;
  for (char c : file_name.substr(at + kTempMarker.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

} // namespace conec::tls
