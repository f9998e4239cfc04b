// The embedded server's pure parts (upgrade text, frame bytes, hostile modes), checked without a
// socket. They live in wslat_net, which only this test target links, hence this directory.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "net/server_frames.hpp"
#include "net/server_modes.hpp"
#include "net/server_upgrade.hpp"
#include "server.hpp"

namespace wslat::embedded {
namespace {

TEST_CASE("server parts: every listed mode parses to its own behaviour, and nothing else does") {
  std::set<FaultMode> seen;
  for (const auto& name : server_modes()) {
    const auto mode = parse_fault_mode(name);
    REQUIRE(mode);
    CHECK(*mode != FaultMode::kNone);
    CHECK(seen.insert(*mode).second);
  }
  CHECK(server_modes().front() == "silent");  // the order --help and error messages show
  CHECK(server_modes().back() == "message-flood");
  CHECK(parse_fault_mode("") == FaultMode::kNone);
  CHECK_FALSE(parse_fault_mode("Silent"));
  CHECK_FALSE(parse_fault_mode("none"));
}

TEST_CASE("server parts: without a mode every hook behaves as a plain echo server") {
  const Faults none;
  CHECK(none.times_out_requests());
  CHECK_FALSE(none.swallows_requests());
  CHECK_FALSE(none.closes_after_request());
  CHECK(none.accept_value("dGhlIHNhbXBsZSBub25jZQ==").view() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK_FALSE(none.replaced_upgrade_answer());
  CHECK(none.frames_on_open().empty());
  CHECK(none.reads_after_open());
  CHECK_FALSE(none.floods());
  std::uint64_t sent = 0;
  CHECK(none.flood_batch(sent).empty());
  CHECK_FALSE(none.resets_on_message());
  CHECK(none.answers_close());
}

TEST_CASE("server parts: a message flood numbers its messages across batches") {
  const Faults flood(FaultMode::kMessageFlood);
  std::uint64_t sent = 0;
  const auto first = flood.flood_batch(sent);
  const auto second = flood.flood_batch(sent);
  REQUIRE(first.size() == 1024);
  CHECK(first.front().payload == "flood 0");
  CHECK(second.front().payload == "flood 1024");
  CHECK(sent == 2048);
}

TEST_CASE("server parts: frame lengths use the 7-bit, 16-bit and 64-bit big-endian forms") {
  CHECK(make_frame(kText, "hi").header_len == 2);
  const OutFrame mid = make_frame(kBinary, std::string(300, 'x'));
  CHECK(mid.header_len == 4);
  CHECK(mid.header[1] == 126);
  CHECK(mid.header[2] == 0x01);
  CHECK(mid.header[3] == 0x2C);
  const OutFrame big = make_frame(kBinary, {}, (std::size_t{1} << 32) + 5);
  REQUIRE(big.header_len == 10);
  const std::vector<std::uint8_t> bytes(big.header.begin(), big.header.begin() + 10);
  CHECK(bytes == std::vector<std::uint8_t>{0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5});
}

TEST_CASE("server parts: a frame header is read once whole and judged with a close code") {
  // FIN + text, masked, 3 bytes, mask key 1 2 3 4.
  const std::uint8_t frame[] = {0x81, 0x83, 1, 2, 3, 4};
  FrameHeader h;
  CHECK(read_frame_header(frame, 1, h) == 2);
  CHECK(read_frame_header(frame, 5, h) == 6);
  REQUIRE(read_frame_header(frame, 6, h) == 0);
  CHECK(h.fin);
  CHECK(h.opcode == kText);
  CHECK(h.payload_len == 3);
  CHECK(h.size == 6);
  CHECK_FALSE(frame_header_problem(h, 0));

  const std::uint8_t unmasked[] = {0x81, 0x03, 0, 0, 0, 0};
  REQUIRE(read_frame_header(unmasked, 6, h) == 0);
  CHECK(frame_header_problem(h, 0)->close_code == 1002);

  const std::uint8_t big[] = {0x82, 0xFF, 0, 0, 0, 0, 0x01, 0, 0, 1, 1, 2, 3, 4};  // 16 MiB + 1
  REQUIRE(read_frame_header(big, sizeof big, h) == 0);
  CHECK(frame_header_problem(h, 0)->close_code == 1009);
}

TEST_CASE("server parts: the upgrade answer carries the RFC 6455 accept key") {
  // The example of RFC 6455 §1.3.
  CHECK(AcceptValue("dGhlIHNhbXBsZSBub25jZQ==").view() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // bad-accept: well-formed (28 base64 characters) and wrong.
  const AcceptValue bad = Faults(FaultMode::kBadAccept).accept_value("dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(bad.view().size() == 28);
  CHECK(bad.view().back() == '=');
  CHECK(bad.view() != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  const std::string head =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Protocol: chat, superchat";
  Request req;
  REQUIRE(parse_request(head, req));
  CHECK_FALSE(upgrade_problem(req));
  CHECK(first_subprotocol(req) == "chat");

  Request plain;
  REQUIRE(parse_request("GET / HTTP/1.1\r\nHost: x", plain));
  REQUIRE(upgrade_problem(plain));
  CHECK(upgrade_problem(plain)->rfind("HTTP/1.1 426 Upgrade Required\r\n", 0) == 0);
}

}  // namespace
}  // namespace wslat::embedded
