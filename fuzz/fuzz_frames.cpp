// Fuzzes the client role's frame reader (frames::FrameReader) against websocketpp 0.8.2's hybi13
// processor in the client role, which the runner reads server frames with today and which the
// reader is to replace: the same bytes, split into the same reads, must give the same data
// messages (opcode and payload) and control frames in the same order, and the same first error
// (websocketpp's message text), or none. websocketpp's config is its core_client:
// permessage-deflate disabled (so RSV1 is always an error, and wslat's stricter rule for RSV1 on
// a continuation frame, which only applies with deflate, does not come up). The reader must also
// give the same result fed in one piece and fed a byte at a time.
//
// Two differences are intended, and let through (nothing after them is compared):
// - A fragmented text message that ends inside a UTF-8 sequence: websocketpp checks that a text
//   message ends on a whole character only when its last frame's opcode is text, so never for a
//   fragmented one (hybi13.hpp finalize_message), and delivers it; RFC 6455 §5.6 and §8.1 want the
//   whole message to be UTF-8, and the reader fails it as "Invalid UTF8 encoding".
// - A continuation frame whose length, added to the message so far, passes 2^64: websocketpp's
//   sum wraps around, passes its limit, and it reads on into the 2^63 or more bytes announced
//   (failing only if they are text and not UTF-8); the reader calls the frame too big ("A
//   message was too large").
//
// Input: byte 0 picks the size limit (odd: byte 1 is the limit, 0-255, so that fragments reach
// it; even: websocketpp's default, 32000000). Byte 2 is a count K (at most 32) of read lengths
// that follow (bytes 3 .. 3+K); the rest is the bytes from the server, read in pieces of those
// lengths (a length 0 is an empty read, which only the reader is given), the remainder in one
// last read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <websocketpp/config/core_client.hpp>
#include <websocketpp/processors/hybi13.hpp>

#include "net/frames.hpp"

namespace {

using wslat::frames::FrameReader;

struct Seen {
  bool control = false;
  std::uint8_t opcode = 0;
  std::string payload;
  bool operator==(const Seen& o) const {
    return control == o.control && opcode == o.opcode && payload == o.payload;
  }
};

struct Outcome {
  std::vector<Seen> seen;
  std::string error;  // the first error's message, empty when none
  std::size_t wspp_bytes_needed = 0;
};

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_frames: %s\n", what);
  std::abort();
}

Outcome ours(const std::vector<std::string>& reads, std::size_t max_size) {
  Outcome out;
  FrameReader reader({max_size, /*deflate=*/false});
  for (const std::string& read : reads) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(read.data());
    const auto* end = p + read.size();
    for (bool more = true; more;) {
      switch (reader.read(p, end)) {
        case FrameReader::kNeedMore:
          more = false;
          break;
        case FrameReader::kMessage:
          out.seen.push_back({false, reader.message().opcode, reader.message().payload});
          break;
        case FrameReader::kControl:
          out.seen.push_back({true, reader.control().opcode, reader.control().payload});
          break;
        case FrameReader::kError:
          out.error = wslat::frames::message(reader.error());
          return out;
      }
    }
    if (p != end) finding("the reader asked for more with bytes left");
  }
  return out;
}

// As websocketpp's connection reads (connection_impl.hpp handle_read_frame): consume until the
// read is used up, taking each message as it is ready.
Outcome theirs(const std::vector<std::string>& reads, std::size_t max_size) {
  using Config = websocketpp::config::core_client;
  static Config::rng_type rng;
  websocketpp::processor::hybi13<Config> processor(
      false, false, std::make_shared<Config::con_msg_manager_type>(), rng);
  processor.set_max_message_size(max_size);
  Outcome out;
  for (const std::string& read : reads) {
    std::vector<std::uint8_t> buf(read.begin(), read.end());  // consume() unmasks in place
    for (std::size_t p = 0; p < buf.size();) {
      std::error_code ec;
      p += processor.consume(buf.data() + p, buf.size() - p, ec);
      if (ec) {
        out.error = ec.message();
        out.wspp_bytes_needed = processor.get_bytes_needed();
        return out;
      }
      if (processor.ready()) {
        const auto msg = processor.get_message();
        const auto op = static_cast<std::uint8_t>(msg->get_opcode());
        out.seen.push_back({wslat::frames::is_control(op), op, msg->get_payload()});
      }
    }
  }
  out.wspp_bytes_needed = processor.get_bytes_needed();
  return out;
}

// The first intended difference (see the top): the reader refused, as not UTF-8, the text
// message websocketpp delivered, which is UTF-8 but for a sequence cut at its end.
bool cut_text_at_end(const Outcome& mine, const Outcome& wspp) {
  const std::size_t i = mine.seen.size();
  if (mine.error != "Invalid UTF8 encoding" || wspp.seen.size() <= i) return false;
  const Seen& m = wspp.seen[i];
  if (m.control || m.opcode != wslat::frames::kText) return false;
  wslat::frames::Utf8Validator v;
  return v.feed(reinterpret_cast<const std::uint8_t*>(m.payload.data()), m.payload.size()) &&
         !v.complete();
}

// The second: websocketpp reads the payload of a frame whose length wrapped its total (2^63
// bytes or more are still to come, where no frame under its limit could leave a quarter of
// that), and can only fail in it, on a byte that is not UTF-8.
bool wrapped_length(const Outcome& mine, const Outcome& wspp) {
  return mine.error == "A message was too large" && mine.seen.size() == wspp.seen.size() &&
         (wspp.error.empty() || wspp.error == "Invalid UTF8 encoding") &&
         wspp.wspp_bytes_needed >= (std::uint64_t{1} << 62);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::size_t max_size = (data[0] & 1) != 0 ? data[1] : std::size_t{32000000};
  const std::size_t count = std::min<std::size_t>(data[2], 32);
  if (size < 3 + count) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 3 + count, size - 3 - count);
  std::vector<std::string> reads;
  std::size_t at = 0;
  for (std::size_t i = 0; i < count && at < bytes.size(); ++i) {
    reads.push_back(bytes.substr(at, data[3 + i]));
    at += reads.back().size();
  }
  if (at < bytes.size()) reads.push_back(bytes.substr(at));

  const Outcome mine = ours(reads, max_size);
  const Outcome whole = ours({bytes}, max_size);
  std::vector<std::string> bytewise;
  for (const char c : bytes) bytewise.emplace_back(1, c);
  const Outcome one_by_one = ours(bytewise, max_size);
  if (!(whole.seen == mine.seen) || whole.error != mine.error) {
    finding("the reader read the bytes in one piece otherwise");
  }
  if (!(one_by_one.seen == mine.seen) || one_by_one.error != mine.error) {
    finding("the reader read the bytes one at a time otherwise");
  }

  const Outcome wspp = theirs(reads, max_size);
  const std::size_t n = std::min(mine.seen.size(), wspp.seen.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!(mine.seen[i] == wspp.seen[i])) finding("another message or control frame");
  }
  if (cut_text_at_end(mine, wspp) || wrapped_length(mine, wspp)) return 0;
  if (mine.seen.size() != wspp.seen.size()) finding("another number of messages");
  if (mine.error != wspp.error) finding("another error");
  return 0;
}
