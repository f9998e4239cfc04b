#include "server_modes.hpp"

#include <utility>

#include "server.hpp"

namespace wslat::embedded {
namespace {

// Also the order in which `--help` and error messages list the modes.
constexpr std::pair<FaultMode, std::string_view> kModeNames[] = {
    {FaultMode::kSilent, "silent"},
    {FaultMode::kGarbage, "garbage"},
    {FaultMode::kBadAccept, "bad-accept"},
    {FaultMode::kCloseInHandshake, "close-in-handshake"},
    {FaultMode::kResetAfterOpen, "reset-after-open"},
    {FaultMode::kResetMidMessage, "reset-mid-message"},
    {FaultMode::kOversize, "oversize"},
    {FaultMode::kInvalidUtf8, "invalid-utf8"},
    {FaultMode::kNoCloseReply, "no-close-reply"},
    {FaultMode::kStallReads, "stall-reads"},
    {FaultMode::kPingFlood, "ping-flood"},
    {FaultMode::kMessageFlood, "message-flood"},
};

}  // namespace

std::optional<FaultMode> parse_fault_mode(std::string_view name) {
  if (name.empty()) return FaultMode::kNone;
  for (const auto& [mode, mode_name] : kModeNames) {
    if (mode_name == name) return mode;
  }
  return std::nullopt;
}

// silent never answers, so it never gives up on a request either.
bool Faults::times_out_requests() const { return mode_ != FaultMode::kSilent; }

bool Faults::swallows_requests() const { return mode_ == FaultMode::kSilent; }

bool Faults::closes_after_request() const { return mode_ == FaultMode::kCloseInHandshake; }

AcceptValue Faults::accept_value(std::string_view client_key) const {
  if (mode_ == FaultMode::kBadAccept) return AcceptValue(std::string(client_key) + "x");
  return AcceptValue(client_key);
}

std::optional<std::string> Faults::replaced_upgrade_answer() const {
  if (mode_ != FaultMode::kGarbage) return std::nullopt;
  return "SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\x01\x02\x03garbage\r\n";
}

std::vector<OutFrame> Faults::frames_on_open() const {
  std::vector<OutFrame> frames;
  if (mode_ == FaultMode::kInvalidUtf8) frames.push_back(make_frame(kText, "\xC3\x28"));
  if (mode_ == FaultMode::kOversize)
    frames.push_back(make_frame(kBinary, {}, kMaxMessageBytes + 1));
  return frames;
}

bool Faults::reads_after_open() const { return mode_ != FaultMode::kStallReads; }

bool Faults::floods() const {
  return mode_ == FaultMode::kPingFlood || mode_ == FaultMode::kMessageFlood;
}

std::vector<OutFrame> Faults::flood_batch(std::uint64_t& sent) const {
  std::vector<OutFrame> frames;
  if (mode_ == FaultMode::kPingFlood) {
    // 8192 empty pings, 16 KiB, in one write: a client's reads then hold more pings than its
    // bound on unwritten pongs (1024) before any pong can be written, so the bound is hit on a
    // fast, idle machine too. As 8192 frames of a gathered write they left 64 at a time (Asio's
    // iovec limit per writev), 128 bytes a syscall, and a client that kept up with them
    // answered every ping in time (the client core did, on a busy machine: 1 of 3 connections
    // reached the bound). The frames' bytes as one "frame" without a header of its own.
    OutFrame batch;
    const OutFrame ping = make_frame(kPing, std::string());
    batch.payload.reserve(8192 * ping.header_len);
    for (int i = 0; i < 8192; ++i) {
      batch.payload.append(reinterpret_cast<const char*>(ping.header.data()), ping.header_len);
    }
    frames.push_back(std::move(batch));
  } else if (mode_ == FaultMode::kMessageFlood) {
    frames.reserve(1024);
    for (int i = 0; i < 1024; ++i)
      frames.push_back(make_frame(kText, "flood " + std::to_string(sent++)));
  }
  return frames;
}

bool Faults::resets_on_message() const { return mode_ == FaultMode::kResetAfterOpen; }

// A binary frame whose header announces 64 KiB, of which so much follows that header and
// payload are 16 KiB together: a multiple of any read buffer up to 16 KiB, so the peer's last
// read of them fills its buffer, and the reset meets the read after a full one (the one
// wslat makes at once, wslat::net::read_now), in the middle of a message.
std::optional<OutFrame> Faults::partial_answer() const {
  if (mode_ != FaultMode::kResetMidMessage) return std::nullopt;
  OutFrame frame = make_frame(kBinary, std::string(), std::size_t{64} * 1024);
  frame.zeros = std::size_t{16} * 1024 - frame.header_len;
  return frame;
}

bool Faults::answers_close() const { return mode_ != FaultMode::kNoCloseReply; }

}  // namespace wslat::embedded

namespace wslat {

const std::vector<std::string>& server_modes() {
  static const std::vector<std::string> modes = [] {
    std::vector<std::string> names;
    for (const auto& [mode, name] : embedded::kModeNames) names.emplace_back(name);
    return names;
  }();
  return modes;
}

}  // namespace wslat
