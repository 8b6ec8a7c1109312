#pragma once
// Line-based record files (the coordinator's id bindings, a client's known
// peers): bounded reading, field splitting, and the POSIX write helpers
// their saves share. Text only; what a line means is the caller's.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace conec {

// Calls `line(text, number, overlong)` for each line of the regular file at
// `path` (numbered from 1; the last line needs no newline). A line longer
// than `max_line` bytes is cut there and reported overlong: a huge line
// costs time, not memory. Returns false if the file does not exist.
// Errors: io naming `path` (unreadable, not a regular file, larger than
// `max_size` bytes when that is not 0), attributed to `component`.
Result<bool> read_record_lines(const std::string &path, size_t max_line, size_t max_size, const char *component,
                               const std::function<void(std::string_view, size_t, bool)> &line);

// The fields of `line`, separated by spaces, tabs (and a trailing '\r').
std::vector<std::string_view> split_fields(std::string_view line);

// Writes all of `text` to `fd` (retrying short writes and EINTR).
Result<void> write_all(int fd, std::string_view text, const std::string &path, const char *component);

// The directory part of `path` ("." for a bare name).
std::string directory_of(const std::string &path);

// Like `mkdir -p`, but every directory it creates is private (0700, as the
// XDG base directory spec asks for state): keys live below. Directories that
// already exist are left as they are. Errors: io naming the directory.
Result<void> make_private_dirs(const std::string &path);

// Makes a rename or a creation in `path`'s directory durable (best effort).
void sync_directory_of(const std::string &path);

} // namespace conec
