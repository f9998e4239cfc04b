#include "frames.hpp"

#include <algorithm>
#include <utility>

namespace wslat::frames {
namespace {

// Björn Höhrmann's UTF-8 decoder (http://bjoern.hoehrmann.de/utf-8/decoder/dfa/, MIT licence),
// the table websocketpp's utf8_validator.hpp carries: a byte's class, then the next state for
// (state, class). State 0 accepts, 1 rejects. Running the same automaton as websocketpp makes
// the two refuse the same byte of a stream, not only the same streams.
constexpr std::array<std::uint8_t, 256 + 9 * 16> kUtf8Dfa = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    10, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3, 11, 6, 6, 6, 5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    8,
    // states
    0, 1, 2, 3, 5, 8, 7, 1, 1, 1, 4, 6, 1, 1, 1, 1,  // s0
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // s1 (reject)
    1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1,  // s2
    1, 2, 1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1,  // s3
    1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1,  // s4
    1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1,  // s5
    1, 1, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1,  // s6
    1, 3, 1, 1, 1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1,  // s7
    1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  // s8
};

constexpr std::uint8_t kReject = 1;
constexpr std::size_t kMaxCloseReason = 123;  // 125 minus the code (websocketpp's limit too)

bool known_opcode(std::uint8_t op) {
  return op == kContinuation || op == kText || op == kBinary || op == kClose || op == kPing ||
         op == kPong;
}

// The extended length bytes a 7-bit length code announces.
std::size_t extended_length_bytes(std::uint8_t length_code) {
  if (length_code == 126) return 2;
  return length_code == 127 ? 8 : 0;
}

}  // namespace

bool Utf8Validator::feed(const std::uint8_t* s, std::size_t n) {
  std::uint8_t state = state_;
  for (std::size_t i = 0; i < n && state != kReject; ++i) {
    if (state == 0 && s[i] < 0x80) continue;  // ASCII between characters changes nothing
    state = kUtf8Dfa[256 + std::size_t{state} * 16 + kUtf8Dfa[s[i]]];
  }
  state_ = state;
  return state != kReject;
}

bool valid_utf8(const std::uint8_t* s, std::size_t n) {
  Utf8Validator v;
  return v.feed(s, n) && v.complete();
}

bool valid_utf8(std::string_view s) {
  return valid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

bool sendable_close_code(int code) {
  // websocketpp's close::status::invalid and close::status::reserved, neither of them.
  const bool invalid = code <= 999 || code >= 5000 || code == 1005 || code == 1006 || code == 1015;
  const bool reserved = code == 1004 || (code >= 1016 && code <= 2999);
  return !invalid && !reserved;
}

const char* message(FrameError e) {
  switch (e) {
    case FrameError::kNone:
      return "";
    case FrameError::kMessageTooBig:
      return "A message was too large";
    case FrameError::kInvalidOpcode:
      return "invalid opcode";
    case FrameError::kControlTooBig:
      return "Control messages are limited to fewer than 125 characters";
    case FrameError::kInvalidRsvBit:
      return "Invalid use of reserved bits";
    case FrameError::kFragmentedControl:
      return "Control messages cannot be fragmented";
    case FrameError::kInvalidContinuation:
      return "Invalid message continuation";
    case FrameError::kMaskingRequired:
      return "Clients may not send unmasked frames";
    case FrameError::kMaskingForbidden:
      return "Servers may not send masked frames";
    case FrameError::kNonMinimalEncoding:
      return "Payload length was not minimally encoded";
    case FrameError::kRequires64bit:
      return "64 bit frames are not supported on 32 bit systems";
    case FrameError::kInvalidUtf8:
      return "Invalid UTF8 encoding";
  }
  return "Unknown";
}

int to_close_code(FrameError e) {
  switch (e) {
    case FrameError::kInvalidOpcode:
    case FrameError::kControlTooBig:
    case FrameError::kInvalidRsvBit:
    case FrameError::kFragmentedControl:
    case FrameError::kInvalidContinuation:
    case FrameError::kMaskingRequired:
    case FrameError::kMaskingForbidden:
      return 1002;
    case FrameError::kInvalidUtf8:
      return 1007;
    case FrameError::kMessageTooBig:
      return 1009;
    case FrameError::kNone:
    case FrameError::kNonMinimalEncoding:
    case FrameError::kRequires64bit:
      break;
  }
  return 1011;
}

// -- reading a header --------------------------------------------------------------------------

FrameHeader basic_header(std::uint8_t b0, std::uint8_t b1, Role role) {
  FrameHeader h;
  h.first_byte = b0;
  h.fin = (b0 & 0x80) != 0;
  h.opcode = b0 & 0x0F;
  h.masked = (b1 & 0x80) != 0;
  h.length_code = b1 & 0x7F;
  h.payload_len = h.length_code;
  const bool key = role == Role::kServer || h.masked;
  h.size = 2 + extended_length_bytes(h.length_code) + (key ? 4 : 0);
  return h;
}

namespace {

// The rest of a header whose first two bytes `h` holds: the extended length and where the
// masking key is, from the h.size bytes at `p`.
void read_header_rest(const std::uint8_t* p, FrameHeader& h) {
  const std::size_t ext = extended_length_bytes(h.length_code);
  if (ext > 0) {
    h.payload_len = 0;
    for (std::size_t i = 0; i < ext; ++i) h.payload_len = (h.payload_len << 8) | p[2 + i];
  }
  if (h.size > 2 + ext) h.mask_key = p + 2 + ext;
}

}  // namespace

std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, Role role, FrameHeader& h) {
  if (avail < 2) return 2;
  h = basic_header(p[0], p[1], role);
  if (avail < h.size) return h.size;
  read_header_rest(p, h);
  return 0;
}

FrameError bits_error(const FrameHeader& h, bool deflate) {
  const bool control = is_control(h.opcode);
  if (control && h.length_code > 125) return FrameError::kControlTooBig;
  const bool rsv1 = (h.first_byte & 0x40) != 0;
  if (rsv1 && (!deflate || control || h.opcode == kContinuation)) {
    return FrameError::kInvalidRsvBit;
  }
  if ((h.first_byte & 0x30) != 0) return FrameError::kInvalidRsvBit;
  if (!known_opcode(h.opcode)) return FrameError::kInvalidOpcode;
  if (control && !h.fin) return FrameError::kFragmentedControl;
  return FrameError::kNone;
}

FrameError sequence_error(const FrameHeader& h, bool in_message) {
  const bool continuation = h.opcode == kContinuation;
  if (!in_message && continuation) return FrameError::kInvalidContinuation;
  if (in_message && !is_control(h.opcode) && !continuation) {
    return FrameError::kInvalidContinuation;
  }
  return FrameError::kNone;
}

FrameError mask_error(const FrameHeader& h, Role role) {
  if (role == Role::kServer && !h.masked) return FrameError::kMaskingRequired;
  if (role == Role::kClient && h.masked) return FrameError::kMaskingForbidden;
  return FrameError::kNone;
}

FrameError length_error(const FrameHeader& h) {
  if (h.length_code == 126 && h.payload_len <= 125) return FrameError::kNonMinimalEncoding;
  if (h.length_code == 127 && h.payload_len <= 0xFFFF) return FrameError::kNonMinimalEncoding;
  if constexpr (sizeof(std::size_t) < sizeof(std::uint64_t)) {
    if ((h.payload_len >> 32) != 0) return FrameError::kRequires64bit;
  }
  return FrameError::kNone;
}

void unmask(std::uint8_t* data, std::size_t n, const std::uint8_t* key, std::size_t offset) {
  const std::array<std::uint8_t, 4> k{key[0], key[1], key[2], key[3]};
  for (std::size_t i = 0; i < n; ++i) data[i] ^= k[(i + offset) & 3];
}

// -- a client's incremental reader ------------------------------------------------------------

FrameReader::Event FrameReader::read(const std::uint8_t*& at, const std::uint8_t* end) {
  for (;;) {
    switch (stage_) {
      case Stage::kFailed:
        return kError;
      case Stage::kBasic:
      case Stage::kExtended: {
        const auto n = std::min(header_need_ - header_have_, static_cast<std::size_t>(end - at));
        std::copy_n(at, n, header_.begin() + static_cast<std::ptrdiff_t>(header_have_));
        at += n;
        header_have_ += n;
        if (header_have_ < header_need_) return kNeedMore;
        if (stage_ == Stage::kBasic) {
          frame_ = basic_header(header_[0], header_[1], Role::kClient);
          FrameError e = bits_error(frame_, options_.deflate);
          if (e == FrameError::kNone) e = sequence_error(frame_, in_message_);
          if (e == FrameError::kNone) e = mask_error(frame_, Role::kClient);
          if (e != FrameError::kNone) return fail(e);
          header_need_ = frame_.size;
          stage_ = Stage::kExtended;
          break;
        }
        read_header_rest(header_.data(), frame_);  // the first two bytes are read already
        FrameError e = length_error(frame_);
        if (e == FrameError::kNone) e = start_payload();
        if (e != FrameError::kNone) return fail(e);
        stage_ = Stage::kPayload;
        break;
      }
      case Stage::kPayload: {
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(payload_left_, static_cast<std::uint64_t>(end - at)));
        if (n > 0) {
          if (const FrameError e = take_payload(at, n); e != FrameError::kNone) return fail(e);
          at += n;
          payload_left_ -= n;
        }
        if (payload_left_ > 0) return kNeedMore;
        const Event done = end_frame();
        if (done != kNeedMore) return done;
        break;
      }
    }
  }
}

FrameReader::Event FrameReader::fail(FrameError e) {
  error_ = e;
  stage_ = Stage::kFailed;
  return kError;
}

// Checks the frame's length against the limit and sets up the string its payload goes to.
FrameError FrameReader::start_payload() {
  payload_left_ = frame_.payload_len;
  const auto len = static_cast<std::size_t>(frame_.payload_len);
  if (is_control(frame_.opcode)) {
    control_.opcode = frame_.opcode;
    control_.payload.clear();
    return FrameError::kNone;
  }
  const std::size_t max = options_.max_message_size;
  if (!in_message_) {
    if (frame_.payload_len > max) return FrameError::kMessageTooBig;
    in_message_ = true;
    message_.opcode = frame_.opcode;
    message_.compressed = options_.deflate && (frame_.first_byte & 0x40) != 0;
    message_.payload.clear();
    message_.payload.reserve(len);
    utf8_.reset();
    return FrameError::kNone;
  }
  // websocketpp adds the length to the total and can wrap around (and then waits for 2^64
  // bytes): a length that does not fit under the limit is too big, whatever its size.
  const std::size_t have = message_.payload.size();
  if (have > max || frame_.payload_len > max - have) return FrameError::kMessageTooBig;
  message_.payload.reserve(have + len);
  return FrameError::kNone;
}

FrameError FrameReader::take_payload(const std::uint8_t* p, std::size_t n) {
  const char* bytes = reinterpret_cast<const char*>(p);
  if (is_control(frame_.opcode)) {
    control_.payload.append(bytes, n);
    return FrameError::kNone;
  }
  message_.payload.append(bytes, n);
  if (message_.opcode == kText && !message_.compressed && !utf8_.feed(p, n)) {
    return FrameError::kInvalidUtf8;
  }
  return FrameError::kNone;
}

// The frame's payload is all in: the next header follows. kNeedMore when that is all there is
// to say (a fragment of a message).
FrameReader::Event FrameReader::end_frame() {
  stage_ = Stage::kBasic;
  header_have_ = 0;
  header_need_ = 2;
  if (is_control(frame_.opcode)) return kControl;
  if (!frame_.fin) return kNeedMore;
  in_message_ = false;
  // websocketpp checks this only when the last frame's opcode is text, so never for a
  // fragmented message (finalize_message); RFC 6455 §8.1 wants the whole message to be UTF-8.
  if (message_.opcode == kText && !message_.compressed && !utf8_.complete()) {
    return fail(FrameError::kInvalidUtf8);
  }
  return kMessage;
}

// -- writing -----------------------------------------------------------------------------------

namespace {

// A header for `n` bytes of payload, without a masking key.
OutFrame frame_header(std::uint8_t opcode, std::uint64_t n, const FrameOptions& options) {
  OutFrame f;
  f.header[0] = static_cast<std::uint8_t>((options.fin ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) |
                                          (opcode & 0x0F));
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
  return f;
}

}  // namespace

OutFrame make_frame(std::uint8_t opcode, std::string payload, std::size_t zeros) {
  OutFrame f = frame_header(opcode, zeros > 0 ? zeros : payload.size(), FrameOptions{});
  f.payload = std::move(payload);
  f.zeros = zeros;
  return f;
}

OutFrame make_frame(std::uint8_t opcode, std::string payload, const FrameOptions& options) {
  OutFrame f = frame_header(opcode, payload.size(), options);
  if (options.mask_key) {
    f.header[1] |= 0x80;
    std::copy(options.mask_key->begin(), options.mask_key->end(),
              f.header.begin() + static_cast<std::ptrdiff_t>(f.header_len));
    f.header_len += 4;
    unmask(reinterpret_cast<std::uint8_t*>(payload.data()), payload.size(),
           options.mask_key->data());
  }
  f.payload = std::move(payload);
  return f;
}

// -- close frames ------------------------------------------------------------------------------

std::string close_payload(int code, std::string_view reason) {
  std::string payload{static_cast<char>((code >> 8) & 0xFF), static_cast<char>(code & 0xFF)};
  payload.append(reason.substr(0, kMaxCloseReason));
  return payload;
}

CloseFrame extract_close(std::string_view payload) {
  CloseFrame c;
  if (payload.empty()) return c;
  if (payload.size() == 1) {
    c.code = 1002;  // websocketpp's extract_code returns protocol_error for it
    c.problem = CloseFrame::kBadCode;
    return c;
  }
  c.code = (static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]);
  if (!sendable_close_code(c.code)) {
    c.problem = CloseFrame::kBadCode;
    return c;
  }
  c.reason.assign(payload.substr(2));
  if (!valid_utf8(c.reason)) c.problem = CloseFrame::kBadReason;
  return c;
}

const char* close_ack_reason(CloseFrame::Problem problem) {
  switch (problem) {
    case CloseFrame::kFine:
      return "";
    case CloseFrame::kBadCode:
      return "Invalid close code";
    case CloseFrame::kBadReason:
      return "Invalid close reason";
  }
  return "";
}

}  // namespace wslat::frames
