#include "server_frames.hpp"

namespace wslat::embedded {
namespace {

using frames::FrameError;

// The server's words for a header the client role would refuse (processor texts are the
// client's; these never leave the server, whose close frame carries the code only).
const char* server_words(FrameError e) {
  switch (e) {
    case FrameError::kInvalidRsvBit:
      return "reserved bits set without a negotiated extension";
    case FrameError::kMaskingRequired:
      return "client frames must be masked";
    case FrameError::kInvalidOpcode:
      return "unknown opcode";
    default:
      return "control frames must be final and at most 125 bytes";
  }
}

}  // namespace

std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, FrameHeader& h) {
  return frames::read_frame_header(p, avail, frames::Role::kServer, h);
}

std::optional<ProtocolError> frame_header_problem(const FrameHeader& h, std::size_t message_bytes) {
  FrameError e = frames::bits_error(h, /*deflate=*/false);
  if (e == FrameError::kNone) e = frames::mask_error(h, frames::Role::kServer);
  if (e != FrameError::kNone) return ProtocolError{1002, server_words(e)};
  if (!frames::is_control(h.opcode) && h.payload_len > kMaxMessageBytes - message_bytes) {
    return ProtocolError{1009, "message larger than 16 MiB"};
  }
  return std::nullopt;
}

const std::array<std::uint8_t, std::size_t{64} * 1024>& zero_chunk() {
  static const std::array<std::uint8_t, std::size_t{64} * 1024> zeros{};
  return zeros;
}

}  // namespace wslat::embedded
