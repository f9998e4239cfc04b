// `wslat run` against hostile servers (`wslat serve --mode ...`): every misbehaviour ends up
// in its error category, in time (each phase has a timeout), counted in the report, with the
// exit code the README gives. Loopback only; every run has a deadline.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "third_party.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

// The production profile (x1.0, margin 20%) scales every written timeout by 1.2.
constexpr double kScale = 1.2;
// Process start, the embedded report, a busy 2-core machine and sanitizer builds. Still well
// below the 5 s default timeouts, so a configured timeout that is ignored is caught.
constexpr double kSlackMs = 3000;
constexpr int kConnections = 3;

// Small timeouts so a hang shows; all connections at once so their timeouts overlap.
json base_scenario(const std::string& name, const std::string& url, json steps) {
  return {{"name", name},
          {"target", url},
          {"load", {{"connections", kConnections}, {"concurrency", kConnections}}},
          {"timeouts",
           {{"connect", "1s"}, {"handshake", "500ms"}, {"message", "1s"}, {"close", "500ms"}}},
          {"steps", std::move(steps)}};
}

json echo_steps() {
  return json::array({{{"connect", json::object()}},
                      {{"send", {{"text", "hello"}}}},
                      {{"expect", {{"text", "hello"}, {"within", "1s"}}}},
                      {{"close", {{"code", 1000}}}}});
}

struct Outcome {
  ProcessResult process;
  json result;       // from --export-json
  std::string text;  // the text report on stdout
};

// Runs the scenario (text report on stdout, JSON exported) and checks the run ended within
// `budget_ms` (the written timeouts that can apply, before profile scaling) plus slack.
Outcome run_hostile(const json& scenario, double budget_ms,
                    const std::vector<std::string>& extra = {},
                    const std::map<std::string, std::string>& env = {}) {
  const std::string name = scenario.at("name");
  const auto file = write_temp_file("hostile-" + name + ".json", scenario.dump(2));
  const auto exported = temp_dir() + "/hostile-" + name + ".result.json";
  Outcome o;
  std::vector<std::string> args{"run",       file,      "--env",         "production",
                                "--no-save", "--quiet", "--export-json", exported};
  args.insert(args.end(), extra.begin(), extra.end());
  o.process = run_wslat(args, std::chrono::seconds(60), env);
  INFO("stderr: " << o.process.err);
  INFO("stdout: " << o.process.out);
  REQUIRE_FALSE(o.process.timed_out);
  o.text = o.process.out;
  o.result = json::parse(read_file(exported));
  const double limit = budget_ms * kScale;
  MESSAGE(name << ": detected in " << o.result.value("duration_ms", -1.0) << " ms of run ("
               << o.process.wall_ms << " ms process) against a budget of " << limit << " ms");
  CHECK(o.result["duration_ms"].get<double>() < limit + kSlackMs);
  CHECK(o.process.wall_ms < limit + kSlackMs);
  return o;
}

// The same against `wslat serve --mode MODE` over TLS (a certificate made for it, --ca given).
Outcome run_hostile_tls(const std::string& mode, const std::string& name, double budget_ms) {
  const Cert cert = make_cert("hostile-" + mode);
  auto server = start_serve({"--mode", mode, "--tls-cert", cert.cert, "--tls-key", cert.key});
  REQUIRE(server.url().rfind("wss://", 0) == 0);
  return run_hostile(base_scenario(name, server.url(), echo_steps()), budget_ms,
                     {"--ca", cert.cert});
}

// Every connection failed with `category`, and both the JSON and the text report say so.
void check_counted(const Outcome& o, const std::string& category, int exit_code) {
  INFO("stderr: " << o.process.err);
  INFO("errors: " << o.result["errors"].dump());
  CHECK(o.result["errors"].value(category, 0) == kConnections);
  CHECK(o.result["errors"].size() == 1);  // nothing else was counted on the side
  CHECK(o.result["connections"]["attempted"] == kConnections);
  CHECK(o.result["connections"]["failed"] == kConnections);
  CHECK(o.text.find(category) != std::string::npos);
  CHECK(o.process.exit_code == exit_code);
  CHECK(o.result["exit_code"] == exit_code);
  CHECK(o.result["verdict"] == (exit_code == 3 ? "error" : "fail"));
  CHECK(o.result["interrupted"] == false);
}

// Failures before open: nothing could be measured, exit 3 ("could not run").
void check_before_open(const Outcome& o, const std::string& category) {
  CHECK(o.result["connections"]["opened"] == 0);
  check_counted(o, category, 3);
}

// Failures after open: the run happened, the errors threshold (rate < 1%) is breached.
void check_after_open(const Outcome& o, const std::string& category) {
  CHECK(o.result["connections"]["opened"] == kConnections);
  check_counted(o, category, 1);
}

TEST_CASE("hostile: a server that accepts TCP and never answers is upgrade.timeout") {
  auto server = start_serve({"--mode", "silent"});
  const auto o = run_hostile(base_scenario("silent", server.url(), echo_steps()), 500);
  check_before_open(o, "upgrade.timeout");
  // Not before the handshake timeout either: the timer is the scaled one.
  CHECK(o.result["duration_ms"].get<double>() >= 500 * kScale * 0.95);
}

TEST_CASE("hostile: garbage instead of an HTTP answer is upgrade.invalid") {
  auto server = start_serve({"--mode", "garbage"});
  const auto o = run_hostile(base_scenario("garbage", server.url(), echo_steps()), 500);
  check_before_open(o, "upgrade.invalid");
}

TEST_CASE("hostile: 101 with a wrong Sec-WebSocket-Accept is upgrade.invalid") {
  auto server = start_serve({"--mode", "bad-accept"});
  const auto o = run_hostile(base_scenario("bad-accept", server.url(), echo_steps()), 500);
  check_before_open(o, "upgrade.invalid");
}

TEST_CASE("hostile: an upgrade answered with 403, 502 or 503 and a body is http.<status>") {
  for (const std::string status : {"403", "502", "503"}) {
    INFO("status " << status);
    auto server = start_serve({"--reject", status});
    const auto o = run_hostile(base_scenario("reject-" + status, server.url(), echo_steps()), 500);
    check_before_open(o, "http." + status);
    // The example names the status so the user sees what the server said.
    CHECK(o.result["error_examples"]["http." + status].get<std::string>().find(status) !=
          std::string::npos);
  }
}

TEST_CASE("hostile: a server closing TCP during the handshake is reset") {
  auto server = start_serve({"--mode", "close-in-handshake"});
  const auto o = run_hostile(base_scenario("close-in-handshake", server.url(), echo_steps()), 500);
  check_before_open(o, "reset");
}

// Over TLS the same close comes without the TLS close_notify ("stream truncated"): still reset,
// not upgrade.invalid, and not tls (the handshake was done).
TEST_CASE("hostile: a wss server closing TCP during the upgrade is reset") {
  const auto o = run_hostile_tls("close-in-handshake", "close-in-handshake-tls", 500);
  check_before_open(o, "reset");
  CHECK(o.result["error_examples"]["reset"].get<std::string>().find(
            "connection closed during the upgrade") != std::string::npos);
}

// What the server's close says, and what wslat refused, from hand-made frames after a valid 101
// (tests/peers/py_raw_upgrade_server.py --then HEX): a server that closes with 1002 closed (it
// says the client broke the protocol; wslat's answer echoes the code), a close frame without a
// status code is a close too (1005), and a frame length not in its shortest encoding is the
// server's violation, which websocketpp refuses with 1011 and closes at once.
TEST_CASE("hostile: the server's close code is close.<code>, a frame wslat refuses is protocol") {
  const auto after_101 = [](const std::string& name, const std::string& hex) {
    BackgroundServer peer({"/usr/bin/python3",
                           source_dir() + "/tests/peers/py_raw_upgrade_server.py", "--then", hex});
    return run_hostile(base_scenario(name, peer.url(), echo_steps()), 1000 + 500);
  };
  SUBCASE("close 1002 from the server") {
    const auto o = after_101("close-1002", "880203ea");
    check_after_open(o, "close.1002");
  }
  SUBCASE("a close frame without a status code") {
    const auto o = after_101("close-no-code", "8800");
    check_after_open(o, "close.1005");
    CHECK(o.result["error_examples"]["close.1005"].get<std::string>().find(
              "without a status code") != std::string::npos);
  }
  SUBCASE("a 5-byte text frame with a 16-bit length") {
    const auto o = after_101("non-minimal-length", "817e000568656c6c6f");
    check_after_open(o, "protocol");
    CHECK(o.result["error_examples"]["protocol"].get<std::string>().find("closed with 1011") !=
          std::string::npos);
  }
}

// Frames no library writes, from tests/peers/py_raw_upgrade_server.py: how wslat reads a
// message in fragments (with a control frame between them, compressed, in a final deflate
// block), answers a server's ping, and which violation each refused frame is. These pin what
// websocketpp does today, so that a client core of wslat's own (docs/client-core-plan.md) keeps it.
struct HandMade {
  const char* name;
  std::string hex;  // written after the 101
  json steps;
  std::string category;  // "" when every connection must pass
  std::string example;   // a part of the category's example
  std::vector<std::string> peer_args = {};
  bool deflate = false;
};

std::string hex_of(const std::string& text) {
  std::string out;
  for (unsigned char c : text) out += fmt::format("{:02x}", c);
  return out;
}

json expect_steps(const std::vector<std::string>& texts) {
  json steps = json::array({{{"connect", json::object()}}});
  for (const auto& t : texts) steps.push_back({{"expect", {{"text", t}, {"within", "1s"}}}});
  steps.push_back({{"close", {{"code", 1000}}}});
  return steps;
}

// `env`: WSLAT_CLIENT=websocketpp for websocketpp's client (the differential test below).
Outcome hand_made_outcome(const HandMade& c, const std::map<std::string, std::string>& env = {}) {
  CAPTURE(c.name);
  CAPTURE(c.hex);
  std::vector<std::string> argv{
      "/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py", "--then", c.hex};
  argv.insert(argv.end(), c.peer_args.begin(), c.peer_args.end());
  if (c.deflate) {
    argv.insert(argv.end(), {"--header", "Sec-WebSocket-Extensions: permessage-deflate"});
  }
  BackgroundServer peer(argv);
  json scenario = base_scenario(c.name, peer.url(), c.steps);
  if (c.deflate) scenario["permessage_deflate"] = true;
  return run_hostile(scenario, 1000 + 1000 + 500, {}, env);
}

void run_hand_made(const HandMade& c) {
  CAPTURE(c.name);
  const auto o = hand_made_outcome(c);
  if (c.category.empty()) {
    INFO("errors: " << o.result["errors"].dump());
    CHECK(o.result["errors"].empty());
    CHECK(o.result["connections"]["opened"] == kConnections);
    CHECK(o.process.exit_code == 0);
    return;
  }
  check_after_open(o, c.category);
  const std::string example = o.result["error_examples"].value(c.category, "");
  INFO("example: " << example);
  CHECK(example.find(c.example) != std::string::npos);
}

std::vector<HandMade> fragment_cases() {
  const std::string frag = "0103" + hex_of("fra") + "8007" + hex_of("gmented");
  const std::string ping_between =
      "0103" + hex_of("fra") + "8902" + hex_of("hi") + "8007" + hex_of("gmented");
  // "fragmented, compressed" (raw deflate, sync flush, its 00 00 ff ff tail cut) in two frames,
  // RSV1 on the first only; and "compressed, final block" ended with BFINAL (RFC 7692 7.2.3.3),
  // twice: the second message starts a new stream.
  const std::string compressed = "41054a2b4a4ccf80134dcd2b494dd15148cecf2d284a2d2e4e4d0100";
  const std::string final_block = "c1194bcecf2d284a2d2e4e4dd15148cbcc4bcc5148cac94fce0600";
  return {
      {"fragmented", frag, expect_steps({"fragmented"}), "", ""},
      // The peer reports the pong it got as the message "pong hi".
      {"ping-between-fragments", ping_between, expect_steps({"fragmented", "pong hi"}), "", ""},
      {"compressed-fragments",
       compressed,
       expect_steps({"fragmented, compressed"}),
       "",
       "",
       {},
       true},
      {"deflate-final-block",
       final_block + final_block,
       expect_steps({"compressed, final block", "compressed, final block"}),
       "",
       "",
       {},
       true},
  };
}

TEST_CASE("hostile: a message in fragments is one message, a server's ping is answered") {
  for (const auto& c : fragment_cases()) run_hand_made(c);
}

std::vector<HandMade> violation_cases() {
  const json echo = echo_steps();
  const std::string ping_126 = "897e007e" + std::string(2 * 126, '0');
  return {
      {"reserved-data-opcode", "8300", echo, "protocol", "invalid opcode"},
      {"reserved-control-opcode", "8b00", echo, "protocol", "invalid opcode"},
      {"continuation-first", "8002" + hex_of("lo"), echo, "protocol",
       "Invalid message continuation"},
      {"message-inside-fragments", "0103" + hex_of("hel") + "0102" + hex_of("lo"), echo, "protocol",
       "Invalid message continuation"},
      {"fragmented-ping", "0900", echo, "protocol", "Control messages cannot be fragmented"},
      {"ping-of-126-bytes", ping_126, echo, "protocol", "limited to fewer than 125"},
      {"masked-frame", "818500000000" + hex_of("hello"), echo, "protocol",
       "Servers may not send masked frames"},
      {"rsv1-without-deflate", "c105" + hex_of("hello"), echo, "protocol",
       "Invalid use of reserved bits"},
      {"text-not-utf8", "8105fffefdfcfb", echo, "protocol", "closed with 1007"},
      {"close-code-999", "880203e7", echo, "protocol", "Invalid close code"},
      {"close-code-1004-reserved", "880203ec", echo, "protocol", "Invalid close code"},
      // A 1-byte close payload: websocketpp records it as the server's 1002 and answers 1002
      // with its own reason; it was close.1002 "server closed the connection with 1002".
      {"close-payload-1-byte", "880103", echo, "protocol", "Invalid close code"},
      // Likewise a reason that is not UTF-8 after the server's own 1002.
      {"close-1002-reason-not-utf8", "880403eafffe", echo, "protocol", "Invalid close reason"},
      {"close-1000-reason-not-utf8", "880403e8fffe", echo, "protocol", "Invalid close reason"},
      {"close-3000-application", "88020bb8", echo, "close.3000", "with 3000"},
      {"garbage-deflate",
       "c105ffffffffff",
       expect_steps({"x"}),
       "protocol",
       "closed with 1007",
       {},
       true},
      // RSV1 on the second frame of a compressed message as well (websocketpp accepted it).
      {"rsv1-on-continuation",
       "41054a2b4a4ccfc0134dcd2b494dd15148cecf2d284a2d2e4e4d0100",
       expect_steps({"x"}),
       "protocol",
       "Invalid use of reserved bits",
       {},
       true},
  };
}

TEST_CASE("hostile: each frame a server may not send is protocol, naming what was wrong") {
  for (const auto& c : violation_cases()) run_hand_made(c);
  // A text message in fragments that ends inside a UTF-8 sequence ("h", then the first byte of
  // a 2-byte sequence): invalid (RFC 6455 8.1). websocketpp's client checks completeness only
  // for a message in one frame and delivered this one; the client core does not.
  run_hand_made({"fragmented-text-ends-inside-utf8",
                 "010168"
                 "8001c3",
                 echo_steps(), "protocol", "closed with 1007"});
}

// The client core (the default for ws://) and websocketpp's client (WSLAT_CLIENT=websocketpp)
// give the same categories, counts and error texts for every hand-made frame above and every
// fault mode of the embedded server: the core was written to websocketpp's rules
// (docs/client-core-plan.md), and this holds it to them.
TEST_CASE("hostile: the client core and websocketpp's client fail alike, in the same words") {
  const std::map<std::string, std::string> wspp{{"WSLAT_CLIENT", "websocketpp"}};
  const auto same = [](const Outcome& core, const Outcome& old) {
    INFO("core: " << core.result["error_examples"].dump());
    INFO("websocketpp: " << old.result["error_examples"].dump());
    CHECK(core.result["errors"] == old.result["errors"]);
    CHECK(core.result["error_examples"] == old.result["error_examples"]);
    CHECK(core.result["connections"] == old.result["connections"]);
    CHECK(core.process.exit_code == old.process.exit_code);
  };
  std::vector<HandMade> cases = fragment_cases();
  for (auto& c : violation_cases()) cases.push_back(std::move(c));
  for (const auto& c : cases) {
    CAPTURE(c.name);
    same(hand_made_outcome(c), hand_made_outcome(c, wspp));
  }
  // Not ping-flood: whether a connection counts 1024 unwritten pongs depends on how the
  // server's writes and the client's reads interleave (test_bounds pins ping.flood itself).
  const std::vector<std::vector<std::string>> servers = {{"--mode", "garbage"},
                                                         {"--mode", "bad-accept"},
                                                         {"--mode", "close-in-handshake"},
                                                         {"--mode", "reset-after-open"},
                                                         {"--mode", "reset-mid-message"},
                                                         {"--mode", "invalid-utf8"},
                                                         {"--mode", "no-close-reply"},
                                                         {"--close-after-open", "1011"},
                                                         {"--reject", "403"}};
  for (const auto& args : servers) {
    CAPTURE(args.back());
    auto server = start_serve(args);
    const json scenario = base_scenario("differential-" + args.back(), server.url(), echo_steps());
    same(run_hostile(scenario, 1000 + 1000 + 500),
         run_hostile(scenario, 1000 + 1000 + 500, {}, wspp));
  }
}

TEST_CASE("hostile: a server that answers no ping is ping.timeout") {
  const json steps = json::array({{{"connect", json::object()}},
                                  {{"ping", {{"payload", "hb"}, {"within", "500ms"}}}},
                                  {{"close", {{"code", 1000}}}}});
  run_hand_made({"no-pong", "", steps, "ping.timeout", "", {"--ignore-pings"}});
}

TEST_CASE("hostile: a server resetting mid-session is reset") {
  auto server = start_serve({"--mode", "reset-after-open"});
  const auto o =
      run_hostile(base_scenario("reset-after-open", server.url(), echo_steps()), 500 + 1000);
  check_after_open(o, "reset");
}

// The answer's 16 KiB fill wslat's 2 KiB read buffer exactly 8 times, so every read after the
// first is made at once (wslat::net::read_now, not through Asio), and the reset is met by one
// of them (strace: a recvfrom with MSG_DONTWAIT failing with ECONNRESET): in the middle of a
// message, it is still a reset, in time, without a crash.
TEST_CASE("hostile: a server resetting in the middle of a large message is reset") {
  auto server = start_serve({"--mode", "reset-mid-message"});
  const auto o =
      run_hostile(base_scenario("reset-mid-message", server.url(), echo_steps()), 500 + 1000);
  check_after_open(o, "reset");
}

TEST_CASE("hostile: a server closing with 1011 right after open is close.1011") {
  auto server = start_serve({"--close-after-open", "1011"});
  const auto o = run_hostile(base_scenario("close-1011", server.url(), echo_steps()), 500 + 1000);
  check_after_open(o, "close.1011");
}

TEST_CASE("hostile: a frame larger than max_message_size is protocol") {
  auto server = start_serve({"--mode", "oversize"});
  auto s = base_scenario("oversize", server.url(), echo_steps());
  s["max_message_size"] = "1KiB";
  const auto o = run_hostile(s, 500 + 1000);
  check_after_open(o, "protocol");
}

TEST_CASE("hostile: invalid UTF-8 in a text frame is protocol") {
  auto server = start_serve({"--mode", "invalid-utf8"});
  const auto o = run_hostile(base_scenario("invalid-utf8", server.url(), echo_steps()), 1500);
  check_after_open(o, "protocol");
}

TEST_CASE("hostile: a server that never answers the close frame is close.timeout") {
  auto server = start_serve({"--mode", "no-close-reply"});
  // The echo still works: only the close handshake is left unanswered.
  const auto o =
      run_hostile(base_scenario("no-close-reply", server.url(), echo_steps()), 500 + 1000 + 500);
  check_after_open(o, "close.timeout");
  CHECK(o.result["metrics"].contains("rtt"));
}

// Over TLS as over ws, at the close timeout and in the same words: websocketpp's own close
// timer, which wss used, went on to wait for the TLS shutdown, and the run reported "the
// connection did not close within 1.1s" at a backstop 500 ms after the timeout.
TEST_CASE("hostile: a wss server that never answers the close frame is close.timeout") {
  const auto o = run_hostile_tls("no-close-reply", "no-close-reply-tls", 500 + 1000 + 500);
  check_after_open(o, "close.timeout");
  CHECK(o.result["metrics"].contains("rtt"));
  CHECK(o.result["error_examples"]["close.timeout"] ==
        "the server did not answer the close frame within 600ms (500ms × 1.2, profile production, "
        "chosen by --env)");
}

// After a close frame the client waits for the server to close TCP (RFC 6455 7.1.1): a server
// that keeps it open is bounded by the close timeout (py_raw_upgrade_server.py --linger).
TEST_CASE("hostile: a server that closes and keeps the connection open is close.<code> in time") {
  // Its close (1001) comes while an expect waits 5 s: that close, at the close timeout. It was
  // message.timeout after the 5 s, websocketpp's close timer being off.
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py",
                         "--then", "880203e9", "--linger"});
  const json steps = json::array({{{"connect", json::object()}},
                                  {{"expect", {{"text", "never"}, {"within", "5s"}}}},
                                  {{"close", {{"code", 1000}}}}});
  const auto o = run_hostile(base_scenario("close-then-linger", peer.url(), steps), 500 + 1000);
  check_after_open(o, "close.1001");
}

// The client's answer to a server's close is not terminal, whatever its code: after echoing a
// 1011 (a code that is terminal when the client closes with it) it waits for the server's TCP
// close, as websocketpp's client does (send_close_ack), bounded by the close timeout (500ms x
// 1.2).
TEST_CASE("hostile: after answering a server's close the client waits for its TCP close") {
  const json steps = json::array({{{"connect", json::object()}},
                                  {{"expect", {{"text", "never"}, {"within", "5s"}}}},
                                  {{"close", {{"code", 1000}}}}});
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py",
                         "--then", "880203f3", "--linger"});
  const auto o =
      run_hostile(base_scenario("close-1011-then-linger", peer.url(), steps), 500 + 1000);
  check_after_open(o, "close.1011");
  CHECK(o.result["duration_ms"].get<double>() >= 500 * kScale * 0.95);
}

TEST_CASE(
    "hostile: a server that answers the close frame and keeps the connection is close.timeout") {
  BackgroundServer peer(
      {"/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py", "--linger"});
  const auto o =
      run_hostile(base_scenario("answer-then-linger", peer.url(), echo_steps()), 1000 + 500);
  check_after_open(o, "close.timeout");
  CHECK(o.result["error_examples"]["close.timeout"] ==
        "the server answered the close frame but did not close the connection within 600ms "
        "(500ms × 1.2, profile production, chosen by --env)");
}

TEST_CASE("hostile: a server that never sends the expected message is message.timeout") {
  auto server = start_serve();  // echoes "hello", never "never"
  json steps = echo_steps();
  steps[2]["expect"] = {{"text", "never"}, {"within", "500ms"}};
  const auto o = run_hostile(base_scenario("message-timeout", server.url(), steps), 500);
  check_after_open(o, "message.timeout");
  CHECK(o.result["duration_ms"].get<double>() >= 500 * kScale * 0.95);
  // The scaled value says where it came from, so nobody wonders why 500ms became 600ms.
  // And it says what it waited for and what arrived instead.
  CHECK(o.result["error_examples"]["message.timeout"] ==
        "no matching message for /steps/2 within 600ms (500ms × 1.2, profile production, "
        "chosen by --env); expected text \"never\"; 1 message(s) arrived that it did not "
        "match, the last: hello");
}

TEST_CASE("hostile: a server that stops reading (slow consumer) times out, never hangs") {
  auto server = start_serve({"--mode", "stall-reads"});
  // 8 MiB per connection: more than an unread loopback socket buffers, so writes back up.
  json steps = json::array(
      {{{"connect", json::object()}},
       {{"repeat", {{"times", 8}, {"steps", json::array({{{"send", {{"size", "1MiB"}}}}})}}}},
       {{"expect", {{"any", true}, {"within", "1s"}}}},
       {{"close", {{"code", 1000}}}}});
  // Budget: the expect and the close, plus 1 s for websocketpp's socket shutdown timer and
  // the CPU time of framing 24 MiB (seconds in a Debug or sanitizer build).
  auto s = base_scenario("stall-reads", server.url(), steps);
  // The upgrade is not what this test is about: framing 8 MiB for one connection keeps its
  // worker from reading the others' 101 for several hundred ms under TSan. An upgrade that
  // still overran would be upgrade.timeout (see the busy-worker test), and fail the check below.
  s["timeouts"]["handshake"] = "5s";
  const auto o = run_hostile(s, 1000 + 500 + 1000 + 2000);
  CHECK(o.result["connections"]["opened"] == kConnections);
  const auto& errors = o.result["errors"];
  INFO("errors: " << errors.dump());
  CHECK(errors.value("message.timeout", 0) + errors.value("close.timeout", 0) == kConnections);
  CHECK(errors.value("reset", 0) == 0);  // the server reset nothing: wslat gave up on it
  CHECK(o.result["connections"]["failed"] == kConnections);
  CHECK(o.process.exit_code == 1);
}

// A worker busy framing one connection's sends cannot read another connection's 101 in time:
// when it gets back to its loop, the 101 and the expired handshake timer are both ready, and
// asio runs the read first. websocketpp's own open-handshake timer then terminated the open
// connection, which was counted as "reset" (the flaky slow-consumer test under TSan). A
// handshake that completed is open; a timeout that lost the race is void.
TEST_CASE("hostile: a handshake timer that expires while the worker is busy is never a reset") {
  auto server = start_serve();
  json steps = json::array(
      {{{"connect", json::object()}},
       {{"repeat", {{"times", 4}, {"steps", json::array({{{"send", {{"size", "4MiB"}}}}})}}}},
       {{"close", {{"code", 1000}}}}});
  json s = base_scenario("busy-worker", server.url(), steps);
  s["load"] = {{"connections", 4}, {"concurrency", 4}};
  s["timeouts"] = {{"connect", "5s"}, {"handshake", "2ms"}, {"message", "20s"}, {"close", "20s"}};
  const auto file = write_temp_file("busy-worker.json", s.dump(2));
  const auto exported = temp_dir() + "/busy-worker.result.json";
  const auto r = run_wslat({"run", file, "--env", "production", "--threads", "1", "--no-save",
                            "--quiet", "--export-json", exported},
                           std::chrono::seconds(120));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  const json result = json::parse(read_file(exported));
  const auto& errors = result["errors"];
  INFO("errors: " << errors.dump());
  // Each connection either opened in time or timed out in its upgrade: nothing else.
  CHECK(errors.value("reset", 0) == 0);
  CHECK(errors.value("upgrade.timeout", 0) + result["connections"]["opened"].get<int>() == 4);
  CHECK(errors.size() <= 1);
}

TEST_CASE("resources: more connections than the soft RLIMIT_NOFILE still run") {
  // Debian's usual soft limit is 1024 against a much higher hard one; each connection is a
  // descriptor. Here: soft 256 (hard left as is, at least 4096 is needed), 400 at once.
  const auto hard = run_process({"/bin/sh", "-c", "ulimit -Hn"});
  const std::string h = hard.out.substr(0, hard.out.find('\n'));
  if (h != "unlimited" && std::stol(h) < 4096) {
    MESSAGE("hard RLIMIT_NOFILE is " << h << ": cannot check raising the soft limit");
    return;
  }
  auto server = start_serve();
  json s = base_scenario("nofile", server.url(), echo_steps());
  s["load"] = {{"connections", 400}, {"concurrency", 400}};
  s["timeouts"] = {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}};
  // The sleep keeps all 400 open at the same time.
  s["steps"] = json::array({{{"connect", json::object()}},
                            {{"send", {{"text", "hello"}}}},
                            {{"expect", {{"text", "hello"}}}},
                            {{"sleep", "1s"}},
                            {{"close", {{"code", 1000}}}}});
  const auto file = write_temp_file("nofile.json", s.dump(2));
  const auto exported = temp_dir() + "/nofile.result.json";
  const auto r = run_process(
      {"/bin/sh", "-c", "ulimit -Sn 256 && exec \"$0\" \"$@\"", wslat_binary(), "run", file,
       "--env", "production", "--no-save", "--quiet", "--threads", "2", "--export-json", exported},
      std::chrono::seconds(90));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  const json result = json::parse(read_file(exported));
  INFO("errors: " << result["errors"].dump());
  CHECK(result["connections"]["opened"] == 400);
  CHECK(result["errors"].empty());
  CHECK(r.exit_code == 0);
}

}  // namespace
}  // namespace wslat::test
