// Header and request-line injection: a CR, LF or other byte that may not go into an HTTP
// request is refused with exit 64 and a located message wherever it comes from (--header,
// --target, the scenario's target, ${env:...} in it, subprotocols), by `validate` and `run`
// alike, and a raw listener on loopback proves that nothing reached the wire.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "error.hpp"
#include "harness.hpp"
#include "runner.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// Accepts on 127.0.0.1 (ephemeral port), records every byte each connection sends until it
// has sent a whole request head (or closes), then closes it. Stops on destruction.
class CapturingListener {
 public:
  CapturingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CapturingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  CapturingListener(const CapturingListener&) = delete;
  CapturingListener& operator=(const CapturingListener&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // poll with a short timeout only so `stop_` is seen; no timing is asserted on it.
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string bytes;
      char buf[4096];
      while (!stop_ && bytes.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 50) <= 0) continue;
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        bytes.append(buf, static_cast<std::size_t>(n));
      }
      ::close(c);
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(std::move(bytes));
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
};

std::string scenario(const std::string& name, const json& patch) {
  json s = {
      {"name", name},
      {"load", {{"connections", 1}, {"concurrency", 1}}},
      {"timeouts", {{"connect", "2s"}, {"handshake", "2s"}, {"message", "2s"}, {"close", "1s"}}},
      {"steps", json::array({{{"connect", json::object()}}})}};
  s.merge_patch(patch);
  return write_temp_file(name + ".json", s.dump(2));
}

ProcessResult run_against(const std::string& file, std::vector<std::string> extra = {},
                          const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> args{"run", file, "--no-save", "--quiet", "--env", "production"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_wslat(args, std::chrono::seconds(60), env);
}

// Exit 64 (not an abort), a message that says `where` and `what`. A value from the command
// line or the environment (maybe a secret) is never quoted back: no "X-Injected" in it.
void check_refused(const ProcessResult& r, const std::string& where, const std::string& what,
                   bool value_is_quotable = false) {
  INFO("exit " << r.exit_code << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == exit_code::kUsage);
  CHECK(r.err.find(where) != std::string::npos);
  CHECK(r.err.find(what) != std::string::npos);
  if (!value_is_quotable) CHECK(r.err.find("X-Injected") == std::string::npos);
  CHECK(r.err.find("internal error") == std::string::npos);
}

}  // namespace

TEST_CASE(
    "injection: bad --header and --target values are refused by run (64) before any connection") {
  CapturingListener listener;
  const std::string file = scenario("inject-cli", {{"target", listener.url()}});
  const struct {
    std::vector<std::string> args;
    std::string where, what;
  } cases[] = {
      {{"--header", "X-A: v\r\nX-Injected: 1"}, "--header \"X-A\"", "a line break (CR"},
      {{"--header", "X-A: v\nX-Injected: 1"}, "--header \"X-A\"", "a line break (LF"},
      {{"--header", "X C: 1"}, "--header \"X C\"", "a space is not allowed in a header name"},
      {{"--header", "X\r\nY: 1"}, "--header \"X\\r\\nY\"", "not a valid header name"},
      {{"--header", "no colon"}, "--header", "expected 'Name: value'"},
      {{"--target", listener.url("/p\r\nX-Injected: 1")}, "--target", "a line break (CR"},
      {{"--target", listener.url("/p q")}, "--target", "a space is not allowed in the path"},
      {{"--target", "ws://127.0.0.1:99999/"}, "--target", "port is out of range"},
      {{"--target", "ws:///p"}, "--target", "host is missing"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args[1]);
    check_refused(run_against(file, c.args), c.where, c.what);
  }
  CHECK(listener.requests().empty());
}

TEST_CASE(
    "injection: the scenario target, ${env:X} in it and subprotocols are refused by validate and "
    "run alike") {
  CapturingListener listener;
  const std::map<std::string, std::string> env{{"INJECT_PATH", "x\r\nX-Injected: 1"}};
  const struct {
    std::string name;
    json patch;
    std::string where, what;
  } cases[] = {
      {"crlf-target", {{"target", listener.url("/p\r\nX-Injected: 1")}}, "/target", "CR"},
      {"env-target", {{"target", listener.url("/${env:INJECT_PATH}")}}, "/target", "CR"},
      {"port-target", {{"target", "ws://127.0.0.1:99999/"}}, "/target", "port is out of range"},
      {"hostless-target", {{"target", "ws:///p"}}, "/target", "host is missing"},
      {"crlf-subprotocol",
       {{"target", listener.url()}, {"subprotocols", {"chat\r\nX-Injected: 1"}}},
       "/subprotocols/0",
       "not allowed in a subprotocol"},
      {"space-subprotocol",
       {{"target", listener.url()}, {"subprotocols", {"a b"}}},
       "/subprotocols/0",
       "a space"},
      {"env-header",
       {{"target", listener.url()}, {"headers", {{"X-A", "${env:INJECT_PATH}"}}}},
       "/headers/X-A",
       "a line break (CR"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const std::string file = scenario("inject-" + c.name, c.patch);
    const std::string located = file + ":";  // file:line:column: /pointer: ...
    // Written in the file, a value may be quoted back as written; from ${env:...}, never.
    const bool quotable = c.name.find("env") == std::string::npos;
    const ProcessResult validated = run_wslat({"validate", file}, std::chrono::seconds(60), env);
    check_refused(validated, located, c.where, quotable);
    check_refused(validated, c.where, c.what, quotable);
    const ProcessResult ran = run_against(file, {}, env);
    check_refused(ran, located, c.where, quotable);
    check_refused(ran, c.where, c.what, quotable);
  }
  CHECK(listener.requests().empty());
}

TEST_CASE("injection: valid headers, subprotocols and query reach the wire each on its own line") {
  CapturingListener listener;
  const std::string file =
      scenario("inject-control", {{"target", listener.url("/ws?a=1")},
                                  {"headers", {{"X-Scenario", "s ${connection}"}}},
                                  {"subprotocols", {"chat.v1", "chat.v2"}}});
  const ProcessResult r =
      run_against(file, {"--header", "X-Cli:\tv\tw", "--header", "X-Utf8: café"});
  INFO("stderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == exit_code::kCouldNotRun);  // the listener answers nothing
  const auto requests = listener.requests();
  REQUIRE(requests.size() == 1);
  const std::string& req = requests[0];
  INFO("request:\n" << req);
  CHECK(req.rfind("GET /ws?a=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(req.find("\r\nX-Scenario: s 0\r\n") != std::string::npos);
  CHECK(req.find("\r\nX-Cli: v\tw\r\n") != std::string::npos);
  CHECK(req.find("\r\nX-Utf8: café\r\n") != std::string::npos);
  CHECK(req.find("\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n") != std::string::npos);
}

TEST_CASE("injection: the runner's own request assembly refuses what the CLI refuses") {
  const std::string req =
      upgrade_request_text("ws://h:81/p?q", {{"X-A", "1"}, {"X-A", "2"}}, {"p1"});
  CHECK(req.rfind("GET /p?q HTTP/1.1\r\n", 0) == 0);
  CHECK(req.find("\r\nHost: h:81\r\n") != std::string::npos);
  CHECK(req.find("\r\nX-A: 1, 2\r\n") != std::string::npos);
  CHECK(req.find("\r\nSec-WebSocket-Protocol: p1\r\n") != std::string::npos);
  // Each of these threw websocketpp::exception or went on the wire before: now a UsageError.
  CHECK_THROWS_AS(upgrade_request_text("ws://h/", {{"X C", "1"}}, {}), UsageError);
  CHECK_THROWS_AS(upgrade_request_text("ws://h/", {{"X", "1\r\nX-Injected: 1"}}, {}), UsageError);
  CHECK_THROWS_AS(upgrade_request_text("ws://h/", {}, {"a\r\nb"}), UsageError);
  CHECK_THROWS_AS(upgrade_request_text("ws://h/\r\nX-Injected: 1", {}, {}), UsageError);
  CHECK_THROWS_AS(upgrade_request_text("ws://h:99999/", {}, {}), UsageError);
  CHECK_THROWS_AS(upgrade_request_text("ws:///p", {}, {}), UsageError);
}

// The request keeps its headers in a list (UpgradeRequest): names still match without case, a
// repeated name is one header, and the user's Host replaces the URL's.
TEST_CASE("the upgrade request has each header once, in the order set, names without case") {
  const std::string req = upgrade_request_text(
      "ws://h:81/", {{"x-a", "1"}, {"X-A", "2"}, {"host", "virtual"}, {"X-B", "3"}}, {});
  const auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = req.find(what); at != std::string::npos; at = req.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(count("\r\nx-a: 1, 2\r\n") == 1);
  CHECK(count("\r\nhost: virtual\r\n") == 1);
  CHECK(count("Host: h:81") == 0);
  CHECK(count("\r\nSec-WebSocket-Key: ") == 1);
  CHECK(count("\r\nSec-WebSocket-Version: 13\r\n") == 1);
  CHECK(count("\r\nUpgrade: websocket\r\n") == 1);
  CHECK(req.find("x-a: 1, 2") < req.find("X-B: 3"));
  CHECK(req.substr(req.size() - 4) == "\r\n\r\n");
  // wslat's own User-Agent, or the user's instead.
  CHECK(count("\r\nUser-Agent: wslat/" + std::string(build_info().version) + "\r\n") == 1);
  const std::string own = upgrade_request_text("ws://h:81/", {{"user-agent", "probe/2"}}, {});
  CHECK(own.find("\r\nuser-agent: probe/2\r\n") != std::string::npos);
  CHECK(own.find("wslat/") == std::string::npos);
}

// A request with no header set before copies the thread's last one built for the same URL and
// subprotocols (build_upgrade_request's prototype): only the key differs, and a different URL
// or subprotocol list, or a header of the user's, gets a request of its own.
TEST_CASE("the upgrade request's prototype changes only the key, and only for the same request") {
  const auto without_key = [](std::string req) {
    const std::string field = "\r\nSec-WebSocket-Key: ";
    const auto at = req.find(field);
    REQUIRE(at != std::string::npos);
    CHECK(req.compare(at + field.size() + 24, 2, "\r\n") == 0);
    return req.erase(at + field.size(), 24);
  };
  const std::string first = upgrade_request_text("ws://h:81/a", {}, {"p1"});
  const std::string second = upgrade_request_text("ws://h:81/a", {}, {"p1"});
  CHECK(first != second);  // a key of its own
  CHECK(without_key(first) == without_key(second));
  CHECK(second.rfind("GET /a HTTP/1.1\r\n", 0) == 0);

  const std::string other_path = upgrade_request_text("ws://h:81/b", {}, {"p1"});
  CHECK(other_path.rfind("GET /b HTTP/1.1\r\n", 0) == 0);
  const std::string other_host = upgrade_request_text("ws://g:81/b", {}, {"p1"});
  CHECK(other_host.find("\r\nHost: g:81\r\n") != std::string::npos);
  CHECK(other_host.find("Host: h") == std::string::npos);
  const std::string other_port = upgrade_request_text("ws://g/b", {}, {"p1"});
  CHECK(other_port.find("\r\nHost: g\r\n") != std::string::npos);
  const std::string other_protocols = upgrade_request_text("ws://g/b", {}, {"p1", "p2"});
  CHECK(other_protocols.find("\r\nSec-WebSocket-Protocol: p1, p2\r\n") != std::string::npos);
  const std::string no_protocols = upgrade_request_text("ws://g/b", {}, {});
  CHECK(no_protocols.find("Sec-WebSocket-Protocol") == std::string::npos);
  const std::string secure = upgrade_request_text("wss://g/b", {}, {});
  CHECK(secure.find("\r\nHost: g\r\n") != std::string::npos);
  const std::string secure_port = upgrade_request_text("wss://g:80/b", {}, {});
  CHECK(secure_port.find("\r\nHost: g:80\r\n") != std::string::npos);
  // A header of the user's: built in full, the prototype is neither used nor replaced.
  const std::string with_header = upgrade_request_text("wss://g:80/b", {{"Host", "v"}}, {});
  CHECK(with_header.find("\r\nHost: v\r\n") != std::string::npos);
  CHECK(with_header.find("Host: g") == std::string::npos);
  CHECK(without_key(upgrade_request_text("wss://g:80/b", {}, {})) == without_key(secure_port));
}

}  // namespace wslat::test
