// Header names, values, subprotocols and target URLs: what may reach the upgrade request.
#include <string>

#include <doctest/doctest.h>

#include "http_syntax.hpp"

using wslat::contains_ci;
using wslat::equals_ci;
using wslat::header_name_problem;
using wslat::header_value_problem;
using wslat::parse_ws_url;
using wslat::subprotocol_problem;

TEST_CASE("http syntax: a header name is an RFC 7230 token") {
  CHECK_FALSE(header_name_problem("X-Trace_Id.1"));
  CHECK_FALSE(header_name_problem("!#$%&'*+-.^_`|~"));
  CHECK(header_name_problem("")->find("empty header name") != std::string::npos);
  CHECK(header_name_problem("X C")->find("a space is not allowed in a header name") == 0);
  CHECK(header_name_problem("X\r\nY")->find("CR") != std::string::npos);
  CHECK(header_name_problem("X:Y"));
  CHECK(header_name_problem("Caf\xc3\xa9"));
  CHECK(header_name_problem(std::string("X\0Y", 3)));
}

TEST_CASE("http syntax: a header value is one line without control bytes") {
  CHECK_FALSE(header_value_problem(""));
  CHECK_FALSE(header_value_problem("Bearer abc.def=="));
  CHECK_FALSE(header_value_problem("a\tb c, \"d\""));
  CHECK_FALSE(header_value_problem("caf\xc3\xa9"));  // obs-text: not an injection
  for (const std::string& bad :
       {std::string("v\r\nX-Injected: 1"), std::string("v\nX: 1"), std::string("v\r"),
        std::string("v\0w", 3), std::string("v\x1b[31m"), std::string("v\x7f")}) {
    CAPTURE(bad);
    const auto why = header_value_problem(bad);
    REQUIRE(why);
    CHECK(why->find("is not allowed in a header value") != std::string::npos);
    CHECK(why->find("X-Injected") == std::string::npos);  // the value is never quoted back
  }
}

TEST_CASE("http syntax: a subprotocol is a token") {
  CHECK_FALSE(subprotocol_problem("chat.v1"));
  CHECK(subprotocol_problem("chat\r\nX-Injected: 1"));
  CHECK(subprotocol_problem("a,b"));
  CHECK(subprotocol_problem("a b"));
  CHECK(subprotocol_problem(""));
}

TEST_CASE("http syntax: ws and wss URLs split into host, port and resource") {
  std::string why;
  auto u = parse_ws_url("ws://127.0.0.1:8080/ws?a=1&b=%20", &why);
  REQUIRE(u);
  CHECK_FALSE(u->secure);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 8080);
  CHECK(u->resource == "/ws?a=1&b=%20");
  u = parse_ws_url("wss://example.com", &why);
  REQUIRE(u);
  CHECK(u->secure);
  CHECK(u->port == 443);
  CHECK(u->resource == "/");
  u = parse_ws_url("ws://h?q=1", &why);  // websocketpp alone would take "h?q=1" as the host
  REQUIRE(u);
  CHECK(u->host == "h");
  CHECK(u->resource == "/?q=1");
  u = parse_ws_url("ws://[::1]:9/x", &why);
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->port == 9);
  u = parse_ws_url("ws://h:/", &why);  // empty port: the default (RFC 3986)
  REQUIRE(u);
  CHECK(u->port == 80);
  u = parse_ws_url("ws://h:65535/", &why);
  REQUIRE(u);
  CHECK(u->port == 65535);
}

TEST_CASE("http syntax: bad target URLs say which part is wrong") {
  const auto problem = [](const std::string& url) {
    std::string why;
    CHECK_FALSE(parse_ws_url(url, &why));
    return why;
  };
  CHECK(problem("http://h/").find("scheme") != std::string::npos);
  CHECK(problem("WS://h/").find("scheme") != std::string::npos);
  CHECK(problem("ws:///p").find("host is missing") != std::string::npos);
  CHECK(problem("ws://").find("host is missing") != std::string::npos);
  CHECK(problem("ws://:80/").find("host is missing") != std::string::npos);
  CHECK(problem("ws://h:99999/").find("out of range") != std::string::npos);
  CHECK(problem("ws://h:99999999999999999999/").find("out of range") != std::string::npos);
  CHECK(problem("ws://h:0/").find("port is 0") != std::string::npos);
  CHECK(problem("ws://h:80abc/").find("not a number") != std::string::npos);
  CHECK(problem("ws://h:-1/").find("not a number") != std::string::npos);
  CHECK(problem("ws://h/p\r\nX-Injected: 1").find("CR") != std::string::npos);
  CHECK(problem("ws://h/p q").find("a space is not allowed in the path") != std::string::npos);
  CHECK(problem("ws://h/p\x01").find("control byte") != std::string::npos);
  CHECK(problem("ws://h/caf\xc3\xa9").find("percent-encode") != std::string::npos);
  CHECK(problem("ws://h/p#frag").find("fragment") != std::string::npos);
  CHECK(problem("ws://h\r\nX: 1/").find("host") != std::string::npos);
  CHECK(problem("ws://a b/").find("host") != std::string::npos);
  CHECK(problem("ws://u:p@w@h/").find("%40") != std::string::npos);
  CHECK(problem("ws://u:p%4@h/").find("two hex digits") != std::string::npos);
  CHECK(problem("ws://u:p w@h/").find("percent-encoded") != std::string::npos);
  CHECK(problem("ws://u:p w@h/").find("p w") == std::string::npos);  // never quoted
  CHECK(problem("ws://u%3Ax:p@h/").find("':'") != std::string::npos);
  CHECK(problem("ws://u:p@/").find("host is missing") != std::string::npos);
  CHECK(problem("ws://[::1/").find("']'") != std::string::npos);
  CHECK(problem("ws://[::1]x/").find("IPv6") != std::string::npos);
  CHECK(problem("ws://[zz]/").find("IPv6") != std::string::npos);
}

TEST_CASE("http syntax: user info in a URL is split off and percent-decoded") {
  std::string why;
  auto u = parse_ws_url("ws://alice:s3cr%40t:x@h:81/ws", &why);
  REQUIRE_MESSAGE(u, why);
  CHECK(u->has_userinfo);
  CHECK(u->user == "alice");
  CHECK(u->password == "s3cr@t:x");  // the first ':' splits; later ones are the password's
  CHECK(u->host == "h");
  CHECK(u->port == 81);
  u = parse_ws_url("wss://token@[::1]/", &why);
  REQUIRE_MESSAGE(u, why);
  CHECK(u->user == "token");
  CHECK(u->password.empty());
  CHECK(u->host == "::1");
  u = parse_ws_url("ws://h/", &why);
  REQUIRE(u);
  CHECK_FALSE(u->has_userinfo);
}

TEST_CASE("http syntax: quoted escapes control bytes so a message stays on one line") {
  CHECK(wslat::quote_escaped("X\r\nY") == "\"X\\r\\nY\"");
  CHECK(wslat::quote_escaped(std::string("a\0\"\\", 4)) == "\"a\\x00\\\"\\\\\"");
}

// Header names and tokens compare without case in ASCII only (RFC 9110 §5.1): what the runner,
// the embedded server and the login use.
TEST_CASE("http syntax: equals_ci and contains_ci fold ASCII letters and nothing else") {
  CHECK(equals_ci("Sec-WebSocket-Accept", "sec-websocket-ACCEPT"));
  CHECK(equals_ci("", ""));
  CHECK_FALSE(equals_ci("Upgrade", "Upgrades"));
  CHECK_FALSE(equals_ci("@", "`"));  // 0x40 and 0x60: one bit apart, not letters
  CHECK_FALSE(equals_ci("[", "{"));
  CHECK_FALSE(equals_ci("\xc3\x89", "\xc3\xa9"));  // É and é in UTF-8: bytes, not letters
  CHECK(contains_ci("keep-alive, UPGRADE", "upgrade"));
  CHECK(contains_ci("websocket", "WebSocket"));
  CHECK(contains_ci("anything", ""));
  CHECK(contains_ci("", ""));
  CHECK_FALSE(contains_ci("", "a"));
  CHECK_FALSE(contains_ci("upgrad", "upgrade"));
}
