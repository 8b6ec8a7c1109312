#pragma once
// `recv -o FILE`: the output is written to FILE.part and renamed to FILE
// once a stream ended cleanly, so FILE never holds a partial transfer and an
// existing FILE is replaced only by a complete one. On a cut FILE.part is
// kept (the error names it), like a browser's partial download. A FILE that
// exists and is not a regular file (a device, a fifo) is written directly:
// renaming over /dev/null is not what anyone means.

#include <string>

#include "util/error.hpp"

namespace conec::cli {

class PartFile {
public:
  // Opens (creating or truncating) the file to write. Errors (usage) name
  // the path: cannot create, or FILE is a directory.
  static Result<PartFile> open(const std::string &path);
  PartFile(PartFile &&other) noexcept;
  PartFile &operator=(PartFile &&) = delete;
  ~PartFile(); // does not close fd(): the output sink owns it

  int fd() const { return fd_; }
  // Where the bytes go until commit(): FILE.part, or FILE when written directly.
  const std::string &writing_to() const { return writing_; }
  bool committed() const { return committed_; }
  // Renames FILE.part to FILE (once; later calls do nothing). Later writes
  // through fd() still land in FILE (recv -k appends its next streams).
  Result<void> commit();
  // Removes FILE.part if no stream ever began writing to it (recv stopped
  // while waiting): nothing to keep.
  void discard_unused();

private:
  PartFile(std::string final_path, std::string writing, int fd)
      : final_(std::move(final_path)), writing_(std::move(writing)), fd_(fd) {}
  std::string final_, writing_;
  int fd_ = -1;
  bool committed_ = false;
};

} // namespace conec::cli
