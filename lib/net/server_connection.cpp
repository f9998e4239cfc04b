// One connection of the embedded server, from the upgrade request to the close: reading and
// answering the request, echoing messages, the write queue and the closing handshake. Every
// handler runs on the connection's worker thread (see server.cpp), so nothing here locks.
// What a hostile mode changes is asked of `Faults` (server_modes.hpp).
#include "server_connection.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include "server_frames.hpp"
#include "server_upgrade.hpp"

namespace wslat::embedded {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// Stop reading a client that won't read once this much is queued for it.
constexpr std::size_t kMaxQueuedBytes = std::size_t{8} * 1024 * 1024;
constexpr auto kCloseWait = std::chrono::seconds(2);  // wait for the peer's FIN after our close

template <class Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, tcp::socket>;

// A connection's read buffer: a std::vector<std::uint8_t> that grows without zero-filling. The
// vector's resize wrote zeros over 64 KiB for every connection, before its first read: 70% of
// the server's instructions per cycle (callgrind, 65 k of 95 k) and 64 KiB of resident memory
// per open connection, most of it never read into.
class ReadBuffer {
 public:
  std::uint8_t* data() { return bytes_.get(); }
  std::size_t size() const { return size_; }
  // `n` bytes, the first `keep` of them copied over; the rest uninitialized.
  void grow(std::size_t n, std::size_t keep) {
    // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): make_unique<T[]> would zero-fill it
    std::unique_ptr<std::uint8_t[]> bigger(new std::uint8_t[n]);
    if (keep > 0) std::memcpy(bigger.get(), bytes_.get(), keep);
    bytes_ = std::move(bigger);
    size_ = n;
  }
  void release() {
    bytes_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::size_t size_ = 0;
};

template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, const Settings& settings, Worker& worker)
      : stream_(std::move(stream)),
        opts_(settings.opts),
        faults_(settings.faults),
        worker_(worker),
        delay_timer_(worker.io),
        echo_timer_(worker.io),
        close_timer_(worker.io),
        request_timer_(worker.io) {}

  void start() {
    if (opts_.request_timeout.count() > 0 && faults_.times_out_requests()) {
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
      if (rbuf_.size() > 4 * kReadChunk) rbuf_.release();
    }
    if (begin_ > 0 && (rbuf_.size() - end_ < kReadChunk / 4 || rbuf_.size() - begin_ < need)) {
      std::memmove(rbuf_.data(), rbuf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    const std::size_t want = std::max(begin_ + need, end_ + kReadChunk / 4);
    if (rbuf_.size() < want) rbuf_.grow(std::max(want, kReadChunk), end_);
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
    if (faults_.swallows_requests()) {
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
    if (faults_.closes_after_request()) return close_now();
    std::string answer = switching_protocols(
        faults_.accept_value(req.header("Sec-WebSocket-Key")).view(), first_subprotocol(req));
    after(delay_timer_, opts_.handshake_delay,
          [this, answer = std::move(answer)]() mutable { answer_upgrade(std::move(answer)); });
  }

  void answer_upgrade(std::string switching) {
    if (auto replaced = faults_.replaced_upgrade_answer()) return reply_and_close(*replaced);
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
    for (auto& frame : faults_.frames_on_open()) send(std::move(frame));
    if (opts_.welcome) {
      after(delay_timer_, opts_.welcome_delay, [this] {
        send(kText, *opts_.welcome);
        close_after_open();
      });
    } else {
      close_after_open();
    }
    flood();
    if (faults_.reads_after_open()) {
      read_frames();
    } else {
      // Keep the connection (and its socket) alive without ever reading it again.
      close_timer_.expires_at(asio::steady_timer::time_point::max());
      close_timer_.async_wait([self = this->shared_from_this()](std::error_code) {});
    }
  }

  // Flood modes: a batch each time the previous batch is written, for as long as the
  // connection is open.
  void flood() {
    if (!faults_.floods() || close_sent_ || closed_) return;
    for (auto& frame : faults_.flood_batch(flooded_)) enqueue(std::move(frame));
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
      FrameHeader h;
      if (const std::size_t missing = read_frame_header(rbuf_.data() + begin_, avail, h)) {
        return need(missing);
      }
      if (auto problem = frame_header_problem(h, message_.size())) {
        return fail(problem->close_code, problem->why);
      }
      const auto len = static_cast<std::size_t>(h.payload_len);
      const std::size_t total = h.size + len;
      if (avail < total) return need(total);
      std::uint8_t* payload = rbuf_.data() + begin_ + h.size;
      unmask(payload, len, h.mask_key);
      begin_ += total;
      if (!on_frame(h.fin, h.opcode, payload, len)) return false;
    }
  }

  bool need(std::size_t n) {
    need_ = n;
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
    if (faults_.resets_on_message()) {
      reset();
      return false;
    }
    if (auto partial = faults_.partial_answer()) {
      reset_after_write_ = true;  // and nothing more is read
      send(std::move(*partial));
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
    if (!faults_.answers_close()) return true;
    const frames::CloseFrame close = extract_close({reinterpret_cast<const char*>(data), n});
    if (close.problem == frames::CloseFrame::kBadCode) {
      return fail(1002, n == 1 ? "close frame with a 1-byte payload" : "invalid close code");
    }
    // websocketpp answers a reason that is not UTF-8 with 1002; the server keeps its 1007.
    if (close.problem == frames::CloseFrame::kBadReason) {
      return fail(1007, "close reason is not UTF-8");
    }
    close_received_ = true;
    // Answer with the same code (RFC 6455 5.5.1); an empty close is answered by an empty one.
    close_sent_ = true;
    enqueue(make_frame(kClose, n >= 2 ? close_payload(close.code) : std::string()));
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

  void send(std::uint8_t opcode, std::string payload) {
    send(make_frame(opcode, std::move(payload)));
  }

  void send(OutFrame frame) {
    if (close_sent_ || closed_) return;
    enqueue(std::move(frame));
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
    if (reset_after_write_) return reset();
    flush();
    if (!writing_) flood();
    finish_if_closed();
    if (open_ && !draining_ && faults_.reads_after_open()) read_frames();
  }

  Stream stream_;
  const ServerOptions& opts_;
  const Faults faults_;
  Worker& worker_;
  asio::steady_timer delay_timer_, echo_timer_, close_timer_, request_timer_;
  bool request_done_ = false;

  ReadBuffer rbuf_;
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
  bool reset_after_write_ = false;  // Faults::partial_answer(): reset once it is written
  bool close_sent_ = false, close_received_ = false, draining_ = false, closed_ = false;
};

}  // namespace

void serve_connection(tcp::socket socket, const Settings& settings, Worker& worker) {
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

}  // namespace wslat::embedded
