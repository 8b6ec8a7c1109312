// The committed man pages and shell completions match the command tree:
// `conec-docgen check` passes on the source tree and catches an edited,
// missing or extra file; every option `conec <sub> --help` lists is on that
// subcommand's man page; and the completion scripts parse in their shells.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/process.hpp"

#ifndef CONEC_SOURCE_DIR
#error "CONEC_SOURCE_DIR must name the source tree (tests/CMakeLists.txt, test_cli)"
#endif

namespace fs = std::filesystem;
using conec::test::Process;

namespace {

// Built next to the conec binary (build/src/cli/), so no extra definition.
std::string docgen() { return (fs::path(CONEC_BINARY).parent_path() / "conec-docgen").string(); }

std::string read_text(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A scratch copy of the generated directories, removed at scope exit.
struct TreeCopy {
  TreeCopy() {
    char tmpl[] = "/tmp/conec-docs-XXXXXX";
    dir = mkdtemp(tmpl);
    for (const char *sub : {"man", "completions"})
      fs::copy(fs::path(CONEC_SOURCE_DIR) / sub, dir / sub, fs::copy_options::recursive);
  }
  ~TreeCopy() { fs::remove_all(dir); }
  fs::path dir;
};

int run_check(const fs::path &dir, std::string &output) {
  Process p({docgen(), "check", dir.string()});
  int code = p.wait(60);
  output = p.out + p.err;
  return code;
}

// The first column of each entry of a CLI11 --help section ("Options:",
// "Positionals:", "Subcommands:"): entries are indented by two spaces, their
// wrapped descriptions by more.
std::vector<std::string> help_entries(const std::string &help, const std::string &section) {
  std::vector<std::string> entries;
  std::istringstream in(help);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ') inside = line == section + ":";
    if (!inside || line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ') continue;
    entries.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return entries;
}

// "-h,--help" -> {"-h", "--help"}.
std::vector<std::string> split_names(const std::string &entry) {
  std::vector<std::string> names;
  std::istringstream in(entry);
  for (std::string name; std::getline(in, name, ',');)
    if (!name.empty()) names.push_back(name);
  return names;
}

std::string roff_minus(std::string name) {
  std::string out;
  for (char c : name) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

// Checks every option and positional of `conec <path> --help` against the
// page documenting it, then recurses into nested subcommands.
void check_options_documented(const std::vector<std::string> &path) {
  std::vector<std::string> argv{CONEC_BINARY};
  argv.insert(argv.end(), path.begin(), path.end());
  argv.push_back("--help");
  Process p(argv);
  REQUIRE(p.wait() == 0);
  std::string page_name = path.empty() ? "conec.1" : "conec-" + path.front() + ".1";
  std::string page = read_text(fs::path(CONEC_SOURCE_DIR) / "man" / page_name);
  REQUIRE_FALSE(page.empty());
  std::string command = "conec";
  for (const auto &part : path) command += " " + part;
  for (const auto &entry : help_entries(p.out, "Options"))
    for (const auto &name : split_names(entry)) {
      INFO("'" << command << " --help' lists " << name << "; man/" << page_name << " must document it");
      CHECK(page.find("\\fB" + roff_minus(name) + "\\fR") != std::string::npos);
    }
  for (const auto &name : help_entries(p.out, "Positionals")) {
    INFO("'" << command << " --help' lists argument " << name << "; man/" << page_name
             << " must document it");
    CHECK(page.find("\\fI" + roff_minus(name) + "\\fR") != std::string::npos);
  }
  for (const auto &sub : help_entries(p.out, "Subcommands")) {
    std::vector<std::string> sub_path = path;
    sub_path.push_back(sub);
    if (sub_path.size() < 4) check_options_documented(sub_path);
  }
}

// Absolute path of `name` on $PATH, or "" (Process uses execv, not execvp).
std::string find_program(const std::string &name) {
  const char *path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

void check_syntax(const std::string &shell, const std::vector<std::string> &args, const std::string &file) {
  std::string program = find_program(shell);
  if (program.empty()) {
    WARN(shell << " is not installed: " << file << " not syntax-checked");
    return;
  }
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back((fs::path(CONEC_SOURCE_DIR) / "completions" / file).string());
  Process p(argv);
  int code = p.wait(30);
  INFO(shell << " on " << file << ": " << p.err);
  CHECK(code == 0);
}

} // namespace

TEST_CASE("the committed man pages and completions match the command tree", "[cli][docs]") {
  std::string output;
  int code = run_check(CONEC_SOURCE_DIR, output);
  INFO(output << "\nregenerate with: build/src/cli/conec-docgen write .");
  CHECK(code == 0);
}

TEST_CASE("conec-docgen check names a drifted, missing or extra file", "[cli][docs]") {
  TreeCopy copy;
  std::string output;
  REQUIRE(run_check(copy.dir, output) == 0);

  SECTION("one man page edited") {
    fs::path page = copy.dir / "man" / "conec.1";
    std::string text = read_text(page);
    auto name_line = text.find(".SH NAME\n");
    REQUIRE(name_line != std::string::npos);
    text.insert(name_line + 9, "hand-edited line\n");
    std::ofstream(page, std::ios::binary | std::ios::trunc) << text;
    CHECK(run_check(copy.dir, output) == 1);
    CHECK(output.find("man/conec.1") != std::string::npos);
    CHECK(output.find("+hand-edited line") == std::string::npos); // shown as removed, not added
    CHECK(output.find("-hand-edited line") != std::string::npos);
  }
  SECTION("a completion file missing and a stale page left over") {
    fs::remove(copy.dir / "completions" / "conec.fish");
    std::ofstream(copy.dir / "man" / "conec-gone.1") << ".TH CONEC-GONE 1\n";
    CHECK(run_check(copy.dir, output) == 1);
    CHECK(output.find("completions/conec.fish") != std::string::npos);
    CHECK(output.find("man/conec-gone.1") != std::string::npos);
  }
  SECTION("write repairs the tree") {
    std::ofstream(copy.dir / "completions" / "_conec", std::ios::trunc) << "#compdef conec\n";
    Process write({docgen(), "write", copy.dir.string()});
    REQUIRE(write.wait(60) == 0);
    CHECK(run_check(copy.dir, output) == 0);
  }
}

TEST_CASE("every option in --help is on its man page", "[cli][docs]") { check_options_documented({}); }

TEST_CASE("the completion scripts parse in their shells", "[cli][docs]") {
  check_syntax("bash", {"-n"}, "conec.bash");
  check_syntax("zsh", {"-n"}, "_conec");
  check_syntax("fish", {"--no-execute"}, "conec.fish");
}
