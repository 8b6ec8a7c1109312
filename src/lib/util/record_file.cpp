// Line-based record files: bounded reading and write helpers.
#include "util/record_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace conec {

Result<bool> read_record_lines(const std::string &path, size_t max_line, size_t max_size, const char *component,
                               const std::function<void(std::string_view, size_t, bool)> &line) {
  // Non-blocking and not through a symlink: a FIFO planted at `path` must
  // not hang the caller before the regular-file check below.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    return fail(errno_error(component, "open " + path, errno));
  }
  std::FILE *f = ::fdopen(fd, "r");
  if (!f) {
    int err = errno;
    ::close(fd);
    return fail(errno_error(component, "open " + path, err));
  }
  struct stat st {};
  if (::fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    return fail(ErrorCategory::io, component, path + " is not a regular file");
  }
  if (max_size && static_cast<uint64_t>(st.st_size) > max_size) {
    std::fclose(f);
    return fail(ErrorCategory::io, component,
                path + " is larger than " + std::to_string(max_size >> 20) + " MiB: not read");
  }
  std::string text;
  bool overlong = false, pending = false;
  size_t number = 1;
  for (int c; (c = getc_unlocked(f)) != EOF;) {
    if (c == '\n') {
      line(text, number++, overlong);
      text.clear();
      overlong = pending = false;
      continue;
    }
    pending = true;
    if (text.size() < max_line)
      text.push_back(static_cast<char>(c));
    else
      overlong = true;
  }
  bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) return fail(errno_error(component, "read " + path, EIO));
  if (pending) line(text, number, overlong);
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<void> write_all(int fd, std::string_view text, const std::string &path, const char *component) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno_error(component, "write " + path, errno));
    text.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string directory_of(const std::string &path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Result<void> make_private_dirs(const std::string &path) {
  for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
    std::string part = pos == std::string::npos ? path : path.substr(0, pos);
    if (!part.empty() && ::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(errno_error("util", "create directory " + part, errno));
    if (pos == std::string::npos) return {};
  }
}

void sync_directory_of(const std::string &path) {
  std::string dir = directory_of(path);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

} // namespace conec
