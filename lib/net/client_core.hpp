// The client core: wslat's own WebSocket client connection, for ws:// targets reached without
// a proxy (docs/client-core-plan.md, step 4). websocketpp's client did this until 2026-12-02;
// this does what that did for wslat, with the same behaviour on the wire and in the error
// categories, and less per connection: no handler objects (the Session is called through one
// table of function pointers per Session type), no message objects, no per-frame queue.
//
// - Connect: to the address the Session resolved (start_connect: inline when connect() is done
//   at once), then the Session's on_tcp and on_tls, the upgrade request written at once
//   (the rest, if any, by Asio), its answer read through UpgradeResponse and checked by
//   check_upgrade_response and accept_extensions (client_upgrade.hpp).
// - Read: a 2 KiB buffer inside the connection; every read's bytes go through frames::FrameReader
//   (frames.hpp); after a read the next is tried at once (up to kMaxReadsNow), and after an
//   empty one Asio waits without trying the socket first (skip_speculative_read). The time a
//   read completed is stamped into last_read_done before anything is parsed (design.md,
//   "Timestamps").
// - Write: a frame is masked into a per-thread buffer and sent at once, inside the Session's send
//   step; only what the socket did not take is kept and written by Asio, with what follows
//   appended behind it. Pongs are always queued and written by Asio: the Session counts them as
//   unwritten until that write completes (ping.flood), as it did with websocketpp.
// - Close: websocketpp's client rules (process_control_frame, send_close_frame, send_close_ack):
//   a server's close is answered with its own code (1000 for none), a bad close frame with 1002,
//   and after either answer the connection waits for the server's TCP close, bounded by the close
//   timeout. A close of the client's own with 1002, 1007, 1008, 1009 or 1011 (a violation, with
//   frames::to_close_code; or a close step) is terminal: the connection ends once it is written.
// - Teardown: the socket is closed (close(), no shutdown()), and the Session's fail handler
//   (during the upgrade) or close handler (after) is called, once.
// The error codes a Session reads back (get_ec, get_transport_ec, the close codes and reasons)
// are websocketpp's where websocketpp's were, so the categories and texts are the same
// (failures.hpp); websocketpp's error categories go when websocketpp goes (plan step 7).
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include "net/client_upgrade.hpp"
#include "net/deflate.hpp"
#include "net/frames.hpp"
#include "net/wspp_config.hpp"

namespace wslat::net {

class CoreConnection;

// A received data message, as the Session reads it (websocketpp's message_ptr's names).
class CoreMessage {
 public:
  const std::string& get_payload() const { return payload_; }
  websocketpp::frame::opcode::value get_opcode() const {
    return static_cast<websocketpp::frame::opcode::value>(opcode_);
  }
  bool get_compressed() const { return compressed_; }

 private:
  friend class CoreConnection;
  std::string payload_;
  std::uint8_t opcode_ = frames::kText;
  bool compressed_ = false;
};

// What a connection tells its owner, as plain function pointers: one constant table per owner
// type (Session::configure), the owner as a pointer beside it. Each gets the connection, so
// that the owner can ignore a connection it replaced (a reconnect).
struct CoreEvents {
  void (*tcp)(void* owner, const CoreConnection* c);
  void (*tls)(void* owner, const CoreConnection* c);
  void (*open)(void* owner, const CoreConnection* c);
  void (*fail)(void* owner, const CoreConnection* c);
  void (*close)(void* owner, const CoreConnection* c);
  void (*message)(void* owner, const CoreConnection* c, const std::shared_ptr<CoreMessage>& m);
  void (*ping)(void* owner, const CoreConnection* c, const std::string& payload);
  void (*pong)(void* owner, const CoreConnection* c);
};

// websocketpp's close::status::terminal: after these the sender does not wait for an answer.
constexpr bool terminal_close_code(int code) {
  return code == 1002 || code == 1007 || code == 1008 || code == 1009 || code == 1011;
}

class CoreConnection : public std::enable_shared_from_this<CoreConnection> {
 public:
  enum class State : std::uint8_t { kConnecting, kOpen, kClosing, kClosed };
  static constexpr std::size_t kReadBufferSize = 2048;  // as ClientConfig's for websocketpp
  static constexpr std::uint16_t kAbnormal = 1006;      // no close frame (yet)

  CoreConnection(asio::io_context& io, const websocketpp::uri* uri) : uri_(uri), sock_(io) {}
  CoreConnection(const CoreConnection&) = delete;
  CoreConnection& operator=(const CoreConnection&) = delete;
  ~CoreConnection() = default;

  // --- before the connect (Session::add_request_fields, configure) ------------------------------
  void replace_header(std::string_view name, std::string_view value) {
    req_.replace_header(name, value);
  }
  void append_header(std::string_view name, std::string_view value) {
    req_.append_header(name, value);
  }
  // websocketpp's check (the Session checks first, with its own words).
  void add_subprotocol(const std::string& p) {
    if (p.empty() || has_non_token_char(p)) throw HttpError("Invalid subprotocol");
    subprotocols_.push_back(p);
  }
  void set_max_message_size(std::size_t n) { max_message_size_ = n; }
  void set_open_handshake_timeout(long /*ms*/) {}  // the Session's deadline bounds the upgrade
  // The wait for the server's TCP close after a close frame the Session did not send (the answer
  // to the server's close); 0: none (the Session's close step arms its own deadline).
  void set_close_handshake_timeout(long ms) { close_timeout_ms_ = ms; }
  // `keep` (the owner's shared_ptr) is held until the connection is destroyed, as websocketpp's
  // close handler held the Session (terminate, in client_core.cpp, says why).
  void set_events(const CoreEvents* events, void* owner, std::shared_ptr<void> keep) {
    events_ = events;
    owner_ = owner;
    keep_ = std::move(keep);
  }

  // --- state read back ---------------------------------------------------------------------------
  asio::ip::tcp::socket& get_raw_socket() { return sock_; }
  const UpgradeRequest& get_request() const { return req_; }
  const UpgradeResponse& get_response() const { return res_; }
  const std::string& get_response_msg() const { return res_.get_status_msg(); }
  const std::string& get_response_header(std::string_view name) const {
    return res_.get_header(name);
  }
  std::error_code get_ec() const { return ec_; }
  std::error_code get_transport_ec() const { return tec_; }
  std::uint16_t get_local_close_code() const { return local_code_; }
  const std::string& get_local_close_reason() const { return local_reason_; }
  std::uint16_t get_remote_close_code() const { return remote_code_; }
  const std::string& get_remote_close_reason() const { return remote_reason_; }
  State state() const { return state_; }
  // Bytes of frames queued and not yet handed to a write (websocketpp's get_buffered_amount).
  std::size_t get_buffered_amount() const { return next_.size() + (writing_ ? 0 : out_.size()); }
  // Pongs queued since the queue was last empty (Session::on_ping's bound).
  std::size_t unwritten_pongs() const { return pongs_unwritten_; }

  // --- the Session's actions ---------------------------------------------------------------------
  std::error_code send(const std::string& payload, websocketpp::frame::opcode::value opcode);
  void ping(const std::string& payload, std::error_code& ec);
  void pong(const std::string& payload);
  void close(int code, const std::string& reason, std::error_code& ec);
  // Ends the connection now, without a close frame; `ec` (when set) is why (websocketpp's).
  void terminate(const std::error_code& ec);

  // --- CoreClient::connect -----------------------------------------------------------------------
  void on_connected(const asio::error_code& ec);

 private:
  static std::error_code invalid_state() {
    return websocketpp::error::make_error_code(websocketpp::error::invalid_state);
  }
  void start_read();
  void async_read();
  void on_read(const asio::error_code& ec, std::size_t n);
  void read_failed(const asio::error_code& ec);
  bool consume(std::size_t n);
  bool consume_answer(const std::uint8_t*& at, const std::uint8_t* end);
  bool deliver(frames::Message& m);
  void on_control(const frames::Control& c);
  void protocol_close(int code, const std::string& reason);
  std::error_code send_close_frame(int code, const std::string& reason, bool terminal);
  void write_frame(std::uint8_t opcode, std::string_view payload, bool rsv1);
  void send_now(std::string_view bytes);
  std::string& queue() { return writing_ ? next_ : out_; }
  void start_write();
  void on_written(const asio::error_code& ec);
  void written_all();
  void arm_close_timer();
  template <typename Event, typename... Args>
  void notify(Event event, Args&&... args) {
    if (events_ != nullptr) (events_->*event)(owner_, this, std::forward<Args>(args)...);
  }

  const websocketpp::uri* uri_;
  asio::ip::tcp::socket sock_;
  const CoreEvents* events_ = nullptr;
  void* owner_ = nullptr;
  std::shared_ptr<void> keep_;
  UpgradeRequest req_;
  UpgradeResponse res_;
  std::vector<std::string> subprotocols_;
  Deflate deflate_;
  frames::FrameReader reader_;
  CoreMessage message_;
  std::string out_, next_;                           // being written by Asio; queued behind it
  std::unique_ptr<asio::steady_timer> close_timer_;  // the wait after answering a server's close
  std::size_t max_message_size_ = 32000000;
  std::size_t pongs_unwritten_ = 0;
  long close_timeout_ms_ = 0;
  std::error_code ec_, tec_;
  std::string local_reason_, remote_reason_;
  std::uint16_t local_code_ = kAbnormal, remote_code_ = kAbnormal;
  State state_ = State::kConnecting;
  bool writing_ = false;   // an Asio write of out_ is in flight
  bool terminal_ = false;  // end the connection once the queue is written
  std::array<std::uint8_t, kReadBufferSize> buf_;
};

// The endpoint a Worker holds (websocketpp's client's names, for Worker and Session).
class CoreClient {
 public:
  using connection_type = CoreConnection;
  using connection_ptr = std::shared_ptr<CoreConnection>;
  using message_ptr = std::shared_ptr<CoreMessage>;

  template <typename Level>
  void clear_access_channels(Level /*all*/) {}
  template <typename Level>
  void clear_error_channels(Level /*all*/) {}
  void init_asio(asio::io_context* io) { io_ = io; }

  // Set right before connect().
  asio::ip::tcp::endpoint next_address;
  std::optional<asio::ip::address> next_source;

  connection_ptr get_connection(const websocketpp::uri_ptr& uri, std::error_code& ec) {
    ec.clear();
    return std::allocate_shared<CoreConnection>(Recycled<CoreConnection>(), *io_, uri.get());
  }
  void connect(const connection_ptr& con) {
    auto& sock = con->get_raw_socket();
    if (next_source) bind_source(sock, *next_source);
    start_connect(sock, next_address, [con](const asio::error_code& ec) { con->on_connected(ec); });
  }

 private:
  asio::io_context* io_ = nullptr;
};

}  // namespace wslat::net
