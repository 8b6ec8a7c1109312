// IdBindings: the coordinator's id -> key record on disk — parsing (with
// hostile files), verdicts, expiry, forget, locking and atomic saves.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "coord/bindings.hpp"
#include "support/temp_files.hpp"

using namespace conec;
using coord::BindingOptions;
using coord::IdBindings;
using Verdict = IdBindings::Verdict;
using Catch::Matchers::Contains;

namespace {

const std::string kKeyA = "sha256:" + std::string(64, 'a');
const std::string kKeyB = "sha256:" + std::string(64, 'b');
constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kDay = 86'400;

void write(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::unique_ptr<IdBindings> open(const std::string &path, int64_t now = kNow, int64_t expiry = 30 * kDay,
                                 size_t max = 100) {
  BindingOptions o;
  o.path = path;
  o.expiry_seconds = expiry;
  o.max_bindings = max;
  auto b = IdBindings::open(o, now);
  INFO((b ? "" : b.error().message));
  REQUIRE(b);
  return std::move(*b);
}

} // namespace

TEST_CASE("id bindings: a missing file is empty, bindings saved are there when reopened, mode 0600",
          "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  {
    auto b = open(path);
    CHECK(b->size() == 0);
    CHECK(b->problems().empty());
    CHECK_FALSE(std::filesystem::exists(path)); // nothing written until something is bound
    CHECK(b->check("Bob", kKeyA, kNow) == Verdict::fresh);
    CHECK(b->bind("Bob", kKeyA, kNow));
    CHECK_FALSE(b->bind("bob", kKeyA, kNow + 5)); // the same key again is no new binding
    CHECK(b->bind("carol", kKeyB, kNow));
    REQUIRE(b->save());
    CHECK_FALSE(b->dirty());
  }
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::string text = test::read_file(path);
  CHECK_THAT(text, Contains("\nbob " + kKeyA + " " + std::to_string(kNow + 5) + "\n"));
  CHECK_THAT(text, Contains("\ncarol " + kKeyB + " " + std::to_string(kNow) + "\n"));
  CHECK(text.front() == '#'); // the format explains itself

  auto again = open(path, kNow + 10);
  CHECK(again->size() == 2);
  REQUIRE(again->find("BOB"));
  CHECK(again->find("bob")->fingerprint == kKeyA);
  CHECK(again->find("bob")->last_seen == kNow + 5);
  CHECK(again->problems().empty());
}

TEST_CASE("id bindings: verdicts — known, mismatch naming the bound key, anon- ids never bound, full",
          "[coord]") {
  test::TempDir dir;
  auto b = open(dir.path + "/id-bindings", kNow, 30 * kDay, 2);
  REQUIRE(b->bind("bob", kKeyA, kNow));
  CHECK(b->check("bob", kKeyA, kNow) == Verdict::known);
  CHECK(b->check("BOB", kKeyA, kNow) == Verdict::known); // ids compare case-insensitively
  std::string bound;
  CHECK(b->check("bob", kKeyB, kNow, &bound) == Verdict::mismatch);
  CHECK(bound == kKeyA);

  for (std::string anon : {"anon-0123456789ab", "ANON-x", "anon-"}) {
    INFO(anon);
    CHECK_FALSE(coord::bindable_id(anon));
    CHECK(b->check(anon, kKeyA, kNow) == Verdict::unbound);
    CHECK_FALSE(b->bind(anon, kKeyA, kNow));
    CHECK(b->find(anon) == nullptr);
  }
  CHECK(coord::bindable_id("anonymous"));
  CHECK(coord::bindable_id("my-anon-1"));

  REQUIRE(b->bind("carol", kKeyB, kNow));
  CHECK(b->check("dave", kKeyA, kNow) == Verdict::full); // max_bindings = 2
  CHECK(b->check("bob", kKeyA, kNow) == Verdict::known); // known ids still come in
  CHECK(b->check("anon-1", kKeyA, kNow) == Verdict::unbound);
  // An expired record makes room for its own id only.
  CHECK(b->check("carol", kKeyA, kNow + 31 * kDay) == Verdict::fresh);
}

TEST_CASE("id bindings: records idle past the expiry lapse, last-seen updates keep them, 0 never expires",
          "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  {
    auto b = open(path);
    b->bind("bob", kKeyA, kNow);
    b->bind("carol", kKeyB, kNow);
    b->touch("carol", kNow + 20 * kDay);
    CHECK(b->check("bob", kKeyB, kNow + 30 * kDay) == Verdict::mismatch); // 30 days idle: still bound
    CHECK(b->check("bob", kKeyB, kNow + 30 * kDay + 1) == Verdict::fresh);
    REQUIRE(b->save());
  }
  {
    auto b = open(path, kNow + 31 * kDay); // bob lapsed while nobody ran
    CHECK(b->find("bob") == nullptr);
    REQUIRE(b->find("carol"));
    CHECK(b->dirty()); // the next save drops bob from the file
    CHECK(b->expire(kNow + 51 * kDay) == 1);
    CHECK(b->size() == 0);
  }
  auto never = open(path, kNow + 3650 * kDay, 0);
  CHECK(never->size() == 2);
  CHECK(never->check("bob", kKeyB, kNow + 3650 * kDay) == Verdict::mismatch);
  CHECK(never->expire(INT64_MAX) == 0);
}

TEST_CASE("id bindings: forget removes one record, and the saved file no longer has it", "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  {
    auto b = open(path);
    b->bind("bob", kKeyA, kNow);
    b->bind("carol", kKeyB, kNow);
    REQUIRE(b->save());
  }
  {
    auto b = open(path);
    CHECK(b->forget("BOB") == kKeyA);
    CHECK(b->forget("bob").empty());
    CHECK(b->forget("nobody").empty());
    CHECK(b->check("bob", kKeyB, kNow) == Verdict::fresh);
    REQUIRE(b->save());
  }
  std::string text = test::read_file(path);
  CHECK(text.find("bob ") == std::string::npos);
  CHECK_THAT(text, Contains("carol " + kKeyB));
}

TEST_CASE("id bindings: hostile files — garbage, a huge line, binary, no final newline — are reported by "
          "line and skipped",
          "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  std::string upper_key = "SHA256:" + std::string(64, 'C');
  std::string text = "# a comment\n" // 1
                     "\n"            // 2
                     "bob " +
                     kKeyA + " " + std::to_string(kNow) +
                     "\n"                 // 3 good
                     "complete garbage\n" // 4
                     + std::string(1 << 20, 'x') +
                     "\n" // 5 huge
                     "bob " +
                     kKeyB + " " + std::to_string(kNow) +
                     "\n" // 6 duplicate
                     "-bad " +
                     kKeyA +
                     " 1\n"                // 7 bad id
                     "eve sha256:1234 1\n" // 8 short fingerprint
                     "eve " +
                     kKeyA +
                     " -5\n" // 9 negative time
                     "eve " +
                     kKeyA +
                     " 12x\n" // 10 not a number
                     "eve " +
                     kKeyA +
                     " 99999999999999999999999\n" // 11 overflow
                     "anon-0123456789ab " +
                     kKeyA +
                     " 1\n" // 12 never bound
                     "eve " +
                     kKeyA + " 1 extra\n"                       // 13 four fields
                     + std::string("\0\xff\x01 binary\n", 11) + // 14
                     "  \tdave\t" + upper_key + "  " + std::to_string(kNow) +
                     " \r\n" // 15 good: blanks, CRLF, upper case
                     "Carol " +
                     kKeyB + " " + std::to_string(kNow); // 16 good, no newline
  write(path, text);
  auto b = open(path);
  CHECK(b->size() == 3);
  REQUIRE(b->find("bob"));
  CHECK(b->find("bob")->fingerprint == kKeyA); // the first binding wins
  REQUIRE(b->find("dave"));
  CHECK(b->find("dave")->fingerprint == "sha256:" + std::string(64, 'c'));
  REQUIRE(b->find("carol"));
  CHECK(b->find("carol")->last_seen == kNow);

  const auto &p = b->problems();
  std::string all;
  for (const auto &line : p) all += line + "\n";
  INFO(all);
  REQUIRE(p.size() == 11);
  CHECK_THAT(p[0], Contains(path + ":4: expected '<id> sha256:<hex> <last-seen>', found 2 fields"));
  CHECK_THAT(p[1], Contains(path + ":5: longer than 512 bytes"));
  CHECK_THAT(p[2], Contains(path + ":6: 'bob' is already bound on line 3"));
  CHECK_THAT(p[3], Contains(":7: not a valid id"));
  CHECK_THAT(p[4], Contains(":8: not a sha256:<64 hex> fingerprint"));
  CHECK_THAT(p[5], Contains(":9: last-seen"));
  CHECK_THAT(p[6], Contains(":10: last-seen"));
  CHECK_THAT(p[7], Contains(":11: last-seen"));
  CHECK_THAT(p[8], Contains(":12: ids starting 'anon-' are never bound"));
  CHECK_THAT(p[9], Contains(":13: expected"));
  CHECK_THAT(p[10], Contains(":14: "));
  for (const auto &line : p) CHECK(line.size() < 200); // never echoes the line itself

  // The first save keeps the file as it was, for the operator.
  b->bind("frank", kKeyA, kNow);
  REQUIRE(b->save());
  CHECK(test::read_file(path + ".corrupt") == text);
  b.reset();
  auto again = open(path);
  CHECK(again->problems().empty());
  CHECK(again->size() == 4);
}

TEST_CASE("id bindings: problems beyond the first 20 are counted, not listed", "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "junk\n";
  write(path, text);
  auto b = open(path);
  REQUIRE(b->problems().size() == 21);
  CHECK_THAT(b->problems().back(), Contains("980 more lines skipped"));
}

TEST_CASE("id bindings: one process at a time — a second open is refused while the first holds the file",
          "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  auto first = open(path);
  BindingOptions o;
  o.path = path;
  auto second = IdBindings::open(o, kNow);
  REQUIRE_FALSE(second);
  CHECK(second.error().category == ErrorCategory::io);
  CHECK_THAT(second.error().message, Contains("in use by another process"));
  CHECK_THAT(second.error().message, Contains(std::to_string(getpid())));
  first.reset();
  CHECK(IdBindings::open(o, kNow));
}

TEST_CASE("id bindings: a save replaces the file whole or not at all", "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  auto b = open(path);
  b->bind("bob", kKeyA, kNow);
  REQUIRE(b->save());
  std::string before = test::read_file(path);
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  ino_t inode = st.st_ino;

  // The temp file cannot be created: the save fails, the record is intact.
  std::filesystem::create_directory(path + ".tmp");
  b->bind("carol", kKeyB, kNow);
  auto failed = b->save();
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message, Contains(path + ".tmp"));
  CHECK(b->dirty()); // tried again at the next save
  CHECK(test::read_file(path) == before);

  std::filesystem::remove(path + ".tmp");
  REQUIRE(b->save());
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK(st.st_ino != inode); // a new file renamed over the old one
  CHECK_THAT(test::read_file(path), Contains("carol "));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("id bindings: a path that is not a regular file is an error, not an empty record", "[coord]") {
  test::TempDir dir;
  std::string path = dir.path + "/id-bindings";
  std::filesystem::create_directory(path);
  BindingOptions o;
  o.path = path;
  auto b = IdBindings::open(o, kNow);
  REQUIRE_FALSE(b);
  CHECK_THAT(b.error().message, Contains("not a regular file"));
}
