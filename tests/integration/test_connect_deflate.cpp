// permessage-deflate (RFC 7692): offered with "permessage_deflate": true (or an object of offer
// parameters) or --deflate, the parameters the server accepted recorded in the result's
// "negotiated", the compressed sizes in the wire_bytes_* counters. Against Node `ws`
// (perMessageDeflate) and python `websockets` (deflate on by default), with a message that
// compresses well (repeated JSON) and one that does not (random bytes), each echoed back and
// matched byte for byte; and against a server that declines the offer.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

using nlohmann::json;

constexpr std::int64_t kConnections = 2;
constexpr std::size_t kMessageBytes = 4096;

// 4 KiB of repeated JSON records: compresses well.
std::string compressible() {
  std::string out;
  for (int i = 0; out.size() < kMessageBytes; ++i) {
    out += "{\"id\":" + std::to_string(i % 10) +
           ",\"sensor\":\"temperature\",\"value\":21.5,\"unit\":\"C\"},";
  }
  out.resize(kMessageBytes);
  return out;
}

// 4 KiB of (seeded) random bytes, as the hex a binary send and expect take: does not compress.
std::string random_hex(unsigned seed) {
  std::mt19937 rng(seed);
  std::string hex;
  for (std::size_t i = 0; i < kMessageBytes; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", static_cast<unsigned>(rng() & 0xFFU));
    hex += byte;
  }
  return hex;
}

// Each connection sends three messages and expects each echo exactly: the same JSON records
// (context takeover carries over between them), or three different random blocks (a repeated
// one would compress against the previous one).
std::string scenario(const std::string& name, bool text, const json& extra = json::object()) {
  json steps = json::array();
  for (unsigned i = 0; i < 3; ++i) {
    const json message =
        text ? json{{"text", compressible()}} : json{{"binary", random_hex(12345 + i)}};
    steps.push_back({{"send", message}});
    steps.push_back({{"expect", message}});
  }
  steps.push_back({{"close", {{"code", 1000}}}});
  json s = {
      {"name", name},
      {"load", {{"connections", kConnections}, {"concurrency", kConnections}}},
      {"timeouts", {{"connect", "5s"}, {"handshake", "5s"}, {"message", "5s"}, {"close", "2s"}}},
      {"steps", steps}};
  s.update(extra);
  return write_temp_file(name + ".json", s.dump(2));
}

json run(const std::string& file, const std::string& target, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run",        file,       "--target", target,      "--env",
                                "production", "--format", "json",     "--no-save", "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_wslat(args, std::chrono::seconds(60));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  const json j = json::parse(r.out);
  INFO("result: " << j.dump());
  CHECK(j["connections"]["opened"] == kConnections);
  CHECK(j["errors"].empty());
  return j;
}

std::int64_t total(const json& j, const char* counter) {
  return j["counters"][counter]["total"].get<std::int64_t>();
}

// The run's payload and wire bytes, one way, for the report (MESSAGE: sent/received).
void report(const std::string& peer, const std::string& message, const json& j) {
  MESSAGE(peer << " " << message << ": payload " << total(j, "bytes_sent") << " B sent, wire "
               << total(j, "wire_bytes_sent") << " B; payload " << total(j, "bytes_received")
               << " B received, wire " << total(j, "wire_bytes_received") << " B");
}

constexpr std::int64_t kPayload = kConnections * 3 * static_cast<std::int64_t>(kMessageBytes);

// Every upgrade accepted permessage-deflate: the answer (with its parameters) counted in
// "negotiated", no warning; the echoes matched (no error) and the payload counters are the
// uncompressed sizes.
void check_negotiated(const json& j, const std::string& answer) {
  CHECK(j["negotiated"]["offered_extensions"] == "permessage-deflate; client_max_window_bits");
  CHECK(j["negotiated"]["extensions"] == json({{answer, kConnections}}));
  CHECK(j["warnings"].dump().find("permessage-deflate") == std::string::npos);
  CHECK(total(j, "bytes_sent") == kPayload);
  CHECK(total(j, "bytes_received") == kPayload);
}

// Compressible: the wire bytes are a small part of the payload both ways.
void check_compressed(const json& j) {
  CHECK(total(j, "wire_bytes_sent") > 0);
  CHECK(total(j, "wire_bytes_sent") * 4 < kPayload);
  CHECK(total(j, "wire_bytes_received") > 0);
  CHECK(total(j, "wire_bytes_received") * 4 < kPayload);
}

// Incompressible: compressed anyway (every message is), a few bytes of DEFLATE framing more.
void check_incompressible(const json& j) {
  for (const char* wire : {"wire_bytes_sent", "wire_bytes_received"}) {
    INFO("counter: " << std::string(wire));
    CHECK(total(j, wire) >= kPayload);
    CHECK(total(j, wire) <= kPayload + kConnections * 3 * 64);
  }
}

BackgroundServer ws_peer(std::vector<std::string> args = {}) {
  std::vector<std::string> argv{"node", source_dir() + "/tests/peers/ws_deflate_server.js"};
  argv.insert(argv.end(), args.begin(), args.end());
  return BackgroundServer(argv);
}

TEST_CASE("deflate: Node ws with perMessageDeflate - compressible and random messages" *
          doctest::test_suite("peer")) {
  auto peer = ws_peer();
  const json on = {{"permessage_deflate", true}};
  // ws drops client_max_window_bits without a value from its answer (ours stays 15 bits).
  const std::string answer = "permessage-deflate";

  const json text = run(scenario("deflate-ws-text", true, on), peer.url());
  check_negotiated(text, answer);
  check_compressed(text);
  report("ws", "compressible 4 KiB JSON x3 x2", text);

  const json random = run(scenario("deflate-ws-random", false, on), peer.url());
  check_negotiated(random, answer);
  check_incompressible(random);
  report("ws", "random 4 KiB x3 x2", random);
}

TEST_CASE("deflate: Node ws asking for client_no_context_takeover" * doctest::test_suite("peer")) {
  auto peer = ws_peer({"--client-no-context-takeover", "1"});
  const json j = run(scenario("deflate-ws-nct", true, {{"permessage_deflate", true}}), peer.url());
  // ws then resets its decompressor after each message: a second message compressed with the
  // first one's context would not inflate (the echo would never come).
  check_negotiated(j, "permessage-deflate; client_no_context_takeover");
  check_compressed(j);
}

TEST_CASE("deflate: python websockets (deflate on by default) - --deflate" *
          doctest::test_suite("peer")) {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_echo_server.py"});
  // websockets answers with 12-bit windows both ways.
  const std::string answer =
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12";

  const json text = run(scenario("deflate-py-text", true), peer.url(), {"--deflate"});
  check_negotiated(text, answer);
  check_compressed(text);
  report("python websockets", "compressible 4 KiB JSON x3 x2", text);

  const json random = run(scenario("deflate-py-random", false), peer.url(), {"--deflate"});
  check_negotiated(random, answer);
  check_incompressible(random);
  report("python websockets", "random 4 KiB x3 x2", random);
}

TEST_CASE("deflate: a server that declines the offer: uncompressed - and a warning" *
          doctest::test_suite("peer")) {
  auto peer = ws_peer({"--deflate", "0"});
  const json j = run(scenario("deflate-declined", true), peer.url(), {"--deflate"});
  CHECK(j["negotiated"]["offered_extensions"] == "permessage-deflate; client_max_window_bits");
  CHECK(j["negotiated"]["extensions"] == json({{"", kConnections}}));
  CHECK(j["warnings"].dump().find("declined permessage-deflate on 2 of 2 upgrades") !=
        std::string::npos);
  CHECK(total(j, "wire_bytes_sent") == kPayload);
  CHECK(total(j, "wire_bytes_received") == kPayload);
}

TEST_CASE("deflate: not offered unless asked - the wire counters stay 0" *
          doctest::test_suite("peer")) {
  auto peer = ws_peer();
  const json j = run(scenario("deflate-off", true), peer.url());
  CHECK(j["negotiated"]["extensions"] == json({{"", kConnections}}));
  CHECK_FALSE(j["negotiated"].contains("offered_extensions"));
  CHECK(total(j, "wire_bytes_sent") == 0);
  CHECK(total(j, "wire_bytes_received") == 0);
}

// The report that started it: the offer written by hand was accepted by the server, and the
// first compressed frame failed as "Invalid use of reserved bits" (1002).
TEST_CASE("deflate: an offer written as a header works too" * doctest::test_suite("peer")) {
  auto peer = ws_peer();
  const json j = run(scenario("deflate-by-hand", true), peer.url(),
                     {"--header", "Sec-WebSocket-Extensions: permessage-deflate"});
  CHECK(j["negotiated"]["extensions"] == json({{"permessage-deflate", kConnections}}));
}

// "permessage_deflate" as an object: the offer carries exactly those parameters, Node ws accepts
// them as offered, and both sides keep to them (a 10-bit client window and no context takeover:
// ws inflates with those, so a message compressed otherwise would never echo back).
TEST_CASE("deflate: parameters from the scenario - negotiated with Node ws" *
          doctest::test_suite("peer")) {
  auto peer = ws_peer();
  const json params = {{"permessage_deflate",
                        {{"client_max_window_bits", 10},
                         {"server_max_window_bits", 11},
                         {"client_no_context_takeover", true},
                         {"server_no_context_takeover", true}}}};
  const std::string offer =
      "permessage-deflate; client_max_window_bits=10; server_max_window_bits=11; "
      "client_no_context_takeover; server_no_context_takeover";
  const json j = run(scenario("deflate-ws-params", true, params), peer.url());
  CHECK(j["negotiated"]["offered_extensions"] == offer);
  CHECK(j["negotiated"]["extensions"] == json({{offer, kConnections}}));
  check_compressed(j);

  // Only what the object names: a bare client_max_window_bits (true) and nothing else.
  const json bare = run(scenario("deflate-ws-bare", true,
                                 {{"permessage_deflate", {{"client_max_window_bits", true}}}}),
                        peer.url());
  CHECK(bare["negotiated"]["offered_extensions"] == "permessage-deflate; client_max_window_bits");
  const json none =
      run(scenario("deflate-ws-empty", true, {{"permessage_deflate", json::object()}}), peer.url());
  CHECK(none["negotiated"]["offered_extensions"] == "permessage-deflate");
  CHECK(none["negotiated"]["extensions"] == json({{"permessage-deflate", kConnections}}));
}

TEST_CASE("deflate: bad permessage_deflate parameters are located errors (exit 64)") {
  for (const json& bad :
       {json{{"client_max_window_bits", 16}}, json{{"server_max_window_bits", true}},
        json{{"client_no_context_takeover", "yes"}}, json{{"client_max_window", 10}}}) {
    CAPTURE(bad.dump());
    const auto r = run_wslat(
        {"validate", scenario("deflate-bad-params", true, {{"permessage_deflate", bad}})});
    CHECK(r.exit_code == 64);
    CHECK(r.err.find("/permessage_deflate/" + bad.items().begin().key()) != std::string::npos);
  }
}

// RFC 6455 §4.1 / RFC 7692 §7.1: a client fails the connection when the server answers with an
// extension it did not offer. A hand-made 101 (a python socket server), as no WebSocket library
// would write one: the upgrade fails as upgrade.invalid, saying why, and nothing opens.
TEST_CASE("deflate: a 101 accepting an extension that was never offered is upgrade.invalid") {
  BackgroundServer peer({"/usr/bin/python3", source_dir() + "/tests/peers/py_raw_upgrade_server.py",
                         "--header", "Sec-WebSocket-Extensions: permessage-deflate"});
  const auto r = run_wslat({"run", scenario("deflate-unoffered", true), "--target", peer.url(),
                            "--env", "production", "--format", "json", "--no-save", "--quiet"},
                           std::chrono::seconds(60));
  INFO("stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 3);
  const json j = json::parse(r.out);
  CHECK(j["connections"]["opened"] == 0);
  CHECK(j["errors"] == json({{"upgrade.invalid", kConnections}}));
  CHECK(j["error_examples"]["upgrade.invalid"].get<std::string>().find("not offered") !=
        std::string::npos);
}

TEST_CASE("deflate: permessage_deflate must be a boolean") {
  const auto r =
      run_wslat({"validate", scenario("deflate-bad", true, {{"permessage_deflate", "yes"}})});
  CHECK(r.exit_code == 64);
  CHECK(r.err.find("/permessage_deflate") != std::string::npos);
}

}  // namespace
}  // namespace wslat::test
