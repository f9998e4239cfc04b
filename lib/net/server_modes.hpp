// The hostile behaviours of the embedded server (`wslat serve --mode`, a scenario's
// "embedded.mode"), all in one place. The connection asks `Faults` at each point where a mode
// can change what it does; what each mode does is written in server_modes.cpp and nowhere else.
//
// Adding a mode: a FaultMode value, its name in kModeNames, and its answer in the hooks below
// (a new kind of misbehaviour adds a hook here and one call to it in server_connection.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "digest.hpp"
#include "server_frames.hpp"

namespace wslat::embedded {

enum class FaultMode {
  kNone,
  kSilent,            // accept TCP, never answer
  kGarbage,           // a non-HTTP reply to the upgrade request
  kBadAccept,         // 101 with a wrong Sec-WebSocket-Accept
  kCloseInHandshake,  // close TCP after reading the request
  kResetAfterOpen,    // RST when the first message arrives, instead of its echo
  kResetMidMessage,   // answers the first message with 16 KiB of a 64 KiB frame, then RST
  kOversize,          // a frame of 16 MiB + 1 bytes after open
  kInvalidUtf8,       // a text frame with invalid UTF-8 after open
  kNoCloseReply,      // never answer a close frame
  kStallReads,        // stop reading after open
  kPingFlood,         // pings, a batch each time the previous one is written
  kMessageFlood,      // messages no expect matches, likewise
};

// "" is kNone; nullopt for a name server_modes() does not list.
std::optional<FaultMode> parse_fault_mode(std::string_view name);

class Faults {
 public:
  Faults() = default;
  explicit Faults(FaultMode mode) : mode_(mode) {}

  // -- upgrade request
  bool times_out_requests() const;  // whether an incomplete request is given up on
  bool swallows_requests() const;   // reads every request byte and never answers
  bool closes_after_request() const;
  // The Sec-WebSocket-Accept value the 101 carries: the right one, or a well-formed wrong one.
  AcceptValue accept_value(std::string_view client_key) const;
  std::optional<std::string> replaced_upgrade_answer() const;  // instead of the 101

  // -- open
  std::vector<OutFrame> frames_on_open() const;  // before the welcome and any echo
  bool reads_after_open() const;
  bool floods() const;
  // The next batch of a flood; `sent` counts the flood's messages so far.
  std::vector<OutFrame> flood_batch(std::uint64_t& sent) const;

  // -- messages and close
  bool resets_on_message() const;
  // Written instead of the echo of the first message, after which the connection resets.
  std::optional<OutFrame> partial_answer() const;
  bool answers_close() const;

 private:
  FaultMode mode_ = FaultMode::kNone;
};

}  // namespace wslat::embedded
