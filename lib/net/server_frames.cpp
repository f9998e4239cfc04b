#include "server_frames.hpp"

#include <utility>

namespace wslat::embedded {

bool valid_utf8(const std::uint8_t* s, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3FU);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool sendable_close_code(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, FrameHeader& h) {
  if (avail < 2) return 2;
  h.first_byte = p[0];
  h.fin = (p[0] & 0x80) != 0;
  h.opcode = p[0] & 0x0F;
  h.masked = (p[1] & 0x80) != 0;
  h.payload_len = p[1] & 0x7FU;
  const std::size_t ext = h.payload_len == 126 ? 2 : (h.payload_len == 127 ? 8 : 0);
  h.size = 2 + ext + 4;
  if (avail < h.size) return h.size;
  if (ext > 0) {
    h.payload_len = 0;
    for (std::size_t i = 0; i < ext; ++i) h.payload_len = (h.payload_len << 8) | p[2 + i];
  }
  h.mask_key = p + 2 + ext;
  return 0;
}

std::optional<ProtocolError> frame_header_problem(const FrameHeader& h, std::size_t message_bytes) {
  const bool control = (h.opcode & 0x8) != 0;
  if ((h.first_byte & 0x70) != 0) {
    return ProtocolError{1002, "reserved bits set without a negotiated extension"};
  }
  if (!h.masked) return ProtocolError{1002, "client frames must be masked"};
  if (h.opcode > kBinary && h.opcode != kClose && h.opcode != kPing && h.opcode != kPong) {
    return ProtocolError{1002, "unknown opcode"};
  }
  if (control && (h.payload_len > 125 || !h.fin)) {
    return ProtocolError{1002, "control frames must be final and at most 125 bytes"};
  }
  if (!control && h.payload_len > kMaxMessageBytes - message_bytes) {
    return ProtocolError{1009, "message larger than 16 MiB"};
  }
  return std::nullopt;
}

void unmask(std::uint8_t* data, std::size_t n, const std::uint8_t* key) {
  std::array<std::uint8_t, 4> k{key[0], key[1], key[2], key[3]};
  for (std::size_t i = 0; i < n; ++i) data[i] ^= k[i & 3];
}

OutFrame make_frame(std::uint8_t opcode, std::string payload, std::size_t zeros) {
  OutFrame f;
  const std::uint64_t n = zeros > 0 ? zeros : payload.size();
  f.header[0] = static_cast<std::uint8_t>(0x80 | opcode);
  if (n < 126) {
    f.header[1] = static_cast<std::uint8_t>(n);
    f.header_len = 2;
  } else if (n <= 0xFFFF) {
    f.header[1] = 126;
    f.header[2] = static_cast<std::uint8_t>(n >> 8);
    f.header[3] = static_cast<std::uint8_t>(n);
    f.header_len = 4;
  } else {
    f.header[1] = 127;
    for (std::size_t i = 0; i < 8; ++i) {
      f.header[2 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
    }
    f.header_len = 10;
  }
  f.payload = std::move(payload);
  f.zeros = zeros;
  return f;
}

std::string close_payload(int code) {
  return {static_cast<char>((code >> 8) & 0xFF), static_cast<char>(code & 0xFF)};
}

const std::array<std::uint8_t, std::size_t{64} * 1024>& zero_chunk() {
  static const std::array<std::uint8_t, std::size_t{64} * 1024> zeros{};
  return zeros;
}

}  // namespace wslat::embedded
