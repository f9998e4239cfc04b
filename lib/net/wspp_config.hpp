// websocketpp configuration for the runner, and wslat's patches to it: a single-threaded
// endpoint with a cheap RNG, stub loggers, transport timeouts out of the way, a transport that
// connects to an address resolved beforehand, and an upgrade request and response check without
// std::stringstream. Included only by lib/net/transport*.cpp (the runner's websocketpp
// translation units, through plan.hpp, session.hpp and worker.hpp).
#pragma once

#ifndef ASIO_STANDALONE
#error "ASIO_STANDALONE must be defined: without it websocketpp silently uses Boost.Asio"
#endif

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <forward_list>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/logger/stub.hpp>

#include "build_info.hpp"
#include "digest.hpp"
#include "http_syntax.hpp"
#include "net/client_upgrade.hpp"
#include "net/deflate.hpp"
#include "net/engine.hpp"

namespace wslat::net {
// ---------------------------------------------------------------------------------------------
// websocketpp configuration: single-threaded per endpoint (no locks), a cheap RNG for masks and
// keys, transport timeouts out of the way (every phase has its own timer in the Session), and a
// transport that connects to an address we resolved ourselves (so `dns` is measured and IP
// literals skip the resolver thread) while Host and SNI keep the name from the URL.

// When this thread's last read of a connection completed: set by the transport's read
// completion (handle_async_read, below) right before websocketpp parses what was read, so the
// handlers it calls from that parse (open, message, pong) see the time the bytes were read.
inline thread_local TimePoint last_read_done{};
// The connection whose read completion is running now (set around websocketpp's read handler,
// which ends by asking for the next read): that next read is tried at once (see
// async_read_at_least below). nullptr otherwise.
inline thread_local const void* read_tail = nullptr;
// How deep reads completed at once are nested (each one's handler asks for the next read).
inline thread_local int reads_now = 0;
// The socket whose connect() completed at once, while the handlers that completion runs inline
// (websocketpp's connect, start, the upgrade request's write, the read for its answer) run; -1
// otherwise. No epoll_wait has run since that socket was opened and registered (edge-triggered)
// with the reactor: whatever arrived on it is still an event to come (see async_read_at_least).
inline thread_local int connected_inline = -1;
// How many sessions this thread's worker has in flight (Worker keeps it).
inline thread_local std::size_t sessions_in_flight = 0;

template <typename IntType, typename Concurrency>
class FastRng {
 public:
  FastRng() : state_(std::random_device{}() | 1ULL) {}
  IntType operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<IntType>(state_);
  }

 private:
  std::uint64_t state_;
};

// websocketpp's request and response types for wslat's connections: the client's side of the
// upgrade is wslat's own (client_upgrade.hpp: the request built with appends, not
// std::stringstream and a std::map; the answer read line by line as it arrives), and these
// adapters give it the names websocketpp's connection<> calls through config::request_type and
// config::response_type, hiding their websocketpp bases' (non-virtual) members. The bases stay
// only for websocketpp's server-side code, which a client instantiates all the same and never
// runs; their maps and buffers stay empty.
class FastRequest : public websocketpp::http::parser::request, public UpgradeRequest {
 public:
  using UpgradeRequest::append_header;
  using UpgradeRequest::get_header;
  using UpgradeRequest::get_header_as_plist;
  using UpgradeRequest::raw;
  using UpgradeRequest::remove_header;
  using UpgradeRequest::replace_header;
  using UpgradeRequest::set_method;
  using UpgradeRequest::set_uri;
  using UpgradeRequest::set_version;

  // As strings, which websocketpp's (server-side) code passes on as such.
  std::string get_method() const { return std::string(UpgradeRequest::get_method()); }
  std::string get_uri() const { return std::string(UpgradeRequest::get_uri()); }
  std::string get_version() const { return std::string(UpgradeRequest::get_version()); }

  // Frees what the request holds once the upgrade is done (Session::release_handshake).
  void release() {
    static_cast<websocketpp::http::parser::request&>(*this) = websocketpp::http::parser::request{};
    UpgradeRequest::release();
  }
};

class QuietResponse : public websocketpp::http::parser::response, public UpgradeResponse {
 public:
  using UpgradeResponse::get_header;
  using UpgradeResponse::get_header_as_plist;
  using UpgradeResponse::get_status_msg;
  using UpgradeResponse::headers_ready;
  using UpgradeResponse::release;

  std::string raw() const { return {}; }  // only ever logged
  // websocketpp's connection catches its own exception type for an answer that is not HTTP.
  std::size_t consume(const char* buf, std::size_t len) {
    try {
      return UpgradeResponse::consume(buf, len);
    } catch (const HttpError& e) {
      throw websocketpp::http::exception(e.what(), websocketpp::http::status_code::bad_request);
    }
  }
  bool ready() const { return headers_ready(); }
  // As websocketpp's enum: 0 (uninitialized) for a number outside its 9 bits (0-511), whose
  // conversion would be undefined; such an answer is not a 101 either way.
  websocketpp::http::status_code::value get_status_code() const {
    return status() >= 0 && status() <= kMaxStatusEnum
               ? static_cast<websocketpp::http::status_code::value>(status())
               : websocketpp::http::status_code::uninitialized;
  }

 private:
  static constexpr int kMaxStatusEnum = 511;
};
static_assert(websocketpp::http::max_header_size == kMaxHeaderSize);

// websocketpp's permessage_deflate_type for both client configs: wslat's Deflate (deflate.hpp)
// behind websocketpp's extension interface (processors/hybi13.hpp), its errors as the processor
// errors websocketpp turns into close codes and texts (1007, 1009, 1011).
class WsppDeflate : public Deflate {
 public:
  bool is_implemented() const { return true; }
  // The Session writes the offer (RunOptions::permessage_deflate), not hybi13.
  std::string generate_offer() const { return {}; }
  // Server-side negotiation: never used by a client (hybi13 instantiates it all the same).
  websocketpp::err_str_pair negotiate(const websocketpp::http::attribute_list& /*offer*/) {
    return {websocketpp::processor::error::make_error_code(
                websocketpp::processor::error::extensions_disabled),
            {}};
  }
  websocketpp::lib::error_code init(bool /*is_server*/) { return {}; }
  websocketpp::lib::error_code compress(const std::string& in, std::string& out) {
    return processor_error(Deflate::compress(in, out));
  }
  websocketpp::lib::error_code decompress(const std::uint8_t* buf, std::size_t len,
                                          std::string& out) {
    return processor_error(Deflate::decompress(buf, len, out));
  }

 private:
  static websocketpp::lib::error_code processor_error(std::error_code ec) {
    namespace perr = websocketpp::processor::error;
    if (!ec) return ec;
    switch (static_cast<CodecProblem>(ec.value())) {
      case CodecProblem::kInvalidData:
        return perr::make_error_code(perr::invalid_payload);
      case CodecProblem::kTooLarge:
        return perr::make_error_code(perr::message_too_big);
      case CodecProblem::kCompress:
        break;
    }
    return perr::make_error_code(perr::general);
  }
};

// What the upgrade request is made of, from websocketpp's parsed `uri` (views into it).
inline UpgradeTarget upgrade_target(const websocketpp::uri& uri) {
  return {uri.get_secure(), uri.get_host(), uri.get_port(), uri.get_resource()};
}

// Makes `msg` a final, masked pong frame carrying `payload`, ready to send as it is (client
// frames are masked; control payloads are <= 125 bytes).
template <typename Message>
void prepare_pong(Message& msg, const std::string& payload, std::uint32_t key) {
  std::string header(6, '\0');
  header[0] = static_cast<char>(0x80 | websocketpp::frame::opcode::pong);
  header[1] = static_cast<char>(0x80 | payload.size());
  std::memcpy(&header[2], &key, 4);
  std::string masked = payload;
  for (std::size_t i = 0; i < masked.size(); ++i) {
    masked[i] = static_cast<char>(masked[i] ^ header[2 + (i & 3)]);
  }
  msg.set_header(header);
  msg.set_payload(masked);
  msg.set_prepared(true);
}

// The state Asio keeps for a socket (basic_socket's protected implementation), reached through a
// pointer to that member formed in a derived class: nothing is copied or cast.
struct SocketAccess : asio::ip::tcp::socket {
  static asio::detail::reactive_socket_service_base::base_implementation_type& impl(
      asio::ip::tcp::socket::lowest_layer_type& sock) {
    return (sock.*(&SocketAccess::impl_)).get_implementation();
  }
};
static_assert(ASIO_VERSION == 102201,
              "open_nonblocking() sets Asio 1.22.1's socket state bits: check them for this Asio");

// Opens `sock` non-blocking in one syscall (SOCK_NONBLOCK; SOCK_CLOEXEC too) and records that in
// Asio's state as its own first operation would: Asio's open() makes a blocking socket, and then
// its first operation switches it with an ioctl(FIONBIO), one more syscall per connection. Not
// `possible_dup` either (what assign() assumes of a descriptor from elsewhere): this one is the
// socket's alone, so its close() needs no epoll_ctl(DEL) first, as after Asio's own open().
inline void open_nonblocking(asio::ip::tcp::socket::lowest_layer_type& sock,
                             const asio::ip::tcp& protocol, asio::error_code& ec) {
  const int fd =
      ::socket(protocol.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol.protocol());
  if (fd < 0) {
    ec = asio::error_code(errno, asio::error::get_system_category());
    return;
  }
  sock.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    return;
  }
  namespace ops = asio::detail::socket_ops;
  SocketAccess::impl(sock).state_ = ops::stream_oriented | ops::internal_non_blocking;
}

// Binds before connecting; the port is chosen at connect time (IP_BIND_ADDRESS_NO_PORT) so the
// 4-tuple, not the source address alone, must be unique. Errors surface from the connect.
inline void bind_source(asio::ip::tcp::socket::lowest_layer_type& sock,
                        const asio::ip::address& source) {
  asio::error_code ec;
  open_nonblocking(sock, source.is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
  if (ec) return;
#ifdef IP_BIND_ADDRESS_NO_PORT
  const int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  sock.bind(asio::ip::tcp::endpoint(source, 0), ec);
}

// Whether a connect() that answered EINPROGRESS has completed already, with no error: on
// loopback (and wherever the peer's SYN-ACK is processed within the connect() call) it has.
// One zero-timeout poll() then stands for the wait for writability, which costs three
// syscalls (an epoll_ctl adding EPOLLOUT, the epoll_wait, getsockopt for SO_ERROR) and leaves
// EPOLLOUT registered, so that every ACK of a later write wakes the loop for nothing. Not
// yet, or an error: false, and the wait takes over (and reports the error, as before).
inline bool connected_now(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) == 0 &&
         (p.revents & POLLOUT) != 0;
}

// asio's async_connect without the poll() it makes after the socket turned writable (for
// "spurious readiness notifications", which epoll does not give a connecting TCP socket): the
// same non-blocking connect(); when it is in flight and not already done (connected_now), a
// wait for writability, and SO_ERROR for its outcome.
template <typename Socket, typename Handler>
void start_connect(Socket& sock, const asio::ip::tcp::endpoint& address, Handler handler) {
  asio::error_code ec;
  if (!sock.is_open()) open_nonblocking(sock, address.protocol(), ec);
  if (!ec && ::connect(sock.native_handle(), address.data(),
                       static_cast<socklen_t>(address.size())) != 0) {
    ec = asio::error_code(errno, asio::error::get_system_category());
  }
  if (ec == asio::error::in_progress || ec == asio::error::would_block) {
    if (!connected_now(sock.native_handle())) {
      sock.async_wait(Socket::wait_write, [&sock, handler = std::move(handler)](
                                              asio::error_code wait_ec) mutable {
        if (!wait_ec) {
          int error = 0;
          socklen_t len = sizeof error;
          if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
            error = errno;
          }
          if (error != 0) wait_ec = asio::error_code(error, asio::error::get_system_category());
        }
        handler(wait_ec);
      });
      return;
    }
    ec = asio::error_code();
  }
  // Connected at once: on at once. The connection (websocketpp's handle_connect, or the client
  // core's on_connected) then writes the upgrade request and starts its read, neither of which
  // completes inline, so nothing ends the connection under its caller (Session::connect, whose last
  // call this is); a posted completion cost a loop turn (an epoll_wait) per connection and the TCP
  // phase a loop turn of delay. Failed at once: from the loop, as asio's would, for the same
  // reason.
  if (!ec) {
    const int outer = std::exchange(connected_inline, sock.native_handle());
    struct Restore {
      int value;
      ~Restore() { connected_inline = value; }
    } restore{outer};
    handler(ec);
    return;
  }
  asio::post(sock.get_executor(), [handler = std::move(handler), ec]() mutable { handler(ec); });
}

template <typename TransportConfig>
class PreResolvedEndpoint : public websocketpp::transport::asio::endpoint<TransportConfig> {
  using Base = websocketpp::transport::asio::endpoint<TransportConfig>;

 public:
  // Set right before client::connect(), which calls async_connect synchronously.
  asio::ip::tcp::endpoint next_address;
  // When set, the socket is bound to this local address first (ephemeral ports are per
  // source address: spreading over 127.0.0.x lifts the ~28k connections one pair allows).
  std::optional<asio::ip::address> next_source;

 protected:
  // What Base::handle_resolve does after a resolution, without a resolution (nor its timer, a
  // steady_timer + shared_ptr + std::function per connection) and without the iterator walk of
  // asio::async_connect: arm the (idle) connect timer Base::handle_connect expects, connect.
  // No connect timer either: Base's (a steady_timer, a shared_ptr and a std::function per
  // connection, armed and cancelled each time) is one hour long; the Session's phase deadline
  // bounds the connect. What Base::handle_connect does once its timer is out of the picture.
  // Through a proxy (set_proxy), Base's own: it resolves the proxy's address (an IP literal)
  // and prepares the CONNECT request, which only Base may do. Base writes the CONNECT's
  // authority as host:port, "CONNECT ::1:443" for an IPv6 literal, which no proxy can parse:
  // it gets the host in brackets (RFC 7230 §5.3.3). That uri also becomes the transport's,
  // which uses it for SNI only, and the Session sends no SNI for an IP literal (verify_tls).
  void async_connect(typename Base::transport_con_ptr tcon, websocketpp::uri_ptr u,
                     websocketpp::transport::connect_handler cb) {
    if (!tcon->get_proxy().empty()) {
      if (u->get_host().find(':') != std::string::npos) {
        u = std::make_shared<websocketpp::uri>(u->get_secure(), "[" + u->get_host() + "]",
                                               u->get_port(), u->get_resource());
      }
      Base::async_connect(tcon, u, std::move(cb));
      return;
    }
    tcon->set_uri(u);
    auto& sock = tcon->get_raw_socket().lowest_layer();
    if (next_source) bind_source(sock, *next_source);
    start_connect(sock, next_address, [tcon, cb = std::move(cb)](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      cb(ec ? Base::socket_con_type::translate_ec(ec) : websocketpp::lib::error_code());
    });
  }
};

template <typename Base>
struct ClientConfig : public Base {
  using type = ClientConfig;
  using concurrency_type = websocketpp::concurrency::none;
  // Stub loggers: with `basic` ones, cleared channels still pay for formatting every line.
  using elog_type = websocketpp::log::stub;
  using alog_type = websocketpp::log::stub;
  using rng_type = FastRng<std::uint32_t, concurrency_type>;
  using request_type = FastRequest;
  using response_type = QuietResponse;
  using message_type = typename Base::message_type;
  using con_msg_manager_type = typename Base::con_msg_manager_type;
  using endpoint_msg_manager_type = typename Base::endpoint_msg_manager_type;
  // wslat's (deflate.hpp): websocketpp's own is unfit for a client (docs/design.md).
  using permessage_deflate_type = WsppDeflate;
  static const bool enable_multithreading = false;
  // The read buffer is inside websocketpp's connection object (16 KiB by default): a held
  // connection writes only its first bytes, yet the partly used pages at a 16 KiB buffer's ends
  // kept ~4.4 KiB per connection resident; 2 KiB keeps ~2 KiB. The price is one read per 2 KiB
  // of a larger message; a read that fills the buffer is followed by the next at once (see
  // async_read_at_least below). bench/README.md, "What a held connection costs".
  static const size_t connection_read_buffer_size = 2048;

  struct transport_config : public Base::transport_config {
    using concurrency_type = typename type::concurrency_type;
    using elog_type = typename type::elog_type;
    using alog_type = typename type::alog_type;
    using request_type = typename type::request_type;
    using response_type = typename type::response_type;
    static const bool enable_multithreading = false;
    // One hour: the Session's own timers enforce the scenario's timeouts.
    static const long timeout_socket_pre_init = 3'600'000;
    static const long timeout_proxy = 3'600'000;
    // 0: no post-init (TLS handshake) timer at all; the Session's connect deadline covers TLS.
    static const long timeout_socket_post_init = 0;
    static const long timeout_dns_resolve = 3'600'000;
    static const long timeout_connect = 3'600'000;
    static const long timeout_socket_shutdown = 1'000;
  };
  using transport_type = PreResolvedEndpoint<transport_config>;
};

using PlainConfig = ClientConfig<websocketpp::config::asio_client>;
using TlsConfig = ClientConfig<websocketpp::config::asio_tls_client>;

// The memory of a finished connection, kept by its thread for the next one. websocketpp's
// connection object (with its 2 KiB read buffer inside) is a 6 KiB block, too large for glibc's
// per-thread cache of small chunks: every connection's malloc took glibc's slow path, which
// first merges every small chunk freed since into larger ones (malloc_consolidate), and its free
// took the slow path too. Up to kSpareBlocks blocks per thread and block type; more are freed.
// Not under AddressSanitizer, so that it still sees each connection's lifetime.
template <typename T>
class Recycled {
 public:
  using value_type = T;
  Recycled() = default;
  template <typename U>
  explicit Recycled(const Recycled<U>& /*other*/) noexcept {}

  T* allocate(std::size_t n) {
    Spares& s = spares();
    if (n == 1 && s.count > 0) return static_cast<T*>(s.blocks[--s.count]);
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    Spares& s = spares();
    if (n == 1 && s.count < s.blocks.size()) {
      s.blocks[s.count++] = p;
      return;
    }
    ::operator delete(p);
  }
  template <typename U>
  bool operator==(const Recycled<U>& /*other*/) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const Recycled<U>& /*other*/) const noexcept {
    return false;
  }

 private:
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::size_t kSpareBlocks = 0;
#else
  static constexpr std::size_t kSpareBlocks = 64;
#endif
  struct Spares {
    std::array<void*, kSpareBlocks> blocks{};
    std::size_t count = 0;
    Spares() = default;
    Spares(const Spares&) = delete;
    Spares& operator=(const Spares&) = delete;
    ~Spares() {
      while (count > 0) ::operator delete(blocks[--count]);
    }
  };
  static Spares& spares() {
    thread_local Spares s;
    return s;
  }
};

}  // namespace wslat::net

// websocketpp formats a log line for every open, close and failure in a std::stringstream
// whatever the logger does with it (about 15% of a connection's instructions, measured with
// callgrind). These explicit specializations, seen before any use, make them no-ops.
// log_open_result(), called once the 101 was validated, also frees the upgrade request's text
// (m_handshake_buffer), which a client connection never reads again: ~200 B and a heap chunk
// of every held connection (bench/README.md, "What a held connection costs").
#define WSLAT_SILENCE_CONNECTION_LOGS(CONFIG)                        \
  template <>                                                        \
  inline void websocketpp::connection<CONFIG>::log_open_result() {   \
    std::string().swap(m_handshake_buffer);                          \
  }                                                                  \
  template <>                                                        \
  inline void websocketpp::connection<CONFIG>::log_close_result() {} \
  template <>                                                        \
  inline void websocketpp::connection<CONFIG>::log_fail_result() {}  \
  template <>                                                        \
  inline void websocketpp::connection<CONFIG>::log_http_result() {}
WSLAT_SILENCE_CONNECTION_LOGS(wslat::net::PlainConfig)
WSLAT_SILENCE_CONNECTION_LOGS(wslat::net::TlsConfig)
#undef WSLAT_SILENCE_CONNECTION_LOGS

// websocketpp 0.8.2's connection constructor (connection.hpp) without four of its five
// allocations: m_handle_read_frame and m_write_frame_handler, binds of a member pointer and
// `this` (too large for a std::function's inline storage), stay empty, as read_frame() and
// write_frame() are specialized below with lambdas of their own and nothing else calls them; and
// every connection of a thread shares one message manager (con_msg_manager has no state: its
// get_message() makes a message that keeps a weak_ptr to it) instead of a new one and its
// shared_ptr's control block. The fifth, a copy of the endpoint's user agent, stays.
namespace wslat::net {
template <typename Manager>
const std::shared_ptr<Manager>& thread_msg_manager() {
  thread_local const std::shared_ptr<Manager> manager = std::make_shared<Manager>();
  return manager;
}
}  // namespace wslat::net
#define WSLAT_LEAN_CONSTRUCTOR(CONFIG)                                                 \
  template <>                                                                          \
  inline websocketpp::connection<CONFIG>::connection(                                  \
      bool p_is_server, std::string const& ua, const lib::shared_ptr<alog_type>& alog, \
      const lib::shared_ptr<elog_type>& elog, rng_type& rng)                           \
      : transport_con_type(p_is_server, alog, elog),                                   \
        m_user_agent(ua),                                                              \
        m_open_handshake_timeout_dur(CONFIG::timeout_open_handshake),                  \
        m_close_handshake_timeout_dur(CONFIG::timeout_close_handshake),                \
        m_pong_timeout_dur(CONFIG::timeout_pong),                                      \
        m_max_message_size(CONFIG::max_message_size),                                  \
        m_state(session::state::connecting),                                           \
        m_internal_state(session::internal_state::USER_INIT),                          \
        m_msg_manager(wslat::net::thread_msg_manager<con_msg_manager_type>()),         \
        m_send_buffer_size(0),                                                         \
        m_write_flag(false),                                                           \
        m_read_flag(true),                                                             \
        m_is_server(p_is_server),                                                      \
        m_alog(alog),                                                                  \
        m_elog(elog),                                                                  \
        m_rng(rng),                                                                    \
        m_local_close_code(close::status::abnormal_close),                             \
        m_remote_close_code(close::status::abnormal_close),                            \
        m_is_http(false),                                                              \
        m_http_state(session::http_state::init),                                       \
        m_was_clean(false) {}
WSLAT_LEAN_CONSTRUCTOR(wslat::net::PlainConfig)
WSLAT_LEAN_CONSTRUCTOR(wslat::net::TlsConfig)
#undef WSLAT_LEAN_CONSTRUCTOR

// websocketpp 0.8.2's endpoint::create_connection() (impl/endpoint_impl.hpp) with the
// connection's memory from its thread's spare blocks (Recycled, above) instead of make_shared's
// malloc; otherwise step for step, the log write left out.
#define WSLAT_RECYCLED_CONNECTIONS(CONFIG)                                                     \
  template <>                                                                                  \
  inline websocketpp::endpoint<websocketpp::connection<CONFIG>, CONFIG>::connection_ptr        \
  websocketpp::endpoint<websocketpp::connection<CONFIG>, CONFIG>::create_connection() {        \
    connection_ptr con = std::allocate_shared<connection_type>(                                \
        wslat::net::Recycled<connection_type>(), m_is_server, m_user_agent, m_alog, m_elog,    \
        lib::ref(m_rng));                                                                      \
    con->set_handle(connection_weak_ptr(con));                                                 \
    con->set_open_handler(m_open_handler);                                                     \
    con->set_close_handler(m_close_handler);                                                   \
    con->set_fail_handler(m_fail_handler);                                                     \
    con->set_ping_handler(m_ping_handler);                                                     \
    con->set_pong_handler(m_pong_handler);                                                     \
    con->set_pong_timeout_handler(m_pong_timeout_handler);                                     \
    con->set_interrupt_handler(m_interrupt_handler);                                           \
    con->set_http_handler(m_http_handler);                                                     \
    con->set_validate_handler(m_validate_handler);                                             \
    con->set_message_handler(m_message_handler);                                               \
    if (m_open_handshake_timeout_dur != CONFIG::timeout_open_handshake) {                      \
      con->set_open_handshake_timeout(m_open_handshake_timeout_dur);                           \
    }                                                                                          \
    if (m_close_handshake_timeout_dur != CONFIG::timeout_close_handshake) {                    \
      con->set_close_handshake_timeout(m_close_handshake_timeout_dur);                         \
    }                                                                                          \
    if (m_pong_timeout_dur != CONFIG::timeout_pong) con->set_pong_timeout(m_pong_timeout_dur); \
    if (m_max_message_size != CONFIG::max_message_size) {                                      \
      con->set_max_message_size(m_max_message_size);                                           \
    }                                                                                          \
    con->set_max_http_body_size(m_max_http_body_size);                                         \
    if (const lib::error_code ec = transport_type::init(con)) {                                \
      m_elog->write(log::elevel::fatal, ec.message());                                         \
      return connection_ptr();                                                                 \
    }                                                                                          \
    return con;                                                                                \
  }
WSLAT_RECYCLED_CONNECTIONS(wslat::net::PlainConfig)
WSLAT_RECYCLED_CONNECTIONS(wslat::net::TlsConfig)
#undef WSLAT_RECYCLED_CONNECTIONS

// The transport's hot path, for both configs:
// - dispatch() runs its handler at once instead of posting it. websocketpp dispatches only
//   write_frame (after send, ping, pong, close and a finished write) and pause/resume_reading,
//   none of which calls back into the caller with anything but a completed write (see
//   WSLAT_WRITE_NOW below: a write that completes at once runs its handler inline).
//   The frame is written inside con->send(), right after the Session's send timestamp, rather
//   than one loop turn (an epoll_wait and whatever else is queued) later.
// - handle_async_read(), where every read of the connection completes (handshake response and
//   frames), stamps the time into last_read_done before websocketpp parses the bytes: the
//   open, message and pong handlers it then calls run inside that call and use that stamp (the
//   moment the bytes that completed the frame were read) rather than the time after parsing,
//   UTF-8 validation, copying and dispatch. See docs/design.md, "Timestamps".
#define WSLAT_TRANSPORT_HOT_PATH(CONFIG)                                                 \
  template <>                                                                            \
  inline websocketpp::lib::error_code                                                    \
  websocketpp::transport::asio::connection<CONFIG::transport_config>::dispatch(          \
      dispatch_handler handler) {                                                        \
    handler();                                                                           \
    return {};                                                                           \
  }                                                                                      \
  template <>                                                                            \
  inline void                                                                            \
  websocketpp::transport::asio::connection<CONFIG::transport_config>::handle_async_read( \
      read_handler handler, lib::asio::error_code const& ec, size_t bytes_transferred) { \
    wslat::net::last_read_done = wslat::net::Clock::now();                               \
    lib::error_code tec;                                                                 \
    if (ec == lib::asio::error::eof) {                                                   \
      tec = make_error_code(transport::error::eof);                                      \
    } else if (ec) {                                                                     \
      tec = socket_con_type::translate_ec(ec);                                           \
      m_tec = ec;                                                                        \
    }                                                                                    \
    if (!handler) return;                                                                \
    wslat::net::read_tail = ec ? nullptr : this;                                         \
    handler(tec, bytes_transferred);                                                     \
    wslat::net::read_tail = nullptr;                                                     \
  }
// websocketpp declares these members with handlers by value; a specialization must match.
WSLAT_TRANSPORT_HOT_PATH(wslat::net::PlainConfig)  // NOLINT(performance-unnecessary-value-param)
WSLAT_TRANSPORT_HOT_PATH(wslat::net::TlsConfig)    // NOLINT(performance-unnecessary-value-param)
#undef WSLAT_TRANSPORT_HOT_PATH

// A plain socket's shutdown is synchronous, yet Base arms (and at once cancels) a one-second
// steady_timer around it, whose cancelled handler also delays the socket's close by a loop
// turn. The same without the timer (a TLS shutdown waits for the peer and keeps its timer),
// and a close() instead of shutdown(): the FIN leaves at the same moment, the socket's later
// close() (when websocketpp drops the connection) and its syscall are no more, and operations
// still pending are cancelled at once rather than when the peer's answer to the FIN wakes them.
template <>
inline void
websocketpp::transport::asio::connection<wslat::net::PlainConfig::transport_config>::async_shutdown(
    shutdown_handler callback) {  // NOLINT(performance-unnecessary-value-param): as declared
  lib::asio::error_code ec;
  socket_con_type::get_raw_socket().close(ec);
  lib::error_code tec;
  if (ec) {
    tec = socket_con_type::translate_ec(ec);
    m_tec = ec;
  }
  callback(tec);
}

// websocketpp 0.8.2's terminate() (impl/connection_impl.hpp) for a plain socket, whose
// async_shutdown (above) closes the socket and calls back at once: the callback is a lambda
// holding `this` and the status (inline in the std::function) instead of a bind of a member
// pointer, a shared_ptr and the status (an allocation), and the shared_ptr is held here while
// it runs (the close and fail handlers it calls may drop the last other one). TLS keeps
// websocketpp's: its shutdown completes later. Otherwise step for step, the logs left out.
template <>
inline void websocketpp::connection<wslat::net::PlainConfig>::terminate(lib::error_code const& ec) {
  if (m_handshake_timer) {
    m_handshake_timer->cancel();
    m_handshake_timer.reset();
  }
  terminate_status tstat = unknown;
  if (ec) {
    m_ec = ec;
    m_local_close_code = close::status::abnormal_close;
    m_local_close_reason = ec.message();
  }
  if (m_is_http) m_http_state = session::http_state::closed;
  if (m_state == session::state::connecting) {
    m_state = session::state::closed;
    tstat = failed;
    if (m_ec != error::http_connection_ended) log_fail_result();
  } else if (m_state != session::state::closed) {
    m_state = session::state::closed;
    tstat = closed;
  } else {
    return;  // terminated already
  }
  const ptr self = get_shared();
  transport_con_type::async_shutdown(
      [this, tstat](const lib::error_code& shutdown_ec) { handle_terminate(tstat, shutdown_ec); });
}

namespace wslat::net {
// Writes `bufs` now, without blocking (the socket is in non-blocking mode from the connect on):
// true when every byte left; otherwise `bufs` keeps what remains to write (all of it after an
// error or EAGAIN, which the async_write that follows meets and reports again).
inline bool write_now(asio::ip::tcp::socket& sock, std::vector<asio::const_buffer>& bufs) {
  constexpr std::size_t kMaxIov = 16;
  constexpr std::size_t kSmallWrite = 512;
  if (!sock.native_non_blocking() || bufs.empty() || bufs.size() > kMaxIov) return false;
  std::size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  ssize_t n = 0;
  if (total <= kSmallWrite) {
    // A small write (a frame's header and short payload, a short upgrade request) as one
    // buffer: send() costs the kernel less than sendmsg(), which first copies the msghdr and
    // the iovec array in from user space.
    std::array<char, kSmallWrite> one;
    std::size_t at = 0;
    for (const auto& b : bufs) {
      std::memcpy(one.data() + at, b.data(), b.size());
      at += b.size();
    }
    n = ::send(sock.native_handle(), one.data(), total, MSG_NOSIGNAL);
  } else {
    std::array<iovec, kMaxIov> iov{};
    for (std::size_t i = 0; i < bufs.size(); ++i) {
      iov[i].iov_base = const_cast<void*>(bufs[i].data());  // NOLINT: sendmsg's C API
      iov[i].iov_len = bufs[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = bufs.size();
    n = ::sendmsg(sock.native_handle(), &msg, MSG_NOSIGNAL);
  }
  if (n < 0) return false;
  if (static_cast<std::size_t>(n) == total) return true;
  std::size_t left = static_cast<std::size_t>(n);  // a partial write: drop what left
  while (left > 0 && left >= bufs.front().size()) {
    left -= bufs.front().size();
    bufs.erase(bufs.begin());
  }
  if (left > 0) bufs.front() += left;
  return false;
}

// True when one of the frames websocketpp writes at once (header and payload buffers in turn)
// is a pong.
inline bool has_pong(const std::vector<websocketpp::transport::buffer>& bufs) {
  for (std::size_t i = 0; i < bufs.size(); i += 2) {
    if (bufs[i].len > 0 &&
        (static_cast<unsigned char>(bufs[i].buf[0]) & 0x0FU) == websocketpp::frame::opcode::pong) {
      return true;
    }
  }
  return false;
}
}  // namespace wslat::net

// A plain socket's writes (the upgrade request and every frame) are tried at once: when all the
// bytes left, websocketpp's write handler runs right here instead of being posted by Asio, which
// cost a loop turn (an epoll_wait) per write. Only a successful, complete write completes this
// way; a partial one, EAGAIN or an error goes through Asio's async_write as before. websocketpp
// calls async_write last in send_http_request and write_frame, and a client never writes a
// terminal frame (only a server terminates once its close frame is written), so the handler
// (handle_send_http_request, handle_write_frame) finds the state it would find later. Pongs
// keep the posted completion: the Session counts a pong as unwritten until websocketpp
// releases it there (ping.flood), and a server's ping flood must still be seen as one.
#define WSLAT_WRITE_NOW(SIGNATURE, FILL, NOW)                                                 \
  template <>                                                                                 \
  inline void websocketpp::transport::asio::connection<                                       \
      wslat::net::PlainConfig::transport_config>::async_write SIGNATURE {                     \
    FILL;                                                                                     \
    if ((NOW) && wslat::net::write_now(socket_con_type::get_socket(), m_bufs)) {              \
      m_bufs.clear();                                                                         \
      handler(lib::error_code());                                                             \
      return;                                                                                 \
    }                                                                                         \
    lib::asio::async_write(                                                                   \
        socket_con_type::get_socket(), m_bufs,                                                \
        make_custom_alloc_handler(m_write_handler_allocator,                                  \
                                  lib::bind(&type::handle_async_write, get_shared(), handler, \
                                            lib::placeholders::_1, lib::placeholders::_2)));  \
  }
// websocketpp declares these members with handlers by value; a specialization must match.
// NOLINTBEGIN(performance-unnecessary-value-param)
// Room for a frame's two buffers from the first write (the upgrade request's one) on: one
// allocation per connection, not one per doubling.
WSLAT_WRITE_NOW((const char* buf, size_t len, write_handler handler),
                {
                  m_bufs.reserve(2);
                  m_bufs.push_back(lib::asio::buffer(buf, len));
                },
                true)
WSLAT_WRITE_NOW((std::vector<buffer> const& bufs, write_handler handler),
                m_bufs.reserve(bufs.size());
                for (const auto& b
                     : bufs) { m_bufs.push_back(lib::asio::buffer(b.buf, b.len)); },
                !wslat::net::has_pong(bufs))
// NOLINTEND(performance-unnecessary-value-param)
#undef WSLAT_WRITE_NOW

// websocketpp 0.8.2's send(message_ptr) and write_frame() (impl/connection_impl.hpp) without
// two heap-allocated std::functions per frame: send() dispatched write_frame as a bind of a
// member pointer and a shared_ptr (too large for std::function's inline storage), and
// write_frame() copied m_write_frame_handler, another such bind, into the transport's write.
// Here send() calls write_frame() itself (dispatch() runs its handler at once anyway, see
// WSLAT_TRANSPORT_HOT_PATH), and the write's handler is a lambda holding `this`: the transport's
// write holds a shared_ptr to the same connection until that handler has run (a write that
// completes at once runs it inline, WSLAT_WRITE_NOW). The buffer list is reserved at once (one
// allocation per connection, not one per doubling). Otherwise step for step, the log writes
// and the no-op locks of concurrency::none left out.
#define WSLAT_LEAN_SEND(CONFIG)                                                                \
  template <>                                                                                  \
  inline void websocketpp::connection<CONFIG>::write_frame() {                                 \
    if (m_write_flag) return;                                                                  \
    for (message_ptr next = write_pop(); next;                                                 \
         next = next->get_terminal() ? message_ptr() : write_pop()) {                          \
      m_current_msgs.push_back(next);                                                          \
    }                                                                                          \
    if (m_current_msgs.empty()) return;                                                        \
    m_write_flag = true;                                                                       \
    m_send_buffer.reserve(2 * m_current_msgs.size());                                          \
    for (const message_ptr& m : m_current_msgs) {                                              \
      m_send_buffer.emplace_back(m->get_header().c_str(), m->get_header().size());             \
      m_send_buffer.emplace_back(m->get_payload().c_str(), m->get_payload().size());           \
    }                                                                                          \
    transport_con_type::async_write(                                                           \
        m_send_buffer, [this](const lib::error_code& ec) { handle_write_frame(ec); });         \
  }                                                                                            \
  template <>                                                                                  \
  inline websocketpp::lib::error_code websocketpp::connection<CONFIG>::send(message_ptr msg) { \
    static_assert(!CONFIG::enable_multithreading);                                             \
    if (m_state != session::state::open) return error::make_error_code(error::invalid_state);  \
    if (msg->get_prepared()) {                                                                 \
      write_push(msg);                                                                         \
    } else {                                                                                   \
      message_ptr outgoing = m_msg_manager->get_message();                                     \
      if (!outgoing) return error::make_error_code(error::no_outgoing_buffers);                \
      if (lib::error_code ec = m_processor->prepare_data_frame(msg, outgoing)) return ec;      \
      write_push(outgoing);                                                                    \
    }                                                                                          \
    if (!m_write_flag && !m_send_queue.empty()) write_frame();                                 \
    return {};                                                                                 \
  }
// websocketpp declares send() with the message by value; a specialization must match.
// NOLINTBEGIN(performance-unnecessary-value-param)
WSLAT_LEAN_SEND(wslat::net::PlainConfig)
WSLAT_LEAN_SEND(wslat::net::TlsConfig)
// NOLINTEND(performance-unnecessary-value-param)
#undef WSLAT_LEAN_SEND

// websocketpp 0.8.2's client::connect() (roles/client_endpoint.hpp), connection::start()
// (impl/connection_impl.hpp) and, for a plain connection, the transport's init()
// (transport/asio/connection.hpp) without a heap-allocated std::function per step: each bound
// its next handler to a shared_ptr of the connection (too large for std::function's inline
// storage), and init() copied the handler it was given into a new bind at each of its steps.
// Here the handlers are lambdas holding plain pointers. The connection stays alive meanwhile:
// connect()'s caller holds it while the connect completes at once (PreResolvedEndpoint), and
// every step that completes later binds a shared_ptr itself (the wait for the connect, a
// proxy's resolution and CONNECT, the TLS handshake), as websocketpp's do. A plain
// connection's init() runs the plain socket's pre_init() and post_init(), which complete at
// once, and the handlers between them in websocketpp's order; through a proxy its CONNECT takes
// websocketpp's path (proxy_write) from there. The log writes left out.
// websocketpp declares init() with the handler by value; a specialization must match.
// NOLINTBEGIN(performance-unnecessary-value-param)
template <>
inline void
websocketpp::transport::asio::connection<wslat::net::PlainConfig::transport_config>::init(
    init_handler callback) {
  static_assert(wslat::net::PlainConfig::transport_config::timeout_socket_post_init == 0,
                "websocketpp's post_init would set a timer");
  lib::error_code pre_ec;
  socket_con_type::pre_init([&pre_ec](const lib::error_code& ec) { pre_ec = ec; });
  if (m_tcp_pre_init_handler) m_tcp_pre_init_handler(m_connection_hdl);
  if (pre_ec) callback(pre_ec);  // and on, as websocketpp's handle_pre_init goes on
  if (!m_proxy.empty()) {
    proxy_write(callback);
    return;
  }
  lib::error_code post_ec;
  socket_con_type::post_init([&post_ec](const lib::error_code& ec) { post_ec = ec; });
  if (post_ec == transport::error::operation_aborted) return;
  if (m_tcp_post_init_handler) m_tcp_post_init_handler(m_connection_hdl);
  callback(post_ec);
}
// NOLINTEND(performance-unnecessary-value-param)
#define WSLAT_LEAN_START(CONFIG)                                                                \
  template <>                                                                                   \
  inline websocketpp::client<CONFIG>::connection_ptr websocketpp::client<CONFIG>::connect(      \
      connection_ptr con) {                                                                     \
    transport_type::async_connect(lib::static_pointer_cast<transport_con_type>(con),            \
                                  con->get_uri(),                                               \
                                  [this, c = con.get()](const lib::error_code& ec) {            \
                                    handle_connect(c->get_shared(), ec);                        \
                                  });                                                           \
    return con;                                                                                 \
  }                                                                                             \
  template <>                                                                                   \
  inline void websocketpp::connection<CONFIG>::start() {                                        \
    if (m_internal_state != istate::USER_INIT) {                                                \
      this->terminate(error::make_error_code(error::invalid_state));                            \
      return;                                                                                   \
    }                                                                                           \
    m_internal_state = istate::TRANSPORT_INIT;                                                  \
    transport_con_type::init([this](const lib::error_code& ec) { handle_transport_init(ec); }); \
  }
WSLAT_LEAN_START(wslat::net::PlainConfig)
WSLAT_LEAN_START(wslat::net::TlsConfig)
#undef WSLAT_LEAN_START

// A proxy's answer to CONNECT, read as it comes and parsed a line at a time (QuietResponse's
// consume). websocketpp 0.8.2 read it with async_read_until("\r\n\r\n") into a streambuf without
// a bound, and parsed it from an istream whose exception nothing caught: a proxy that answered
// with something else than HTTP ended the whole run ("internal error: Invalid response line",
// no result written), and one that never sent the blank line grew the process by what it sent
// until proxy.timeout (140 MB in 1.5 s from a Python sender). Here both are this connection's
// "proxy" failure: garbage at its first line, an answer longer than max_header_size when it
// gets there; the transport error (m_tec) says which (proxy_answer_error), and a failed read
// says its own error instead of websocketpp's "Underlying Transport Error". The request's string
// (written by now) holds each chunk read. Bytes after the blank line are dropped, as
// websocketpp's were: neither a WebSocket nor a TLS server speaks first. Otherwise as
// websocketpp's proxy_read and handle_proxy_read (transport/asio/connection.hpp), the logs left
// out; websocketpp declares them with the handler by value.
// NOLINTBEGIN(performance-unnecessary-value-param)
// (Each calls the other: both are declared before either is defined.)
#define WSLAT_BOUNDED_PROXY_READ(CONFIG)                                                      \
  template <>                                                                                 \
  inline void websocketpp::transport::asio::connection<CONFIG::transport_config>::proxy_read( \
      init_handler callback);                                                                 \
  template <>                                                                                 \
  inline void                                                                                 \
  websocketpp::transport::asio::connection<CONFIG::transport_config>::handle_proxy_read(      \
      init_handler callback, lib::asio::error_code const& ec, size_t n);                      \
  template <>                                                                                 \
  inline void websocketpp::transport::asio::connection<CONFIG::transport_config>::proxy_read( \
      init_handler callback) {                                                                \
    static_assert(!CONFIG::transport_config::enable_multithreading);                          \
    if (!m_proxy_data) {                                                                      \
      callback(make_error_code(error::general));                                              \
      return;                                                                                 \
    }                                                                                         \
    std::string& chunk = m_proxy_data->write_buf;                                             \
    chunk.resize(wslat::net::kProxyReadChunk);                                                \
    socket_con_type::get_next_layer().async_read_some(                                        \
        lib::asio::buffer(chunk.data(), chunk.size()),                                        \
        [self = get_shared(), callback](const lib::asio::error_code& ec, std::size_t n) {     \
          self->handle_proxy_read(callback, ec, n);                                           \
        });                                                                                   \
  }                                                                                           \
  template <>                                                                                 \
  inline void                                                                                 \
  websocketpp::transport::asio::connection<CONFIG::transport_config>::handle_proxy_read(      \
      init_handler callback, lib::asio::error_code const& ec, size_t n) {                     \
    /* Aborted, or the proxy timer expired: whatever ended it calls back. */                  \
    if (ec == lib::asio::error::operation_aborted ||                                          \
        lib::asio::is_neg(m_proxy_data->timer->expires_from_now())) {                         \
      return;                                                                                 \
    }                                                                                         \
    if (ec) {                                                                                 \
      m_proxy_data->timer->cancel();                                                          \
      m_tec = ec;                                                                             \
      callback(make_error_code(error::pass_through));                                         \
      return;                                                                                 \
    }                                                                                         \
    std::optional<wslat::net::ProxyAnswerProblem> problem;                                    \
    try {                                                                                     \
      m_proxy_data->res.consume(m_proxy_data->write_buf.data(), n);                           \
    } catch (const http::exception& e) {                                                      \
      problem = std::string_view(e.what()) == wslat::net::QuietResponse::kTooLarge            \
                    ? wslat::net::ProxyAnswerProblem::kTooLarge                               \
                    : wslat::net::ProxyAnswerProblem::kNotHttp;                               \
    }                                                                                         \
    if (!problem && !m_proxy_data->res.headers_ready()) {                                     \
      proxy_read(callback); /* the rest of the answer */                                      \
      return;                                                                                 \
    }                                                                                         \
    m_proxy_data->timer->cancel();                                                            \
    if (problem) {                                                                            \
      m_tec = wslat::net::proxy_answer_error(*problem);                                       \
      callback(make_error_code(error::general));                                              \
      return;                                                                                 \
    }                                                                                         \
    if (m_proxy_data->res.get_status_code() != http::status_code::ok) {                       \
      callback(make_error_code(error::proxy_failed));                                         \
      return;                                                                                 \
    }                                                                                         \
    m_proxy_data.reset(); /* its buffers, request and answer are not needed any more */       \
    post_init(callback);                                                                      \
  }
WSLAT_BOUNDED_PROXY_READ(wslat::net::PlainConfig)
WSLAT_BOUNDED_PROXY_READ(wslat::net::TlsConfig)
#undef WSLAT_BOUNDED_PROXY_READ
// NOLINTEND(performance-unnecessary-value-param)

// The read a read completion asks for at its end (websocketpp's read handler parses what it
// got, runs the open, message and close handlers, then asks for the next read) is tried at once
// (read_now), instead of Asio's read, which tries the socket too (a "speculative" read) but posts
// even a read that found bytes, and its completion cost a loop turn (an epoll_wait) before it
// ran:
// - bytes: websocketpp's read handler runs right here, as handle_async_read would run it; a
//   server that already answered, the rest of a large message (2 KiB at a time,
//   ClientConfig::connection_read_buffer_size), messages a server pushes back to back. Nested at
//   most kMaxReadsNow deep (each handler asks for the next read from inside the last one), then
//   one read goes through Asio again.
// - nothing yet (EAGAIN): Asio's read waits for the socket's next readiness event without
//   trying the socket again first (skip_speculative_read): it was empty a moment ago, on this
//   thread, with no event read since, so a second recv() would only return EAGAIN again.
// - the end of the stream or an error: reported as Asio's read completion reports it.
// Any other read (the first one, for the upgrade's answer, which starts inside the connect)
// takes Asio's path, which tries the socket first (a speculative recv), except on a socket whose
// connect() completed at once, still inside that completion (connected_inline), while other
// connections are in flight on this thread: the request was written a moment ago, so the
// server cannot have answered yet (the recv would return EAGAIN), and the loop's next
// epoll_wait, due anyway for the other connections, reports the answer with theirs. Safe: no
// epoll_wait has run since the socket was registered, so any byte or FIN that arrived since is
// an event still to come. Alone on the thread (a sequential run), the speculative recv stays:
// it saves that epoll_wait whenever the answer is there already.
namespace wslat::net {
constexpr int kMaxReadsNow = 64;

// The state Asio's epoll reactor keeps per socket and direction: whether its next operation
// should try the socket before waiting for an event. Private to Asio; named here through an
// explicit instantiation (which may name a private member) of a template that hands its
// pointer out.
template <typename Tag, typename Tag::type Member>
struct ExposeMember {
  friend typename Tag::type exposed(Tag /*unused*/) { return Member; }
};
struct TrySpeculative {
  using type =
      bool (asio::detail::epoll_reactor::descriptor_state::*)[asio::detail::epoll_reactor::max_ops];
  friend type exposed(TrySpeculative /*unused*/);
};
template struct ExposeMember<TrySpeculative,
                             &asio::detail::epoll_reactor::descriptor_state::try_speculative_>;
static_assert(std::is_same_v<asio::detail::reactor, asio::detail::epoll_reactor>,
              "skip_speculative_read() knows Asio's epoll reactor only");

// After a recv() on this thread found `sock` empty (EAGAIN): its next read waits for the next
// readiness event instead of trying the socket first. Safe because the socket is registered
// edge-triggered from its open on: bytes that arrive after that recv() raise a new event, and
// the event sets the flag back (epoll_reactor::descriptor_state::perform_io) as it runs the
// waiting read.
inline void skip_speculative_read(asio::ip::tcp::socket& sock) {
  if (auto* state = SocketAccess::impl(sock).reactor_data_) {
    (state->*exposed(TrySpeculative{}))[asio::detail::epoll_reactor::read_op] = false;
  }
}
// TLS: read_now() did not touch the socket (only what OpenSSL had decrypted already).
inline void skip_speculative_read(asio::ssl::stream<asio::ip::tcp::socket>& /*stream*/) {}
// A plain socket: a non-blocking recv(). > 0: bytes; 0: the end of the stream; -1: errno.
inline ssize_t read_now(asio::ip::tcp::socket& sock, char* buf, std::size_t len) {
  return ::recv(sock.native_handle(), buf, len, MSG_DONTWAIT);
}

// TLS: only what OpenSSL has decrypted already (SSL_pending: the rest of the current record,
// up to 16 KiB), so neither the socket nor OpenSSL's state machine is touched beside Asio's
// SSL engine; -1 with EAGAIN otherwise, and Asio's read takes over.
inline ssize_t read_now(asio::ssl::stream<asio::ip::tcp::socket>& stream, char* buf,
                        std::size_t len) {
  SSL* ssl = stream.native_handle();
  if (SSL_pending(ssl) > 0) {
    ERR_clear_error();
    const int n = SSL_read(ssl, buf, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
    if (n > 0) return n;
    ERR_clear_error();  // Asio's read meets the same state again and reports it
  }
  errno = EAGAIN;
  return -1;
}
}  // namespace wslat::net

#define WSLAT_READ_NOW(CONFIG)                                                                    \
  template <>                                                                                     \
  inline void                                                                                     \
  websocketpp::transport::asio::connection<CONFIG::transport_config>::async_read_at_least(        \
      size_t num_bytes, char* buf, size_t len, read_handler handler) {                            \
    /* websocketpp always asks for at least 1 byte, which any successful read returns */          \
    if (num_bytes <= 1 && wslat::net::read_tail == this &&                                        \
        wslat::net::reads_now < wslat::net::kMaxReadsNow) {                                       \
      const ssize_t n = wslat::net::read_now(socket_con_type::get_socket(), buf, len);            \
      if (n > 0) {                                                                                \
        wslat::net::last_read_done = wslat::net::Clock::now();                                    \
        ++wslat::net::reads_now;                                                                  \
        wslat::net::read_tail = this;                                                             \
        handler(lib::error_code(), static_cast<size_t>(n));                                       \
        wslat::net::read_tail = nullptr;                                                          \
        --wslat::net::reads_now;                                                                  \
        return;                                                                                   \
      }                                                                                           \
      /* the end of the stream or an error (reported once by the kernel): as Asio's read would */ \
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {                \
        handle_async_read(                                                                        \
            handler,                                                                              \
            n == 0 ? lib::asio::error_code(lib::asio::error::eof)                                 \
                   : lib::asio::error_code(errno, lib::asio::error::get_system_category()),       \
            0);                                                                                   \
        return;                                                                                   \
      }                                                                                           \
      if (errno != EINTR) wslat::net::skip_speculative_read(socket_con_type::get_socket());       \
    } else if (wslat::net::connected_inline >= 0 &&                                               \
               wslat::net::connected_inline ==                                                    \
                   socket_con_type::get_raw_socket().native_handle() &&                           \
               wslat::net::sessions_in_flight > 1) {                                              \
      wslat::net::skip_speculative_read(socket_con_type::get_socket());                           \
    }                                                                                             \
    lib::asio::async_read(                                                                        \
        socket_con_type::get_socket(), lib::asio::buffer(buf, len),                               \
        lib::asio::transfer_at_least(num_bytes),                                                  \
        make_custom_alloc_handler(m_read_handler_allocator,                                       \
                                  [self = get_shared(), handler = std::move(handler)](            \
                                      const lib::asio::error_code& ec, size_t n) mutable {        \
                                    self->handle_async_read(std::move(handler), ec, n);           \
                                  }));                                                            \
  }                                                                                               \
  /* websocketpp's read_frame(), with the frame handler as a lambda holding `this` only: its */   \
  /* m_handle_read_frame, a bind of a member pointer and `this`, is too large for the        */   \
  /* std::function's inline storage, so each read copied it to the heap (and the copies the */    \
  /* transport made of it, three per read). The transport's read holds a shared_ptr to the  */    \
  /* same connection (get_shared() above) until the handler has run.                        */    \
  template <>                                                                                     \
  inline void websocketpp::connection<CONFIG>::read_frame() {                                     \
    if (!m_read_flag) return;                                                                     \
    transport_con_type::async_read_at_least(                                                      \
        1, m_buf, CONFIG::connection_read_buffer_size,                                            \
        [this](const lib::error_code& ec, size_t n) { handle_read_frame(ec, n); });               \
  }
// websocketpp declares it with the handler by value; a specialization must match.
// NOLINTBEGIN(performance-unnecessary-value-param)
WSLAT_READ_NOW(wslat::net::PlainConfig)
WSLAT_READ_NOW(wslat::net::TlsConfig)
// NOLINTEND(performance-unnecessary-value-param)
#undef WSLAT_READ_NOW

// websocketpp 0.8.2's handle_send_http_request() (impl/connection_impl.hpp), whose read of the
// upgrade's answer took a bind of a member pointer and a shared_ptr (too large for a
// std::function's inline storage: an allocation, and another for the transport's copy): a
// lambda holding `this`, as read_frame() above, the transport's read holding a shared_ptr to
// the same connection until it has run. Otherwise step for step, the logs left out.
#define WSLAT_LEAN_HTTP_READ(CONFIG)                                                      \
  template <>                                                                             \
  inline void websocketpp::connection<CONFIG>::handle_send_http_request(                  \
      lib::error_code const& ec) {                                                        \
    lib::error_code ecm = ec;                                                             \
    if (!ecm) {                                                                           \
      if (m_state == session::state::connecting) {                                        \
        if (m_internal_state != istate::WRITE_HTTP_REQUEST) {                             \
          ecm = error::make_error_code(error::invalid_state);                             \
        } else {                                                                          \
          m_internal_state = istate::READ_HTTP_RESPONSE;                                  \
        }                                                                                 \
      } else if (m_state == session::state::closed) {                                     \
        return; /* cancelled while the request was written */                             \
      } else {                                                                            \
        ecm = error::make_error_code(error::invalid_state);                               \
      }                                                                                   \
    }                                                                                     \
    if (ecm) {                                                                            \
      if (ecm == transport::error::eof && m_state == session::state::closed) return;      \
      terminate(ecm);                                                                     \
      return;                                                                             \
    }                                                                                     \
    transport_con_type::async_read_at_least(                                              \
        1, m_buf, CONFIG::connection_read_buffer_size,                                    \
        [this](const lib::error_code& e, size_t n) { handle_read_http_response(e, n); }); \
  }
WSLAT_LEAN_HTTP_READ(wslat::net::PlainConfig)
WSLAT_LEAN_HTTP_READ(wslat::net::TlsConfig)
#undef WSLAT_LEAN_HTTP_READ

// websocketpp 0.8.2's send_http_request() (impl/connection_impl.hpp) with two things less per
// connection: its check for a User-Agent header (build_upgrade_request always sets one, and
// FastRequest::get_header keeps a copy of every value it is asked for), and the write's handler
// as a bind of a member pointer and a shared_ptr (too large for a std::function's inline
// storage: an allocation) instead of a lambda holding `this`, as handle_send_http_request()
// above: the transport's own handler holds the connection until the write has run, and a write
// completed at once (WSLAT_WRITE_NOW) runs it right there. Otherwise step for step, the logs left
// out (a processor error returns, as websocketpp's does after logging it).
#define WSLAT_LEAN_HTTP_REQUEST(CONFIG)                                                        \
  template <>                                                                                  \
  inline void websocketpp::connection<CONFIG>::send_http_request() {                           \
    if (!m_processor ||                                                                        \
        m_processor->client_handshake_request(m_request, m_uri, m_requested_subprotocols)) {   \
      return;                                                                                  \
    }                                                                                          \
    m_handshake_buffer = m_request.raw();                                                      \
    if (m_open_handshake_timeout_dur > 0) {                                                    \
      m_handshake_timer = transport_con_type::set_timer(                                       \
          m_open_handshake_timeout_dur, lib::bind(&type::handle_open_handshake_timeout,        \
                                                  type::get_shared(), lib::placeholders::_1)); \
    }                                                                                          \
    transport_con_type::async_write(                                                           \
        m_handshake_buffer.data(), m_handshake_buffer.size(),                                  \
        [this](const lib::error_code& e) { handle_send_http_request(e); });                    \
  }
WSLAT_LEAN_HTTP_REQUEST(wslat::net::PlainConfig)
WSLAT_LEAN_HTTP_REQUEST(wslat::net::TlsConfig)
#undef WSLAT_LEAN_HTTP_REQUEST

// The client side of the upgrade without std::stringstream and locale look-ups (see
// build_upgrade_request and check_upgrade_response). The Session writes the permessage-deflate
// offer (when the run asks for it) with the other request headers; the answer's extensions are
// checked here against the request (accept_extensions) and not by websocketpp's
// negotiate_extensions, which would parse the header once more for every connection and, on a
// failure, terminate the connection and then open it all the same (connection_impl.hpp).
#define WSLAT_FAST_UPGRADE(CONFIG)                                                                 \
  template <>                                                                                      \
  inline websocketpp::lib::error_code                                                              \
  websocketpp::processor::hybi13<CONFIG>::client_handshake_request(                                \
      request_type& req, uri_ptr uri, std::vector<std::string> const& subprotocols) const {        \
    wslat::net::build_upgrade_request(req, wslat::net::upgrade_target(*uri), subprotocols, m_rng); \
    return {};                                                                                     \
  }                                                                                                \
  template <>                                                                                      \
  inline websocketpp::lib::error_code                                                              \
  websocketpp::processor::hybi13<CONFIG>::validate_server_handshake_response(                      \
      request_type const& req, response_type& res) const {                                         \
    wslat::net::accepted_deflate = nullptr;                                                        \
    bool extensions = false;                                                                       \
    if (auto ec = wslat::net::check_upgrade_response(req, res, &extensions)) return ec;            \
    if (!extensions) return {};                                                                    \
    /* const: websocketpp's signature; the extension is this connection's own state */             \
    return wslat::net::accept_extensions(                                                          \
        const_cast<permessage_deflate_type&>(m_permessage_deflate), /* NOLINT */                   \
        req, res, base::m_max_message_size);                                                       \
  }                                                                                                \
  template <>                                                                                      \
  inline websocketpp::processor::hybi13<CONFIG>::err_str_pair                                      \
  websocketpp::processor::hybi13<CONFIG>::negotiate_extensions(response_type const&) {             \
    return {};                                                                                     \
  }
WSLAT_FAST_UPGRADE(wslat::net::PlainConfig)
WSLAT_FAST_UPGRADE(wslat::net::TlsConfig)
#undef WSLAT_FAST_UPGRADE

// The close frames, without the std::stringstreams websocketpp builds for log lines that the
// stub loggers drop: process_control_frame() formats "Control frame received with opcode N"
// for every control frame and send_close_frame() "Closing with code: ..." for every close
// (~3 k instructions each of locale set-up, ~7% of a connection's instructions, callgrind).
// Otherwise websocketpp 0.8.2's bodies (impl/connection_impl.hpp), step for step, for a client
// (silent_close and drop_on_protocol_error are false in its config); the log writes are left
// out.
#define WSLAT_QUIET_CONTROL_FRAMES(CONFIG)                                                      \
  template <>                                                                                   \
  inline void websocketpp::connection<CONFIG>::process_control_frame(message_ptr msg) {         \
    static_assert(!CONFIG::drop_on_protocol_error && !CONFIG::silent_close);                    \
    const frame::opcode::value op = msg->get_opcode();                                          \
    lib::error_code ec;                                                                         \
    if (m_state == session::state::closed) return;                                              \
    if (op != frame::opcode::CLOSE && m_state != session::state::open) return;                  \
    if (op == frame::opcode::PING) {                                                            \
      const bool should_reply =                                                                 \
          !m_ping_handler || m_ping_handler(m_connection_hdl, msg->get_payload());              \
      if (should_reply) this->pong(msg->get_payload(), ec);                                     \
    } else if (op == frame::opcode::PONG) {                                                     \
      if (m_pong_handler) m_pong_handler(m_connection_hdl, msg->get_payload());                 \
      if (m_ping_timer) m_ping_timer->cancel();                                                 \
    } else if (op == frame::opcode::CLOSE) {                                                    \
      m_remote_close_code = close::extract_code(msg->get_payload(), ec);                        \
      if (ec) {                                                                                 \
        (void)send_close_ack(close::status::protocol_error, "Invalid close code");              \
        return;                                                                                 \
      }                                                                                         \
      m_remote_close_reason = close::extract_reason(msg->get_payload(), ec);                    \
      if (ec) {                                                                                 \
        (void)send_close_ack(close::status::protocol_error, "Invalid close reason");            \
        return;                                                                                 \
      }                                                                                         \
      if (m_state == session::state::open) {                                                    \
        (void)send_close_ack();                                                                 \
      } else if (m_state == session::state::closing && !m_was_clean) {                          \
        /* the answer to our close: the server closes TCP first (the close timer bounds it) */  \
        m_was_clean = true;                                                                     \
        if (m_is_server) terminate(lib::error_code());                                          \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  template <>                                                                                   \
  inline websocketpp::lib::error_code websocketpp::connection<CONFIG>::send_close_frame(        \
      close::status::value code, std::string const& reason, bool ack, bool terminal) {          \
    if (code != close::status::blank) {                                                         \
      m_local_close_code = code;                                                                \
      m_local_close_reason = reason;                                                            \
    } else if (!ack) {                                                                          \
      m_local_close_code = close::status::no_status;                                            \
      m_local_close_reason.clear();                                                             \
    } else if (m_remote_close_code == close::status::no_status) {                               \
      m_local_close_code = close::status::normal;                                               \
      m_local_close_reason.clear();                                                             \
    } else {                                                                                    \
      m_local_close_code = m_remote_close_code;                                                 \
      m_local_close_reason = m_remote_close_reason;                                             \
    }                                                                                           \
    message_ptr msg = m_msg_manager->get_message();                                             \
    if (!msg) return error::make_error_code(error::no_outgoing_buffers);                        \
    lib::error_code ec =                                                                        \
        m_processor->prepare_close(m_local_close_code, m_local_close_reason, msg);              \
    if (ec) return ec;                                                                          \
    if (terminal) msg->set_terminal(true);                                                      \
    m_state = session::state::closing;                                                          \
    if (ack) m_was_clean = true;                                                                \
    if (m_close_handshake_timeout_dur > 0) {                                                    \
      m_handshake_timer = transport_con_type::set_timer(                                        \
          m_close_handshake_timeout_dur, lib::bind(&type::handle_close_handshake_timeout,       \
                                                   type::get_shared(), lib::placeholders::_1)); \
    }                                                                                           \
    bool needs_writing = false;                                                                 \
    {                                                                                           \
      scoped_lock_type lock(m_write_lock);                                                      \
      write_push(msg);                                                                          \
      needs_writing = !m_write_flag && !m_send_queue.empty();                                   \
    }                                                                                           \
    if (needs_writing) {                                                                        \
      transport_con_type::dispatch(lib::bind(&type::write_frame, type::get_shared()));          \
    }                                                                                           \
    return lib::error_code();                                                                   \
  }
WSLAT_QUIET_CONTROL_FRAMES(wslat::net::PlainConfig)  // NOLINT(performance-unnecessary-value-param)
WSLAT_QUIET_CONTROL_FRAMES(wslat::net::TlsConfig)    // NOLINT(performance-unnecessary-value-param)
#undef WSLAT_QUIET_CONTROL_FRAMES

// A frame's first two bytes, checked as websocketpp 0.8.2 does (processors/hybi13.hpp), plus
// one rule it lacks: RSV1 ("compressed", RFC 7692) belongs on a message's first frame only. On
// a continuation it has no negotiated meaning, which RFC 6455 5.2 makes a failure; websocketpp
// read the message as if the bit were not there.
#define WSLAT_STRICT_RSV1(CONFIG)                                                                 \
  template <>                                                                                     \
  inline websocketpp::lib::error_code                                                             \
  websocketpp::processor::hybi13<CONFIG>::validate_incoming_basic_header(                         \
      frame::basic_header const& h, bool is_server, bool new_msg) const {                         \
    const frame::opcode::value op = frame::get_opcode(h);                                         \
    if (frame::opcode::is_control(op) &&                                                          \
        frame::get_basic_size(h) > frame::limits::payload_size_basic) {                           \
      return make_error_code(error::control_too_big);                                             \
    }                                                                                             \
    if (frame::get_rsv1(h) &&                                                                     \
        (!m_permessage_deflate.is_enabled() || frame::opcode::is_control(op) ||                   \
         op == frame::opcode::CONTINUATION)) {                                                    \
      return make_error_code(error::invalid_rsv_bit);                                             \
    }                                                                                             \
    if (frame::get_rsv2(h) || frame::get_rsv3(h)) return make_error_code(error::invalid_rsv_bit); \
    if (frame::opcode::reserved(op) || frame::opcode::invalid(op)) {                              \
      return make_error_code(error::invalid_opcode);                                              \
    }                                                                                             \
    if (frame::opcode::is_control(op) && !frame::get_fin(h)) {                                    \
      return make_error_code(error::fragmented_control);                                          \
    }                                                                                             \
    if (new_msg && op == frame::opcode::CONTINUATION) {                                           \
      return make_error_code(error::invalid_continuation);                                        \
    }                                                                                             \
    if (!new_msg && !frame::opcode::is_control(op) && op != frame::opcode::CONTINUATION) {        \
      return make_error_code(error::invalid_continuation);                                        \
    }                                                                                             \
    if (is_server && !frame::get_masked(h)) return make_error_code(error::masking_required);      \
    if (!is_server && frame::get_masked(h)) return make_error_code(error::masking_forbidden);     \
    return {};                                                                                    \
  }
WSLAT_STRICT_RSV1(wslat::net::PlainConfig)
WSLAT_STRICT_RSV1(wslat::net::TlsConfig)
#undef WSLAT_STRICT_RSV1
namespace wslat::net {

using PlainClient = websocketpp::client<PlainConfig>;
using TlsClient = websocketpp::client<TlsConfig>;
using SslContextPtr = std::shared_ptr<asio::ssl::context>;

}  // namespace wslat::net
