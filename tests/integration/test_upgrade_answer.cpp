// The runner's parser of the server's answer to the upgrade request (UpgradeResponse in
// lib/net/client_upgrade.hpp), through parse_upgrade_answer: what a user relies on is that any
// server's 101 is read as websocketpp read it, however the bytes are split into reads, and that
// frames sent right behind the 101 are not eaten. fuzz/fuzz_response.cpp compares it with
// websocketpp's own parser on arbitrary bytes.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "runner.hpp"

namespace wslat::test {

namespace {
const std::string kAnswer =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection:Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Set-Cookie: a=1\r\n"
    "X-Empty:\r\n"
    "set-cookie:  b=2 \t\r\n"
    "\r\n";
}  // namespace

TEST_CASE("the 101 answer is read the same in one read or byte by byte, frames left alone") {
  const std::string frame = "\x81\x05hello";
  const std::vector<std::string> ask{"SET-COOKIE", "upgrade", "x-empty", "X-Missing"};
  std::vector<std::string> bytes;
  for (const char c : kAnswer + frame) bytes.emplace_back(1, c);
  for (const auto& reads : {std::vector<std::string>{kAnswer + frame}, bytes}) {
    const UpgradeAnswer a = parse_upgrade_answer(reads, ask);
    INFO("reads: " << reads.size());
    CHECK(a.error.empty());
    REQUIRE(a.complete);
    CHECK(a.status == 101);
    CHECK(a.version == "HTTP/1.1");
    CHECK(a.reason == "Switching Protocols");
    // The parser stops at the blank line: byte by byte, the frame's bytes are never offered.
    CHECK(a.reads == (reads.size() == 1 ? 1 : kAnswer.size()));
    CHECK(a.left == (reads.size() == 1 ? frame.size() : 0));
    REQUIRE(a.headers.size() == 5);
    CHECK(a.headers[1] == std::pair<std::string, std::string>{"Connection", "Upgrade"});
    CHECK(a.headers[3] == std::pair<std::string, std::string>{"Set-Cookie", "a=1, b=2"});
    CHECK(a.asked == std::vector<std::string>{"a=1, b=2", "websocket", "", ""});
  }
}

TEST_CASE("an answer that is not HTTP is refused at its first line, not when the server quits") {
  // One read holding a first line only: the answer has not ended, yet it is refused already.
  const auto a = parse_upgrade_answer({"SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n"});
  CHECK(a.error == "Unable to parse response code");
  CHECK(parse_upgrade_answer({"HTTP/1.1 101\r\n"}).error == "Invalid request line");
  CHECK(parse_upgrade_answer({"HTTP/1.1\r\n"}).error == "Invalid response line");
  CHECK(parse_upgrade_answer({"\r\n"}).error == "Incomplete Request");
  CHECK(parse_upgrade_answer({"HTTP/1.1 101 OK\r\n", "No colon here\r\n"}).error ==
        "Invalid header line");
  const auto bad_name = parse_upgrade_answer({"HTTP/1.1 101 OK\r\nBad Name: x\r\n"});
  CHECK(bad_name.error == "Invalid header name");
  CHECK(bad_name.status == 101);  // the status line was read before the refusal
  CHECK_FALSE(bad_name.complete);
  // Without its blank line, an answer is incomplete until max_header_size, then refused.
  const auto partial = parse_upgrade_answer({"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"});
  CHECK(partial.error.empty());
  CHECK_FALSE(partial.complete);
  const std::string endless = "HTTP/1.1 101 OK\r\nX: " + std::string(17000, 'a');
  CHECK(parse_upgrade_answer({endless}).error == "Maximum header size exceeded.");
}

TEST_CASE("a status outside websocketpp's 0-511 is kept as sent (http.600, not undefined)") {
  const auto a = parse_upgrade_answer({"HTTP/1.1 600 Beyond\r\n\r\n"});
  REQUIRE(a.complete);
  CHECK(a.status == 600);
  CHECK(a.reason == "Beyond");
}

TEST_CASE("bytes after a 101's blank line are frames even with a Content-Length") {
  // websocketpp took Content-Length bytes of frames as the 101's body; a 101 has none.
  const auto a = parse_upgrade_answer({"HTTP/1.1 101 OK\r\nContent-Length: 3\r\n\r\n\x81\x01x"});
  REQUIRE(a.complete);
  CHECK(a.left == 3);
}

}  // namespace wslat::test
