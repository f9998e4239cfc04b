// The client core (client_core.hpp): connect, upgrade, frames, close.
#include "net/client_core.hpp"

#include <algorithm>

namespace wslat::net {

namespace {

// The 4 bytes RFC 7692 §7.2.2 has the sender strip from a compressed message and the receiver
// append before inflating.
constexpr std::array<std::uint8_t, 4> kDeflateTail = {0x00, 0x00, 0xff, 0xff};

FastRng<std::uint32_t, websocketpp::concurrency::none>& thread_rng() {
  thread_local FastRng<std::uint32_t, websocketpp::concurrency::none> rng;
  return rng;
}

// Appends a final, masked client frame carrying `payload` to `out`: the header, then the
// payload XORed with the key (8 bytes at a time), in one pass over the payload.
void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload, bool rsv1) {
  std::array<std::uint8_t, 14> h{};
  std::size_t n = 2;
  h[0] = static_cast<std::uint8_t>(0x80U | (rsv1 ? 0x40U : 0U) | opcode);
  const std::uint64_t len = payload.size();
  if (len < 126) {
    h[1] = static_cast<std::uint8_t>(0x80U | len);
  } else if (len <= 0xFFFF) {
    h[1] = 0x80U | 126U;
    h[2] = static_cast<std::uint8_t>(len >> 8);
    h[3] = static_cast<std::uint8_t>(len);
    n = 4;
  } else {
    h[1] = 0x80U | 127U;
    for (std::size_t i = 0; i < 8; ++i) h[2 + i] = static_cast<std::uint8_t>(len >> (56 - 8 * i));
    n = 10;
  }
  const std::uint32_t key = thread_rng()();
  std::memcpy(&h[n], &key, 4);
  const std::size_t at = out.size();
  out.resize(at + n + 4 + payload.size());
  char* dst = out.data() + at;
  std::memcpy(dst, h.data(), n + 4);
  dst += n + 4;
  const char* src = payload.data();
  std::size_t i = 0;
  std::uint64_t key8 = 0;
  std::memcpy(&key8, &key, 4);
  key8 |= key8 << 32;
  for (; i + 8 <= payload.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, src + i, 8);
    w ^= key8;
    std::memcpy(dst + i, &w, 8);
  }
  const auto* k = reinterpret_cast<const std::uint8_t*>(&key);
  for (; i < payload.size(); ++i) dst[i] = static_cast<char>(src[i] ^ k[i & 3]);
}

// A thread's buffer for the frame being written at once (kept: its capacity is reused).
std::string& frame_scratch() {
  thread_local std::string s;
  s.clear();
  return s;
}

std::error_code processor_error(websocketpp::processor::error::processor_errors e) {
  return websocketpp::processor::error::make_error_code(e);
}

}  // namespace

// --- connect and upgrade -------------------------------------------------------------------------

void CoreConnection::on_connected(const asio::error_code& ec) {
  if (state_ != State::kConnecting || ec == asio::error::operation_aborted) return;
  auto self = shared_from_this();
  if (ec) {
    terminate(ec);  // the connect's code (connect.refused, connect.error)
    return;
  }
  notify(&CoreEvents::tcp);
  if (state_ != State::kConnecting) return;
  notify(&CoreEvents::tls);  // no TLS here: at once
  if (state_ != State::kConnecting) return;
  build_upgrade_request(req_, upgrade_target(*uri_), subprotocols_, thread_rng());
  send_now(req_.raw());
  // The answer: inside a connect that completed at once, with other connections in flight on
  // this thread, the server cannot have answered yet and the loop's next epoll_wait reports it
  // (wspp_config.hpp, WSLAT_READ_NOW): no speculative recv.
  if (connected_inline == sock_.native_handle() && sessions_in_flight > 1) {
    skip_speculative_read(sock_);
  }
  async_read();
}

// The answer's bytes; then, once the 101 is checked, the frames that came with it. False: stop.
bool CoreConnection::consume_answer(const std::uint8_t*& at, const std::uint8_t* end) {
  std::size_t used = 0;
  try {
    used = res_.consume(reinterpret_cast<const char*>(at), static_cast<std::size_t>(end - at));
  } catch (const HttpError&) {
    terminate(websocketpp::error::make_error_code(websocketpp::error::general));  // not HTTP
    return false;
  }
  at += used;
  if (!res_.headers_ready()) return true;
  accepted_deflate = nullptr;
  bool extensions = false;
  std::error_code ec = check_upgrade_response(req_, res_, &extensions);
  if (!ec && extensions) ec = accept_extensions(deflate_, req_, res_, max_message_size_);
  if (ec) {
    terminate(ec);
    return false;
  }
  reader_ = frames::FrameReader({max_message_size_, deflate_.is_enabled()});
  state_ = State::kOpen;
  // The request's text, written (not yet after an answer that came before all of it left).
  if (!writing_) std::string().swap(out_);
  std::vector<std::string>().swap(subprotocols_);
  notify(&CoreEvents::open);
  return state_ != State::kClosed;
}

// --- reading -------------------------------------------------------------------------------------

void CoreConnection::async_read() {
  sock_.async_read_some(asio::buffer(buf_),
                        [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                          self->on_read(ec, n);
                        });
}

// A read completed: its bytes, then the next read at once while there are bytes (up to
// kMaxReadsNow), then Asio's read, which after an empty recv waits for the next event without
// trying the socket first.
void CoreConnection::on_read(const asio::error_code& ec, std::size_t n) {
  last_read_done = Clock::now();
  if (state_ == State::kClosed) return;
  if (ec) {
    read_failed(ec);
    return;
  }
  for (int reads = 1;; ++reads) {
    if (!consume(n)) return;
    if (reads >= kMaxReadsNow) break;
    const ssize_t got = ::recv(sock_.native_handle(), buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (got > 0) {
      last_read_done = Clock::now();
      n = static_cast<std::size_t>(got);
      continue;
    }
    if (got == 0) {
      read_failed(asio::error::eof);
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      skip_speculative_read(sock_);
      break;
    }
    if (errno != EINTR) {
      read_failed(asio::error_code(errno, asio::error::get_system_category()));
      return;
    }
    break;
  }
  async_read();
}

// As websocketpp's handle_async_read, handle_read_http_response and handle_read_frame: the end
// of the stream is expected after a close handshake (a clean end); otherwise it and any error
// end the connection (websocketpp's "End of File" for the end; an error is also the transport's
// code).
void CoreConnection::read_failed(const asio::error_code& ec) {
  if (ec == asio::error::operation_aborted) return;
  if (ec == asio::error::eof) {
    if (state_ == State::kClosing) {
      terminate({});
      return;
    }
    terminate(websocketpp::transport::error::make_error_code(websocketpp::transport::error::eof));
    return;
  }
  tec_ = ec;
  terminate(ec);
}

// Called by on_read only, whose read completion holds the connection while a handler drops the
// Session (and with it con_).
bool CoreConnection::consume(std::size_t n) {
  const std::uint8_t* at = buf_.data();
  const std::uint8_t* const end = at + n;
  if (state_ == State::kConnecting && !consume_answer(at, end)) return false;
  if (state_ == State::kConnecting) return true;  // more of the answer to come
  for (;;) {
    switch (reader_.read(at, end)) {
      case frames::FrameReader::kNeedMore:
        return true;
      case frames::FrameReader::kMessage:
        if (!deliver(reader_.message())) return false;
        break;
      case frames::FrameReader::kControl:
        on_control(reader_.control());
        break;
      case frames::FrameReader::kError:
        protocol_close(frames::to_close_code(reader_.error()), frames::message(reader_.error()));
        return false;
    }
    if (state_ == State::kClosed) return false;
  }
}

// A data message: inflated when compressed, then to the Session (not while closing: websocketpp
// dropped those, "got non-close frame while closing"). False: a violation closed the connection.
bool CoreConnection::deliver(frames::Message& m) {
  if (state_ != State::kOpen) return true;
  message_.compressed_ = m.compressed;
  message_.opcode_ = m.opcode;
  if (m.compressed) {
    std::string& inflated = message_.payload_;
    inflated.clear();
    std::error_code ec = deflate_.decompress(
        reinterpret_cast<const std::uint8_t*>(m.payload.data()), m.payload.size(), inflated);
    if (!ec) ec = deflate_.decompress(kDeflateTail.data(), kDeflateTail.size(), inflated);
    if (ec) {
      protocol_close(close_code(static_cast<CodecProblem>(ec.value())), ec.message());
      return false;
    }
    if (m.opcode == frames::kText && !frames::valid_utf8(inflated)) {
      protocol_close(frames::to_close_code(frames::FrameError::kInvalidUtf8),
                     frames::message(frames::FrameError::kInvalidUtf8));
      return false;
    }
  } else {
    message_.payload_.swap(m.payload);  // both buffers kept: the next message reuses one
  }
  // No owner of its own: the Session reads it during the call and keeps no reference.
  const std::shared_ptr<CoreMessage> msg(std::shared_ptr<CoreMessage>(), &message_);
  notify(&CoreEvents::message, msg);
  return true;
}

// Pings and pongs while open; a close in any state (websocketpp's process_control_frame).
void CoreConnection::on_control(const frames::Control& c) {
  if (c.opcode == frames::kPing) {
    if (state_ == State::kOpen) notify(&CoreEvents::ping, c.payload);
    return;
  }
  if (c.opcode == frames::kPong) {
    if (state_ == State::kOpen) notify(&CoreEvents::pong);
    return;
  }
  frames::CloseFrame f = frames::extract_close(c.payload);
  remote_code_ = static_cast<std::uint16_t>(f.code);
  if (f.problem != frames::CloseFrame::kBadCode) remote_reason_ = std::move(f.reason);
  // An answer is never terminal for a client (websocketpp's send_close_ack: terminal only for a
  // server): the server closes TCP after it, bounded by the close timeout.
  if (f.problem != frames::CloseFrame::kFine) {
    (void)send_close_frame(1002, frames::close_ack_reason(f.problem), false);
    return;
  }
  if (state_ == State::kOpen) {
    // The answer: the server's code and reason (1000 and none for a close without a code).
    if (remote_code_ == 1005) {
      (void)send_close_frame(1000, "", false);
    } else {
      (void)send_close_frame(remote_code_, remote_reason_, false);
    }
  }
  // Closing: the answer to ours; the server closes TCP next (the Session's deadline).
}

// What the frame reader or the inflater refused: closed with its code and words, at once.
void CoreConnection::protocol_close(int code, const std::string& reason) {
  std::error_code ec;
  close(code, reason, ec);
  if (ec) terminate(ec);
}

// --- writing -------------------------------------------------------------------------------------

std::error_code CoreConnection::send(const std::string& payload,
                                     websocketpp::frame::opcode::value opcode) {
  if (state_ != State::kOpen) return invalid_state();
  const auto op = static_cast<std::uint8_t>(opcode);
  if (op == frames::kText && !frames::valid_utf8(payload)) {
    return processor_error(websocketpp::processor::error::invalid_payload);
  }
  if (!deflate_.is_enabled()) {
    write_frame(op, payload, false);
    return {};
  }
  thread_local std::string compressed;
  compressed.clear();
  if (std::error_code ec = deflate_.compress(payload, compressed)) return ec;
  if (compressed.size() < kDeflateTail.size()) {
    return processor_error(websocketpp::processor::error::general);
  }
  compressed.resize(compressed.size() - kDeflateTail.size());
  write_frame(op, compressed, true);
  return {};
}

void CoreConnection::ping(const std::string& payload, std::error_code& ec) {
  ec.clear();
  if (state_ != State::kOpen) {
    ec = invalid_state();
    return;
  }
  if (payload.size() > 125) {
    ec = processor_error(websocketpp::processor::error::control_too_big);
    return;
  }
  write_frame(frames::kPing, payload, false);
}

void CoreConnection::pong(const std::string& payload) {
  if (state_ != State::kOpen) return;
  append_frame(queue(), frames::kPong, payload, false);
  ++pongs_unwritten_;
  start_write();
}

void CoreConnection::close(int code, const std::string& reason, std::error_code& ec) {
  ec.clear();
  if (state_ != State::kOpen) {
    ec = invalid_state();
    return;
  }
  ec = send_close_frame(code, reason.substr(0, 123), terminal_close_code(code));
}

// websocketpp's send_close_frame and prepare_close for a client.
std::error_code CoreConnection::send_close_frame(int code, const std::string& reason,
                                                 bool terminal) {
  local_code_ = static_cast<std::uint16_t>(code);
  local_reason_ = reason;
  namespace status = websocketpp::close::status;
  const auto value = static_cast<status::value>(code);
  if (status::reserved(value))
    return processor_error(websocketpp::processor::error::reserved_close_code);
  if (status::invalid(value) && value != status::no_status) {
    return processor_error(websocketpp::processor::error::invalid_close_code);
  }
  if (value == status::no_status && !reason.empty()) {
    return processor_error(websocketpp::processor::error::reason_requires_code);
  }
  if (reason.size() > 123) return processor_error(websocketpp::processor::error::control_too_big);
  state_ = State::kClosing;
  write_frame(frames::kClose,
              value == status::no_status ? std::string() : frames::close_payload(code, reason),
              false);
  if (!terminal) {
    arm_close_timer();
    return {};
  }
  if (!writing_ && out_.empty()) {
    terminate({});  // written: nothing more to wait for
  } else {
    terminal_ = true;  // once the queue is written (on_written)
  }
  return {};
}

// A frame written at once when nothing waits to be written before it; what the socket does not
// take (or an error, which Asio's write meets again and reports) goes through Asio.
void CoreConnection::write_frame(std::uint8_t opcode, std::string_view payload, bool rsv1) {
  if (writing_ || !out_.empty()) {
    append_frame(queue(), opcode, payload, rsv1);
    start_write();
    return;
  }
  std::string& frame = frame_scratch();
  append_frame(frame, opcode, payload, rsv1);
  send_now(frame);
}

// Bytes written at once (nothing is queued before them): only what the socket does not take,
// or all of them after an error (which Asio's write meets again and reports), is kept and
// written by Asio.
void CoreConnection::send_now(std::string_view bytes) {
  const ssize_t n = ::send(sock_.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(bytes.size())) return;
  out_.assign(bytes.substr(n > 0 ? static_cast<std::size_t>(n) : 0));
  start_write();
}

void CoreConnection::start_write() {
  if (writing_ || out_.empty() || state_ == State::kClosed) return;
  writing_ = true;
  asio::async_write(sock_, asio::buffer(out_),
                    [self = shared_from_this()](const asio::error_code& ec, std::size_t /*n*/) {
                      self->on_written(ec);
                    });
}

void CoreConnection::on_written(const asio::error_code& ec) {
  writing_ = false;
  if (state_ == State::kClosed || ec == asio::error::operation_aborted) return;
  if (ec) {
    terminate(ec);  // websocketpp's handle_write_frame: the transport code is not recorded
    return;
  }
  out_.clear();
  out_.swap(next_);
  if (!out_.empty()) {
    start_write();
    return;
  }
  written_all();
}

void CoreConnection::written_all() {
  pongs_unwritten_ = 0;
  if (terminal_) terminate({});
}

void CoreConnection::arm_close_timer() {
  if (close_timeout_ms_ <= 0) return;
  if (!close_timer_) close_timer_ = std::make_unique<asio::steady_timer>(sock_.get_executor());
  close_timer_->expires_after(std::chrono::milliseconds(close_timeout_ms_));
  close_timer_->async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec) return;
    self->terminate(
        websocketpp::error::make_error_code(websocketpp::error::close_handshake_timeout));
  });
}

// --- teardown ------------------------------------------------------------------------------------

void CoreConnection::terminate(const std::error_code& ec) {
  if (state_ == State::kClosed) return;
  auto self = shared_from_this();  // the handler below may drop the owner's reference
  if (ec) {
    ec_ = ec;
    local_code_ = kAbnormal;
    local_reason_ = ec.message();
  }
  const bool failed = state_ == State::kConnecting;
  state_ = State::kClosed;
  if (close_timer_) close_timer_->cancel();
  asio::error_code ignored;
  sock_.close(ignored);  // pending reads and writes complete as aborted
  // No event after this one. The owner stays held (keep_) until the connection is destroyed, as
  // websocketpp's close handler held the Session: a Session that ends itself (fail, abandon)
  // goes on after this call, and the worker may let go of it meanwhile (Worker::session_done);
  // it lets go of the connection last (Session::finish), which then releases it.
  const CoreEvents* events = std::exchange(events_, nullptr);
  void* owner = std::exchange(owner_, nullptr);
  if (events != nullptr) (failed ? events->fail : events->close)(owner, this);
}

}  // namespace wslat::net
