// The runner: drives sessions through a scenario's steps on websocketpp + standalone Asio and
// records phase times. One io_context and one websocketpp endpoint per worker thread; each
// worker owns its histograms and counters, merged once after join (wrk2's layout).
#ifndef ASIO_STANDALONE
#error "ASIO_STANDALONE must be defined: without it websocketpp silently uses Boost.Asio"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include <pthread.h>

#include <cstring>
#include <functional>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <strings.h>
#include <websocketpp/client.hpp>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio_client.hpp>
#include <websocketpp/logger/stub.hpp>

#include "error.hpp"
#include "http_syntax.hpp"
#include "metrics.hpp"
#include "overloaded.hpp"
#include "profile.hpp"
#include "redact.hpp"
#include "runner.hpp"

namespace wslat {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// ---------------------------------------------------------------------------------------------
// websocketpp configuration: single-threaded per endpoint (no locks), a cheap RNG for masks and
// keys, transport timeouts out of the way (every phase has its own timer in the Session), and a
// transport that connects to an address we resolved ourselves (so `dns` is measured and IP
// literals skip the resolver thread) while Host and SNI keep the name from the URL.

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

// websocketpp builds the upgrade request with request::raw() and formats the response with
// response::raw() through std::stringstream (~6k instructions each, measured with callgrind).
// The request's bytes are sent, so FastRequest builds the same text with appends; the response
// text only feeds a log line that the stub logger drops, so QuietResponse skips it. Both hide
// the base's (non-virtual) raw(), which connection<> calls through config::*_type.
class FastRequest : public websocketpp::http::parser::request {
 public:
  std::string raw() const {
    std::string out;
    out.reserve(256);
    out.append(get_method()).append(" ").append(get_uri()).append(" ");
    out.append(get_version()).append("\r\n");
    for (const auto& [name, value] : get_headers()) {
      out.append(name).append(": ").append(value).append("\r\n");
    }
    return out.append("\r\n").append(get_body());
  }
};

class QuietResponse : public websocketpp::http::parser::response {
 public:
  std::string raw() const { return {}; }  // only ever logged
};

bool equals_ci(const std::string& a, const char* b) {
  const std::size_t n = std::strlen(b);
  return a.size() == n && strncasecmp(a.data(), b, n) == 0;
}

bool contains_ci(const std::string& haystack, const char* needle) {
  const std::size_t n = std::strlen(needle);
  for (std::size_t i = 0; i + n <= haystack.size(); ++i) {
    if (strncasecmp(haystack.data() + i, needle, n) == 0) return true;
  }
  return false;
}

// hybi13::client_handshake_request without its std::stringstream (Host "name:port"): the same
// request line and headers, in the same order of calls.
template <typename Rng>
void build_upgrade_request(FastRequest& req, const websocketpp::uri& uri,
                           const std::vector<std::string>& subprotocols, Rng& rng) {
  req.set_method("GET");
  req.set_uri(uri.get_resource());
  req.set_version("HTTP/1.1");
  req.append_header("Upgrade", "websocket");
  req.append_header("Connection", "Upgrade");
  req.replace_header("Sec-WebSocket-Version", "13");
  const auto default_port =
      uri.get_secure() ? websocketpp::uri_default_secure_port : websocketpp::uri_default_port;
  req.replace_header("Host", uri.get_port() == default_port
                                 ? uri.get_host()
                                 : uri.get_host() + ":" + std::to_string(uri.get_port()));
  if (!subprotocols.empty()) {
    std::string joined = subprotocols.front();
    for (std::size_t i = 1; i < subprotocols.size(); ++i) joined += ", " + subprotocols[i];
    req.replace_header("Sec-WebSocket-Protocol", joined);
  }
  std::array<unsigned char, 16> key;
  for (std::size_t i = 0; i < key.size(); i += 4) {
    const std::uint32_t r = rng();
    std::memcpy(key.data() + i, &r, 4);
  }
  std::array<unsigned char, 4 * ((sizeof key + 2) / 3) + 1> encoded;
  const int n = EVP_EncodeBlock(encoded.data(), key.data(), static_cast<int>(key.size()));
  req.replace_header("Sec-WebSocket-Key", std::string(reinterpret_cast<const char*>(encoded.data()),
                                                      static_cast<std::size_t>(n)));
}

// Why a 101 answer is not a valid upgrade, in the user's terms (websocketpp says "A required
// HTTP header is missing" for a wrong Sec-WebSocket-Accept).
enum class UpgradeProblem { kNoUpgrade = 1, kNoConnection, kNoAccept, kWrongAccept };

class UpgradeProblemCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "wslat.upgrade"; }
  std::string message(int problem) const override {
    switch (static_cast<UpgradeProblem>(problem)) {
      case UpgradeProblem::kNoUpgrade:
        return "the 101 answer has no \"Upgrade: websocket\" header";
      case UpgradeProblem::kNoConnection:
        return "the 101 answer has no \"Connection: Upgrade\" header";
      case UpgradeProblem::kNoAccept:
        return "the 101 answer has no Sec-WebSocket-Accept header";
      case UpgradeProblem::kWrongAccept:
        return "the Sec-WebSocket-Accept header does not match the request's Sec-WebSocket-Key "
               "(the server, or a proxy before it, does not implement the WebSocket handshake)";
    }
    return "invalid upgrade answer";
  }
};

std::error_code upgrade_error(UpgradeProblem p) {
  static const UpgradeProblemCategory category;
  return {static_cast<int>(p), category};
}

// hybi13::validate_server_handshake_response with one pass over the response headers instead of
// case-insensitive map look-ups and locale-based searches (~12k instructions per connection):
// the same checks (101, Upgrade contains "websocket", Connection contains "Upgrade", the SHA-1
// accept value) and the same error codes.
websocketpp::lib::error_code check_upgrade_response(const FastRequest& req,
                                                    const QuietResponse& res) {
  namespace perr = websocketpp::processor::error;
  if (res.get_status_code() != websocketpp::http::status_code::switching_protocols) {
    return perr::make_error_code(perr::invalid_http_status);
  }
  bool upgrade = false, connection = false;
  const std::string* accept = nullptr;
  for (const auto& [name, value] : res.get_headers()) {
    if (equals_ci(name, "Upgrade")) {
      upgrade = contains_ci(value, websocketpp::processor::constants::upgrade_token);
    } else if (equals_ci(name, "Connection")) {
      connection = contains_ci(value, websocketpp::processor::constants::connection_token);
    } else if (equals_ci(name, "Sec-WebSocket-Accept")) {
      accept = &value;
    }
  }
  if (!upgrade) return upgrade_error(UpgradeProblem::kNoUpgrade);
  if (!connection) return upgrade_error(UpgradeProblem::kNoConnection);
  if (accept == nullptr) return upgrade_error(UpgradeProblem::kNoAccept);
  // websocketpp's SHA-1 (OpenSSL 3's one-shot SHA1() fetches the algorithm each call: 40% more
  // instructions) and OpenSSL's base64 (no std::string).
  std::string key = req.get_header("Sec-WebSocket-Key");
  key.append(websocketpp::processor::constants::handshake_guid);
  unsigned char digest[20];
  websocketpp::sha1::calc(key.data(), key.size(), digest);
  std::array<unsigned char, 4 * ((sizeof digest + 2) / 3) + 1> expected;
  const int n = EVP_EncodeBlock(expected.data(), digest, sizeof digest);
  if (accept->size() != static_cast<std::size_t>(n) ||
      std::memcmp(accept->data(), expected.data(), accept->size()) != 0) {
    return upgrade_error(UpgradeProblem::kWrongAccept);
  }
  return {};
}

// Binds before connecting; the port is chosen at connect time (IP_BIND_ADDRESS_NO_PORT) so the
// 4-tuple, not the source address alone, must be unique. Errors surface from the connect.
inline void bind_source(asio::ip::tcp::socket::lowest_layer_type& sock,
                        const asio::ip::address& source) {
  asio::error_code ec;
  sock.open(source.is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
  if (ec) return;
#ifdef IP_BIND_ADDRESS_NO_PORT
  const int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  sock.bind(asio::ip::tcp::endpoint(source, 0), ec);
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
  void async_connect(typename Base::transport_con_ptr tcon, websocketpp::uri_ptr u,
                     websocketpp::transport::connect_handler cb) {
    using websocketpp::lib::placeholders::_1;
    tcon->set_uri(u);
    typename Base::timer_ptr con_timer;  // bound while still empty, as Base does
    con_timer = tcon->set_timer(TransportConfig::timeout_connect,
                                websocketpp::lib::bind(&PreResolvedEndpoint::handle_connect_timeout,
                                                       this, tcon, con_timer, cb, _1));
    if (next_source) bind_source(tcon->get_raw_socket().lowest_layer(), *next_source);
    tcon->get_raw_socket().async_connect(
        next_address, websocketpp::lib::bind(&PreResolvedEndpoint::handle_connect, this, tcon,
                                             con_timer, cb, _1));
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
  static const bool enable_multithreading = false;

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
    static const long timeout_socket_post_init = 3'600'000;
    static const long timeout_dns_resolve = 3'600'000;
    static const long timeout_connect = 3'600'000;
    static const long timeout_socket_shutdown = 1'000;
  };
  using transport_type = PreResolvedEndpoint<transport_config>;
};

using PlainConfig = ClientConfig<websocketpp::config::asio_client>;
using TlsConfig = ClientConfig<websocketpp::config::asio_tls_client>;

}  // namespace
}  // namespace wslat

// websocketpp formats a log line for every open, close and failure in a std::stringstream
// whatever the logger does with it (about 15% of a connection's instructions, measured with
// callgrind). These explicit specializations, seen before any use, make them no-ops.
#define WSLAT_SILENCE_CONNECTION_LOGS(CONFIG)                 \
  template <>                                                 \
  void websocketpp::connection<CONFIG>::log_open_result() {}  \
  template <>                                                 \
  void websocketpp::connection<CONFIG>::log_close_result() {} \
  template <>                                                 \
  void websocketpp::connection<CONFIG>::log_fail_result() {}  \
  template <>                                                 \
  void websocketpp::connection<CONFIG>::log_http_result() {}
WSLAT_SILENCE_CONNECTION_LOGS(wslat::PlainConfig)
WSLAT_SILENCE_CONNECTION_LOGS(wslat::TlsConfig)
#undef WSLAT_SILENCE_CONNECTION_LOGS

// The client side of the upgrade without std::stringstream and locale look-ups (see
// build_upgrade_request and check_upgrade_response).
#define WSLAT_FAST_UPGRADE(CONFIG)                                                               \
  template <>                                                                                    \
  websocketpp::lib::error_code websocketpp::processor::hybi13<CONFIG>::client_handshake_request( \
      request_type& req, uri_ptr uri, std::vector<std::string> const& subprotocols) const {      \
    wslat::build_upgrade_request(req, *uri, subprotocols, m_rng);                                \
    if (m_permessage_deflate.is_implemented()) {                                                 \
      std::string offer = m_permessage_deflate.generate_offer();                                 \
      if (!offer.empty()) req.replace_header("Sec-WebSocket-Extensions", offer);                 \
    }                                                                                            \
    return {};                                                                                   \
  }                                                                                              \
  template <>                                                                                    \
  websocketpp::lib::error_code                                                                   \
  websocketpp::processor::hybi13<CONFIG>::validate_server_handshake_response(                    \
      request_type const& req, response_type& res) const {                                       \
    return wslat::check_upgrade_response(req, res);                                              \
  }
WSLAT_FAST_UPGRADE(wslat::PlainConfig)
WSLAT_FAST_UPGRADE(wslat::TlsConfig)
#undef WSLAT_FAST_UPGRADE

namespace wslat {
namespace {

using PlainClient = websocketpp::client<PlainConfig>;
using TlsClient = websocketpp::client<TlsConfig>;
using SslContextPtr = std::shared_ptr<asio::ssl::context>;

// ---------------------------------------------------------------------------------------------
// Metrics recorded by a worker: the registry's fixed histogram slots (lib/metrics.hpp) instead
// of a map on the hot path; slot i is metric_order()[i]. A name the registry lacks fails to build.

using Metric = std::size_t;
constexpr Metric kDns = latency_slot("dns"), kTcp = latency_slot("tcp"), kTls = latency_slot("tls"),
                 kUpgrade = latency_slot("upgrade"), kHandshake = latency_slot("handshake"),
                 kFirstMessage = latency_slot("first_message"), kE2e = latency_slot("e2e"),
                 kRtt = latency_slot("rtt"), kPerceived = latency_slot("perceived"),
                 kPing = latency_slot("ping"), kClose = latency_slot("close"),
                 kSession = latency_slot("session");
constexpr std::size_t kMetricCount = kLatencySlotCount;
// The main phases a session puts on the timeline (TimelinePoint::ms).
constexpr std::size_t kTimelineHandshake = timeline_slot("handshake"),
                      kTimelineE2e = timeline_slot("e2e"),
                      kTimelinePerceived = timeline_slot("perceived");

// Counters the coordinating thread reads for the progress line: written by one worker,
// read relaxed by the coordinator, once per session (not per message).
struct alignas(64) LiveCounters {
  std::atomic<std::int64_t> done{0};
  std::atomic<std::int64_t> started{0};
  std::atomic<std::int64_t> failed{0};
  std::atomic<std::int64_t> p95_handshake_ns{0};
};

struct WorkerResult {
  std::array<Histogram, kMetricCount> metrics;
  std::map<std::string, std::int64_t> errors;
  std::map<std::string, std::string> error_examples;
  std::int64_t attempted = 0, opened = 0, failed = 0;
  std::int64_t late_starts = 0, dropped = 0;
  double max_lateness_ms = 0;
  std::vector<TimelinePoint> timeline;
  std::size_t timeline_stride = 1;
  std::size_t timeline_seen = 0;
};

constexpr std::size_t kTimelineCap = 5000;

void add_timeline_point(WorkerResult& r, const TimelinePoint& p, std::size_t cap) {
  if (r.timeline_seen++ % r.timeline_stride != 0) return;
  r.timeline.push_back(p);
  if (r.timeline.size() >= cap) {  // keep every other point, sample half as often from now on
    std::size_t w = 0;
    for (std::size_t i = 0; i < r.timeline.size(); i += 2) r.timeline[w++] = r.timeline[i];
    r.timeline.resize(w);
    r.timeline_stride *= 2;
  }
}

// What every worker shares, read-only, during the run.
struct RunPlan {
  const Scenario* scenario = nullptr;
  const RunOptions* opts = nullptr;
  std::vector<FlatStep> program;
  websocketpp::uri_ptr uri;
  bool secure = false;
  bool host_is_ip = false;
  std::string host, port;
  asio::ip::tcp::endpoint uri_address;  // when the host is an IP literal
  bool has_ready_mark = false;
  std::vector<asio::ip::address> sources;  // local addresses to spread connections over
  std::vector<std::string> secrets;
  TimePoint run_start;
};

// What a server can make wslat hold for one connection (see README, Errors). Beyond these the
// connection fails with the category named at each check, instead of growing without bound:
// a ping flood queued 1.19 GB of pongs in 4.8 s on one connection before these bounds.
constexpr std::size_t kMaxUnwrittenPongs = 1024;         // pongs queued, not yet written
constexpr std::size_t kMaxInboxMessages = 10'000;        // unmatched messages kept for an expect
constexpr std::size_t kMinInboxBytes = 16u << 20;        // ... and their bytes (or max message)
constexpr std::size_t kMinSendBacklogBytes = 16u << 20;  // bytes of sends the server has not read

std::string format_bytes(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

double ms_between(TimePoint a, TimePoint b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

template <typename Client>
class Worker;

// ---------------------------------------------------------------------------------------------
// One connection's walk through the program. Lives in a shared_ptr captured by the handlers of
// its websocketpp connection; all callbacks run on the worker's thread.

template <typename Client>
class Session : public std::enable_shared_from_this<Session<Client>> {
  using ConnectionPtr = typename Client::connection_ptr;
  using MessagePtr = typename Client::message_ptr;

 public:
  Session(Worker<Client>& w, std::int64_t index, TimePoint t0)
      : worker_(w), plan_(w.plan()), index_(index), t0_(t0), timer_(w.io()) {}

  void start() {
    started_ = Clock::now();
    if (plan_.host_is_ip) {
      connect(plan_.uri_address);
      return;
    }
    auto self = this->shared_from_this();
    const TimePoint dns_start = Clock::now();
    arm(plan_.opts->timeouts.effective.connect, Duration::zero(), "dns",
        "name resolution timed out");
    worker_.resolver().async_resolve(
        plan_.host, plan_.port,
        [self, dns_start](const asio::error_code& ec, asio::ip::tcp::resolver::results_type res) {
          if (self->finished_) return;
          self->disarm();
          if (ec || res.empty()) {
            self->fail("dns", "cannot resolve " + self->plan_.host + ": " + ec.message());
            return;
          }
          self->record(kDns, Clock::now() - dns_start);
          self->connect(res.begin()->endpoint());
        });
  }

  // Stop (interrupt): close politely, the close timeout still applies.
  void interrupt() {
    if (finished_) return;
    interrupted_ = true;  // not a failure, and not a whole session either
    if (!opened_) {
      abandon();
      return;
    }
    begin_close(1001, "wslat interrupted");
  }

  bool finished() const { return finished_; }

 private:
  // --- connection phases ----------------------------------------------------------------------

  void connect(const asio::ip::tcp::endpoint& address) {
    websocketpp::lib::error_code ec;
    con_ = worker_.client().get_connection(plan_.uri, ec);
    if (ec) {
      fail("connect.error", "cannot create connection: " + ec.message());
      return;
    }
    if (!add_request_fields()) return;
    configure();
    arm(plan_.opts->timeouts.effective.connect, Duration::zero(), "connect.timeout",
        "TCP connect timed out");
    tcp_start_ = Clock::now();
    worker_.client().next_address = address;
    worker_.client().next_source = worker_.next_source();
    worker_.client().connect(con_);
  }

  // Headers and subprotocols, each checked as it will be sent (after this connection's
  // template expansion). make_plan already refused every literal problem before the run, so a
  // failure here is a session error (`request.invalid`), never bytes on the wire or an
  // exception escaping the worker thread.
  bool add_request_fields() {
    const Scenario& s = *plan_.scenario;
    const TemplateContext ctx{index_, 0};
    std::optional<std::string> why;
    const auto add_header = [this, &why](const std::string& name, const std::string& value) {
      if (!why) why = header_problem(name, value);
      if (!why) con_->append_header(name, value);
    };
    try {
      for (const auto& [name, value] : s.headers) add_header(name, expand(value, ctx));
      for (const auto& [name, value] : plan_.opts->extra_headers) add_header(name, value);
      for (const auto& p : s.subprotocols) {
        if (const auto bad = subprotocol_problem(p); bad && !why) {
          why = "subprotocol " + quote_escaped(p) + ": " + *bad;
        }
        if (!why) con_->add_subprotocol(p);
      }
    } catch (const std::exception& e) {  // websocketpp::exception or ::http::exception
      why = std::string("websocketpp refused the request: ") + e.what();
    }
    if (!why) return true;
    con_.reset();  // never connected: nothing to tear down
    fail("request.invalid", *why + " (nothing was sent)");
    return false;
  }

  void configure() {
    auto self = this->shared_from_this();
    const Scenario& s = *plan_.scenario;
    con_->set_max_message_size(static_cast<std::size_t>(s.max_message_bytes));
    // 0: websocketpp's own open-handshake timer stays off; ours (armed in on_tls) replaces it.
    // Its handler does not look at the state: when it expired while the worker was busy and the
    // 101 was read first, it terminated an open connection, which on_close counted as "reset".
    con_->set_open_handshake_timeout(0);
    con_->set_close_handshake_timeout(
        std::chrono::duration_cast<std::chrono::milliseconds>(plan_.opts->timeouts.effective.close)
            .count());
    con_->set_tcp_pre_init_handler([self](websocketpp::connection_hdl) { self->on_tcp(); });
    con_->set_tcp_post_init_handler([self](websocketpp::connection_hdl) { self->on_tls(); });
    con_->set_open_handler([self](websocketpp::connection_hdl) { self->on_open(); });
    con_->set_fail_handler([self](websocketpp::connection_hdl) { self->on_fail(); });
    con_->set_close_handler([self](websocketpp::connection_hdl) { self->on_close(); });
    con_->set_message_handler(
        [self](websocketpp::connection_hdl, MessagePtr msg) { self->on_message(msg); });
    con_->set_pong_handler([self](websocketpp::connection_hdl, std::string) { self->on_pong(); });
    con_->set_pong_timeout_handler([](websocketpp::connection_hdl, std::string) {});
    con_->set_ping_handler([self](websocketpp::connection_hdl, std::string payload) {
      return self->on_ping(payload);
    });
  }

  // websocketpp answers every ping with a pong on an unbounded queue; a server that pings
  // faster than the pongs are written grows it without end. The pongs are sent here instead, as
  // messages whose release (websocketpp drops a message once written) says it left.
  bool on_ping(const std::string& payload) {
    if (finished_ || failed_) return false;
    while (!pongs_.empty() && pongs_.front().expired()) pongs_.pop_front();
    if (pongs_.size() >= kMaxUnwrittenPongs) {
      fail("ping.flood", "the server sent pings faster than they could be answered: " +
                             std::to_string(kMaxUnwrittenPongs) + " pongs waiting to be written");
      return false;
    }
    auto msg = con_->get_message(websocketpp::frame::opcode::pong, payload.size());
    // A final, masked pong frame (client frames are masked; control payloads are <= 125 bytes).
    const std::uint32_t key = worker_.mask_key();
    std::string header(6, '\0');
    header[0] = static_cast<char>(0x80 | websocketpp::frame::opcode::pong);
    header[1] = static_cast<char>(0x80 | payload.size());
    std::memcpy(&header[2], &key, 4);
    std::string masked = payload;
    for (std::size_t i = 0; i < masked.size(); ++i) {
      masked[i] = static_cast<char>(masked[i] ^ header[2 + (i & 3)]);
    }
    msg->set_header(header);
    msg->set_payload(masked);
    msg->set_prepared(true);
    websocketpp::lib::error_code ec = con_->send(msg);
    if (!ec) pongs_.push_back(msg);
    return false;
  }

  // The hooks below can still fire after finish(): a stop abandons a session whose TCP connect
  // or TLS handshake is in flight, finish() drops con_, and websocketpp completes the pending
  // operation anyway (a SIGSEGV in on_tcp on a stop under load). Such a session is over.
  void on_tcp() {
    if (finished_) return;
    tcp_done_ = Clock::now();
    record(kTcp, tcp_done_ - tcp_start_);
    auto& sock = con_->get_raw_socket();
    asio::error_code ignored;
    sock.set_option(asio::ip::tcp::no_delay(true), ignored);
    worker_.prepare_tls(*this);
  }

  // Called after the TLS handshake whether it worked or not (on_fail tells which); the
  // phase is recorded at open.
  void on_tls() {
    if (finished_) return;
    tls_done_ = Clock::now();
    arm(plan_.opts->timeouts.effective.handshake, plan_.opts->timeouts.written.handshake,
        "upgrade.timeout", "no answer to the upgrade request within ");
  }

  void on_open() {
    if (finished_) return;
    disarm();
    opened_ = true;
    open_time_ = Clock::now();
    worker_.count_opened();
    if (plan_.secure) record(kTls, tls_done_ - tcp_done_);
    record(kUpgrade, open_time_ - tls_done_);
    record(kHandshake, open_time_ - t0_);
    step_ = 1;  // program[0] is the connect
    run_steps();
  }

  void on_fail() {
    if (finished_ || abandoned_) return;  // abandoned: wslat ended it, the server did nothing
    const auto ec = con_->get_ec();
    // The transport code says most (refused, reset); websocketpp's own code says the rest.
    const auto tec = con_->get_transport_ec() ? con_->get_transport_ec() : ec;
    const int status = static_cast<int>(con_->get_response_code());
    if (status != 0 && status != 101) {
      fail("http." + std::to_string(status), "server answered the upgrade with HTTP " +
                                                 std::to_string(status) + " " +
                                                 con_->get_response_msg());
    } else if (tcp_done_ == TimePoint{}) {
      fail(tec == asio::error::connection_refused ? "connect.refused" : "connect.error",
           "TCP connect to " + plan_.host + ":" + plan_.port + " failed: " + tec.message());
    } else if (plan_.secure && (tls_done_ == TimePoint{} || is_tls_failure(ec, tec))) {
      fail("tls", tls_message(tec));
    } else if (is_reset(tec) || is_reset(ec)) {
      fail("reset", "connection closed during the upgrade: " + tec.message());
    } else if (ec == websocketpp::error::general) {  // websocketpp's HTTP parser threw
      fail("upgrade.invalid", "invalid upgrade response: the answer is not HTTP");
    } else {
      fail("upgrade.invalid", "invalid upgrade response: " + ec.message());
    }
  }

  std::string tls_message(const asio::error_code& tec) const {
    if (verify_error_.rfind("certificate does not match", 0) == 0) {
      return "TLS certificate verification failed: " + verify_error_ +
             " (use a target host name the certificate lists, or skip verification with "
             "--insecure)";
    }
    if (!verify_error_.empty()) {
      return "TLS certificate verification failed: " + verify_error_ +
             " (trust the server's CA with --ca FILE, or skip verification with --insecure)";
    }
    return "TLS handshake failed: " + tec.message();
  }

  bool is_tls_failure(const std::error_code& ec, const std::error_code& tec) const {
    namespace sock = websocketpp::transport::asio::socket;
    return !verify_error_.empty() ||
           ec == sock::make_error_code(sock::error::tls_handshake_failed) ||
           ec == sock::make_error_code(sock::error::tls_handshake_timeout) ||
           tec.category() == asio::error::get_ssl_category() ||
           ec.category() == asio::error::get_ssl_category();
  }

  static bool is_reset(const std::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == websocketpp::transport::error::eof ||
           ec == websocketpp::transport::error::tls_short_read;
  }

  void on_close() {
    if (finished_ || abandoned_) return;
    const TimePoint now = Clock::now();
    disarm();
    if (closing_) {
      if (con_->get_ec() == websocketpp::error::close_handshake_timeout) {
        const TimeoutPlan& t = plan_.opts->timeouts;
        fail("close.timeout", "the server did not answer the close frame within " +
                                  t.describe({t.written.close, t.effective.close}));
        return;
      }
      record(kClose, now - close_sent_);
      finish(now);
      return;
    }
    const auto local = con_->get_local_close_code();
    const auto remote = con_->get_remote_close_code();
    if (local == websocketpp::close::status::protocol_error ||
        local == websocketpp::close::status::invalid_payload ||
        local == websocketpp::close::status::message_too_big ||
        local == websocketpp::close::status::unsupported_data) {
      std::string why = con_->get_local_close_reason();
      const auto ec = con_->get_ec();
      if (ec && ec.message() != why) why += (why.empty() ? "" : ": ") + ec.message();
      fail("protocol", "protocol violation by the server (closed with " + std::to_string(local) +
                           ")" + (why.empty() ? "" : ": " + why));
    } else if (remote == websocketpp::close::status::abnormal_close ||
               remote == websocketpp::close::status::no_status) {
      const auto tec = con_->get_transport_ec();
      fail("reset",
           "connection lost without a close frame" + (tec ? ": " + tec.message() : std::string()));
    } else {
      fail("close." + std::to_string(remote),
           "server closed the connection with " + std::to_string(remote) +
               (con_->get_remote_close_reason().empty()
                    ? std::string()
                    : " (" + con_->get_remote_close_reason() + ")"));
    }
  }

  // --- steps ----------------------------------------------------------------------------------

  void run_steps() {
    while (!finished_ && !closing_ && step_ < plan_.program.size()) {
      const FlatStep& fs = plan_.program[step_];
      if (!run_step(*fs.step, fs.iteration)) return;  // it waits for an event
    }
    if (!finished_ && !closing_ && step_ >= plan_.program.size()) begin_close(1000, "");
  }

  // Starts the current step: true when it completed at once and the next may run, false when
  // it waits for an event (message, timer, pong, close) or failed. One lambda per step kind.
  bool run_step(const Step& st, std::int64_t iteration) {
    return std::visit(Overloaded{
                          [&](const ConnectStep& /*connect*/) {
                            ++step_;  // done before the steps run
                            return true;
                          },
                          [&](const SendStep& send_step) {
                            if (!send(send_step, iteration)) return false;
                            ++step_;
                            return true;
                          },
                          [&](const ExpectStep& expect) {
                            if (check_inbox()) return true;
                            expect_started_ = Clock::now();
                            const ScaledTimeout wait = plan_.opts->timeouts.wait(expect.within);
                            arm(wait.effective, wait.written, "message.timeout",
                                "no matching message for ", &st.pointer);
                            return false;  // wait for on_message
                          },
                          [&](const SleepStep& sleep_step) {
                            sleep(sleep_step.duration);
                            return false;
                          },
                          [&](const PingStep& ping_step) {
                            ping(ping_step);
                            return false;
                          },
                          [&](const CloseStep& close) {
                            begin_close(close.code, close.reason);
                            return false;
                          },
                          [&](const RepeatStep& /*repeat*/) {
                            ++step_;  // never in the flattened program
                            return true;
                          },
                      },
                      st.body);
  }

  bool send(const SendStep& s, std::int64_t iteration) {
    websocketpp::lib::error_code ec;
    TemplateContext ctx{index_, iteration};
    const TimePoint now = Clock::now();
    // A server that stops reading leaves every send queued in wslat's memory.
    const std::size_t limit =
        std::max(kMinSendBacklogBytes, static_cast<std::size_t>(plan_.scenario->max_message_bytes));
    const std::size_t next = s.kind == SendStep::Kind::kSize     ? s.size
                             : s.kind == SendStep::Kind::kBinary ? s.binary.size()
                                                                 : 0;
    if (con_->get_buffered_amount() + next > limit) {
      fail("send.backlog", "the server is not reading: more than " + format_bytes(limit) +
                               " of messages wait to be written to it");
      return false;
    }
    switch (s.kind) {
      case SendStep::Kind::kText:
      case SendStep::Kind::kJson:
        ec = con_->send(expand(s.payload, ctx), websocketpp::frame::opcode::text);
        break;
      case SendStep::Kind::kBinary:
        ec = con_->send(s.binary, websocketpp::frame::opcode::binary);
        break;
      case SendStep::Kind::kSize:
        ec = con_->send(worker_.filler(s.size), websocketpp::frame::opcode::binary);
        break;
    }
    if (ec) {
      fail("reset", "send failed: " + ec.message());
      return false;
    }
    last_send_ = now;
    if (!first_send_) first_send_ = now;
    return true;
  }

  // Consumes buffered messages up to the first one matching the current expect step.
  bool check_inbox() {
    const ExpectStep& expect = *plan_.program[step_].step->as<ExpectStep>();
    while (!inbox_.empty()) {
      auto [arrived, payload] = std::move(inbox_.front());
      inbox_.pop_front();
      inbox_bytes_ -= payload.size();
      if (matches(expect, payload)) {
        complete_expect(expect, arrived);
        return true;
      }
    }
    return false;
  }

  void complete_expect(const ExpectStep& expect, TimePoint arrived) {
    const TimePoint completed = std::max(arrived, expect_started_);
    if (last_send_) {
      record(kRtt, arrived - *last_send_);
      if (!e2e_done_ && first_send_) {
        record(kE2e, arrived - t0_);
        e2e_done_ = true;
        e2e_ms_ = ms_between(t0_, arrived);
      }
      last_send_.reset();
    }
    if (expect.mark == "ready" && !perceived_done_) {
      record(kPerceived, completed - t0_);
      perceived_done_ = true;
      perceived_ms_ = ms_between(t0_, completed);
    }
    last_expect_done_ = completed;
    expect_started_ = TimePoint{};
    ++step_;
  }

  void on_message(const MessagePtr& msg) {
    if (finished_) return;
    const TimePoint now = Clock::now();
    if (!first_message_done_) {
      record(kFirstMessage, now - open_time_);
      first_message_done_ = true;
    }
    if (step_ >= plan_.program.size() || closing_) return;
    const auto* expect = plan_.program[step_].step->as<ExpectStep>();
    if (expect != nullptr && expect_started_ != TimePoint{}) {
      if (matches(*expect, msg->get_payload())) {
        disarm();
        complete_expect(*expect, now);
        run_steps();
      }
      return;  // non-matching messages are skipped while an expect waits
    }
    // Kept for a later expect, within bounds: a server that floods messages nobody waits for
    // must not grow wslat's memory without end.
    const std::size_t byte_limit =
        std::max(kMinInboxBytes, static_cast<std::size_t>(plan_.scenario->max_message_bytes));
    if (inbox_.size() >= kMaxInboxMessages ||
        inbox_bytes_ + msg->get_payload().size() > byte_limit) {
      fail("message.flood",
           "more than " + std::to_string(kMaxInboxMessages) + " messages or " +
               format_bytes(byte_limit) +
               " arrived while no expect was waiting (they are kept for the next expect): "
               "expect them, or shorten the sleep or ping before the expect");
      return;
    }
    inbox_bytes_ += msg->get_payload().size();
    inbox_.emplace_back(now, msg->get_payload());
  }

  void sleep(Duration d) {
    auto self = this->shared_from_this();
    const auto gen = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self, gen](const asio::error_code& ec) {
      if (ec || self->finished_ || gen != self->timer_gen_) return;
      ++self->step_;
      self->run_steps();
    });
  }

  void ping(const PingStep& p) {
    websocketpp::lib::error_code ec;
    ping_sent_ = Clock::now();
    con_->ping(p.payload, ec);
    if (ec) {
      fail("reset", "ping failed: " + ec.message());
      return;
    }
    awaiting_pong_ = true;
    const ScaledTimeout wait = plan_.opts->timeouts.wait(p.within);
    arm(wait.effective, wait.written, "ping.timeout", "no pong within ");
  }

  void on_pong() {
    if (!awaiting_pong_ || finished_) return;
    awaiting_pong_ = false;
    disarm();
    record(kPing, Clock::now() - ping_sent_);
    ++step_;
    run_steps();
  }

  void begin_close(std::uint16_t code, const std::string& reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    disarm();
    websocketpp::lib::error_code ec;
    close_sent_ = Clock::now();
    con_->close(code, reason, ec);
    if (ec) fail("reset", "close failed: " + ec.message());
    // websocketpp's close handshake timeout ends it; our timer is the backstop.
    arm(plan_.opts->timeouts.effective.close + std::chrono::milliseconds(500), Duration::zero(),
        "close.timeout", "the connection did not close within ");
  }

  // --- bookkeeping ----------------------------------------------------------------------------

  // A phase timer: on expiry the session fails with `category` and `text` (+ `subject` +
  // " within "; + the duration when the text ends with a space, with the value the scenario
  // wrote and the profile's scaling when `written` is not zero). The message is only built on
  // expiry: arming happens several times per connection, expiring almost never.
  void arm(Duration d, Duration written, const char* category, const char* text,
           const std::string* subject = nullptr) {
    auto self = this->shared_from_this();
    const auto gen = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self, gen, category, text, subject, d, written](const asio::error_code& ec) {
      if (ec || self->finished_ || gen != self->timer_gen_) return;
      std::string message = text;
      if (subject != nullptr) message += *subject + " within ";
      if (!message.empty() && message.back() == ' ') {
        message += written == Duration::zero() ? format_duration(d)
                                               : self->plan_.opts->timeouts.describe({written, d});
      }
      self->fail(category, message);
    });
  }

  // Stops the phase timer. A wait that has already expired but whose handler has not run yet
  // cannot be cancelled (asio runs it with success): the generation turns it into a no-op, so
  // a timeout that lost the race to its phase's completion never fails a later phase.
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void record(Metric m, Clock::duration d) { worker_.record(m, d); }

  void fail(const std::string& category, const std::string& message) {
    // failed_ too: abandon() terminates the connection, and a plain socket's shutdown completes
    // synchronously, so websocketpp calls on_close (which would count a second, "reset", error)
    // before finish() runs.
    if (finished_ || failed_) return;
    failed_ = true;
    worker_.count_error(category, message);
    abandon();
  }

  // Ends the session now, tearing the connection down without waiting for anything.
  void abandon() {
    if (finished_) return;
    abandoned_ = true;  // websocketpp calls on_fail / on_close from terminate()
    disarm();
    if (con_) {
      websocketpp::lib::error_code ignored;
      con_->terminate(ignored);
    }
    finish(Clock::now());
  }

  void finish(TimePoint now) {
    if (finished_) return;
    finished_ = true;
    disarm();
    if (!failed_ && !interrupted_) {
      record(kSession, now - t0_);
      if (!perceived_done_ && last_expect_done_ && !plan_.has_ready_mark) {
        record(kPerceived, *last_expect_done_ - t0_);
        perceived_ms_ = ms_between(t0_, *last_expect_done_);
      }
    }
    TimelinePoint p;
    p.t_ms = ms_between(plan_.run_start, t0_);
    if (opened_) p.ms[kTimelineHandshake] = ms_between(t0_, open_time_);
    p.ms[kTimelineE2e] = e2e_ms_;
    p.ms[kTimelinePerceived] = perceived_ms_;
    p.ok = !failed_;
    worker_.session_done(*this, p, failed_);
    con_.reset();
  }

  friend class Worker<Client>;

  Worker<Client>& worker_;
  const RunPlan& plan_;
  std::int64_t index_;
  TimePoint t0_, started_;
  asio::steady_timer timer_;
  ConnectionPtr con_;
  std::size_t step_ = 0;
  TimePoint tcp_start_{}, tcp_done_{}, tls_done_{}, open_time_{}, close_sent_{}, ping_sent_{};
  TimePoint expect_started_{};
  std::optional<TimePoint> first_send_, last_send_, last_expect_done_;
  std::deque<std::pair<TimePoint, std::string>> inbox_;
  std::size_t inbox_bytes_ = 0;
  std::deque<std::weak_ptr<typename MessagePtr::element_type>> pongs_;  // sent, not yet written
  std::string verify_error_;
  bool opened_ = false, closing_ = false, finished_ = false, failed_ = false;
  bool first_message_done_ = false, e2e_done_ = false, perceived_done_ = false;
  bool awaiting_pong_ = false;
  bool interrupted_ = false, abandoned_ = false;
  std::uint64_t timer_gen_ = 0;  // see disarm()
  double e2e_ms_ = -1, perceived_ms_ = -1;
  std::size_t slot_ = 0;  // index in the worker's list of live sessions
};

// ---------------------------------------------------------------------------------------------
// A worker: one thread, one io_context, one endpoint, its own sessions and histograms.

// A worker's share of the load, as arithmetic progressions of connection indices (first,
// first + stride, ...) rather than lists: planning takes memory independent of the count.
struct ClosedPart {
  std::int64_t first = 0, end = 0, stride = 1;  // indices first + j * stride < end
};
struct OpenPart {
  const ArrivalSchedule* schedule = nullptr;
  std::int64_t first = 0, stride = 1;  // arrivals first + j * stride < schedule->size()
};

template <typename Client>
class Worker {
  using SessionPtr = std::shared_ptr<Session<Client>>;

 public:
  Worker(const RunPlan& plan, LiveCounters& live, SslContextPtr ssl)
      : plan_(plan), live_(live), resolver_(io_), tick_(io_) {
    client_.clear_access_channels(websocketpp::log::alevel::all);
    client_.clear_error_channels(websocketpp::log::elevel::all);
    client_.init_asio(&io_);
    if constexpr (std::is_same_v<Client, TlsClient>) {
      client_.set_tls_init_handler([ssl](websocketpp::connection_hdl) { return ssl; });
    } else {
      (void)ssl;
    }
  }

  // Closed model: `indices` connections, at most `concurrency` at once, each started as soon
  // as a slot frees (t0 = actual start).
  void run_closed(ClosedPart part, std::int64_t concurrency) {
    closed_ = part;
    const std::int64_t count =
        part.end > part.first ? (part.end - part.first + part.stride - 1) / part.stride : 0;
    ramp_left_ = std::min<std::int64_t>(concurrency, count);
    ramp_up();
    loop();
  }

  // Open model: arrivals at intended times; at most `max_concurrency` live sessions; an arrival
  // that finds no free slot waits (and is charged its wait) until the schedule ends.
  void run_open(OpenPart part, std::int64_t max_concurrency, Duration end) {
    open_ = part;
    next_arrival_ = due_arrival_ = part.first;
    max_live_ = std::max<std::int64_t>(1, max_concurrency);
    schedule_end_ = plan_.run_start + end;
    arrival_timer_.emplace(io_);
    end_timer_.emplace(io_);
    end_timer_->expires_at(schedule_end_);
    end_timer_->async_wait([this](const asio::error_code& ec) {
      if (!ec) drop_backlog();
    });
    schedule_arrivals();
    loop();
  }

  WorkerResult& result() { return result_; }
  // When a stop request reached this worker (nullopt: it never did).
  std::optional<TimePoint> interrupted_at() const { return interrupted_at_; }

  // --- used by Session ------------------------------------------------------------------------
  const RunPlan& plan() const { return plan_; }
  asio::io_context& io() { return io_; }
  Client& client() { return client_; }
  asio::ip::tcp::resolver& resolver() { return resolver_; }
  // The local address for the next connection: round robin over the plan's sources, if any.
  std::optional<asio::ip::address> next_source() {
    if (plan_.sources.empty()) return std::nullopt;
    return plan_.sources[next_source_++ % plan_.sources.size()];
  }

  void record(Metric m, Clock::duration d) {
    result_.metrics[m].record(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
  void count_opened() { ++result_.opened; }
  void count_error(const std::string& category, const std::string& message) {
    ++result_.errors[category];
    if (result_.error_examples.count(category) == 0) {
      result_.error_examples[category] = message;  // assemble_result redacts
    }
  }
  // A masking key for a frame wslat builds itself (xorshift: masks need not be secret here).
  std::uint32_t mask_key() {
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    return static_cast<std::uint32_t>(rng_state_);
  }
  const std::string& filler(std::size_t size) {
    if (filler_.size() != size) filler_.assign(size, 'x');
    return filler_;
  }

  void prepare_tls(Session<Client>& s) {
    if constexpr (std::is_same_v<Client, TlsClient>) {
      if (plan_.opts->insecure) return;
      auto& stream = s.con_->get_socket();
      asio::ssl::host_name_verification check(plan_.host);
      Session<Client>* raw = &s;
      stream.set_verify_callback([check, raw](bool ok, asio::ssl::verify_context& ctx) mutable {
        if (!ok && raw->verify_error_.empty()) {
          raw->verify_error_ =
              X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.native_handle()));
        }
        const bool host_ok = check(ok, ctx);
        if (ok && !host_ok && raw->verify_error_.empty()) {
          raw->verify_error_ = "certificate does not match host " + raw->plan_.host;
        }
        return host_ok;
      });
    } else {
      (void)s;
    }
  }

  void session_done(Session<Client>& s, const TimelinePoint& p, bool failed) {
    if (failed) ++result_.failed;
    add_timeline_point(result_, p, kTimelineCap);
    live_.done.fetch_add(1, std::memory_order_relaxed);
    if (failed) live_.failed.fetch_add(1, std::memory_order_relaxed);
    // Release the slot (swap-remove); the session object lives on in pending handlers.
    const std::size_t slot = s.slot_;
    live_sessions_[slot] = std::move(live_sessions_.back());
    live_sessions_[slot]->slot_ = slot;
    live_sessions_.pop_back();
    asio::post(io_, [this] { refill(); });
  }

 private:
  void start(std::int64_t index, TimePoint t0) {
    const TimePoint now = Clock::now();
    const double late_ms = ms_between(t0, now);
    if (late_ms > 1.0) {
      ++result_.late_starts;
      result_.max_lateness_ms = std::max(result_.max_lateness_ms, late_ms);
    }
    ++result_.attempted;
    live_.started.fetch_add(1, std::memory_order_relaxed);
    auto session = std::make_shared<Session<Client>>(*this, index, t0);
    session->slot_ = live_sessions_.size();
    live_sessions_.push_back(session);
    session->start();
  }

  // Opens the first `concurrency` sessions a batch per loop turn, so the completions of the
  // first ones are not queued behind the set-up of thousands of others (which would charge
  // wslat's own work to their tcp/upgrade times).
  void ramp_up() {
    constexpr std::int64_t kBatch = 16;
    for (std::int64_t i = 0; i < kBatch && ramp_left_ > 0 && !stopping_; ++i, --ramp_left_) {
      start_next_closed();
    }
    if (ramp_left_ > 0 && !stopping_) asio::post(io_, [this] { ramp_up(); });
  }

  void start_next_closed() {
    if (closed_.first >= closed_.end) return;
    start(closed_.first, Clock::now());
    closed_.first += closed_.stride;
  }

  bool arrivals_left() const { return next_arrival_ < open_.schedule->size(); }
  TimePoint intended(std::int64_t arrival) const {
    return plan_.run_start + open_.schedule->offset(arrival);
  }

  // Arrivals [due_arrival_, next_arrival_) (step open_.stride) are due and wait for a slot.
  void schedule_arrivals() {
    if (!arrivals_left() || stopping_) return;
    arrival_timer_->expires_at(intended(next_arrival_));
    arrival_timer_->async_wait([this](const asio::error_code& ec) {
      if (ec || stopping_) return;
      const TimePoint now = Clock::now();
      for (int batch = 0; batch < 16 && arrivals_left() && intended(next_arrival_) <= now;
           ++batch) {
        next_arrival_ += open_.stride;
      }
      start_due();
      schedule_arrivals();
    });
  }

  // Due arrivals start in order as slots free up.
  void start_due() {
    while (due_arrival_ < next_arrival_ &&
           static_cast<std::int64_t>(live_sessions_.size()) < max_live_) {
      start(due_arrival_, intended(due_arrival_));
      due_arrival_ += open_.stride;
    }
  }

  void drop_backlog() {
    result_.dropped += (next_arrival_ - due_arrival_) / open_.stride;
    due_arrival_ = next_arrival_;
    maybe_finish();
  }

  void refill() {
    if (!stopping_) {
      if (arrival_timer_) {
        start_due();
      } else {
        start_next_closed();
      }
    }
    maybe_finish();
  }

  bool all_started() const {
    if (arrival_timer_) return !arrivals_left() && due_arrival_ == next_arrival_;
    return closed_.first >= closed_.end && ramp_left_ == 0;
  }

  void maybe_finish() {
    if (live_sessions_.empty() && (all_started() || stopping_)) {
      tick_.cancel();
      if (arrival_timer_) arrival_timer_->cancel();
      if (end_timer_) end_timer_->cancel();
      io_.stop();  // websocketpp may keep internal timers of terminated connections alive
    }
  }

  // Every 100 ms: notice a stop request, publish the live p95 for the progress line.
  void on_tick() {
    tick_.expires_after(std::chrono::milliseconds(100));
    tick_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      live_.p95_handshake_ns.store(result_.metrics[kHandshake].value_at_percentile(95),
                                   std::memory_order_relaxed);
      const auto* stop = plan_.opts->stop_requested;
      if (!stopping_ && stop != nullptr && stop->load(std::memory_order_relaxed)) interrupt();
      on_tick();
    });
  }

  void interrupt() {
    stopping_ = true;
    interrupted_ = true;
    interrupted_at_ = Clock::now();
    if (arrival_timer_) arrival_timer_->cancel();
    due_arrival_ = next_arrival_;      // waiting arrivals are not started (nor dropped: stopped)
    const auto live = live_sessions_;  // sessions remove themselves as they finish
    for (const auto& s : live) s->interrupt();
    maybe_finish();
  }

  void loop() {
    on_tick();
    maybe_finish();
    if (!io_.stopped()) io_.run();
  }

 public:
  bool interrupted() const { return interrupted_; }

 private:
  const RunPlan& plan_;
  LiveCounters& live_;
  asio::io_context io_{1};
  Client client_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer tick_;
  std::optional<asio::steady_timer> arrival_timer_, end_timer_;
  WorkerResult result_;
  std::vector<SessionPtr> live_sessions_;
  ClosedPart closed_;  // first: the next index to start
  std::int64_t ramp_left_ = 0;
  OpenPart open_;
  std::int64_t next_arrival_ = 0, due_arrival_ = 0;
  std::optional<TimePoint> interrupted_at_;
  std::int64_t max_live_ = 1;
  TimePoint schedule_end_{};
  std::string filler_;
  std::uint64_t rng_state_ = std::random_device{}() | 1ULL;
  std::size_t next_source_ = 0;
  bool stopping_ = false, interrupted_ = false;
};

// ---------------------------------------------------------------------------------------------
// The run: plan, split the load across workers, run them, merge.

// The target as websocketpp sees it, built from wslat's own parse (lib/http_syntax), so the
// Host header and the request line carry only what parse_ws_url allows.
websocketpp::uri target_uri(const std::string& target, const std::vector<std::string>& secrets) {
  std::string problem;
  const auto url = parse_ws_url(target, &problem);
  if (!url) {
    throw UsageError("invalid target URL " + quote_escaped(redact(target, secrets)) + ": " +
                     problem + "; expected ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH");
  }
  return websocketpp::uri(url->secure, url->host, url->port, url->resource);
}

// Refuses (UsageError, exit 64, before any connection) a header or subprotocol that may not
// go on the wire. Scenario headers are checked as expanded for connection 0: that covers every
// literal byte, ${env:...} values included.
void check_request_fields(const Scenario& scenario,
                          const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  for (const auto& [name, value] : scenario.headers) {
    if (const auto why = header_problem(name, expand(value, TemplateContext{}))) {
      throw UsageError("scenario " + scenario.file + ": " + *why);
    }
  }
  for (const auto& [name, value] : extra_headers) {
    if (const auto why = header_problem(name, value)) throw UsageError("--" + *why);
  }
  for (const auto& p : scenario.subprotocols) {
    if (const auto why = subprotocol_problem(p)) {
      throw UsageError("scenario " + scenario.file + ": subprotocol " + quote_escaped(p) + ": " +
                       *why);
    }
  }
}

RunPlan make_plan(const Scenario& scenario, const RunOptions& opts) {
  RunPlan plan;
  plan.scenario = &scenario;
  plan.opts = &opts;
  plan.secrets = scenario.secrets;
  plan.program = flatten(scenario.steps);
  if (plan.program.empty() || !plan.program.front().step->is<ConnectStep>()) {
    throw UsageError("scenario " + scenario.file + ": the steps must start with a connect");
  }
  for (const auto& fs : plan.program) {
    const auto* expect = fs.step->as<ExpectStep>();
    if (expect != nullptr && expect->mark == "ready") {
      plan.has_ready_mark = true;
    }
  }
  plan.uri = std::make_shared<websocketpp::uri>(target_uri(opts.target, plan.secrets));
  check_request_fields(scenario, opts.extra_headers);
  plan.secure = plan.uri->get_secure();
  plan.host = plan.uri->get_host();
  plan.port = plan.uri->get_port_str();
  asio::error_code ec;
  const auto address = asio::ip::make_address(plan.host, ec);
  if (!ec) {
    plan.host_is_ip = true;
    plan.uri_address = asio::ip::tcp::endpoint(address, plan.uri->get_port());
  }
  return plan;
}

// Loopback targets with more live connections than one address pair has ephemeral ports
// (about 28k) spread over 127.0.0.1..N; `requested` (> 0) forces N.
std::vector<asio::ip::address> source_addresses(const RunPlan& plan, int requested,
                                                std::int64_t concurrency) {
  constexpr std::int64_t kPerSource = 20'000;
  const bool loopback_v4 = plan.host_is_ip && plan.uri_address.address().is_v4() &&
                           plan.uri_address.address().is_loopback();
  std::int64_t n = requested;
  if (n <= 0) n = loopback_v4 && concurrency > kPerSource ? concurrency / kPerSource + 1 : 0;
  if (n > 0 && !loopback_v4) {
    throw UsageError("--source-addresses works with a loopback IPv4 target (127.x.x.x) only");
  }
  std::vector<asio::ip::address> out;
  for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 254); ++i) {
    out.push_back(asio::ip::address_v4(0x7F000001u + static_cast<std::uint32_t>(i)));
  }
  return out;
}

SslContextPtr make_ssl_context(const RunOptions& opts) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::error_code ec;
  if (opts.insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_default_verify_paths(ec);
  if (!opts.ca_file.empty()) {
    ctx->load_verify_file(opts.ca_file, ec);
    if (ec)
      throw UsageError("--ca " + opts.ca_file + ": cannot load CA certificates: " + ec.message() +
                       " (give a PEM file)");
  }
  return ctx;
}

// Equal parts of `total` for `n` workers (the first `total % n` take one more).
std::int64_t part(std::int64_t total, std::int64_t n, std::int64_t i) {
  return total / n + (i < total % n ? 1 : 0);
}

void merge_into(RawRun& out, std::array<Histogram, kMetricCount>& merged, WorkerResult& w,
                std::vector<TimelinePoint>& timeline) {
  for (std::size_t m = 0; m < kMetricCount; ++m) merged[m].add(w.metrics[m]);
  for (const auto& [k, v] : w.errors) out.errors[k] += v;
  for (const auto& [k, v] : w.error_examples) out.error_examples.emplace(k, v);
  out.attempted += w.attempted;
  out.opened += w.opened;
  out.failed += w.failed;
  out.load.late_starts += w.late_starts;
  out.load.dropped += w.dropped;
  out.load.max_lateness_ms = std::max(out.load.max_lateness_ms, w.max_lateness_ms);
  timeline.insert(timeline.end(), w.timeline.begin(), w.timeline.end());
}

// A worker thread on the default stack (RLIMIT_STACK, usually 8 MiB): nothing on it recurses
// with its input any more (RE2 matches without recursion; JSON nesting is bounded). Workers
// once reserved 256 MiB each for std::regex, so a run under `prlimit --as 768M` failed. Joins
// on destruction, so a failure to start the next worker leaves none running unjoined.
class WorkerThread {
 public:
  explicit WorkerThread(std::function<void()> fn)
      : fn_(std::make_unique<std::function<void()>>(std::move(fn))) {
    const int rc = pthread_create(&id_, nullptr, &WorkerThread::entry, fn_.get());
    if (rc != 0) throw RunError("cannot start a worker thread: " + std::string(std::strerror(rc)));
  }
  WorkerThread(WorkerThread&& other) noexcept : id_(other.id_), fn_(std::move(other.fn_)) {
    other.joinable_ = false;
  }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;
  WorkerThread& operator=(WorkerThread&&) = delete;
  ~WorkerThread() { join(); }
  void join() {
    if (joinable_) pthread_join(id_, nullptr);
    joinable_ = false;
  }

 private:
  static void* entry(void* arg) {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  }
  pthread_t id_{};
  std::unique_ptr<std::function<void()>> fn_;
  bool joinable_ = true;
};

RunOptions::Progress progress(const std::vector<LiveCounters>& live, std::int64_t total,
                              TimePoint run_start, Duration open_end) {
  RunOptions::Progress p;
  std::int64_t started = 0;
  for (const auto& l : live) {
    p.done += l.done.load(std::memory_order_relaxed);
    started += l.started.load(std::memory_order_relaxed);
    p.errors += l.failed.load(std::memory_order_relaxed);
    p.live_p95_handshake_ms =
        std::max(p.live_p95_handshake_ms,
                 static_cast<double>(l.p95_handshake_ns.load(std::memory_order_relaxed)) / 1e6);
  }
  p.total = total;
  p.elapsed_s = std::chrono::duration<double>(Clock::now() - run_start).count();
  p.duration_s = std::chrono::duration<double>(open_end).count();
  p.achieved_rate = p.elapsed_s > 0 ? static_cast<double>(started) / p.elapsed_s : 0;
  return p;
}

template <typename Client>
RawRun run_with(const Scenario& scenario, const RunOptions& opts) {
  RunPlan plan = make_plan(scenario, opts);
  SslContextPtr ssl;
  if constexpr (std::is_same_v<Client, TlsClient>) ssl = make_ssl_context(opts);

  const Load& load = opts.load;
  const bool open = load.open_model();
  std::int64_t threads = std::max(1, opts.threads);
  std::int64_t total = 0;
  std::int64_t concurrency = 0;
  // Worker t takes every threads-th connection of this shard, computed as it goes.
  std::optional<ArrivalSchedule> schedule;
  std::int64_t first = 0;  // closed: the shard's first connection index
  if (open) {
    schedule.emplace(load);
    total = shard_part(schedule->size(), opts.shard);  // arrivals k with k % N == shard index
    threads = std::max<std::int64_t>(
        1, std::min<std::int64_t>(threads, std::max<std::int64_t>(1, total)));
    concurrency = shard_part(load.max_concurrency, opts.shard);
  } else {
    total = shard_part(load.connections, opts.shard);
    concurrency = std::max<std::int64_t>(1, shard_part(load.concurrency, opts.shard));
    concurrency = std::min(concurrency, std::max<std::int64_t>(1, total));
    threads = std::min(threads, concurrency);
    for (std::int64_t i = 0; i < opts.shard.index; ++i)
      first += shard_part(load.connections, {i, opts.shard.count});
  }

  plan.sources = source_addresses(plan, opts.source_addresses, concurrency);
  // websocketpp's 64-bit byte swap initialises a function-local static without a guard on
  // first use (frames over 64 KiB): do it here, before the workers race for it.
  (void)websocketpp::lib::net::_htonll(0);
  std::vector<LiveCounters> live(static_cast<std::size_t>(threads));
  std::vector<std::unique_ptr<Worker<Client>>> workers;
  for (std::int64_t t = 0; t < threads; ++t) {
    workers.push_back(
        std::make_unique<Worker<Client>>(plan, live[static_cast<std::size_t>(t)], ssl));
  }
  const Duration open_end = open ? open_duration(load) : Duration{};
  plan.run_start = Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  int running = static_cast<int>(threads);
  std::vector<WorkerThread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (std::int64_t t = 0; t < threads; ++t) {
    const auto i = static_cast<std::size_t>(t);
    pool.emplace_back([&, i, t] {
      if (open) {
        const OpenPart share{&*schedule, opts.shard.index + opts.shard.count * t,
                             opts.shard.count * threads};
        workers[i]->run_open(share, part(concurrency, threads, t), open_end);
      } else {
        workers[i]->run_closed({first + t, first + total, threads}, part(concurrency, threads, t));
      }
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_one();
    });
  }
  // The coordinator: a progress report every 250 ms while the workers run.
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      if (cv.wait_for(lock, std::chrono::milliseconds(250), [&] { return running == 0; })) break;
    }
    if (opts.on_progress) opts.on_progress(progress(live, total, plan.run_start, open_end));
  }
  for (auto& th : pool) th.join();
  const TimePoint end = Clock::now();

  RawRun out;
  std::array<Histogram, kMetricCount> merged;
  std::vector<TimelinePoint> timeline;
  for (auto& w : workers) {
    merge_into(out, merged, w->result(), timeline);
    out.interrupted = out.interrupted || w->interrupted();
  }
  for (std::size_t m = 0; m < kMetricCount; ++m) {
    if (!merged[m].empty()) out.metrics.emplace(metric_order()[m], std::move(merged[m]));
  }
  std::sort(timeline.begin(), timeline.end(),
            [](const TimelinePoint& a, const TimelinePoint& b) { return a.t_ms < b.t_ms; });
  const std::size_t stride = timeline.size() / kTimelineCap + 1;
  for (std::size_t i = 0; i < timeline.size(); i += stride) out.timeline.push_back(timeline[i]);
  out.duration_ms = ms_between(plan.run_start, end);
  out.load.model = open ? "open" : "closed";
  out.load.concurrency = concurrency;
  out.load.threads = static_cast<int>(threads);
  if (open && open_end.count() > 0) {
    out.load.target_rate =
        static_cast<double>(total) / std::chrono::duration<double>(open_end).count();
  }
  const double elapsed_s = out.duration_ms / 1000.0;
  out.load.achieved_rate = elapsed_s > 0 ? static_cast<double>(out.attempted) / elapsed_s : 0;
  if (open && open_end.count() > 0) {
    // Arrivals started per second of the schedule's window: not of the drain after it (the
    // last sessions finishing), and only up to an interruption (the rest was never due).
    double window_s = std::chrono::duration<double>(open_end).count();
    for (auto& w : workers) {
      if (w->interrupted_at()) {
        window_s = std::min(window_s, ms_between(plan.run_start, *w->interrupted_at()) / 1000.0);
      }
    }
    out.load.achieved_rate = window_s > 0 ? static_cast<double>(out.attempted) / window_s : 0;
  }
  // A dropped arrival is a connection the load called for and nobody got: counted as attempted
  // and failed (category "dropped"), so the errors threshold sees a load that was not applied.
  if (out.load.dropped > 0) {
    out.attempted += out.load.dropped;
    out.failed += out.load.dropped;
    out.errors["dropped"] += out.load.dropped;
    out.error_examples.emplace("dropped",
                               "the arrival found max_concurrency (" + std::to_string(concurrency) +
                                   ") connections live until the schedule ended: never started");
  }
  return out;
}

}  // namespace

std::string upgrade_request_text(const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::vector<std::string>& subprotocols) {
  const websocketpp::uri uri = target_uri(target, {});
  Scenario scenario;
  scenario.file = "(request)";
  scenario.subprotocols = subprotocols;
  check_request_fields(scenario, headers);
  // What connection::append_header does before connecting, then the processor's request.
  FastRequest req;
  for (const auto& [name, value] : headers) req.append_header(name, value);
  FastRng<std::uint32_t, websocketpp::concurrency::none> rng;
  build_upgrade_request(req, uri, subprotocols, rng);
  return req.raw();
}

RawRun run_scenario(const Scenario& scenario, const RunOptions& opts) {
  if (opts.target.rfind("wss://", 0) == 0) return run_with<TlsClient>(scenario, opts);
  return run_with<PlainClient>(scenario, opts);
}

}  // namespace wslat
