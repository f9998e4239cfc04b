// WebSocket frames as the embedded server reads and writes them (RFC 6455 §5): header parsing,
// the checks a header allows, unmasking, and building the frames it sends. No Asio: bytes in,
// bytes out, so the connection code only moves them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace wslat::embedded {

constexpr std::size_t kMaxMessageBytes = std::size_t{16} * 1024 * 1024;

enum Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA
};

bool valid_utf8(const std::uint8_t* s, std::size_t n);

// Close codes a peer may put on the wire (RFC 6455 7.4).
bool sendable_close_code(int code);

// -- reading ----------------------------------------------------------------------------------

struct FrameHeader {
  std::uint8_t first_byte = 0;  // FIN, reserved bits, opcode
  bool fin = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::uint64_t payload_len = 0;
  std::size_t size = 0;  // header bytes, masking key included
  const std::uint8_t* mask_key = nullptr;
};

// Reads the header of a client frame (always counted with a masking key) from the `avail`
// bytes at `p`. Returns 0 when it is complete, else how many bytes from `p` it needs.
std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, FrameHeader& h);

// Why a connection must fail: the close code to send (the reason text stays in the code).
struct ProtocolError {
  int close_code;
  const char* why;
};

// Checks what can be checked from a header, `message_bytes` being what earlier fragments of
// the message hold already.
std::optional<ProtocolError> frame_header_problem(const FrameHeader& h, std::size_t message_bytes);

void unmask(std::uint8_t* data, std::size_t n, const std::uint8_t* key);

// -- writing ----------------------------------------------------------------------------------

struct OutFrame {
  std::array<std::uint8_t, 10> header{};
  std::size_t header_len = 0;
  std::string payload;
  std::size_t zeros = 0;  // payload of this many zero bytes instead (oversize mode)
};

OutFrame make_frame(std::uint8_t opcode, std::string payload, std::size_t zeros = 0);

std::string close_payload(int code);

// Zero bytes to point write buffers at for OutFrame::zeros, a chunk at a time.
const std::array<std::uint8_t, std::size_t{64} * 1024>& zero_chunk();

}  // namespace wslat::embedded
