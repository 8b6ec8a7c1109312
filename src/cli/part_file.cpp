#include "part_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace conec::cli {

Result<PartFile> PartFile::open(const std::string &path) {
  struct stat st{};
  bool direct = false;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return fail(ErrorCategory::usage, "cli", "cannot write " + path + ": it is a directory");
    direct = !S_ISREG(st.st_mode);
  }
  std::string writing = direct ? path : path + ".part";
  int fd = ::open(writing.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ErrorCategory::usage, "cli", errno_error("cli", "cannot write " + writing, errno).message);
  PartFile file(path, writing, fd);
  file.committed_ = direct; // nothing to rename
  return file;
}

PartFile::PartFile(PartFile &&other) noexcept
    : final_(std::move(other.final_)), writing_(std::move(other.writing_)), fd_(other.fd_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;
}

PartFile::~PartFile() = default;

Result<void> PartFile::commit() {
  if (committed_) return {};
  if (::rename(writing_.c_str(), final_.c_str()) != 0)
    return fail(ErrorCategory::io, "cli", errno_error("cli", "cannot rename " + writing_ + " to " + final_, errno).message);
  committed_ = true;
  writing_ = final_;
  return {};
}

void PartFile::discard_unused() {
  if (!committed_ && fd_ >= 0) ::unlink(writing_.c_str());
  committed_ = true;
}

} // namespace conec::cli
