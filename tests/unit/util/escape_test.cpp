// Escaping of peer-chosen text for JSON log lines and terminals.
#include <catch2/catch.hpp>

#include "util/escape.hpp"

using namespace conec;
using namespace std::string_literals;

TEST_CASE("json_escaped: quotes, backslash and control characters", "[util][escape]") {
  CHECK(json_escaped("plain id-1.x_y") == "plain id-1.x_y");
  CHECK(json_escaped(R"(a"b\c)") == R"(a\"b\\c)");
  CHECK(json_escaped("line\nnext\r\t") == R"(line\nnext\r\t)");
  CHECK(json_escaped("\x1b[31mred") == R"(\u001b[31mred)");
  CHECK(json_escaped("nul\0here"s) == R"(nul\u0000here)");
  CHECK(json_escaped("\x01\x1f\x7f") == R"(\u0001\u001f\u007f)");
  // A forged record stays inside the one string.
  CHECK(json_escaped("x\",\"level\":\"error\"}\n{\"msg\":\"") ==
        R"(x\",\"level\":\"error\"}\n{\"msg\":\")");
}

TEST_CASE("json_escaped: valid UTF-8 is kept, malformed bytes become U+FFFD", "[util][escape]") {
  CHECK(json_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(json_escaped("\xff") == R"(\ufffd)");
  CHECK(json_escaped("a\x80z") == R"(a\ufffdz)");              // stray continuation
  CHECK(json_escaped("\xc0\xa2") == R"(\ufffd\ufffd)");        // overlong '"'
  CHECK(json_escaped("\xe0\x80\x8a") == R"(\ufffd\ufffd\ufffd)"); // overlong '\n'
  CHECK(json_escaped("\xed\xa0\x80") == R"(\ufffd\ufffd\ufffd)"); // surrogate
  CHECK(json_escaped("\xf4\x90\x80\x80") == R"(\ufffd\ufffd\ufffd\ufffd)"); // above U+10FFFF
  CHECK(json_escaped("ok\xe2\x82") == R"(ok\ufffd\ufffd)");    // truncated at the end
  CHECK(json_escaped("\xc2\x85") == "\xc2\x85");                 // C1 is valid JSON as is
}

TEST_CASE("printable: control characters become visible, the rest is unchanged", "[util][escape]") {
  CHECK(printable("coordinator refused us: id 'bob' is in use") == "coordinator refused us: id 'bob' is in use");
  CHECK(printable(R"(C:\path "quoted")") == R"(C:\path "quoted")");
  CHECK(printable("a\nb\rc\td") == R"(a\nb\rc\td)");
  CHECK(printable("\x1b]0;pwned\x07\x1b[2J") == R"(\x1b]0;pwned\x07\x1b[2J)");
  CHECK(printable("nul\0x\x7f"s) == R"(nul\x00x\x7f)");
  CHECK(printable("c1\xc2\x9b" "31m") == R"(c1\u009b31m)");       // CSI as a C1 control
  CHECK(printable("\xe2\x80\xae" "evil") == R"(\u202eevil)");        // right-to-left override
  CHECK(printable("\xe2\x80\xa8") == R"(\u2028)");                // line separator
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(printable("bad\xff\xc3") == R"(bad\xff\xc3)");
  CHECK(printable("\x9b") == R"(\x9b)"); // a raw C1 byte is malformed UTF-8 too
}

TEST_CASE("escaping long strings: every byte accounted for, nothing cut", "[util][escape]") {
  std::string in, json_expected, text_expected;
  for (int i = 0; i < 100000; ++i) {
    in += "ab\"\n\x1b\xff";
    json_expected += R"(ab\"\n\u001b\ufffd)";
    text_expected += R"(ab"\n\x1b\xff)";
  }
  CHECK(json_escaped(in) == json_expected);
  CHECK(printable(in) == text_expected);
  std::string out = "prefix:";
  append_json_escaped(out, "\"");
  CHECK(out == R"(prefix:\")");
}
