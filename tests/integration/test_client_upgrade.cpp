// The client's side of the upgrade without websocketpp (lib/net/client_upgrade.hpp): the parts
// that the request text and answer tests (test_injection.cpp, test_upgrade_answer.cpp) do not
// reach — a request line set a part at a time (websocketpp's CONNECT request), the
// Sec-WebSocket-Extensions grammar Deflate::accept reads the server's answer with, and the 101
// checks with their texts. fuzz/fuzz_response.cpp compares the grammar with websocketpp's.
#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "net/client_upgrade.hpp"

namespace wslat::test {

using net::ParameterList;

TEST_CASE("a request line set a part at a time, as a CONNECT request is made, is whole") {
  net::UpgradeRequest req;
  req.set_version("HTTP/1.1");  // websocketpp's order
  req.set_method("CONNECT");
  req.set_uri("[::1]:8080");
  req.replace_header("Host", "[::1]:8080");
  CHECK(req.get_method() == "CONNECT");
  CHECK(req.get_uri() == "[::1]:8080");
  CHECK(req.get_version() == "HTTP/1.1");
  CHECK(req.raw() == "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  req.set_uri("h:1");  // a shorter part again, in the middle
  CHECK(req.raw() == "CONNECT h:1 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  req.release();
  CHECK(req.raw() == "\r\n\r\n");  // nothing is left of it
}

TEST_CASE("Sec-WebSocket-Extensions lists are read with websocketpp's grammar") {
  const auto read = [](std::string_view text) {
    ParameterList list;
    const bool refused = net::parse_parameter_list(text, list);
    return std::make_pair(refused, list);
  };
  const auto [refused, list] = read(
      "permessage-deflate; client_max_window_bits=10 ;server_no_context_takeover, "
      "x-other;q=\"a \\\"b\\\"\"");
  CHECK_FALSE(refused);
  REQUIRE(list.size() == 2);
  CHECK(list[0].first == "permessage-deflate");
  CHECK(list[0].second.at("client_max_window_bits") == "10");
  CHECK(list[0].second.at("server_no_context_takeover").empty());
  CHECK(list[1].first == "x-other");
  CHECK(list[1].second.at("q") == "a \"b\"");
  // An empty value is no list and no error; white space alone is an empty list.
  CHECK_FALSE(read("").first);
  CHECK_FALSE(read(" \t").first);
  CHECK(read(" \t").second.empty());
  // Syntax errors: nothing after a comma, a ';' or a '='; a parameter that is not a token; an
  // unterminated quoted string; a list that starts with a non-token.
  for (const char* bad : {"a,", "a;", "a; b=", "a; =1", "a; b=\"x", ",a", "\"a\"", "a; b=,"}) {
    INFO(bad);
    CHECK(read(bad).first);
  }
  // What follows a complete item without a comma is ignored, as websocketpp ignores it.
  CHECK_FALSE(read("a b").first);
  CHECK(read("a b").second.size() == 1);
}

TEST_CASE("a 101 is checked as websocketpp checks it, in the user's words") {
  net::UpgradeRequest req;
  req.replace_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");  // RFC 6455 §1.3
  const auto check = [&req](const std::string& answer) {
    net::UpgradeResponse res;
    res.consume(answer.data(), answer.size());
    REQUIRE(res.headers_ready());
    bool extensions = false;
    const std::error_code ec = net::check_upgrade_response(req, res, &extensions);
    return std::make_pair(ec ? ec.message() : std::string(), extensions);
  };
  const std::string good =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, "
      "upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
  CHECK(check(good + "\r\n") == std::make_pair(std::string(), false));
  CHECK(check(good + "Sec-WebSocket-Extensions: x\r\n\r\n").second);
  CHECK(check("HTTP/1.1 200 OK\r\n\r\n").first == "Invalid HTTP status.");
  CHECK(check("HTTP/1.1 101 x\r\nConnection: upgrade\r\n\r\n").first ==
        "the 101 answer has no \"Upgrade: websocket\" header");
  CHECK(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n\r\n").first ==
        "the 101 answer has no \"Connection: Upgrade\" header");
  CHECK(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").first ==
        "the 101 answer has no Sec-WebSocket-Accept header");
  CHECK(check("HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
            .first.find("does not match the request's Sec-WebSocket-Key") != std::string::npos);
}

TEST_CASE("the Host header brackets an IPv6 literal and names a port that is not the default") {
  CHECK(net::host_header({false, "h", 80, "/"}) == "h");
  CHECK(net::host_header({false, "h", 443, "/"}) == "h:443");
  CHECK(net::host_header({true, "h", 443, "/"}) == "h");
  CHECK(net::host_header({true, "::1", 443, "/"}) == "[::1]");
  CHECK(net::host_header({false, "::1", 8080, "/"}) == "[::1]:8080");
}

}  // namespace wslat::test
