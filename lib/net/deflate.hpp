// permessage-deflate (RFC 7692) for the runner's connections, with zlib, replacing websocketpp's
// own extension, which is unfit for a client (docs/design.md, "permessage-deflate"). A
// connection that did not negotiate it holds an empty Deflate (one pointer) and pays one
// branch per message, as with websocketpp's `disabled` extension. No websocketpp here:
// wspp_config.hpp adapts it to websocketpp's extension interface (WsppDeflate).
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <zlib.h>

#include "net/client_upgrade.hpp"

namespace wslat::net {

// Why the server's answer to the offer is not a valid permessage-deflate negotiation.
enum class DeflateProblem { kNotOffered = 1, kTwice, kBadParameter, kSyntax, kZlib };

class DeflateProblemCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "wslat.deflate"; }
  std::string message(int problem) const override {
    switch (static_cast<DeflateProblem>(problem)) {
      case DeflateProblem::kNotOffered:
        return "the server accepted a Sec-WebSocket-Extensions extension (or parameter) that was "
               "not offered (RFC 7692 §7.1)";
      case DeflateProblem::kTwice:
        return "the server accepted permessage-deflate more than once (RFC 7692 §5)";
      case DeflateProblem::kBadParameter:
        return "the server's permessage-deflate answer has an invalid parameter or value "
               "(RFC 7692 §7.1: *_no_context_takeover take no value, *_max_window_bits 8..15 "
               "and at most the offer's)";
      case DeflateProblem::kSyntax:
        return "the server's Sec-WebSocket-Extensions answer is not a valid extension list "
               "(RFC 6455 §9.1)";
      case DeflateProblem::kZlib:
        return "zlib could not set up permessage-deflate";
    }
    return "invalid permessage-deflate answer";
  }
};

inline std::error_code deflate_error(DeflateProblem p) {
  static const DeflateProblemCategory category;
  return {static_cast<int>(p), category};
}

// Why a message could not be compressed or inflated. The texts are websocketpp's for the
// processor errors it reported them as (error_examples keep their words); close_code is the
// close frame the client fails the connection with (websocketpp's processor::error::to_ws).
enum class CodecProblem { kCompress = 1, kInvalidData, kTooLarge };

class CodecProblemCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "wslat.deflate.codec"; }
  std::string message(int problem) const override {
    switch (static_cast<CodecProblem>(problem)) {
      case CodecProblem::kCompress:
        return "Generic processor error";
      case CodecProblem::kInvalidData:
        return "A payload contained invalid data";
      case CodecProblem::kTooLarge:
        return "A message was too large";
    }
    return "permessage-deflate failed";
  }
};

inline const std::error_category& codec_category() {
  static const CodecProblemCategory category;
  return category;
}
inline std::error_code codec_error(CodecProblem p) {
  return {static_cast<int>(p), codec_category()};
}
inline int close_code(CodecProblem p) {
  switch (p) {
    case CodecProblem::kInvalidData:
      return 1007;  // invalid frame payload data
    case CodecProblem::kTooLarge:
      return 1009;  // message too big
    case CodecProblem::kCompress:
      break;
  }
  return 1011;  // internal error
}

class Deflate;
// The Deflate that the upgrade response being processed on this thread has just enabled:
// set by Deflate::accept (inside websocketpp's validation of the 101), taken by the Session's
// open handler, which websocketpp calls right after in the same call (connection_impl.hpp,
// handle_read_http_response); reset at every validation, so it never outlives one upgrade.
inline thread_local Deflate* accepted_deflate = nullptr;

class Deflate {
 public:
  Deflate() = default;
  Deflate(const Deflate&) = delete;
  Deflate& operator=(const Deflate&) = delete;
  ~Deflate() = default;

  // Whether the server accepted permessage-deflate (accept below).
  bool is_enabled() const { return streams_ != nullptr; }

  // One whole message: DEFLATE with a sync flush, whose 0x00 0x00 0xff 0xff tail the frame
  // writer strips (RFC 7692 §7.2.1). Every message is compressed. Errors: codec_error.
  std::error_code compress(const std::string& in, std::string& out) {
    Streams& s = *streams_;
    if (in.size() > UINT_MAX) return codec_error(CodecProblem::kCompress);
    z_stream& z = s.deflater;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));  // NOLINT: zlib's API
    z.avail_in = static_cast<uInt>(in.size());
    const std::size_t start = out.size();
    std::size_t used = start;
    std::size_t room = deflateBound(&z, static_cast<uLong>(in.size())) + 16;
    for (;;) {
      out.resize(used + room);
      z.next_out = reinterpret_cast<Bytef*>(&out[used]);
      z.avail_out = static_cast<uInt>(room);
      const int rc = deflate(&z, Z_SYNC_FLUSH);
      used += room - z.avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        out.resize(start);
        return codec_error(CodecProblem::kCompress);
      }
      if (z.avail_out != 0) break;  // the flush is complete
      room = 4096;
    }
    out.resize(used);
    if (s.reset_deflater) deflateReset(&z);                 // client_no_context_takeover
    s.sent += static_cast<std::int64_t>(used - start) - 4;  // what goes on the wire
    return {};
  }

  // Part of a compressed message's payload, or the 0x00 0x00 0xff 0xff the frame reader adds at
  // its end. Errors: codec_error.
  std::error_code decompress(const std::uint8_t* buf, std::size_t len, std::string& out) {
    Streams& s = *streams_;
    s.received += static_cast<std::int64_t>(len);
    if (s.ended) {
      // The message's DEFLATE data had a final block (BFINAL): only hybi13's tail may follow,
      // and the next message starts a new stream.
      if (len == 4 && std::memcmp(buf, kTail, 4) == 0) {
        inflateReset(&s.inflater);
        s.ended = false;
        return {};
      }
      return codec_error(CodecProblem::kInvalidData);
    }
    z_stream& z = s.inflater;
    z.next_in = const_cast<Bytef*>(buf);  // NOLINT: zlib does not write to its input
    z.avail_in = static_cast<uInt>(len);
    std::uint8_t chunk[16384];
    do {
      z.next_out = chunk;
      z.avail_out = static_cast<uInt>(sizeof chunk);
      const int rc = inflate(&z, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
        return codec_error(CodecProblem::kInvalidData);  // not valid DEFLATE data
      }
      out.append(reinterpret_cast<const char*>(chunk), sizeof chunk - z.avail_out);
      // The message size limit holds for what the server's bytes inflate to, not only for the
      // bytes: a small message must not grow into gigabytes in wslat's memory.
      if (out.size() > s.max_message_bytes) return codec_error(CodecProblem::kTooLarge);
      if (rc == Z_STREAM_END) {
        s.ended = true;
        break;
      }
    } while (z.avail_out == 0);
    return {};
  }

  // --- wslat's --------------------------------------------------------------------------------

  // The server's answer (`answer`, its Sec-WebSocket-Extensions list) to the request's offers
  // (`offered`): checked as RFC 7692 §7.1 says, and when it accepts permessage-deflate, the
  // compressor and decompressor it asks for. An error fails the upgrade.
  std::error_code accept(const ParameterList& answer, const ParameterList& offered,
                         std::size_t max_message_bytes) {
    const auto offer_of = [&offered](const std::string& name) {
      return std::find_if(offered.begin(), offered.end(),
                          [&name](const auto& o) { return o.first == name; });
    };
    bool found = false;
    int client_bits = 15;
    bool reset = false;
    // An offer's *_max_window_bits=N caps the answer's (RFC 7692 §7.1.2.1, §7.1.2.2); the
    // client keeps to its own offered client window when the answer names none.
    const auto offered_bits = [&offer_of, &offered](const std::string& key) {
      const auto it = offer_of("permessage-deflate");
      if (it == offered.end()) return 15;
      const auto p = it->second.find(key);
      const int bits = p == it->second.end() ? 0 : window_bits(p->second);
      return bits == 0 ? 15 : bits;  // not offered, offered without a value (or a bad one)
    };
    for (const auto& [name, params] : answer) {
      if (offer_of(name) == offered.end()) return deflate_error(DeflateProblem::kNotOffered);
      if (name != "permessage-deflate") continue;  // another offered one: not wslat's to check
      if (found) return deflate_error(DeflateProblem::kTwice);
      found = true;
      for (const auto& [key, value] : params) {
        if (key == "server_no_context_takeover" || key == "client_no_context_takeover") {
          if (!value.empty()) return deflate_error(DeflateProblem::kBadParameter);
          reset = reset || key == "client_no_context_takeover";
        } else if (key == "server_max_window_bits" || key == "client_max_window_bits") {
          const int bits = window_bits(value);
          if (bits == 0 || bits > offered_bits(key)) {
            return deflate_error(DeflateProblem::kBadParameter);
          }
          if (key == "client_max_window_bits") {
            const auto& mine = offer_of(name)->second;
            if (mine.find(key) == mine.end()) return deflate_error(DeflateProblem::kNotOffered);
            client_bits = bits;
          }
        } else {
          return deflate_error(DeflateProblem::kBadParameter);
        }
      }
    }
    if (!found) return {};
    // A client that offered client_no_context_takeover keeps to it even when the server's answer
    // leaves it out (RFC 7692 §7.1.1.2; websocketpp does not, its issue #1193).
    const auto& mine = offer_of("permessage-deflate")->second;
    reset = reset || mine.find("client_no_context_takeover") != mine.end();
    client_bits = std::min(client_bits, offered_bits("client_max_window_bits"));
    auto s = std::make_unique<Streams>();
    // zlib cannot compress with a 256-byte window (it refuses -8 since 1.2.9): for a server
    // that asks for client_max_window_bits=8, Huffman coding only, which never refers back.
    if (deflateInit2(&s->deflater, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -std::max(client_bits, 9), 8,
                     client_bits == 8 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY) != Z_OK) {
      return deflate_error(DeflateProblem::kZlib);
    }
    s->deflater_ready = true;
    // Any server window fits in the largest: no need to follow server_max_window_bits.
    if (inflateInit2(&s->inflater, -15) != Z_OK) return deflate_error(DeflateProblem::kZlib);
    s->inflater_ready = true;
    s->reset_deflater = reset;
    s->max_message_bytes = max_message_bytes;
    streams_ = std::move(s);
    accepted_deflate = this;
    return {};
  }

  // What accept_extensions (client_upgrade.hpp) fails with when the answer's list cannot be read.
  static std::error_code syntax_error() { return deflate_error(DeflateProblem::kSyntax); }

  // The compressed payload bytes of the messages sent (received) since the last call. Received
  // ones include hybi13's 4-byte tail per message, which the caller takes off.
  std::int64_t take_sent() { return std::exchange(streams_->sent, 0); }
  std::int64_t take_received() { return std::exchange(streams_->received, 0); }

 private:
  static constexpr std::uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};

  struct Streams {
    Streams() {
      std::memset(&deflater, 0, sizeof deflater);
      std::memset(&inflater, 0, sizeof inflater);
    }
    Streams(const Streams&) = delete;
    Streams& operator=(const Streams&) = delete;
    ~Streams() {
      if (deflater_ready) deflateEnd(&deflater);
      if (inflater_ready) inflateEnd(&inflater);
    }
    z_stream deflater, inflater;
    bool deflater_ready = false, inflater_ready = false;
    bool reset_deflater = false;  // client_no_context_takeover: each message on its own
    bool ended = false;           // the message being inflated had a final block
    std::size_t max_message_bytes = 0;
    std::int64_t sent = 0, received = 0;
  };

  // "8".."15" as a number; 0 for anything else (RFC 7692 §7.1.2: 1*DIGIT, 8..15).
  static int window_bits(const std::string& value) {
    if (value.empty() || value.size() > 2 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return 0;
    }
    const int bits = std::atoi(value.c_str());
    return bits >= 8 && bits <= 15 ? bits : 0;
  }

  std::unique_ptr<Streams> streams_;  // only on connections that negotiated it
};

}  // namespace wslat::net
