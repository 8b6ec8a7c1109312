// `conec client --exec` under more streams than --max-procs: real processes
// around a real coordinator. Commands count themselves in a directory, so
// the test sees how many ran at once.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <memory>

#include "support/cli_fixture.hpp"

using namespace conec;
using test::Process;

namespace {

// A command that registers itself as running in `dir` while it runs, appends
// how many were running to dir/counts, waits for `wait_cmd`, then says done.
std::string counting_command(const std::string &dir, const std::string &wait_cmd) {
  return "d=" + dir + "; mkdir \"$d/run.$$\"; ls -d \"$d\"/run.* | wc -l >> \"$d/counts\"; " + wait_cmd +
         "; rmdir \"$d/run.$$\"; echo done";
}

std::vector<int> read_counts(const std::string &path) {
  std::ifstream f(path);
  std::vector<int> counts;
  for (int n; f >> n;) counts.push_back(n);
  return counts;
}

int occurrences(const std::string &text, const std::string &what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Reads `p`'s stderr until `text` occurs `n` times (or `seconds` pass).
bool wait_for_count(Process &p, const std::string &text, int n, double seconds = 20) {
  for (int i = 0; i < seconds * 20 && occurrences(p.err, text) < n; ++i) p.wait_for_stderr("\x01 not there", 0.05);
  return occurrences(p.err, text) >= n;
}

} // namespace

TEST_CASE("client --exec --max-procs 2: five openers, never more than two commands at once", "[cli][client]") {
  std::string dir = test::make_temp_dir();
  test::CliCoordinator coord(dir);
  REQUIRE(coord.ready);
  Process server(test::conec_argv(
      coord, {"client", "-v", "-i", "svc", "--max-procs", "2", "--exec", counting_command(dir, "sleep 1")}));
  REQUIRE(server.wait_for_stderr("registered as 'svc'"));

  std::vector<std::unique_ptr<Process>> openers;
  for (int i = 0; i < 5; ++i) openers.push_back(std::make_unique<Process>(test::conec_argv(coord, {"open", "svc"})));
  for (auto &o : openers) {
    INFO(o->err);
    CHECK(o->wait(60) == 0);
    CHECK(o->out == "done\n");
  }
  std::vector<int> counts = read_counts(dir + "/counts");
  CHECK(wait_for_count(server, "waits:", 1, 5));
  INFO(server.err);
  REQUIRE(counts.size() == 5);
  int most = 0;
  for (int n : counts) most = std::max(most, n);
  CHECK(most <= 2);
  CHECK(most == 2); // they do run concurrently

  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  coord.process.signal(SIGTERM);
  CHECK(coord.process.wait() == 0);
  test::remove_tree(dir);
}

TEST_CASE("client --exec past --max-queued refuses a stream, and open says the peer is busy (exit 5)",
          "[cli][client]") {
  std::string dir = test::make_temp_dir();
  test::CliCoordinator coord(dir);
  REQUIRE(coord.ready);
  std::string go = dir + "/go";
  Process server(test::conec_argv(coord, {"client", "-v", "-i", "svc", "--max-procs", "1", "--max-queued", "1",
                                          "--exec",
                                          counting_command(dir, "while [ ! -e " + go + " ]; do sleep 0.05; done")}));
  REQUIRE(server.wait_for_stderr("registered as 'svc'"));

  Process first(test::conec_argv(coord, {"open", "svc"}));
  REQUIRE(wait_for_count(server, "running the command", 1));
  Process second(test::conec_argv(coord, {"open", "svc"}));
  REQUIRE(wait_for_count(server, "waits:", 1));
  Process third(test::conec_argv(coord, {"open", "svc"}));
  CHECK(third.wait(30) == 5);
  CHECK(third.out.empty());
  CHECK(third.err == "conec: error: 'svc' is busy: it runs its maximum of commands (--max-procs) and as many "
                     "streams wait (--max-queued); try again later\n");
  CHECK(wait_for_count(server, "refused a stream from", 1, 5));

  // The one that waited is served once the first command is done.
  std::ofstream(go).put('\n');
  CHECK(first.wait(30) == 0);
  CHECK(first.out == "done\n");
  CHECK(second.wait(30) == 0);
  CHECK(second.out == "done\n");
  CHECK(read_counts(dir + "/counts") == std::vector<int>{1, 1});

  server.signal(SIGTERM);
  CHECK(server.wait(10) == 143);
  coord.process.signal(SIGTERM);
  CHECK(coord.process.wait() == 0);
  test::remove_tree(dir);
}
