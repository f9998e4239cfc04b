// The embedded WebSocket target on raw standalone Asio. No framework sits between the socket and
// the echo: fault injection needs byte-level control, and the target must never be the
// bottleneck of a benchmark.
//
// Threading: one io_context per worker thread, each run by exactly one thread. The acceptor lives
// on worker 0 and hands every accepted socket to the next worker round-robin, so a connection's
// handlers always run on one thread: no strands, no locks, no shared atomics on the hot path
// (the shape wrk uses). N io_contexts also spread epoll wakeups over the threads.
#include "server.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <nlohmann/json.hpp>

#include "error.hpp"

namespace wslat {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxMessageBytes = 16 * 1024 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxQueuedBytes = 8 * 1024 * 1024;  // stop reading a client that won't read
constexpr int kBacklog = 4096;
constexpr auto kCloseWait = std::chrono::seconds(2);  // wait for the peer's FIN after our close
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA
};

// ---------------------------------------------------------------------------------------------
// HTTP upgrade request

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct Request {
  std::string_view method, target, version;
  std::vector<std::pair<std::string_view, std::string_view>> headers;

  // The first header named `name`, or "" (an empty value and a missing header mean the same here).
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (iequals(k, name)) return v;
    }
    return {};
  }
};

// Parses a request head (without the final blank line). Returns false when it is not HTTP/1.x.
bool parse_request(std::string_view head, Request& req) {
  auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  req.version = line.substr(sp2 + 1);
  if (req.version.substr(0, 7) != "HTTP/1.") return false;
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    const std::string_view h = head.substr(0, line_end);
    const auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    req.headers.emplace_back(h.substr(0, colon), trim(h.substr(colon + 1)));
  }
  return true;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string accept_key(std::string_view client_key) {
  std::string text(client_key);
  text.append(kGuid);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return base64(digest.data(), digest.size());
}

// Sec-WebSocket-Key must be the base64 form of 16 bytes: 22 characters and "==".
bool valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400 ? "Other" : (status < 500 ? "Client Error" : "Server Error");
  }
}

std::string http_response(int status, std::string_view extra_headers, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n"
      "{}\r\n{}",
      status, reason_phrase(status), body.size(), extra_headers, body);
}

// What to answer to a request that is not a valid WebSocket upgrade; nullopt when it is valid.
std::optional<std::string> upgrade_problem(const Request& req) {
  constexpr std::string_view kVersion = "Sec-WebSocket-Version: 13\r\n";
  if (req.method != "GET") {
    return http_response(405, "Allow: GET\r\n", "WebSocket upgrades use GET.\n");
  }
  if (!has_token(req.header("Upgrade"), "websocket")) {
    return http_response(426, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                         "This is a WebSocket endpoint: connect with a WebSocket client.\n");
  }
  if (!has_token(req.header("Connection"), "upgrade")) {
    return http_response(400, kVersion, "Connection header must contain \"Upgrade\".\n");
  }
  if (req.header("Sec-WebSocket-Version") != "13") {
    return http_response(426, kVersion, "Only WebSocket version 13 is supported.\n");
  }
  if (!valid_client_key(req.header("Sec-WebSocket-Key"))) {
    return http_response(400, kVersion, "Missing or malformed Sec-WebSocket-Key.\n");
  }
  return std::nullopt;
}

// The first subprotocol the client offered, echoed back as the chosen one.
std::string first_subprotocol(const Request& req) {
  const std::string_view offered = req.header("Sec-WebSocket-Protocol");
  return std::string(trim(offered.substr(0, offered.find(','))));
}

std::string switching_protocols(std::string_view accept, std::string_view subprotocol) {
  std::string out = fmt::format(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: {}\r\n",
      accept);
  if (!subprotocol.empty()) out += fmt::format("Sec-WebSocket-Protocol: {}\r\n", subprotocol);
  out += "\r\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Frames

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
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Close codes a peer may put on the wire (RFC 6455 7.4).
bool sendable_close_code(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

struct OutFrame {
  std::array<std::uint8_t, 10> header{};
  std::size_t header_len = 0;
  std::string payload;
  std::size_t zeros = 0;  // payload of this many zero bytes instead (oversize mode)
};

OutFrame make_frame(std::uint8_t opcode, std::string payload, std::size_t zeros = 0) {
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
    for (int i = 0; i < 8; ++i) f.header[2 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
    f.header_len = 10;
  }
  f.payload = std::move(payload);
  f.zeros = zeros;
  return f;
}

std::string close_payload(int code) {
  return {static_cast<char>((code >> 8) & 0xFF), static_cast<char>(code & 0xFF)};
}

const std::array<std::uint8_t, kReadChunk>& zero_chunk() {
  static const std::array<std::uint8_t, kReadChunk> zeros{};
  return zeros;
}

// ---------------------------------------------------------------------------------------------
// Connections

struct Worker {
  std::mt19937_64 rng{std::random_device{}()};
  asio::io_context io{1};
  std::thread thread;
};

struct Settings {
  ServerOptions opts;
  std::unique_ptr<asio::ssl::context> tls;
};

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, tcp::socket>;

template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, const Settings& settings, Worker& worker)
      : stream_(std::move(stream)),
        opts_(settings.opts),
        worker_(worker),
        delay_timer_(worker.io),
        echo_timer_(worker.io),
        close_timer_(worker.io),
        request_timer_(worker.io) {}

  void start() {
    if (opts_.request_timeout.count() > 0 && opts_.mode != "silent") {
      request_timer_.expires_after(opts_.request_timeout);
      request_timer_.async_wait([self = this->shared_from_this()](std::error_code ec) {
        if (!ec && !self->request_done_) self->close_now();  // never sent a whole request
      });
    }
    if constexpr (kIsTls<Stream>) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](std::error_code ec) {
                                if (ec) return self->close_now();
                                self->read_request();
                              });
    } else {
      read_request();
    }
  }

 private:
  auto& socket() { return stream_.lowest_layer(); }

  // -- delays ----------------------------------------------------------------------------------

  Duration with_jitter(Duration d) {
    if (opts_.jitter.count() <= 0) return d;
    std::uniform_int_distribution<Duration::rep> dist(0, opts_.jitter.count() - 1);
    return d + Duration(dist(worker_.rng));
  }

  // Runs `f` after `d` (+ jitter) on `timer`, at once when there is nothing to wait for.
  template <class F>
  void after(asio::steady_timer& timer, Duration d, F f) {
    const Duration wait = with_jitter(d);
    if (wait.count() <= 0) return f();
    timer.expires_after(wait);
    timer.async_wait([self = this->shared_from_this(), f](std::error_code ec) mutable {
      if (!ec && !self->closed_) f();
    });
  }

  // -- handshake -------------------------------------------------------------------------------

  // Room for `need` bytes from begin_ and for a reasonable read; the buffer only grows past
  // kReadChunk for a large frame and is given back once it has been handled.
  void ensure_read_space(std::size_t need) {
    if (begin_ == end_) {
      begin_ = end_ = 0;
      if (rbuf_.size() > 4 * kReadChunk) std::vector<std::uint8_t>().swap(rbuf_);
    }
    if (begin_ > 0 && (rbuf_.size() - end_ < kReadChunk / 4 || rbuf_.size() - begin_ < need)) {
      std::memmove(rbuf_.data(), rbuf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    const std::size_t want = std::max(begin_ + need, end_ + kReadChunk / 4);
    if (rbuf_.size() < want) rbuf_.resize(std::max(want, kReadChunk));
  }

  template <class F>
  void read_some(F on_bytes) {
    reading_ = true;
    stream_.async_read_some(
        asio::buffer(rbuf_.data() + end_, rbuf_.size() - end_),
        [self = this->shared_from_this(), on_bytes](std::error_code ec, std::size_t n) {
          self->reading_ = false;
          if (ec || self->closed_) return self->close_now();
          self->end_ += n;
          on_bytes();
        });
  }

  void read_request() {
    ensure_read_space(kReadChunk);
    read_some([this] { on_request_bytes(); });
  }

  void on_request_bytes() {
    if (opts_.mode == "silent") {  // swallow everything, never answer
      begin_ = end_ = 0;
      return read_request();
    }
    const std::string_view seen(reinterpret_cast<const char*>(rbuf_.data()) + begin_,
                                end_ - begin_);
    const auto head_end = seen.find("\r\n\r\n");
    if (head_end == std::string_view::npos && seen.size() < kMaxHeaderBytes) return read_request();
    if (head_end == std::string_view::npos || head_end + 4 > kMaxHeaderBytes) {
      return reply_and_close(
          http_response(431, "", "The upgrade request headers exceed 16 KiB.\n"));
    }
    request_head_.assign(seen.substr(0, head_end));
    begin_ += head_end + 4;
    on_request();
  }

  void on_request() {
    request_done_ = true;
    request_timer_.cancel();
    Request req;
    if (!parse_request(request_head_, req)) {
      return reply_and_close(http_response(400, "", "Malformed HTTP request.\n"));
    }
    if (auto problem = upgrade_problem(req)) return reply_and_close(std::move(*problem));
    if (opts_.mode == "close-in-handshake") return close_now();
    std::string key(req.header("Sec-WebSocket-Key"));
    if (opts_.mode == "bad-accept") key += "x";  // a well-formed but wrong accept value
    std::string answer = switching_protocols(accept_key(key), first_subprotocol(req));
    after(delay_timer_, opts_.handshake_delay,
          [this, answer = std::move(answer)]() mutable { answer_upgrade(std::move(answer)); });
  }

  void answer_upgrade(std::string switching) {
    if (opts_.mode == "garbage") {
      return reply_and_close("SSH-2.0-OpenSSH_9.2 this is not HTTP\r\n\x01\x02\x03garbage\r\n");
    }
    if (opts_.reject_status) {
      const int status = *opts_.reject_status;
      return reply_and_close(http_response(
          status, "", fmt::format("Upgrade rejected by wslat serve --reject {}.\n", status)));
    }
    response_ = std::move(switching);
    asio::async_write(stream_, asio::buffer(response_),
                      [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                        if (ec) return self->close_now();
                        self->on_open();
                      });
  }

  // Writes an HTTP answer, then closes gracefully so the peer reads all of it.
  void reply_and_close(std::string response) {
    response_ = std::move(response);
    asio::async_write(stream_, asio::buffer(response_),
                      [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                        if (ec) return self->close_now();
                        self->half_close_and_drain();
                      });
  }

  // -- open ------------------------------------------------------------------------------------

  // What the server says first is queued before any client frame is read, so an undelayed
  // welcome always precedes the first echo.
  void on_open() {
    open_ = true;
    if (opts_.mode == "invalid-utf8") send(kText, std::string("\xC3\x28"));
    if (opts_.mode == "oversize") send(kBinary, {}, kMaxMessageBytes + 1);
    if (opts_.welcome) {
      after(delay_timer_, opts_.welcome_delay, [this] {
        send(kText, *opts_.welcome);
        close_after_open();
      });
    } else {
      close_after_open();
    }
    flood();
    if (opts_.mode == "stall-reads") {
      // Keep the connection (and its socket) alive without ever reading it again.
      close_timer_.expires_at(asio::steady_timer::time_point::max());
      close_timer_.async_wait([self = this->shared_from_this()](std::error_code) {});
    } else {
      read_frames();
    }
  }

  // ping-flood / message-flood: a batch of pings (or of messages no expect matches) each time
  // the previous batch is written, for as long as the connection is open.
  void flood() {
    const bool pings = opts_.mode == "ping-flood";
    if ((!pings && opts_.mode != "message-flood") || close_sent_ || closed_) return;
    // 8192 empty pings are 16 KiB, websocketpp's read buffer: a client's reads then hold more
    // pings than its bound on unwritten pongs (1024) before any pong can be written, so the
    // bound is hit on a fast, idle machine too.
    for (int i = 0; i < (pings ? 8192 : 1024); ++i) {
      if (pings) {
        send(kPing, std::string());
      } else {
        send(kText, "flood " + std::to_string(flooded_++));
      }
    }
  }

  void close_after_open() {
    if (opts_.close_after_open) start_close(*opts_.close_after_open);
  }

  // -- reading frames --------------------------------------------------------------------------

  void read_frames() {
    if (draining_) return drain();
    if (reading_ || closed_ || close_received_) return;
    if (!parse_frames()) return;
    if (queued_bytes_ > kMaxQueuedBytes) return;  // resumed when the peer has read our echoes
    ensure_read_space(need_);
    read_some([this] { read_frames(); });
  }

  // Handles every complete frame in the buffer. False when the connection stops reading.
  bool parse_frames() {
    for (;;) {
      const std::size_t avail = end_ - begin_;
      const std::uint8_t* p = rbuf_.data() + begin_;
      if (avail < 2) return need(2);
      const bool fin = (p[0] & 0x80) != 0;
      const std::uint8_t opcode = p[0] & 0x0F;
      const bool masked = (p[1] & 0x80) != 0;
      std::uint64_t len = p[1] & 0x7Fu;
      const std::size_t ext = len == 126 ? 2 : (len == 127 ? 8 : 0);
      const std::size_t header_len = 2 + ext + 4;
      if (avail < header_len) return need(header_len);
      if (ext > 0) {
        len = 0;
        for (std::size_t i = 0; i < ext; ++i) len = (len << 8) | p[2 + i];
      }
      if (!frame_header_ok(p[0], masked, len)) return false;
      const std::size_t total = header_len + static_cast<std::size_t>(len);
      if (avail < total) return need(total);
      std::uint8_t* payload = rbuf_.data() + begin_ + header_len;
      unmask(payload, static_cast<std::size_t>(len), p + 2 + ext);
      begin_ += total;
      if (!on_frame(fin, opcode, payload, static_cast<std::size_t>(len))) return false;
    }
  }

  bool need(std::size_t n) {
    need_ = n;
    return true;
  }

  static void unmask(std::uint8_t* data, std::size_t n, const std::uint8_t* key) {
    std::array<std::uint8_t, 4> k{key[0], key[1], key[2], key[3]};
    for (std::size_t i = 0; i < n; ++i) data[i] ^= k[i & 3];
  }

  // Checks what can be checked from the header; fails the connection otherwise.
  bool frame_header_ok(std::uint8_t b0, bool masked, std::uint64_t len) {
    const std::uint8_t opcode = b0 & 0x0F;
    const bool control = (opcode & 0x8) != 0;
    if ((b0 & 0x70) != 0) return fail(1002, "reserved bits set without a negotiated extension");
    if (!masked) return fail(1002, "client frames must be masked");
    if (opcode > kBinary && opcode != kClose && opcode != kPing && opcode != kPong) {
      return fail(1002, "unknown opcode");
    }
    if (control && (len > 125 || (b0 & 0x80) == 0)) {
      return fail(1002, "control frames must be final and at most 125 bytes");
    }
    if (!control && len > kMaxMessageBytes - message_.size()) {
      return fail(1009, "message larger than 16 MiB");
    }
    return true;
  }

  bool on_frame(bool fin, std::uint8_t opcode, const std::uint8_t* data, std::size_t n) {
    if (opcode == kClose) return on_close_frame(data, n);
    if (opcode == kPing) {
      send(kPong, std::string(reinterpret_cast<const char*>(data), n));
      return true;
    }
    if (opcode == kPong) return true;
    if ((opcode == kContinuation) != in_message_) {
      return fail(1002, in_message_ ? "expected a continuation frame" : "unexpected continuation");
    }
    if (opcode != kContinuation) message_opcode_ = opcode;
    if (fin && !in_message_) return on_message(opcode, data, n);  // the common, unfragmented case
    message_.append(reinterpret_cast<const char*>(data), n);
    in_message_ = !fin;
    if (!fin) return true;
    std::string whole = std::move(message_);
    message_.clear();
    return on_message(message_opcode_, reinterpret_cast<const std::uint8_t*>(whole.data()),
                      whole.size());
  }

  bool on_message(std::uint8_t opcode, const std::uint8_t* data, std::size_t n) {
    if (opcode == kText && !valid_utf8(data, n)) return fail(1007, "text message is not UTF-8");
    if (opts_.mode == "reset-after-open") {
      reset();
      return false;
    }
    if (close_sent_) return true;  // closing: data is no longer answered
    std::string payload(reinterpret_cast<const char*>(data), n);
    if (opts_.echo_delay.count() <= 0 && opts_.jitter.count() <= 0) {
      send(opcode, std::move(payload));
      return true;
    }
    // Each echo is due after its own delay, but never before an earlier one: order is kept.
    const auto due = std::max(Clock::now() + with_jitter(opts_.echo_delay), last_echo_due_);
    last_echo_due_ = due;
    echoes_.push_back({due, opcode, std::move(payload)});
    if (echoes_.size() == 1) arm_echo_timer();
    return true;
  }

  void arm_echo_timer() {
    echo_timer_.expires_at(echoes_.front().due);
    echo_timer_.async_wait([self = this->shared_from_this()](std::error_code ec) {
      if (ec || self->closed_) return;
      self->send_due_echoes();
    });
  }

  void send_due_echoes() {
    const auto now = Clock::now();
    while (!echoes_.empty() && echoes_.front().due <= now) {
      send(echoes_.front().opcode, std::move(echoes_.front().payload));
      echoes_.pop_front();
    }
    if (!echoes_.empty()) arm_echo_timer();
  }

  bool on_close_frame(const std::uint8_t* data, std::size_t n) {
    if (opts_.mode == "no-close-reply") return true;
    int code = 0;
    if (n == 1) return fail(1002, "close frame with a 1-byte payload");
    if (n >= 2) {
      code = (data[0] << 8) | data[1];
      if (!sendable_close_code(code)) return fail(1002, "invalid close code");
      if (!valid_utf8(data + 2, n - 2)) return fail(1007, "close reason is not UTF-8");
    }
    close_received_ = true;
    // Answer with the same code (RFC 6455 5.5.1); an empty close is answered by an empty one.
    close_sent_ = true;
    enqueue(make_frame(kClose, n >= 2 ? close_payload(code) : std::string()));
    return false;
  }

  // -- closing ---------------------------------------------------------------------------------

  // Protocol error from the peer: close with `code` (the reason text stays in the code).
  bool fail(int code, const char* /*why*/) {
    start_close(code);
    return false;
  }

  // Server-initiated close: send the frame, then half-close once it is written and wait (a
  // bounded time) for the peer to finish, so no unread data turns our FIN into an RST.
  void start_close(int code) {
    if (close_sent_ || closed_) return;
    close_sent_ = true;
    close_received_ = true;  // nothing the peer sends from now on is parsed
    echoes_.clear();
    enqueue(make_frame(kClose, close_payload(code)));
  }

  void finish_if_closed() {
    if (close_sent_ && close_received_ && !writing_ && queue_.empty()) half_close_and_drain();
  }

  void half_close_and_drain() {
    if (draining_ || closed_) return;
    draining_ = true;
    std::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    close_timer_.expires_after(kCloseWait);
    close_timer_.async_wait([self = this->shared_from_this()](std::error_code ec) {
      if (!ec) self->close_now();
    });
    drain();
  }

  void drain() {
    if (reading_) return;  // the pending read will come back here through read_frames' guard
    begin_ = end_ = 0;
    ensure_read_space(kReadChunk);
    read_some([this] { drain(); });
  }

  void reset() {
    std::error_code ignored;
    socket().set_option(asio::socket_base::linger(true, 0), ignored);
    close_now();
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    delay_timer_.cancel();
    echo_timer_.cancel();
    close_timer_.cancel();
    request_timer_.cancel();
    socket().close(ignored);
  }

  // -- writing ---------------------------------------------------------------------------------

  void send(std::uint8_t opcode, std::string payload, std::size_t zeros = 0) {
    if (close_sent_ || closed_) return;
    enqueue(make_frame(opcode, std::move(payload), zeros));
  }

  void enqueue(OutFrame frame) {
    queued_bytes_ += frame.header_len + frame.payload.size() + frame.zeros;
    queue_.push_back(std::move(frame));
    flush();
  }

  // Writes every queued frame in one gathered write.
  void flush() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    inflight_.swap(queue_);
    buffers_.clear();
    for (const auto& f : inflight_) {
      buffers_.emplace_back(f.header.data(), f.header_len);
      if (!f.payload.empty()) buffers_.emplace_back(asio::buffer(f.payload));
      for (std::size_t left = f.zeros; left > 0;) {
        const std::size_t n = std::min(left, zero_chunk().size());
        buffers_.emplace_back(zero_chunk().data(), n);
        left -= n;
      }
    }
    asio::async_write(stream_, buffers_,
                      [self = this->shared_from_this()](std::error_code ec, std::size_t n) {
                        self->on_written(ec, n);
                      });
  }

  void on_written(std::error_code ec, std::size_t n) {
    writing_ = false;
    queued_bytes_ -= n;
    inflight_.clear();
    if (ec) return close_now();
    flush();
    if (!writing_) flood();
    finish_if_closed();
    if (open_ && !draining_ && opts_.mode != "stall-reads") read_frames();
  }

  Stream stream_;
  const ServerOptions& opts_;
  Worker& worker_;
  asio::steady_timer delay_timer_, echo_timer_, close_timer_, request_timer_;
  bool request_done_ = false;

  std::vector<std::uint8_t> rbuf_;
  std::size_t begin_ = 0, end_ = 0, need_ = 2;
  std::string request_head_, response_;

  std::string message_;  // fragments of the message being received
  std::uint8_t message_opcode_ = kText;
  bool in_message_ = false;

  struct PendingEcho {
    Clock::time_point due;
    std::uint8_t opcode;
    std::string payload;
  };
  std::deque<PendingEcho> echoes_;
  Clock::time_point last_echo_due_{};

  std::vector<OutFrame> queue_, inflight_;
  std::vector<asio::const_buffer> buffers_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t flooded_ = 0;

  bool reading_ = false, writing_ = false, open_ = false;
  bool close_sent_ = false, close_received_ = false, draining_ = false, closed_ = false;
};

// ---------------------------------------------------------------------------------------------
// Options

void check_duration_key(const nlohmann::json& v, const std::string& where, Duration& out) {
  if (!v.is_string()) {
    throw UsageError(
        fmt::format("{}: expected a duration string such as \"250ms\", got {}", where, v.dump()));
  }
  out = parse_duration_or_throw(v.get<std::string>(), where);
}

template <class T>
T integer_key(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_integer()) {
    throw UsageError(fmt::format("{}: expected an integer, got {}", where, v.dump()));
  }
  const auto n = v.get<std::int64_t>();
  if (n < 0 || n > 65535) throw UsageError(fmt::format("{}: {} is out of range", where, n));
  return static_cast<T>(n);
}

tcp::endpoint resolve_listen_endpoint(const ServerOptions& opts) {
  std::error_code ec;
  const auto address = asio::ip::make_address(opts.host, ec);
  if (!ec) return {address, opts.port};
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(opts.host, std::to_string(opts.port), ec);
  if (ec || results.empty()) {
    throw RunError(
        fmt::format("serve: cannot resolve host \"{}\": {}; give an IP address or a "
                    "resolvable name with --host",
                    opts.host, ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

std::unique_ptr<asio::ssl::context> make_tls_context(const ServerOptions& opts) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
  std::error_code ec;
  ctx->use_certificate_chain_file(opts.tls_cert, ec);
  if (ec) {
    throw UsageError(
        fmt::format("serve: cannot load TLS certificate \"{}\": {}; give a PEM "
                    "certificate (chain) file",
                    opts.tls_cert, ec.message()));
  }
  ctx->use_private_key_file(opts.tls_key, asio::ssl::context::pem, ec);
  if (ec) {
    throw UsageError(
        fmt::format("serve: cannot load TLS key \"{}\": {}; give the PEM private key "
                    "that matches the certificate",
                    opts.tls_key, ec.message()));
  }
  return ctx;
}

}  // namespace

const std::vector<std::string>& server_modes() {
  static const std::vector<std::string> modes{
      "silent",   "garbage",      "bad-accept",     "close-in-handshake", "reset-after-open",
      "oversize", "invalid-utf8", "no-close-reply", "stall-reads", "ping-flood", "message-flood"};
  return modes;
}

void check_server_options(const ServerOptions& opts, const std::string& where) {
  if (opts.close_after_open && !sendable_close_code(*opts.close_after_open)) {
    throw UsageError(
        fmt::format("{}: close code {} cannot be sent; use 1000-1003, 1007-1014 or "
                    "3000-4999 (e.g. 1011)",
                    where, *opts.close_after_open));
  }
  if (opts.reject_status && (*opts.reject_status < 200 || *opts.reject_status > 599)) {
    throw UsageError(
        fmt::format("{}: reject status {} is not a non-101 HTTP status; use 200-599 "
                    "(e.g. 403 or 502)",
                    where, *opts.reject_status));
  }
  const auto& modes = server_modes();
  if (!opts.mode.empty() && std::find(modes.begin(), modes.end(), opts.mode) == modes.end()) {
    throw UsageError(fmt::format("{}: unknown mode \"{}\"; accepted: {}", where, opts.mode,
                                 fmt::join(modes, ", ")));
  }
  if (opts.threads < 1 || opts.threads > 256) {
    throw UsageError(fmt::format("{}: threads must be 1..256, got {}", where, opts.threads));
  }
  if (opts.tls_cert.empty() != opts.tls_key.empty()) {
    throw UsageError(
        fmt::format("{}: TLS needs both a certificate and a key (--tls-cert and "
                    "--tls-key)",
                    where));
  }
}

ServerOptions server_options_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) {
    throw UsageError(
        fmt::format("{}: expected an object of serve options, got {}", where, j.dump()));
  }
  ServerOptions opts;
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + "." + key;
    if (key == "welcome") {
      opts.welcome = v.is_string() ? v.get<std::string>() : v.dump();
    } else if (key == "welcome_delay") {
      check_duration_key(v, at, opts.welcome_delay);
    } else if (key == "handshake_delay") {
      check_duration_key(v, at, opts.handshake_delay);
    } else if (key == "echo_delay") {
      check_duration_key(v, at, opts.echo_delay);
    } else if (key == "jitter") {
      check_duration_key(v, at, opts.jitter);
    } else if (key == "close_after_open") {
      opts.close_after_open = integer_key<std::uint16_t>(v, at);
    } else if (key == "reject") {
      opts.reject_status = integer_key<int>(v, at);
    } else if (key == "mode") {
      if (!v.is_string()) throw UsageError(fmt::format("{}: expected a mode name", at));
      opts.mode = v.get<std::string>();
    } else if (key == "threads") {
      opts.threads = integer_key<int>(v, at);
    } else {
      throw UsageError(fmt::format(
          "{}: unknown key \"{}\"; accepted keys: welcome, welcome_delay, handshake_delay, "
          "echo_delay, jitter, close_after_open, reject, mode, threads",
          where, key));
    }
  }
  check_server_options(opts, where);
  return opts;
}

// ---------------------------------------------------------------------------------------------
// EmbeddedServer

struct EmbeddedServer::Impl {
  Settings settings;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::size_t next_worker = 0;
  std::uint16_t port = 0;
  bool running = false;
  std::mutex mu;  // start/stop from different threads

  void open_acceptor(Worker& home) {
    const tcp::endpoint endpoint = resolve_listen_endpoint(settings.opts);
    acceptor = std::make_unique<tcp::acceptor>(home.io);
    std::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(kBacklog, ec);
    if (ec) {
      acceptor.reset();
      throw RunError(
          fmt::format("serve: cannot listen on {}:{}: {}; pick a free port (--port 0 "
                      "for an ephemeral one) or another --host",
                      settings.opts.host, settings.opts.port, ec.message()));
    }
    port = acceptor->local_endpoint().port();
    accept_retry = std::make_unique<asio::steady_timer>(home.io);
  }

  void accept_next() {
    Worker& worker = *workers[next_worker];
    next_worker = (next_worker + 1) % workers.size();
    acceptor->async_accept(worker.io, [this, &worker](std::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) {
        // Out of descriptors and the like: back off briefly instead of spinning.
        accept_retry->expires_after(std::chrono::milliseconds(10));
        accept_retry->async_wait([this](std::error_code e) {
          if (!e) accept_next();
        });
        return;
      }
      serve(std::move(socket), worker);
      accept_next();
    });
  }

  void serve(tcp::socket socket, Worker& worker) {
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (settings.tls) {
      using TlsStream = asio::ssl::stream<tcp::socket>;
      auto c = std::make_shared<Connection<TlsStream>>(TlsStream(std::move(socket), *settings.tls),
                                                       settings, worker);
      asio::post(worker.io, [c] { c->start(); });
    } else {
      auto c = std::make_shared<Connection<tcp::socket>>(std::move(socket), settings, worker);
      asio::post(worker.io, [c] { c->start(); });
    }
  }

  void shutdown() {
    for (auto& w : workers) w->io.stop();
    for (auto& w : workers) {
      if (w->thread.joinable()) w->thread.join();
    }
    accept_retry.reset();
    acceptor.reset();
    // Destroying an io_context destroys its pending handlers, hence every connection and its
    // socket. Worker 0 goes first: its pending accept owns a socket of another worker.
    for (auto& w : workers) w.reset();
    workers.clear();
    running = false;
  }
};

EmbeddedServer::EmbeddedServer(ServerOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->settings.opts = std::move(opts);
}

EmbeddedServer::~EmbeddedServer() { stop(); }

void EmbeddedServer::start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) return;
  Impl& s = *impl_;
  check_server_options(s.settings.opts, "serve");
  const bool tls = !s.settings.opts.tls_cert.empty();
  s.settings.tls = tls ? make_tls_context(s.settings.opts) : nullptr;
  for (int i = 0; i < s.settings.opts.threads; ++i) s.workers.push_back(std::make_unique<Worker>());
  try {
    s.open_acceptor(*s.workers.front());
  } catch (...) {
    s.workers.clear();
    throw;
  }
  s.accept_next();
  for (auto& w : s.workers) {
    w->thread = std::thread([io = &w->io] {
      // Connections keep the io_context busy; the guard keeps idle workers alive too.
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  s.running = true;
}

void EmbeddedServer::stop() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) impl_->shutdown();
}

std::uint16_t EmbeddedServer::port() const { return impl_->port; }

std::string EmbeddedServer::url() const {
  const std::string& host = impl_->settings.opts.host;
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}/", impl_->settings.tls ? "wss" : "ws", v6 ? "[" : "", host,
                     v6 ? "]" : "", impl_->port);
}

}  // namespace wslat
