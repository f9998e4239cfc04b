// `wslat serve` and EmbeddedServer, driven by an independent client (Debian's python3-websockets
// in tests/peers/ws_client.py) so that the server is checked against someone else's RFC 6455.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "harness.hpp"
#include "server.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// Runs ws_client.py against `url` and returns its JSON report.
json ws_client(const std::string& url, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv{"/usr/bin/python3", source_dir() + "/tests/peers/ws_client.py",
                                url};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = run_process(argv, std::chrono::seconds(30));
  INFO("client stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

std::vector<std::string> received_texts(const json& report) {
  std::vector<std::string> out;
  for (const auto& m : report["received"]) out.push_back(m["data"].get<std::string>());
  return out;
}

// Sends a raw HTTP request to 127.0.0.1:port and returns everything the server answered.
std::string raw_http(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  timeval tv{10, 0};  // bounded: the server closes after answering
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

TEST_CASE("serve announces its URL and echoes text and binary messages with their type") {
  auto server = start_serve();
  CHECK(server.url().rfind("ws://127.0.0.1:", 0) == 0);
  const json r =
      ws_client(server.url(), {"--send", "hello", "--send-binary", "00ff10", "--expect", "2",
                               "--subprotocol", "chat.v1", "--subprotocol", "chat.v2"});
  CHECK(r["error"].is_null());
  REQUIRE(r["received"].size() == 2);
  CHECK(r["received"][0]["type"] == "text");
  CHECK(r["received"][0]["data"] == "hello");
  CHECK(r["received"][1]["type"] == "binary");
  CHECK(r["received"][1]["data"] == "00ff10");
  CHECK(r["subprotocol"] == "chat.v1");  // the first one offered is chosen
  CHECK(r["close_code"] == 1000);        // our close was answered with the same code
}

TEST_CASE("serve sends the welcome message before any echo") {
  auto server = start_serve({"--welcome", R"({"type":"connection_established"})"});
  const json r = ws_client(server.url(), {"--send", "hi", "--expect", "2"});
  CHECK(received_texts(r) ==
        std::vector<std::string>{R"({"type":"connection_established"})", "hi"});
}

TEST_CASE("serve delays the upgrade answer by --handshake-delay") {
  auto server = start_serve({"--handshake-delay", "100ms"});
  const json r = ws_client(server.url());
  REQUIRE(r["opened"] == true);
  CHECK(r["handshake_ms"].get<double>() >= 100.0);
  CHECK(r["handshake_ms"].get<double>() < 5000.0);  // generous: a busy 2-core machine
}

TEST_CASE("serve delays each echo by --echo-delay and keeps their order") {
  auto server = start_serve({"--echo-delay", "50ms", "--jitter", "20ms"});
  const json r = ws_client(server.url(), {"--send", "a", "--send", "b", "--expect", "2"});
  CHECK(received_texts(r) == std::vector<std::string>{"a", "b"});
  CHECK(r["received"][0]["at_ms"].get<double>() - r["handshake_ms"].get<double>() >= 50.0);
}

TEST_CASE("serve --reject answers the upgrade with that HTTP status") {
  auto server = start_serve({"--reject", "403"});
  const json r = ws_client(server.url());
  CHECK(r["opened"] == false);
  CHECK(r["error"]["kind"] == "status");
  CHECK(r["error"]["status"] == 403);
}

TEST_CASE("serve --close-after-open closes right after open with that code") {
  auto server = start_serve({"--close-after-open", "1011", "--welcome", "bye"});
  const json r = ws_client(server.url(), {"--expect", "1", "--wait-close"});
  CHECK(r["opened"] == true);
  CHECK(received_texts(r) == std::vector<std::string>{"bye"});  // the welcome comes first
  CHECK(r["close_code"] == 1011);
}

TEST_CASE("serve hostile modes: silent never answers, bad-accept fails the handshake") {
  SUBCASE("silent") {
    auto server = start_serve({"--mode", "silent"});
    const json r = ws_client(server.url(), {"--timeout", "0.5"});
    CHECK(r["opened"] == false);
    CHECK(r["error"]["kind"] == "timeout");
  }
  SUBCASE("bad-accept") {
    auto server = start_serve({"--mode", "bad-accept"});
    const json r = ws_client(server.url());
    CHECK(r["opened"] == false);
    CHECK(r["error"]["kind"] == "handshake");
    CHECK(r["error"]["detail"].get<std::string>().find("Sec-WebSocket-Accept") !=
          std::string::npos);
  }
  SUBCASE("invalid-utf8: a conforming client fails the connection with 1007") {
    auto server = start_serve({"--mode", "invalid-utf8"});
    const json r = ws_client(server.url(), {"--expect", "1"});
    CHECK(r["opened"] == true);
    CHECK(r["received"].empty());
    CHECK(r["error"]["detail"].get<std::string>().find("1007") != std::string::npos);
  }
}

TEST_CASE("serve prints its URL first and exits 0 on SIGTERM") {
  // coreutils' timeout sends SIGTERM after 3 s (ample time to start) and, with
  // --preserve-status, exits with the server's own status.
  const ProcessResult r = run_process(
      {"timeout", "--preserve-status", "-s", "TERM", "3", wslat_binary(), "serve", "--port", "0"},
      std::chrono::seconds(30));
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("listening on ws://127.0.0.1:", 0) == 0);
  CHECK(r.out.find("/\n") != std::string::npos);
}

TEST_CASE("serve rejects bad options with exit 64 and says which") {
  const ProcessResult bare = run_wslat({"serve", "--echo-delay", "5"});
  CHECK(bare.exit_code == 64);
  CHECK(bare.err.find("--echo-delay") != std::string::npos);
  const ProcessResult code = run_wslat({"serve", "--close-after-open", "1006"});
  CHECK(code.exit_code == 64);
  CHECK(code.err.find("1006") != std::string::npos);
  CHECK(run_wslat({"serve", "--mode", "nonsense"}).exit_code == 64);
  CHECK(run_wslat({"serve", "--reject", "101"}).exit_code == 64);
}

TEST_CASE("EmbeddedServer answers a plain GET with 426 and oversized headers with 431") {
  ServerOptions opts;
  EmbeddedServer server(opts);
  server.start();
  const std::string plain = raw_http(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0) == 0);
  CHECK(plain.find("WebSocket") != std::string::npos);
  const std::string big =
      raw_http(server.port(), "GET / HTTP/1.1\r\nX-Big: " + std::string(17000, 'a') + "\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 431 ", 0) == 0);
}

// A client that connects and never finishes its request must not hold a connection forever.
TEST_CASE("EmbeddedServer closes a connection whose request never completes") {
  ServerOptions opts;
  opts.request_timeout = std::chrono::milliseconds(300);
  EmbeddedServer server(opts);
  server.start();
  const auto start = std::chrono::steady_clock::now();
  // raw_http gives up after 10 s; the server must close well before that.
  const std::string answer = raw_http(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n");
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(answer.empty());
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(8));
}

TEST_CASE("EmbeddedServer starts and stops repeatedly in one process") {
  ServerOptions opts;
  opts.threads = 2;
  opts.welcome = "hello";
  EmbeddedServer server(opts);
  for (int round = 0; round < 2; ++round) {
    server.start();
    CAPTURE(round);
    REQUIRE(server.port() != 0);
    CHECK(server.url() == "ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    const json r = ws_client(server.url(), {"--send", "x", "--expect", "2"});
    CHECK(received_texts(r) == std::vector<std::string>{"hello", "x"});
    server.stop();
    server.stop();  // idempotent
    const json after = ws_client(server.url(), {"--timeout", "2"});
    CHECK(after["opened"] == false);  // the port is closed
  }
  EmbeddedServer other(opts);  // a second server beside a stopped one
  other.start();
  CHECK(ws_client(other.url(), {"--send", "y", "--expect", "2"})["received"].size() == 2);
}

TEST_CASE("serve speaks wss with --tls-cert and --tls-key") {
  const std::string dir = temp_dir();
  const std::string cert = dir + "/serve-cert.pem";
  const std::string key = dir + "/serve-key.pem";
  const ProcessResult gen = run_process(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert},
      std::chrono::seconds(30));
  REQUIRE(gen.exit_code == 0);
  auto server = start_serve({"--tls-cert", cert, "--tls-key", key, "--welcome", "secure"});
  REQUIRE(server.url().rfind("wss://127.0.0.1:", 0) == 0);
  const json r = ws_client(server.url(), {"--insecure", "--send", "over tls", "--expect", "2"});
  CHECK(received_texts(r) == std::vector<std::string>{"secure", "over tls"});
  CHECK(r["close_code"] == 1000);
  const json verified = ws_client(server.url());  // self-signed: verification must fail
  CHECK(verified["opened"] == false);
}

TEST_CASE("server_options_from_json reads the scenario's embedded block") {
  const auto j = json::parse(R"({"welcome": {"type": "connection_established"},
      "welcome_delay": "20ms", "handshake_delay": "1.5s", "echo_delay": "500us",
      "jitter": "2ms", "close_after_open": 1011, "reject": 502, "mode": "silent",
      "threads": 3})");
  const ServerOptions o = server_options_from_json(j, "scenario.json: /embedded");
  CHECK(o.welcome == R"({"type":"connection_established"})");
  CHECK(o.welcome_delay == std::chrono::milliseconds(20));
  CHECK(o.handshake_delay == std::chrono::milliseconds(1500));
  CHECK(o.echo_delay == std::chrono::microseconds(500));
  CHECK(o.jitter == std::chrono::milliseconds(2));
  CHECK(o.close_after_open == 1011);
  CHECK(o.reject_status == 502);
  CHECK(o.mode == "silent");
  CHECK(o.threads == 3);
  CHECK(server_options_from_json(json::parse(R"({"welcome": "hi"})"), "x").welcome == "hi");

  CHECK_THROWS_WITH_AS(
      server_options_from_json(json::parse(R"({"welcom": "hi"})"), "scenario.json: /embedded"),
      doctest::Contains("scenario.json: /embedded: unknown key \"welcom\""), UsageError);
  CHECK_THROWS_AS(server_options_from_json(json::parse(R"({"mode": "evil"})"), "e"), UsageError);
  CHECK_THROWS_AS(server_options_from_json(json::parse(R"({"close_after_open": 1005})"), "e"),
                  UsageError);
  CHECK_THROWS_AS(server_options_from_json(json::parse(R"({"echo_delay": 5})"), "e"), UsageError);
  CHECK_THROWS_AS(server_options_from_json(json::parse("[]"), "e"), UsageError);
}

}  // namespace wslat::test
