// The frame codec of both roles (lib/net/frames.hpp): the client role's incremental reader
// against hand-made server frames (each error with websocketpp's words and close code), the
// UTF-8 rules, the writer, close payloads. fuzz/fuzz_frames.cpp compares the reader with
// websocketpp's own processor on any bytes.
#include "net/frames.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace wslat::frames {
namespace {

// A frame as a server would send it: unmasked unless `mask` is given. `len_code` forces the
// 7-bit length code (126 or 127 with a value that would fit a shorter form), `len` the length
// written in the header whatever the payload.
struct Raw {
  std::uint8_t first = 0x81;
  std::string payload;
  int len_code = -1;
  std::uint64_t len = UINT64_MAX;
  bool masked = false;
};

std::string bytes_of(const Raw& f) {
  const std::uint64_t n = f.len == UINT64_MAX ? f.payload.size() : f.len;
  int code = f.len_code;
  if (code < 0) code = n < 126 ? static_cast<int>(n) : (n <= 0xFFFF ? 126 : 127);
  std::string out{static_cast<char>(f.first), static_cast<char>(code | (f.masked ? 0x80 : 0))};
  const int ext = code == 126 ? 2 : (code == 127 ? 8 : 0);
  for (int i = ext - 1; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  if (f.masked) out += std::string(4, '\0');  // a zero key leaves the payload as it is
  return out + f.payload;
}

std::string frame(std::uint8_t first, std::string payload) {
  return bytes_of(Raw{first, std::move(payload)});
}

struct Seen {
  char kind;  // 'm' message, 'c' control
  std::uint8_t opcode;
  std::string payload;
  bool compressed = false;
  bool operator==(const Seen& o) const {
    return kind == o.kind && opcode == o.opcode && payload == o.payload &&
           compressed == o.compressed;
  }
};

struct Outcome {
  std::vector<Seen> seen;
  FrameError error = FrameError::kNone;
  bool in_message = false;
};

// Feeds `bytes` in reads of `chunk` bytes (0: all at once).
Outcome read_in(const std::string& bytes, std::size_t chunk, ReaderOptions options = {}) {
  FrameReader reader(options);
  Outcome out;
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t step = chunk == 0 ? bytes.size() : chunk;
  for (std::size_t at = 0; at < bytes.size() || at == 0; at += step) {
    const std::uint8_t* p = data + at;
    const std::uint8_t* end = data + std::min(bytes.size(), at + step);
    for (bool more = true; more;) {
      switch (reader.read(p, end)) {
        case FrameReader::kNeedMore:
          REQUIRE(p == end);
          more = false;
          break;
        case FrameReader::kMessage:
          out.seen.push_back({'m', reader.message().opcode, std::move(reader.message().payload),
                              reader.message().compressed});
          break;
        case FrameReader::kControl:
          out.seen.push_back({'c', reader.control().opcode, reader.control().payload});
          break;
        case FrameReader::kError:
          out.error = reader.error();
          return out;
      }
    }
    if (bytes.empty()) break;
  }
  out.in_message = reader.in_message();
  return out;
}

FrameError error_of(const std::string& bytes, ReaderOptions options = {}) {
  const FrameError whole = read_in(bytes, 0, options).error;
  CHECK(read_in(bytes, 1, options).error == whole);
  return whole;
}

TEST_CASE("frames: the same messages and control frames in one read, byte by byte, or in 7s") {
  const std::string big(300, 'b');
  const std::string stream = frame(0x01, "hel") + frame(0x89, "ping 1") + frame(0x00, "lo ") +
                             frame(0x8A, "") + frame(0x80, "w\xC3\xB6rld") + frame(0x82, big) +
                             frame(0x81, "") + frame(0x88, close_payload(1000, "bye"));
  const std::vector<Seen> expected{
      {'c', kPing, "ping 1"}, {'c', kPong, ""}, {'m', kText, "hello w\xC3\xB6rld"},
      {'m', kBinary, big},    {'m', kText, ""}, {'c', kClose, close_payload(1000, "bye")}};
  for (const std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    CAPTURE(chunk);
    const Outcome o = read_in(stream, chunk);
    CHECK(o.error == FrameError::kNone);
    CHECK(o.seen == expected);
    CHECK_FALSE(o.in_message);
  }
}

TEST_CASE("frames: a frame with no payload is complete without another byte") {
  const std::string empty_text = frame(0x81, "");
  FrameReader reader;
  const auto* p = reinterpret_cast<const std::uint8_t*>(empty_text.data());
  CHECK(reader.read(p, p + 1) == FrameReader::kNeedMore);
  CHECK(reader.read(p, p + 1) == FrameReader::kMessage);
  CHECK(reader.message().payload.empty());
}

TEST_CASE("frames: each error of the client role, with websocketpp's words and close code") {
  struct Case {
    const char* what;
    std::string bytes;
    FrameError error;
    const char* text;
    int close_code;
    ReaderOptions options{};
  };
  ReaderOptions deflate;
  deflate.deflate = true;
  ReaderOptions small;
  small.max_message_size = 5;
  const std::vector<Case> cases{
      {"reserved data opcode", frame(0x83, "x"), FrameError::kInvalidOpcode, "invalid opcode",
       1002},
      {"reserved control opcode", frame(0x8B, ""), FrameError::kInvalidOpcode, "invalid opcode",
       1002},
      {"RSV1 without deflate", frame(0xC1, "x"), FrameError::kInvalidRsvBit,
       "Invalid use of reserved bits", 1002},
      {"RSV2 with deflate", frame(0xA1, "x"), FrameError::kInvalidRsvBit,
       "Invalid use of reserved bits", 1002, deflate},
      {"RSV3 with deflate", frame(0x91, "x"), FrameError::kInvalidRsvBit,
       "Invalid use of reserved bits", 1002, deflate},
      {"RSV1 on a continuation with deflate", frame(0x41, "x") + frame(0xC0, "y"),
       FrameError::kInvalidRsvBit, "Invalid use of reserved bits", 1002, deflate},
      {"RSV1 on a ping with deflate", frame(0xC9, ""), FrameError::kInvalidRsvBit,
       "Invalid use of reserved bits", 1002, deflate},
      {"a masked frame", bytes_of({0x81, "abc", -1, UINT64_MAX, true}),
       FrameError::kMaskingForbidden, "Servers may not send masked frames", 1002},
      {"a fragmented ping", frame(0x09, ""), FrameError::kFragmentedControl,
       "Control messages cannot be fragmented", 1002},
      {"a 126-byte ping", frame(0x89, std::string(126, 'p')), FrameError::kControlTooBig,
       "Control messages are limited to fewer than 125 characters", 1002},
      {"a continuation without a message", frame(0x80, "x"), FrameError::kInvalidContinuation,
       "Invalid message continuation", 1002},
      {"a new message inside a fragmented one", frame(0x01, "a") + frame(0x82, "b"),
       FrameError::kInvalidContinuation, "Invalid message continuation", 1002},
      {"length 126 holding 125", bytes_of({0x82, std::string(125, 'x'), 126}),
       FrameError::kNonMinimalEncoding, "Payload length was not minimally encoded", 1011},
      {"length 126 holding 0", bytes_of({0x82, "", 126}), FrameError::kNonMinimalEncoding,
       "Payload length was not minimally encoded", 1011},
      {"length 127 holding 65535", bytes_of({0x82, "", 127, 65535}),
       FrameError::kNonMinimalEncoding, "Payload length was not minimally encoded", 1011},
      {"a 64-bit length with its top bit", bytes_of({0x82, "", 127, UINT64_MAX - 1}),
       FrameError::kMessageTooBig, "A message was too large", 1009},
      {"a frame over the limit", frame(0x82, "123456"), FrameError::kMessageTooBig,
       "A message was too large", 1009, small},
      {"fragments over the limit", frame(0x02, "123") + frame(0x80, "456"),
       FrameError::kMessageTooBig, "A message was too large", 1009, small},
      {"invalid UTF-8", frame(0x81, "a\xFF"), FrameError::kInvalidUtf8, "Invalid UTF8 encoding",
       1007},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const FrameError e = error_of(c.bytes, c.options);
    CHECK(e == c.error);
    CHECK(std::string(message(e)) == c.text);
    CHECK(to_close_code(e) == c.close_code);
  }
  CHECK(std::string(message(FrameError::kMaskingRequired)) ==
        "Clients may not send unmasked frames");
  CHECK(to_close_code(FrameError::kMaskingRequired) == 1002);
  CHECK(std::string(message(FrameError::kRequires64bit)) ==
        "64 bit frames are not supported on 32 bit systems");
  CHECK(to_close_code(FrameError::kRequires64bit) == 1011);
}

TEST_CASE("frames: several faults in one header give the one websocketpp checks first") {
  // control size, then RSV1, then RSV2/3, then the opcode, then fragmentation, then the order of
  // fragments, then the mask, then the length's form (hybi13 validate_incoming_*_header).
  CHECK(error_of(frame(0xCB, std::string(126, 'x'))) == FrameError::kControlTooBig);
  CHECK(error_of(frame(0xC3, "x")) == FrameError::kInvalidRsvBit);
  CHECK(error_of(frame(0x13, "x")) == FrameError::kInvalidRsvBit);
  CHECK(error_of(frame(0x0B, "")) == FrameError::kInvalidOpcode);
  CHECK(error_of(bytes_of({0x00, "x", -1, UINT64_MAX, true})) == FrameError::kInvalidContinuation);
  CHECK(error_of(bytes_of({0x09, "", -1, UINT64_MAX, true})) == FrameError::kFragmentedControl);
  CHECK(error_of(bytes_of({0x81, "", 126, 3, true})) == FrameError::kMaskingForbidden);
  // The size limit comes after the length's form.
  ReaderOptions tiny;
  tiny.max_message_size = 1;
  CHECK(error_of(bytes_of({0x82, "", 126, 10}), tiny) == FrameError::kNonMinimalEncoding);
}

TEST_CASE("frames: UTF-8 split across reads and across frames is text, and a bad byte fails") {
  // é (C3 A9) across two frames, € (E2 82 AC) across three, read byte by byte and whole.
  const std::string split =
      frame(0x01, "caf\xC3") + frame(0x00, "\xA9 \xE2") + frame(0x00, "\x82") + frame(0x80, "\xAC");
  for (const std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
    const Outcome o = read_in(split, chunk);
    CHECK(o.error == FrameError::kNone);
    REQUIRE(o.seen.size() == 1);
    CHECK(o.seen[0].payload == "caf\xC3\xA9 \xE2\x82\xAC");
  }
  // An invalid byte fails as it arrives, before the FIN: nothing more is needed.
  const Outcome early = read_in(frame(0x01, "ok\xC0\xAF"), 0);
  CHECK(early.error == FrameError::kInvalidUtf8);
  // An overlong three-byte form fails at its second byte.
  const std::string overlong = frame(0x81, "\xE0\x80\x80");
  FrameReader reader;
  const auto* p = reinterpret_cast<const std::uint8_t*>(overlong.data());
  CHECK(reader.read(p, p + 3) == FrameReader::kNeedMore);
  CHECK(reader.read(p, p + 1) == FrameReader::kError);
  CHECK(reader.error() == FrameError::kInvalidUtf8);
  // A ping behind the bad byte is never delivered.
  CHECK(read_in(frame(0x01, "\xED\xA0") + frame(0x89, ""), 0).seen.empty());
  // A sequence cut at the message's end: one frame or several.
  CHECK(error_of(frame(0x81, "ab\xE2\x82")) == FrameError::kInvalidUtf8);
  CHECK(error_of(frame(0x01, "ab\xE2\x82") + frame(0x80, "")) == FrameError::kInvalidUtf8);
  // Binary is never checked.
  CHECK(error_of(frame(0x82, "\xFF\xE2")) == FrameError::kNone);
}

TEST_CASE("frames: the streaming validator accepts what valid_utf8 accepts, wherever it is cut") {
  const std::vector<std::string> texts{"",
                                       "plain",
                                       "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
                                       "\xF4\x8F\xBF\xBF",
                                       "\xF4\x90\x80\x80",
                                       "\xED\x9F\xBF",
                                       "\xED\xA0\x80",
                                       "\xC0\x80",
                                       "\xE0\x9F\xBF",
                                       "\xF0\x8F\xBF\xBF",
                                       "\x80",
                                       "\xC3",
                                       "a\xF5\x80\x80\x80"};
  const std::vector<bool> valid{true,  true,  true,  true,  false, true, false,
                                false, false, false, false, false, false};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string& t = texts[i];
    CAPTURE(i);
    CHECK(valid_utf8(t) == valid[i]);
    const auto* s = reinterpret_cast<const std::uint8_t*>(t.data());
    for (std::size_t cut = 0; cut <= t.size(); ++cut) {
      Utf8Validator v;
      const bool fed = v.feed(s, cut) && v.feed(s + cut, t.size() - cut);
      CHECK((fed && v.complete()) == valid[i]);
    }
  }
}

TEST_CASE("frames: pings, pongs and a close between fragments come before the message") {
  const std::string stream = frame(0x02, "ab") + frame(0x89, "1") + frame(0x00, "cd") +
                             frame(0x8A, "2") + frame(0x88, "") + frame(0x80, "ef");
  const Outcome o = read_in(stream, 1);
  CHECK(o.error == FrameError::kNone);
  CHECK(o.seen ==
        std::vector<Seen>{
            {'c', kPing, "1"}, {'c', kPong, "2"}, {'c', kClose, ""}, {'m', kBinary, "abcdef"}});
}

TEST_CASE("frames: the size limit holds for each frame and for the fragments together") {
  ReaderOptions five;
  five.max_message_size = 5;
  CHECK(error_of(frame(0x82, "12345"), five) == FrameError::kNone);
  CHECK(error_of(frame(0x02, "123") + frame(0x80, "45"), five) == FrameError::kNone);
  // Refused from the header, before its payload arrives.
  const Outcome early = read_in(frame(0x02, "123") + frame(0x80, "456").substr(0, 2), 0, five);
  CHECK(early.error == FrameError::kMessageTooBig);
  // Control frames are not messages.
  CHECK(error_of(frame(0x89, "0123456789"), five) == FrameError::kNone);
  // A continuation's length that would wrap the total around is too big too.
  CHECK(error_of(frame(0x02, "ab") + bytes_of({0x80, "", 127, UINT64_MAX - 1})) ==
        FrameError::kMessageTooBig);
  // The limit can change between messages.
  FrameReader reader(five);
  reader.set_max_message_size(2);
  const std::string three = frame(0x82, "123");
  const auto* p = reinterpret_cast<const std::uint8_t*>(three.data());
  CHECK(reader.read(p, p + three.size()) == FrameReader::kError);
}

TEST_CASE("frames: with deflate, RSV1 marks a compressed message, whose bytes are not text yet") {
  ReaderOptions deflate;
  deflate.deflate = true;
  const Outcome o =
      read_in(frame(0x41, std::string("\xFF\x00", 2)) + frame(0x80, "\xFE") + frame(0x81, "plain"),
              1, deflate);
  CHECK(o.error == FrameError::kNone);
  CHECK(o.seen == std::vector<Seen>{{'m', kText, std::string("\xFF\x00\xFE", 3), true},
                                    {'m', kText, "plain", false}});
}

TEST_CASE("frames: after an error the reader reads nothing more") {
  FrameReader reader;
  const std::string bad = frame(0x83, "x") + frame(0x81, "fine");
  const auto* p = reinterpret_cast<const std::uint8_t*>(bad.data());
  const auto* end = p + bad.size();
  CHECK(reader.read(p, end) == FrameReader::kError);
  const auto* stopped = p;
  CHECK(reader.read(p, end) == FrameReader::kError);
  CHECK(p == stopped);
}

TEST_CASE("frames: a masked frame reads back to its payload, in 7-, 16- and 64-bit lengths") {
  const std::array<std::uint8_t, 4> key{0x12, 0x34, 0x56, 0x78};
  for (const std::size_t n : {std::size_t{5}, std::size_t{300}, std::size_t{70000}}) {
    CAPTURE(n);
    std::string text(n, '\0');
    for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + i % 26);
    FrameOptions options;
    options.mask_key = key;
    options.rsv1 = true;
    const OutFrame f = make_frame(kBinary, text, options);
    CHECK(f.header[0] == 0xC2);
    CHECK((f.header[1] & 0x80) != 0);
    CHECK(f.payload != text);
    const std::string wire =
        std::string(reinterpret_cast<const char*>(f.header.data()), f.header_len) + f.payload;
    FrameHeader h;
    const auto* p = reinterpret_cast<const std::uint8_t*>(wire.data());
    REQUIRE(read_frame_header(p, wire.size(), Role::kServer, h) == 0);
    CHECK(h.payload_len == n);
    CHECK(h.size == f.header_len);
    CHECK(length_error(h) == FrameError::kNone);
    REQUIRE(h.mask_key != nullptr);
    std::string back = wire.substr(h.size);
    unmask(reinterpret_cast<std::uint8_t*>(back.data()), back.size(), h.mask_key);
    CHECK(back == text);
  }
  // Unmasking in pieces: the offset carries the key's position.
  std::string s = "abcdefg";
  auto* b = reinterpret_cast<std::uint8_t*>(s.data());
  unmask(b, 3, key.data());
  unmask(b + 3, 4, key.data(), 3);
  unmask(b, 7, key.data());
  CHECK(s == "abcdefg");
  // The server's frames: unmasked, final.
  const OutFrame plain = make_frame(kText, "hi");
  CHECK(plain.header_len == 2);
  CHECK(plain.header[0] == 0x81);
  CHECK(plain.header[1] == 2);
}

TEST_CASE("frames: the server role counts a masking key always, the client role when it is set") {
  const std::uint8_t unmasked[] = {0x81, 0x03, 'a', 'b', 'c', 0};
  FrameHeader h;
  CHECK(read_frame_header(unmasked, 2, Role::kServer, h) == 6);
  REQUIRE(read_frame_header(unmasked, 2, Role::kClient, h) == 0);
  CHECK(h.size == 2);
  CHECK(h.mask_key == nullptr);
  CHECK(mask_error(h, Role::kServer) == FrameError::kMaskingRequired);
  CHECK(mask_error(h, Role::kClient) == FrameError::kNone);
}

TEST_CASE("frames: close payloads and what a received close frame says") {
  CHECK(close_payload(1000) == std::string("\x03\xE8", 2));
  CHECK(close_payload(4000, "why") == std::string("\x0F\xA0why", 5));
  CHECK(close_payload(1001, std::string(200, 'r')).size() == 125);

  CHECK(extract_close("").code == 1005);
  CHECK(extract_close("").problem == CloseFrame::kFine);
  const CloseFrame one = extract_close("x");
  CHECK(one.code == 1002);
  CHECK(one.problem == CloseFrame::kBadCode);
  for (const int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    CAPTURE(code);
    const CloseFrame c = extract_close(close_payload(code, "\xFF"));
    CHECK(c.code == code);
    CHECK(c.problem == CloseFrame::kBadCode);  // the reason is not read
    CHECK_FALSE(sendable_close_code(code));
  }
  for (const int code : {1000, 1003, 1007, 1011, 1014, 3000, 4999}) {
    CAPTURE(code);
    const CloseFrame c = extract_close(close_payload(code, "r\xC3\xA9"));
    CHECK(c.code == code);
    CHECK(c.reason == "r\xC3\xA9");
    CHECK(c.problem == CloseFrame::kFine);
    CHECK(sendable_close_code(code));
  }
  const CloseFrame bad_reason = extract_close(close_payload(1000, "\xC3"));
  CHECK(bad_reason.code == 1000);
  CHECK(bad_reason.problem == CloseFrame::kBadReason);
  CHECK(std::string(close_ack_reason(CloseFrame::kBadCode)) == "Invalid close code");
  CHECK(std::string(close_ack_reason(CloseFrame::kBadReason)) == "Invalid close reason");
  CHECK(std::string(close_ack_reason(CloseFrame::kFine)).empty());
}

}  // namespace
}  // namespace wslat::frames
