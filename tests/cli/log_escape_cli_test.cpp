// Peer-chosen text cannot forge log records or reach a terminal raw: a real
// `conec coordinator --log-format json -v` logs a Hello with a hostile id and
// a close reason with a forged record in it, and every line of its stderr
// must still be one JSON object (checked with Python's strict json parser).
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>

#include "channel/channel.hpp"
#include "support/cli_fixture.hpp"
#include "support/coord_fixture.hpp"

using namespace conec;
using test::Process;

namespace {

// Python's json.loads rejects raw control characters in strings and, fed
// bytes decoded strictly, any malformed UTF-8. Exit 0 when every line is an
// object of string fields time/level/msg and each later argument occurs in
// some msg.
constexpr const char *kCheckJsonLines = R"(
import json, sys
data = open(sys.argv[1], 'rb').read()
if not data.endswith(b'\n'): sys.exit('no final newline')
msgs = []
for raw in data[:-1].split(b'\n'):
    o = json.loads(raw.decode('utf-8'))
    if not isinstance(o, dict) or sorted(o) != ['level', 'msg', 'time'] or \
       not all(isinstance(v, str) for v in o.values()):
        sys.exit('not a log record: %r' % raw)
    msgs.append(o['msg'])
for needle in sys.argv[2:]:
    if not any(needle in m for m in msgs): sys.exit('no msg contains %r' % needle)
print(len(msgs))
)";

// Returns "" when `log` passes kCheckJsonLines, else what Python said.
std::string check_json_lines(const std::string &log, const std::vector<std::string> &needles) {
  std::string path = test::make_temp_dir() + "/stderr.log";
  std::FILE *f = std::fopen(path.c_str(), "wb");
  std::fwrite(log.data(), 1, log.size(), f);
  std::fclose(f);
  std::vector<std::string> argv{"/usr/bin/python3", "-c", kCheckJsonLines, path};
  argv.insert(argv.end(), needles.begin(), needles.end());
  Process py(argv);
  int code = test::run(py);
  test::remove_tree(path.substr(0, path.rfind('/')));
  return code == 0 ? "" : "exit " + std::to_string(code) + ": " + py.err + py.out;
}

quic::ConnectionHandler placeholder_handler;

// A client that says Hello with whatever id it is given (the real Client
// refuses invalid ids before connecting).
struct ForgedHello : channel::ChannelHandler {
  explicit ForgedHello(std::string id) : id_(std::move(id)) {}
  void on_open(channel::Channel &ch) override { (void)ch.send_control(proto::Hello{proto::kProtocolVersion, id_, {}}); }
  void on_control(channel::Channel &, proto::ControlMessage m) override {
    if (auto *r = std::get_if<proto::Refused>(&m)) refused = r->reason;
  }
  void on_closed(channel::Channel &, const Error &) override { closed = true; }
  std::string id_;
  std::optional<std::string> refused;
  bool closed = false;
};

} // namespace

TEST_CASE("a forged id and close reason stay inside one escaped JSON log record", "[cli][log]") {
  std::string dir = test::make_temp_dir();
  test::CliCoordinator coord(dir, {"--log-format", "json", "-v"});
  REQUIRE(coord.ready);
  REQUIRE(coord.port != 0);
  auto pin = tls::parse_pin(coord.fingerprint);
  REQUIRE(pin);
  tls::PeerVerification verify;
  verify.mode = tls::PeerVerification::Mode::pin;
  verify.pin = *pin;
  SockAddr address = SockAddr::loopback(AF_INET, coord.port);

  // A record closed early, a forged one, a line break and terminal escapes,
  // and a byte that is not UTF-8 (becomes U+FFFD).
  const std::string forged_id = "x\"}\n{\"level\":\"error\",\"msg\":\"root\\ login\x1b[2J\xff";
  const std::string forged_reason = "bye\"}\r\n{\"level\":\"error\",\"msg\":\"forged\x1b]0;t\x07\x7f";
  loop::Loop loop;
  {
    net::EndpointOptions eo;
    eo.bind = SockAddr::loopback(AF_INET, 0);
    auto endpoint = net::Endpoint::create(loop, eo);
    REQUIRE(endpoint);
    auto credentials = tls::Credentials::create(test::identity_for("forger"), verify);
    REQUIRE(credentials);
    auto session = (*endpoint)->connect(address, *credentials, "", placeholder_handler);
    REQUIRE(session);
    ForgedHello hello(forged_id);
    auto ch = std::make_unique<channel::Channel>(std::move(*session), "coordinator", hello);
    REQUIRE(test::run_until(loop, [&] { return hello.closed; }, 10));
    REQUIRE(hello.refused);
    CHECK(hello.refused->find("invalid id") != std::string::npos);
    ch.reset();

    // A registered client leaves with a hostile close reason.
    client::ClientOptions o;
    o.coordinator = address;
    o.verify_coordinator = verify;
    o.id = "closer";
    o.identity = test::identity_for("closer");
    test::ClientEvents events;
    auto c = client::Client::create(loop, o, events);
    REQUIRE(c);
    REQUIRE(test::run_until(loop, [&] { return events.registered || events.disconnected; }, 10));
    REQUIRE(events.registered);
    (*c)->coordinator_channel()->close(0, forged_reason);
    REQUIRE(test::run_until(loop, [&] { return events.disconnected.has_value(); }, 10));
    REQUIRE(coord.process.wait_for_stderr("left:", 10));
    c->reset();
    endpoint->reset();
  }
  test::run_until(loop, [] { return false; }, 0.2);
  REQUIRE(loop.close());
  coord.process.signal(SIGTERM);
  REQUIRE(coord.process.wait() == 0);

  const std::string &log = coord.process.err;
  INFO(log);
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find('\r') == std::string::npos);
  // The id as the coordinator quotes it, decoded: exactly what was sent,
  // with the invalid byte replaced.
  std::string id_decoded = forged_id.substr(0, forged_id.size() - 1) + "\xef\xbf\xbd";
  CHECK(check_json_lines(log, {"invalid id '" + id_decoded + "'", "'closer' left", forged_reason,
                               "clients connect with:"}) == "");
  // Nothing forged became a record of its own.
  CHECK(log.find("\n{\"level\"") == std::string::npos);
  test::remove_tree(dir);
}

TEST_CASE("error lines on a terminal show control characters escaped", "[cli][log]") {
  std::string dir = test::make_temp_dir();
  Process p({CONEC_BINARY, "open", "-c", "127.0.0.1:9", "--state-dir", dir, "-i", "ev\x1b[2Jil\nx", "peer"});
  CHECK(p.wait() == 2);
  INFO(p.err);
  CHECK(p.err == "conec: error: invalid id 'ev\\x1b[2Jil\\nx': use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter "
                 "or digit\n");

  // The same error as a JSON record.
  Process j({CONEC_BINARY, "open", "--log-format", "json", "-c", "127.0.0.1:9", "--state-dir", dir, "-i", "a\"\x1b",
             "peer"});
  CHECK(j.wait() == 2);
  CHECK(check_json_lines(j.err, {"invalid id 'a\"\x1b'"}) == "");
  test::remove_tree(dir);
}
