// conec-docgen: writes the man pages and shell completions generated from the
// conec command tree, or checks that the committed ones match it (the drift
// test runs `check`, so a new option without regenerated docs fails CI).
//
//   conec-docgen write DIR   write DIR/man/*.1 and DIR/completions/*
//   conec-docgen check DIR   exit 0 if they match, 1 (with a diff) if not
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app.hpp"
#include "writers.hpp"

namespace fs = std::filesystem;
using namespace conec::docgen;

namespace conec::docgen {

FileSet generate(const CommandDoc &root) {
  FileSet files = man_pages(root);
  files["completions/conec.bash"] = bash_completion(root);
  files["completions/_conec"] = zsh_completion(root);
  files["completions/conec.fish"] = fish_completion(root);
  return files;
}

} // namespace conec::docgen

namespace {

// The generated directories: every file in them is ours, so a file the
// generator no longer produces (a removed subcommand) is drift too.
constexpr const char *kOwnedDirs[] = {"man", "completions"};

bool read_file(const fs::path &path, std::string &contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  contents = buffer.str();
  return true;
}

std::vector<std::string> lines_of(const std::string &s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One unified-diff hunk spanning every change (common prefix and suffix
// removed), with up to 3 lines of context and a bounded number of lines:
// enough to see what drifted without a diff library.
void print_diff(const std::string &shown_path, const std::string &on_disk, const std::string &generated) {
  std::vector<std::string> a = lines_of(on_disk), b = lines_of(generated);
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix])
    ++suffix;
  size_t start = prefix >= 3 ? prefix - 3 : 0;
  size_t a_end = std::min(a.size(), a.size() - suffix + 3), b_end = std::min(b.size(), b.size() - suffix + 3);
  std::printf("--- %s (on disk)\n+++ %s (generated)\n", shown_path.c_str(), shown_path.c_str());
  std::printf("@@ -%zu,%zu +%zu,%zu @@\n", start + 1, a_end - start, start + 1, b_end - start);
  for (size_t i = start; i < prefix; ++i) std::printf(" %s\n", a[i].c_str());
  constexpr size_t kMaxLines = 40;
  auto side = [&](const std::vector<std::string> &lines, size_t end, char mark) {
    for (size_t i = prefix; i < end; ++i) {
      if (i - prefix == kMaxLines) {
        std::printf("%c... (%zu more lines)\n", mark, end - i);
        break;
      }
      std::printf("%c%s\n", mark, lines[i].c_str());
    }
  };
  side(a, a.size() - suffix, '-');
  side(b, b.size() - suffix, '+');
  for (size_t i = a.size() - suffix; i < a_end; ++i) std::printf(" %s\n", a[i].c_str());
  if (on_disk.empty() || on_disk.back() != '\n') std::printf("\\ No newline at end of file (on disk)\n");
}

// Files under DIR/man and DIR/completions, as paths relative to DIR.
std::vector<std::string> files_on_disk(const fs::path &dir) {
  std::vector<std::string> found;
  for (const char *owned : kOwnedDirs) {
    std::error_code ec;
    if (!fs::is_directory(dir / owned, ec)) continue;
    for (const auto &entry : fs::recursive_directory_iterator(dir / owned))
      if (!entry.is_directory()) found.push_back(fs::relative(entry.path(), dir).generic_string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

int check(const fs::path &dir, const FileSet &files) {
  int drifted = 0;
  for (const auto &[relative, generated] : files) {
    std::string on_disk;
    std::string shown = (dir / relative).generic_string();
    if (!read_file(dir / relative, on_disk)) {
      std::printf("missing: %s (generated, not on disk)\n", shown.c_str());
      ++drifted;
    } else if (on_disk != generated) {
      std::printf("differs: %s\n", shown.c_str());
      print_diff(shown, on_disk, generated);
      ++drifted;
    }
  }
  for (const auto &relative : files_on_disk(dir))
    if (!files.count(relative)) {
      std::printf("extra: %s (on disk, not generated)\n", (dir / relative).generic_string().c_str());
      ++drifted;
    }
  if (drifted == 0) return 0;
  std::fprintf(stderr,
               "conec-docgen: %d generated file(s) out of date with the command tree; regenerate with: "
               "conec-docgen write %s\n",
               drifted, dir.generic_string().c_str());
  return 1;
}

int write(const fs::path &dir, const FileSet &files) {
  for (const auto &[relative, contents] : files) {
    std::string existing;
    if (read_file(dir / relative, existing) && existing == contents) continue; // keep mtimes
    fs::create_directories((dir / relative).parent_path());
    std::ofstream out(dir / relative, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out.flush()) {
      std::fprintf(stderr, "conec-docgen: cannot write %s\n", (dir / relative).c_str());
      return 2;
    }
    std::printf("wrote %s\n", (dir / relative).c_str());
  }
  for (const auto &relative : files_on_disk(dir))
    if (!files.count(relative)) {
      fs::remove(dir / relative);
      std::printf("removed %s\n", (dir / relative).c_str());
    }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "write" && mode != "check") {
    std::fprintf(stderr, "usage: conec-docgen write|check DIR\n"
                         "  write: generate DIR/man/*.1 and DIR/completions/* from the conec command tree\n"
                         "  check: compare them with the tree; exit 1 and show what differs on drift\n");
    return 2;
  }
  try {
    auto tree = conec::cli::build_app();
    FileSet files = generate(describe(*tree));
    return mode == "write" ? write(argv[2], files) : check(argv[2], files);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "conec-docgen: %s\n", e.what());
    return 2;
  }
}
