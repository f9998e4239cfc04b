// The embedded server's side of the frame codec (frames.hpp holds it for both roles): its fixed
// 16 MiB message limit, the header checks it makes and the words it keeps for them, and the
// zero bytes its oversize mode sends. No Asio: bytes in, bytes out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "frames.hpp"

namespace wslat::embedded {

using frames::kBinary;
using frames::kClose;
using frames::kContinuation;
using frames::kPing;
using frames::kPong;
using frames::kText;
using frames::Opcode;

using frames::close_payload;
using frames::extract_close;
using frames::FrameHeader;
using frames::make_frame;
using frames::OutFrame;
using frames::sendable_close_code;
using frames::unmask;
using frames::valid_utf8;

constexpr std::size_t kMaxMessageBytes = std::size_t{16} * 1024 * 1024;

// Reads the header of a client frame (always counted with a masking key) from the `avail`
// bytes at `p`. Returns 0 when it is complete, else how many bytes from `p` it needs.
std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, FrameHeader& h);

// Why a connection must fail: the close code to send (the reason text stays in the code).
struct ProtocolError {
  int close_code;
  const char* why;
};

// Checks what can be checked from a header, `message_bytes` being what earlier fragments of
// the message hold already: the bits and the mask as the client role checks them (frames.hpp,
// all of them 1002), then the 16 MiB limit (1009). The order of fragments is checked once the
// frame is read (server_connection.cpp), and a length not in its shortest form is accepted.
std::optional<ProtocolError> frame_header_problem(const FrameHeader& h, std::size_t message_bytes);

// Zero bytes to point write buffers at for OutFrame::zeros, a chunk at a time.
const std::array<std::uint8_t, std::size_t{64} * 1024>& zero_chunk();

}  // namespace wslat::embedded
