// WebSocket frames (RFC 6455 §5) for both roles: the embedded server reads masked client frames
// and writes unmasked ones; a client reads unmasked server frames and writes masked ones. No Asio
// and no websocketpp: bytes in, bytes out, so a connection only moves them.
//
// Namespace wslat::frames, neither the server's (wslat::embedded) nor the runner's (wslat::net):
// the bytes are the same both ways, only the role differs, and neither side should reach into
// the other's namespace for them.
//
// The client role follows websocketpp 0.8.2's hybi13 processor (processors/hybi13.hpp, consume),
// which the runner uses today and which fuzz/fuzz_frames.cpp compares it with: the same checks in
// the same order, the same error texts (processor::error) and close codes (processor::error::
// to_ws), the same close-frame rules (close.hpp). Where it differs (docs/client-core-plan.md §4):
// a fragmented text message must end on a whole UTF-8 sequence (websocketpp checks that only for
// a one-frame message), a frame length that overflows the running total is too big (websocketpp
// wraps around and waits for the bytes), and with deflate RSV1 is refused on a continuation frame
// (wspp_config.hpp's WSLAT_STRICT_RSV1 adds the same rule to websocketpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wslat::frames {

// -- opcodes and payload rules -----------------------------------------------------------------

enum Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA
};

constexpr bool is_control(std::uint8_t opcode) { return (opcode & 0x8) != 0; }

// Whether a whole buffer is UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF, no
// sequence cut at the end.
bool valid_utf8(const std::uint8_t* s, std::size_t n);
bool valid_utf8(std::string_view s);

// The same rules over a message that arrives in pieces: a sequence may be split between pieces,
// and a wrong byte is refused as soon as it is fed (an overlong or surrogate lead as soon as its
// second byte shows it), as websocketpp's utf8_validator does (Hoehrmann's decoder).
class Utf8Validator {
 public:
  // False once a byte can begin no valid text; stays false.
  bool feed(const std::uint8_t* s, std::size_t n);
  // Whether what was fed ends on a whole character (call at the message's end).
  bool complete() const { return state_ == 0; }
  void reset() { state_ = 0; }

 private:
  std::uint8_t state_ = 0;  // 0 accepts, 1 rejects, other values are inside a sequence
};

// Close codes a peer may put on the wire (RFC 6455 7.4): websocketpp's set, neither invalid nor
// reserved.
bool sendable_close_code(int code);

// -- errors ------------------------------------------------------------------------------------

// What fails a connection while reading frames: websocketpp's processor::error values that its
// hybi13 processor gives while reading (same names), plus masking_required for the server role.
enum class FrameError : std::uint8_t {
  kNone,
  kMessageTooBig,
  kInvalidOpcode,
  kControlTooBig,
  kInvalidRsvBit,
  kFragmentedControl,
  kInvalidContinuation,
  kMaskingRequired,
  kMaskingForbidden,
  kNonMinimalEncoding,
  kRequires64bit,
  kInvalidUtf8,
};

// websocketpp's message for the error, word for word ("Invalid UTF8 encoding", ...): users see
// it in error examples ("protocol violation by the server (closed with 1007): Invalid UTF8
// encoding"), and the close frame sent for the error carries it as its reason.
const char* message(FrameError e);

// The close code a connection sends for the error (processor::error::to_ws): 1002, 1007 for
// invalid UTF-8, 1009 for a message too big, 1011 for the rest (a non-minimal length).
int to_close_code(FrameError e);

// -- reading a header --------------------------------------------------------------------------

// Which end reads: the server reads masked client frames, the client unmasked server frames.
enum class Role : std::uint8_t { kServer, kClient };

struct FrameHeader {
  std::uint8_t first_byte = 0;   // FIN, reserved bits, opcode
  std::uint8_t length_code = 0;  // the 7-bit length: the length, or 126/127 for 16/64 bits
  bool fin = false;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::uint64_t payload_len = 0;
  std::size_t size = 0;  // header bytes, masking key included
  const std::uint8_t* mask_key = nullptr;
};

// The first two bytes of a header: everything but the extended length and the masking key.
FrameHeader basic_header(std::uint8_t b0, std::uint8_t b1, Role role);

// Reads a whole header from the `avail` bytes at `p`. Returns 0 when it is complete, else how
// many bytes from `p` it needs. The server role counts a masking key whether or not the mask bit
// is set (a frame without one fails anyway), the client role only when it is set.
std::size_t read_frame_header(const std::uint8_t* p, std::size_t avail, Role role, FrameHeader& h);

// The checks of the first two bytes, in websocketpp's order (hybi13
// validate_incoming_basic_header): a control frame over 125 bytes, reserved bits (RSV1 only on
// the first frame of a data message, and only with `deflate`), a reserved opcode, a fragmented
// control frame. Then, separately, the order of fragments (`in_message`: a data message has
// begun and not ended) and the mask the role expects, in that order.
FrameError bits_error(const FrameHeader& h, bool deflate);
FrameError sequence_error(const FrameHeader& h, bool in_message);
FrameError mask_error(const FrameHeader& h, Role role);
// The checks of a whole header (validate_incoming_extended_header): a length not in its
// shortest form, a length a 32-bit size_t cannot hold.
FrameError length_error(const FrameHeader& h);

// XORs `n` bytes with the key, the first of them being byte `offset` of the payload. Masking
// and unmasking are the same operation.
void unmask(std::uint8_t* data, std::size_t n, const std::uint8_t* key, std::size_t offset = 0);

// -- a client's incremental reader ------------------------------------------------------------

struct ReaderOptions {
  std::size_t max_message_size = std::size_t{32000000};  // websocketpp's core_client default
  bool deflate = false;  // permessage-deflate negotiated: RSV1 marks a compressed message
};

// A data message, whole: its payload is the frames' payloads joined, still compressed when
// `compressed` (the caller inflates it, checks the inflated size and then the text's UTF-8).
struct Message {
  std::uint8_t opcode = kText;  // kText or kBinary
  std::string payload;
  bool compressed = false;  // RSV1 on the message's first frame
};

// A ping, pong or close frame; it may arrive between the fragments of a data message.
struct Control {
  std::uint8_t opcode = kPing;
  std::string payload;
};

// Reads the frames a server sends, fed in chunks of any size (a 2 KiB read buffer's worth at a
// time: a 16 MiB message spans thousands of them). Each call to read() consumes bytes until a
// data message or a control frame is complete, the first protocol error, or the end of the
// bytes. A driver:
//
//   const std::uint8_t* p = buf;
//   for (;;) switch (reader.read(p, buf + n)) {
//     case FrameReader::kNeedMore: return read_more();  // every byte was used
//     case FrameReader::kMessage: on_message(std::move(reader.message())); break;
//     case FrameReader::kControl: on_control(reader.control()); break;
//     case FrameReader::kError: return fail(to_close_code(reader.error()),
//                                           message(reader.error()));
//   }
//
// Frame lengths are checked against max_message_size one by one and as a running total, before
// any payload is read; text is checked for UTF-8 as it arrives (an invalid byte fails before the
// FIN), unless compressed. After an error nothing more is read.
class FrameReader {
 public:
  enum Event : std::uint8_t { kNeedMore, kMessage, kControl, kError };

  explicit FrameReader(ReaderOptions options = {}) : options_(options) {}

  Event read(const std::uint8_t*& at, const std::uint8_t* end);

  // The message or control frame read() has just returned, to be taken before the next read().
  Message& message() { return message_; }
  Control& control() { return control_; }
  FrameError error() const { return error_; }

  // Whether a data message has begun and not ended (bytes of it are held).
  bool in_message() const { return in_message_; }
  void set_max_message_size(std::size_t n) { options_.max_message_size = n; }

 private:
  enum class Stage : std::uint8_t { kBasic, kExtended, kPayload, kFailed };

  Event fail(FrameError e);
  FrameError start_payload();
  FrameError take_payload(const std::uint8_t* p, std::size_t n);
  Event end_frame();

  ReaderOptions options_;
  Stage stage_ = Stage::kBasic;
  std::array<std::uint8_t, 10> header_{};  // the header bytes read so far
  std::size_t header_have_ = 0, header_need_ = 2;
  FrameHeader frame_;
  std::uint64_t payload_left_ = 0;
  bool in_message_ = false;
  Message message_;
  Control control_;
  Utf8Validator utf8_;
  FrameError error_ = FrameError::kNone;
};

// -- writing -----------------------------------------------------------------------------------

struct OutFrame {
  std::array<std::uint8_t, 14> header{};  // up to 2 + 8 length bytes + a 4-byte masking key
  std::size_t header_len = 0;
  std::string payload;    // masked already when the frame is
  std::size_t zeros = 0;  // payload of this many zero bytes instead (the server's oversize mode)
};

struct FrameOptions {
  std::optional<std::array<std::uint8_t, 4>> mask_key;  // a client's frames are masked
  bool rsv1 = false;                                    // a compressed message's (first) frame
  bool fin = true;
};

// A final, unmasked frame (the server's), with `zeros` zero bytes as payload when non-zero.
OutFrame make_frame(std::uint8_t opcode, std::string payload, std::size_t zeros = 0);
// Any frame; with a mask key the payload is masked in place (pass a copy to keep the text).
OutFrame make_frame(std::uint8_t opcode, std::string payload, const FrameOptions& options);

// -- close frames ------------------------------------------------------------------------------

// A close payload: the code, then the reason cut to 123 bytes (as websocketpp's close() cuts
// it, byte-wise), so that the frame stays within 125.
std::string close_payload(int code, std::string_view reason = {});

// What a received close frame says, read as websocketpp does (close.hpp extract_code and
// extract_reason, connection_impl.hpp process_control_frame).
struct CloseFrame {
  enum Problem : std::uint8_t { kFine, kBadCode, kBadReason };
  // The code as websocketpp records it: 1005 for an empty payload, 1002 for a 1-byte one,
  // else the code on the wire (even an invalid one).
  int code = 1005;
  std::string reason;  // bytes 2.. of the payload, as they came
  // kBadCode: a 1-byte payload, an invalid code (≤ 999, ≥ 5000, 1005, 1006, 1015) or a reserved
  // one (1004, 1016-2999); then the reason is not read. kBadReason: not UTF-8. Either way a
  // client answers with 1002 and close_ack_reason().
  Problem problem = kFine;
};

CloseFrame extract_close(std::string_view payload);

// websocketpp's reason in its 1002 answer to a close frame it refuses: "Invalid close code",
// "Invalid close reason"; empty for kFine.
const char* close_ack_reason(CloseFrame::Problem problem);

}  // namespace wslat::frames
