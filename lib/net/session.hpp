// One connection's walk through the scenario's flattened steps (Session<Client>, Client:
// websocketpp's plain or TLS client): connection phases, steps, phase timers, and the phase
// times it records into its worker's histograms. Included only by lib/net/transport_for.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/core.h>
#include <openssl/x509.h>

#include "connections.hpp"
#include "http_syntax.hpp"
#include "metrics.hpp"
#include "net/client_core.hpp"
#include "net/deadlines.hpp"
#include "net/failures.hpp"
#include "net/login.hpp"
#include "net/plan.hpp"
#include "overloaded.hpp"
#include "redact.hpp"
#include "scenario.hpp"
#include "timeouts.hpp"

namespace wslat::net {

// ---------------------------------------------------------------------------------------------
// Metrics recorded by a worker: the registry's fixed histogram slots (lib/metrics.hpp) instead
// of a map on the hot path; slot i is metric_order()[i]. A name the registry lacks fails to build.

using Metric = std::size_t;
constexpr Metric kLogin = latency_slot("login"), kDns = latency_slot("dns"),
                 kTcp = latency_slot("tcp"), kProxy = latency_slot("proxy"),
                 kTls = latency_slot("tls"), kUpgrade = latency_slot("upgrade"),
                 kHandshake = latency_slot("handshake"),
                 kFirstMessage = latency_slot("first_message"), kE2e = latency_slot("e2e"),
                 kRtt = latency_slot("rtt"), kPerceived = latency_slot("perceived"),
                 kPing = latency_slot("ping"), kClose = latency_slot("close"),
                 kSession = latency_slot("session"), kReconnect = latency_slot("reconnect"),
                 kDisconnected = latency_slot("disconnected");
constexpr std::size_t kMetricCount = kLatencySlotCount;
// Counters (lib/metrics.hpp): data messages and their payload bytes, both ways.
constexpr std::size_t kMsgsSent = counter_slot("msgs_sent"),
                      kMsgsReceived = counter_slot("msgs_received"),
                      kBytesSent = counter_slot("bytes_sent"),
                      kBytesReceived = counter_slot("bytes_received"),
                      kWireBytesSent = counter_slot("wire_bytes_sent"),
                      kWireBytesReceived = counter_slot("wire_bytes_received"),
                      kRuleMatches = counter_slot("rule_matches"),
                      kRuleSends = counter_slot("rule_sends"),
                      kBroadcasts = counter_slot("broadcasts"),
                      kDeliveryMissing = counter_slot("delivery_missing"),
                      kDeliveryRemote = counter_slot("delivery_remote"),
                      kPresenceMissing = counter_slot("presence_missing"),
                      kReconnects = counter_slot("reconnects"),
                      kReconnectFailures = counter_slot("reconnect_failures");
constexpr Metric kDelivery = latency_slot("delivery"), kFanout = latency_slot("fanout"),
                 kFanout50 = latency_slot("fanout_50"), kFanout90 = latency_slot("fanout_90"),
                 kPresence = latency_slot("presence");
// The main phases a session puts on the timeline (TimelinePoint::ms).
constexpr std::size_t kTimelineHandshake = timeline_slot("handshake"),
                      kTimelineE2e = timeline_slot("e2e"),
                      kTimelinePerceived = timeline_slot("perceived");

template <typename Client>
class Worker;

inline const std::string kExtensionsHeader = "Sec-WebSocket-Extensions";

// ---------------------------------------------------------------------------------------------
// One connection's walk through the program. Lives in a shared_ptr captured by the handlers of
// its websocketpp connection; all callbacks run on the worker's thread.

template <typename Client>
class Session final : public std::enable_shared_from_this<Session<Client>>, private Deadlined {
  using ConnectionPtr = typename Client::connection_ptr;
  using MessagePtr = typename Client::message_ptr;
  // wslat's own client core (client_core.hpp), else websocketpp's client.
  static constexpr bool kCore = std::is_same_v<Client, CoreClient>;

 public:
  Session(Worker<Client>& w, std::int64_t index, TimePoint t0)
      : worker_(w),
        plan_(w.plan()),
        index_(index),
        row_(data_row(*plan_.scenario, index)),
        t0_(t0),
        role_(plan_.scenario->role_of(index)),
        room_(plan_.scenario->room_of(index)),
        program_(plan_.programs[role_]),
        tracing_(index < plan_.opts->trace_connections) {
    if (plan_.opts->connections != nullptr) {  // --export-csv / --export-ndjson
      export_ = std::make_unique<ConnectionRecord>();
      export_->index = index_;
      export_->role = role_;
      export_->room = room_;
      export_->start_ms = ms_between(plan_.run_start, t0_);
    }
  }
  ~Session() {
    if (has_deadline()) worker_.deadlines().cancel(*this);  // only when a worker is torn down
    if (heartbeats_ && heartbeats_->has_deadline()) worker_.deadlines().cancel(*heartbeats_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    if (plan_.scenario->login) {
      start_login();
      return;
    }
    open_connection();
  }

  // The first phase of a connection (the session's first, and every reconnect's try).
  void open_connection() {
    if (plan_.proxied) {  // the proxy resolves the target's name
      connect(plan_.proxy_address);
      return;
    }
    if (plan_.host_is_ip) {
      connect(plan_.uri_address);
      return;
    }
    auto self = this->shared_from_this();
    const TimePoint dns_start = Clock::now();
    arm(connect_timeout(), "dns", "name resolution timed out");
    const std::int64_t resolving = ++resolves_;
    worker_.resolver().async_resolve(
        plan_.host, plan_.port,
        [self, dns_start, resolving](const asio::error_code& ec,
                                     const asio::ip::tcp::resolver::results_type& res) {
          // A reconnect's try that timed out may be followed by another before this answers.
          if (self->finished_ || resolving != self->resolves_) return;
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
    // Reconnecting: nothing open to close politely.
    if (!opened_ || reconnect_) {
      abandon();
      return;
    }
    begin_close(1001, "wslat interrupted");
  }

  bool finished() const { return finished_; }
  // Where the worker keeps this session in its list of live ones.
  std::size_t slot() const { return slot_; }
  void set_slot(std::size_t slot) { slot_ = slot; }

 private:
  // --- login (README "Login, origin and cookies") --------------------------------------------
  // On the worker's curl thread (Worker::login); its answer comes back through the io_context.
  // The login is timed from the intended start, like the handshake without one; the handshake
  // then starts when the login's response arrived.

  void start_login() {
    LoginRequest request;
    if (auto bad = make_login_request(*plan_.scenario->login, {index_, 0, &vars_, row_}, request)) {
      fail(bad->category, bad->message);
      return;
    }
    request.timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(plan_.opts->timeouts.effective.login);
    request.insecure = plan_.opts->insecure;
    request.ca_file = plan_.opts->ca_file;
    trace_event("->", "login", [&] { return request.method + " " + request.url; });
    auto self = this->shared_from_this();
    asio::io_context& io = worker_.io();
    worker_.login().submit(std::move(request), [self, &io](LoginResponse r) {
      asio::post(io, [self, r = std::move(r)] { self->on_login(r); });
    });
  }

  void on_login(const LoginResponse& r) {
    if (finished_) return;
    const LoginSpec& login = *plan_.scenario->login;
    if (auto bad = apply_login(login, r, vars_)) {
      if (bad->category == "login.timeout") {
        const TimeoutPlan& t = plan_.opts->timeouts;
        bad->message =
            "the login did not complete within " + t.describe({t.written.login, t.effective.login});
      }
      fail(bad->category, bad->message);
      return;
    }
    record(kLogin, r.done - t0_);
    connect_from_ = r.done;
    trace_event("<-", "login",
                [&] { return fmt::format("HTTP {}, {} B", r.status, r.body.size()); });
    if (login.send_cookies) {
      rare().login_cookies = login_cookies_for(r.cookies, plan_.host, plan_.secure);
    }
    open_connection();
  }

  // --- connection phases ----------------------------------------------------------------------

  ScaledTimeout connect_timeout() const {
    const TimeoutPlan& t = plan_.opts->timeouts;
    return {t.written.connect, t.effective.connect};
  }

  void connect(const asio::ip::tcp::endpoint& address) {
    websocketpp::lib::error_code ec;
    con_ = worker_.client().get_connection(plan_.uri, ec);
    if (ec) {
      fail("connect.error", "cannot create connection: " + ec.message());
      return;
    }
    if (!add_request_fields()) return;
    configure();
    // The client core serves targets without a proxy only (make_transport).
    if constexpr (!kCore) {
      if (!set_proxy(ec)) return;
    }
    tcp_start_ = Clock::now();  // also the deadline's start: one clock read
    arm(connect_timeout(), "connect.timeout", "TCP connect timed out", nullptr, tcp_start_);
    worker_.client().next_address = address;
    worker_.client().next_source = worker_.next_source();
    worker_.client().connect(con_);
  }

  // websocketpp's HTTP CONNECT: the proxy and its credentials; false (the session failed) on an
  // error.
  bool set_proxy(websocketpp::lib::error_code& ec) {
    if (!plan_.proxied) return true;
    ec.clear();
    con_->set_proxy(plan_.proxy_url, ec);
    if (!ec && !plan_.proxy_user.empty()) {
      con_->set_proxy_basic_auth(plan_.proxy_user, plan_.proxy_password, ec);
    }
    if (ec) {
      fail("proxy", "cannot use proxy " + plan_.proxy_name + ": " + ec.message());
      return false;
    }
    return true;
  }

  // Headers and subprotocols, each checked as it will be sent (after this connection's
  // template expansion). make_plan already refused every literal problem before the run, so a
  // failure here is a session error (`request.invalid`), never bytes on the wire or an
  // exception escaping the worker thread.
  bool add_request_fields() {
    const Scenario& s = *plan_.scenario;
    const TemplateContext ctx{index_, 0, &vars_, row_};
    std::optional<std::string> why;
    const auto add_header = [this, &why](const std::string& name, const std::string& value) {
      if (!why) why = header_problem(name, value);
      if (why) return;
      // One Host line: a --header Host replaces the scenario's (append would join them).
      if (equals_ci(name, "Host")) {
        con_->replace_header(name, value);
      } else {
        con_->append_header(name, value);
      }
    };
    try {
      if (!plan_.authorization.empty()) con_->replace_header("Authorization", plan_.authorization);
      if (plan_.opts->permessage_deflate) {
        con_->append_header(kExtensionsHeader, plan_.opts->deflate_offer);
      }
      for (const auto& [name, value] : s.headers) add_header(name, expand(value, ctx));
      for (const auto& [name, value] : plan_.opts->extra_headers) add_header(name, value);
      if (s.origin) add_header("Origin", expand(*s.origin, ctx));
      std::string cookies;
      for (const auto& [name, value] : s.cookies) {
        cookies += (cookies.empty() ? "" : "; ") + name + "=" + expand(value, ctx);
      }
      if (rare_ && !rare_->login_cookies.empty()) {
        cookies += (cookies.empty() ? "" : "; ") + rare_->login_cookies;
      }
      if (!cookies.empty()) add_header("Cookie", cookies);
      for (const auto& p : s.subprotocols) {
        if (const auto bad = subprotocol_problem(p); bad && !why) {
          why = "subprotocol " + quote_escaped(p) + ": " + *bad;
        }
        if (!why) con_->add_subprotocol(p);
      }
    } catch (const std::exception& e) {  // websocketpp::exception, HttpError (append_header)
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
    // websocketpp's close timer serves the close frames the Session does not send: the answer to
    // a server's close and the close of a violation, after which the client waits for the server
    // to close TCP (a server that kept the connection open was message.timeout while an expect
    // waited, or never ended). The Session's own close (begin_close) turns it off and arms the
    // Session's deadline instead: websocketpp's timer costs an Asio timer, a std::function and,
    // cancelled, a handler and an epoll_wait per connection, and over TLS its expiry started the
    // TLS shutdown, which waits up to 1 s for the peer's close_notify first (a wss server that
    // never answered was close.timeout only at a backstop 500 ms later, in the backstop's words).
    // The client core keeps the same wait.
    con_->set_close_handshake_timeout(
        std::chrono::duration_cast<std::chrono::milliseconds>(plan_.opts->timeouts.effective.close)
            .count());
    if constexpr (kCore) {
      // The core holds the session (`self`) until the connection ends, as websocketpp's close
      // handler did below.
      con_->set_events(&kCoreEvents, this, std::move(self));
    } else {
      configure_wspp(std::move(self));
    }
  }

  // The client core calls the session through this table (one per Session type, no handler
  // objects). A reconnect replaces con_: what the connection it left behind still reports is not
  // ours.
  template <void (Session::*Handler)()>
  static void core_event(void* owner, const CoreConnection* con) {
    auto* me = static_cast<Session*>(owner);
    if (me->con_.get() == con) (me->*Handler)();
  }
  static void core_message(void* owner, const CoreConnection* con, const MessagePtr& msg) {
    auto* me = static_cast<Session*>(owner);
    if (me->con_.get() == con) me->on_message(msg);
  }
  static void core_ping(void* owner, const CoreConnection* con, const std::string& payload) {
    auto* me = static_cast<Session*>(owner);
    if (me->con_.get() == con) (void)me->on_ping(payload);
  }
  static constexpr CoreEvents kCoreEvents{
      &core_event<&Session::on_tcp>,
      &core_event<&Session::on_tls>,
      &core_event<&Session::on_open>,
      &core_event<&Session::on_fail>,
      &core_event<&Session::on_close>,
      &core_message,
      &core_ping,
      &core_event<&Session::on_pong>,
  };

  void configure_wspp(std::shared_ptr<Session> self) {
    // A reconnect replaces con_: what the connection it left behind still reports is not ours.
    const auto* const c = con_.get();
    // Only the close handler owns the session: the connection keeps all its handlers until it
    // is destroyed, so that one keeps the session alive as long as any of them can run. The
    // others hold two plain pointers, which std::function stores inline (a lambda holding a
    // shared_ptr is allocated: 8 allocations and ~256 B of every held connection fewer).
    Session* const me = this;
    con_->set_tcp_pre_init_handler([me, c](const websocketpp::connection_hdl&) {
      if (me->con_.get() == c) me->on_tcp();
    });
    con_->set_tcp_post_init_handler([me, c](const websocketpp::connection_hdl&) {
      if (me->con_.get() == c) me->on_tls();
    });
    con_->set_open_handler([me, c](const websocketpp::connection_hdl&) {
      if (me->con_.get() == c) me->on_open();
    });
    con_->set_fail_handler([me, c](const websocketpp::connection_hdl&) {
      if (me->con_.get() == c) me->on_fail();
    });
    con_->set_close_handler([self, c](const websocketpp::connection_hdl&) {
      if (self->con_.get() == c) self->on_close();
    });
    con_->set_message_handler([me, c](const websocketpp::connection_hdl&, const MessagePtr& msg) {
      if (me->con_.get() == c) me->on_message(msg);
    });
    con_->set_pong_handler([me, c](const websocketpp::connection_hdl&, const std::string&) {
      if (me->con_.get() == c) me->on_pong();
    });
    con_->set_pong_timeout_handler([](const websocketpp::connection_hdl&, const std::string&) {});
    con_->set_ping_handler([me, c](const websocketpp::connection_hdl&, const std::string& payload) {
      return me->con_.get() == c && me->on_ping(payload);
    });
  }

  // websocketpp answers every ping with a pong on an unbounded queue; a server that pings
  // faster than the pongs are written grows it without end. The pongs are sent here instead, as
  // messages whose release (websocketpp drops a message once written) says it left.
  bool on_ping(const std::string& payload) {
    if (finished_ || failed_) return false;
    trace_event("<-", "ping",
                [&] { return std::to_string(payload.size()) + " B (answered with a pong)"; });
    if constexpr (kCore) {  // the core counts its pongs until their write completed
      if (con_->unwritten_pongs() >= kMaxUnwrittenPongs) {
        fail("ping.flood", "the server sent pings faster than they could be answered: " +
                               std::to_string(kMaxUnwrittenPongs) + " pongs waiting to be written");
        return false;
      }
      con_->pong(payload);
    } else {
      while (!pongs_.empty() && pongs_.front().expired()) pongs_.pop_front();
      if (pongs_.size() >= kMaxUnwrittenPongs) {
        fail("ping.flood", "the server sent pings faster than they could be answered: " +
                               std::to_string(kMaxUnwrittenPongs) + " pongs waiting to be written");
        return false;
      }
      auto msg = con_->get_message(websocketpp::frame::opcode::pong, payload.size());
      prepare_pong(*msg, payload, worker_.mask_key());
      websocketpp::lib::error_code ec = con_->send(msg);
      if (!ec) pongs_.push_back(msg);
    }
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
    verify_tls();
    // The proxy's CONNECT, then the TLS handshake, each get their own connect budget: a stall
    // there is a proxy or TLS problem (a plain-ws or silent server), not a TCP one.
    if (plan_.proxied) {
      arm(connect_timeout(), "proxy.timeout", "the proxy did not answer the CONNECT within ");
      watch_handshake_start();
    } else if (plan_.secure) {
      arm(connect_timeout(), "tls.timeout", "the TLS handshake did not complete within ");
    }
  }

  // SSL_set_tlsext_host_name without its C cast; nullptr sends no server name.
  static void set_sni(SSL* ssl, const char* name) {
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name));  // NOLINT(cppcoreguidelines-pro-type-const-cast): C API
  }

  // Keeps the first reason certificate verification failed, for the error message.
  void verify_tls() {
    if constexpr (std::is_same_v<Client, TlsClient>) {
      // websocketpp sent the URL's host as SNI: --sni replaces it, and an IP literal is not
      // sent at all (RFC 6066 §3). The certificate is checked against the same name.
      SSL* ssl = con_->get_socket().native_handle();
      const std::string& sni = plan_.opts->sni;
      if (!sni.empty()) {
        set_sni(ssl, sni.c_str());
      } else if (plan_.host_is_ip) {
        set_sni(ssl, nullptr);
      }
      if (plan_.opts->insecure) return;
      asio::ssl::host_name_verification check(sni.empty() ? plan_.host : sni);
      std::weak_ptr<Session> weak = this->shared_from_this();
      con_->get_socket().set_verify_callback(
          [check, weak](bool ok, asio::ssl::verify_context& ctx) mutable {
            const auto self = weak.lock();
            const bool host_ok = check(ok, ctx);
            if (self && self->verify_error().empty()) {
              if (!ok) {
                self->rare().verify_error =
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.native_handle()));
              } else if (!host_ok) {
                self->rare().verify_error =
                    "certificate does not match host " +
                    (self->plan_.opts->sni.empty() ? self->plan_.host : self->plan_.opts->sni);
              }
            }
            return host_ok;
          });
    }
  }

  // wss through a proxy: the TLS handshake starts once the proxy answered the CONNECT. An
  // OpenSSL info callback says when (the Session in the SSL's ex_data: the connection's
  // handlers keep the Session alive as long as the SSL).
  static int session_ex_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }
  void watch_handshake_start() {
    if constexpr (std::is_same_v<Client, TlsClient>) {
      SSL* ssl = con_->get_socket().native_handle();
      SSL_set_ex_data(ssl, session_ex_index(), this);
      SSL_set_info_callback(ssl, [](const SSL* s, int where, int /*ret*/) {
        if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
        auto* self = static_cast<Session*>(SSL_get_ex_data(s, session_ex_index()));
        if (self != nullptr) self->on_proxy_done(Clock::now());
      });
    }
  }

  void on_proxy_done(TimePoint now) {
    if (finished_ || proxy_done_ != TimePoint{}) return;
    proxy_done_ = now;
    record(kProxy, proxy_done_ - tcp_done_);
    if (plan_.secure) {
      arm(connect_timeout(), "tls.timeout", "the TLS handshake did not complete within ");
    }
  }

  // Called after the TLS handshake whether it worked or not (on_fail tells which); the
  // phase is recorded at open.
  void on_tls() {
    if (finished_) return;
    tls_done_ = Clock::now();
    if (plan_.proxied && !plan_.secure) on_proxy_done(tls_done_);
    const TimeoutPlan& t = plan_.opts->timeouts;
    arm(ScaledTimeout{t.written.handshake, t.effective.handshake}, "upgrade.timeout",
        "no answer to the upgrade request within ", nullptr, tls_done_);
  }

  // The session's first connection, or a reconnect's (then handshake, the open count and the
  // negotiated counts stay the first connection's).
  void on_open() {
    // Taken first: the Deflate that this connection's 101 enabled, if any (deflate.hpp).
    deflate_ = std::exchange(accepted_deflate, nullptr);
    if (finished_) return;
    disarm();
    if (!check_subprotocol()) return;
    const TimePoint opened_at = read_done();
    if (plan_.secure) record(kTls, tls_done_ - (plan_.proxied ? proxy_done_ : tcp_done_));
    record(kUpgrade, opened_at - tls_done_);
    trace_event("<-", "upgrade", [&] {
      return std::to_string(con_->get_response().status()) + " " + con_->get_response_msg();
    });
    capture_upgrade();
    release_handshake();
    start_heartbeats();
    if (reconnect_) {
      reopened(opened_at);
      return;
    }
    opened_ = true;
    open_time_ = opened_at;
    worker_.count_opened();
    record(kHandshake, open_time_ - connect_from_);
    step_ = 1;  // program[0] is the connect
    run_steps();
  }

  // Counts what the server selected; false (the session failed) when the scenario requires one
  // of its subprotocols and the server selected none or another.
  bool check_subprotocol() {
    static const std::string kProtocol = "Sec-WebSocket-Protocol";
    const std::string& selected = con_->get_response_header(kProtocol);
    if (!reconnect_)
      worker_.count_negotiated(selected, con_->get_response_header(kExtensionsHeader));
    const Scenario& s = *plan_.scenario;
    if (!s.require_subprotocol ||
        std::find(s.subprotocols.begin(), s.subprotocols.end(), selected) != s.subprotocols.end()) {
      return true;
    }
    std::string offered;
    for (const auto& p : s.subprotocols) offered += (offered.empty() ? "" : ", ") + p;
    fail("upgrade.subprotocol",
         (selected.empty() ? std::string("the server selected none of the offered subprotocols")
                           : "the server selected subprotocol " + quote_escaped(selected) +
                                 ", which was not offered") +
             " (" + offered + ") and the scenario has \"require_subprotocol\": true");
    return false;
  }

  void on_fail() {
    if (finished_ || abandoned_) return;  // abandoned: wslat ended it, the server did nothing
    const auto ec = con_->get_ec();
    // The transport code says most (refused, reset); websocketpp's own code says the rest.
    const auto tec = con_->get_transport_ec() ? con_->get_transport_ec() : ec;
    const int status = con_->get_response().status();  // any number, not websocketpp's enum
    if (status != 0 && status != 101) {
      fail("http." + std::to_string(status), "server answered the upgrade with HTTP " +
                                                 std::to_string(status) + " " +
                                                 con_->get_response_msg());
    } else if (tcp_done_ == TimePoint{}) {
      fail(tec == asio::error::connection_refused ? "connect.refused" : "connect.error",
           "TCP connect to " +
               (plan_.proxied ? "proxy " + plan_.proxy_name : plan_.host + ":" + plan_.port) +
               " failed: " + tec.message());
    } else if (plan_.proxied && proxy_done_ == TimePoint{}) {
      namespace terr = websocketpp::transport::asio::error;
      fail("proxy",
           ec == terr::make_error_code(terr::proxy_failed)
               ? "proxy " + plan_.proxy_name + " refused to CONNECT to " + plan_.host + ":" +
                     plan_.port + " (it answered with a status other than 200)"
               : "proxy " + plan_.proxy_name + " failed during the CONNECT: " + tec.message());
    } else if (plan_.secure &&
               (tls_done_ == TimePoint{} || is_tls_failure(verify_error(), ec, tec))) {
      fail("tls", tls_message(verify_error(), tec));
    } else if (is_reset(tec) || is_reset(ec)) {
      fail("reset", "connection closed during the upgrade: " + tec.message());
    } else if (ec == websocketpp::error::general) {  // websocketpp's HTTP parser threw
      fail("upgrade.invalid", "invalid upgrade response: the answer is not HTTP");
    } else {
      fail("upgrade.invalid", "invalid upgrade response: " + ec.message());
    }
  }

  // The server's close frame is in (websocketpp records "none yet" as 1006, abnormal close).
  bool server_closed() const {
    return con_->get_remote_close_code() != websocketpp::close::status::abnormal_close;
  }

  // Why the connection refused a send, ping or close (websocketpp's "invalid state"). After the
  // server's close frame it is that close, as on_close reports it (the frame is in, its TCP end
  // not yet): a step that sends while the server closes (Engine.IO's ping timeout) counted
  // `reset` "send failed: invalid state". Otherwise the connection is gone: `reset`.
  Failure refusal(const char* what, const websocketpp::lib::error_code& ec) const {
    return server_closed() ? unexpected_close(*con_)
                           : Failure{"reset", std::string(what) + " failed: " + ec.message()};
  }

  // A send or ping refused is a drop like on_close's (with "on_drop" the session connects
  // again); begin_close fails on a refused close, the session was ending anyway.
  void refused(const char* what, const websocketpp::lib::error_code& ec) {
    lost(Clock::now(), refusal(what, ec));
  }

  // The server closed the connection or it was lost: with "on_drop" the session connects again
  // (not after a violation, which the next connection would meet again), else it failed.
  void lost(TimePoint now, const Failure& why) {
    if (plan_.scenario->on_drop && why.category != "protocol" && dropped(now, why)) return;
    fail(why.category, why.message);
  }

  void on_close() {
    if (finished_ || abandoned_) return;
    const TimePoint now = Clock::now();
    trace_event("<-", "close", [&] {
      return std::to_string(con_->get_remote_close_code()) + " " + con_->get_remote_close_reason();
    });
    disarm();
    if (closing_) {
      record(kClose, now - close_sent_);
      if (reconnect_) {  // a reconnect step's clean close
        closing_ = false;
        try_reconnect();
        return;
      }
      finish(now);
      return;
    }
    lost(now, unexpected_close(*con_));
  }

  // --- steps ----------------------------------------------------------------------------------

  void run_steps() {
    if (!joined_ && plan_.rooms) {  // open: expected to receive the room's broadcasts from now
      joined_ = true;
      plan_.rooms->join(room_, index_);
    }
    while (!finished_ && !closing_ && step_ < program_.size()) {
      const FlatStep& fs = program_[step_];
      if (!run_step(*fs.step, fs.iteration)) return;  // it waits for an event
    }
    if (!finished_ && !closing_ && step_ >= program_.size()) begin_close(1000, "");
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
                            if (!send(send_step, TemplateContext{index_, iteration, &vars_, row_},
                                      st.pointer + "/send")) {
                              return false;
                            }
                            ++step_;
                            return true;
                          },
                          [&](const ExpectStep& /*expect*/) {
                            return start_expect(st, iteration);  // else wait for on_message
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
                          [&](const ReconnectStep& reconnect) {
                            begin_reconnect(reconnect, st.pointer);
                            return false;
                          },
                          [&](const RepeatStep& /*repeat*/) {
                            ++step_;  // never in the flattened program
                            return true;
                          },
                      },
                      st.body);
  }

  // A send step: the message, then when it left (for rtt, e2e and its named expects).
  bool send(const SendStep& s, const TemplateContext& ctx, const std::string& where) {
    const TimePoint now = Clock::now();
    if (!transmit(s, ctx, where, nullptr)) return false;
    last_send_ = now;
    if (!first_send_) first_send_ = now;
    if (s.pair != SendStep::kNoPair) {
      if (pair_sends_.size() <= s.pair) pair_sends_.resize(plan_.scenario->paired_sends);
      pair_sends_[s.pair].push_back(now);
    }
    return true;
  }

  // Builds and sends one message of a send step or a rule (`rule`: its pointer, for the trace).
  bool transmit(const SendStep& s, const TemplateContext& ctx, const std::string& where,
                const std::string* rule) {
    // A server that stops reading leaves every send queued in wslat's memory.
    const std::size_t limit =
        std::max(kMinSendBacklogBytes, static_cast<std::size_t>(plan_.scenario->max_message_bytes));
    std::string built;
    const std::string* payload = &built;
    auto opcode = websocketpp::frame::opcode::binary;
    try {
      switch (s.kind) {
        case SendStep::Kind::kText:
        case SendStep::Kind::kJson:
          built = expand(s.payload, ctx);
          opcode = websocketpp::frame::opcode::text;
          break;
        case SendStep::Kind::kBinary:
          if (s.parts.empty()) {
            payload = &s.binary;
          } else {
            built = build_binary(s.parts, ctx);
          }
          break;
        case SendStep::Kind::kSize:
          payload = &worker_.filler(s.size);
          break;
      }
    } catch (const TemplateError& e) {
      fail("template.unset", where + ": " + e.what());
      return false;
    }
    if (con_->get_buffered_amount() + payload->size() > limit) {
      fail("send.backlog", "the server is not reading: more than " + format_bytes(limit) +
                               " of messages wait to be written to it");
      return false;
    }
    if (s.broadcast && !announce_broadcast(*s.broadcast, *payload, where)) return false;
    if (s.join && !announce_join(*s.join, *payload, where)) return false;
    const websocketpp::lib::error_code ec = con_->send(*payload, opcode);
    if (ec) {
      refused("send", ec);
      return false;
    }
    count(kMsgsSent, 1);
    count(kBytesSent, static_cast<std::int64_t>(payload->size()));
    // The payload as it left, compressed or not (deflate_->take_sent: what the send compressed).
    if (plan_.opts->permessage_deflate) {
      count(kWireBytesSent, deflate_ != nullptr ? deflate_->take_sent()
                                                : static_cast<std::int64_t>(payload->size()));
    }
    if (rule != nullptr) count(kRuleSends, 1);
    if (tracing_) trace_message("->", opcode == websocketpp::frame::opcode::text, *payload, rule);
    return true;
  }

  // Starts waiting for the current expect step; true when a kept message already satisfies it.
  bool start_expect(const Step& st, std::int64_t iteration) {
    const auto& expect = *st.as<ExpectStep>();
    try {
      waiting_.emplace(expect, TemplateContext{index_, iteration, &vars_, row_});
    } catch (const TemplateError& e) {
      fail("template.unset", st.pointer + "/expect: " + e.what());
      return false;
    }
    unmatched_ = seen_ = 0;
    if (check_inbox()) return true;
    expect_started_ = Clock::now();
    const ScaledTimeout wait = plan_.opts->timeouts.wait(expect.within);
    arm(wait, "message.timeout", "no matching message for ", &st.pointer, expect_started_);
    return false;
  }

  // Takes the first kept message that satisfies the waiting expect. Messages before it are
  // dropped, unless one of the expects right after this one wants them (pipelined replies
  // that arrive out of order).
  bool check_inbox() {
    for (auto it = inbox_.begin(); it != inbox_.end();) {
      if (waiting_->match(it->second, &vars_)) {
        const TimePoint arrived = it->first;
        inbox_bytes_ -= it->second.size();
        inbox_.erase(it);
        complete_expect(waiting_->step(), arrived);
        return true;
      }
      if (wanted_later(it->second)) {
        ++it;
        continue;
      }
      ++unmatched_;
      inbox_bytes_ -= it->second.size();
      it = inbox_.erase(it);
    }
    return false;
  }

  // True when one of the (up to 64) expect steps that directly follow the current one would
  // take `message`: it is kept for it instead of being skipped.
  bool wanted_later(const std::string& message) const {
    constexpr std::size_t kLookahead = 64;
    for (std::size_t i = step_ + 1; i < program_.size() && i <= step_ + kLookahead; ++i) {
      const FlatStep& fs = program_[i];
      const auto* later = fs.step->as<ExpectStep>();
      if (later == nullptr) return false;
      try {
        if (Expectation(*later, TemplateContext{index_, fs.iteration, &vars_, row_})
                .match(message, nullptr)) {
          return true;
        }
      } catch (const TemplateError&) {  // it uses a variable not captured yet
      }
    }
    return false;
  }

  void complete_expect(const ExpectStep& expect, TimePoint arrived) {
    const TimePoint completed = std::max(arrived, expect_started_);
    std::optional<TimePoint> sent = last_send_;
    if (expect.pair != SendStep::kNoPair && expect.pair < pair_sends_.size() &&
        !pair_sends_[expect.pair].empty()) {
      sent = pair_sends_[expect.pair].front();
      pair_sends_[expect.pair].pop_front();
    }
    const bool named = expect.metric != ExpectStep::kNoMetric;
    // A named expect no send answers (a server push): from the previous expect's message.
    if (named) {
      record(kLatencySlotCount + expect.metric,
             arrived - sent.value_or(last_expect_done_.value_or(open_time_)));
    }
    if (sent) {
      if (!named) record(kRtt, arrived - *sent);
      if (!e2e_done_ && first_send_) {
        record(kE2e, arrived - t0_);
        e2e_done_ = true;
        e2e_ms_ = ms_between(t0_, arrived);
      }
    }
    last_send_.reset();
    if (expect.mark == "ready" && !perceived_done_) {
      record(kPerceived, completed - t0_);
      perceived_done_ = true;
      perceived_ms_ = ms_between(t0_, completed);
    }
    last_expect_done_ = completed;
    expect_started_ = TimePoint{};
    waiting_.reset();
    ++step_;
  }

  void on_message(const MessagePtr& msg) {
    if (finished_) return;
    const std::string& payload = msg->get_payload();
    count(kMsgsReceived, 1);
    count(kBytesReceived, static_cast<std::int64_t>(payload.size()));
    if (plan_.opts->permessage_deflate) {
      // A compressed message's bytes went through the decompressor, plus the 4 bytes of the
      // tail hybi13 adds to each (RFC 7692 §7.2.2); an uncompressed one did not.
      count(kWireBytesReceived, deflate_ != nullptr && msg->get_compressed()
                                    ? deflate_->take_received() - 4
                                    : static_cast<std::int64_t>(payload.size()));
    }
    // Not before our last send: a frame read before it (in the same read as the message that
    // completed the previous expect) arrived before that send, not in answer to it.
    const TimePoint now = read_done(last_send_.value_or(TimePoint{}));
    if (!first_message_done_) {
      record(kFirstMessage, now - open_time_);
      first_message_done_ = true;
    }
    if (tracing_) {
      trace_message("<-", msg->get_opcode() == websocketpp::frame::opcode::text, payload, nullptr);
    }
    if (!plan_.scenario->rules.empty() && handled_by_rule(payload)) return;
    if (plan_.rooms && delivered(payload, now)) return;
    if (plan_.presence && saw_presence(payload, now)) return;
    keep_last(payload);
    if (step_ >= program_.size() || closing_) return;
    if (waiting_ && expect_started_ != TimePoint{}) {
      if (waiting_->match(payload, &vars_)) {
        disarm();
        complete_expect(waiting_->step(), now);
        run_steps();
        return;
      }
      if (!wanted_later(payload)) {  // skipped: neither this expect nor the next ones take it
        ++unmatched_;
        return;
      }
    }
    // Kept for a later expect, within bounds: a server that floods messages nobody waits for
    // must not grow wslat's memory without end.
    const std::size_t byte_limit =
        std::max(kMinInboxBytes, static_cast<std::size_t>(plan_.scenario->max_message_bytes));
    if (inbox_.size() >= kMaxInboxMessages || inbox_bytes_ + payload.size() > byte_limit) {
      fail("message.flood",
           "more than " + std::to_string(kMaxInboxMessages) + " messages or " +
               format_bytes(byte_limit) +
               " arrived while no expect was waiting (they are kept for the next expect): "
               "expect them, or shorten the sleep or ping before the expect");
      return;
    }
    inbox_bytes_ += payload.size();
    inbox_.emplace_back(now, payload);
  }

  // --- rules ("on") ---------------------------------------------------------------------------

  // Runs the first message rule that matches; true when the message is thereby consumed (the
  // rule does not pass it on to the steps).
  bool handled_by_rule(const std::string& payload) {
    for (const Rule& rule : plan_.scenario->rules) {
      if (!rule.when) continue;
      try {
        if (!Expectation(*rule.when, TemplateContext{index_, 0, &vars_, row_})
                 .match(payload, &vars_)) {
          continue;
        }
      } catch (const TemplateError&) {
        continue;  // it matches on a variable not captured yet
      }
      count(kRuleMatches, 1);
      if (rule.reply && !transmit(*rule.reply, TemplateContext{index_, 0, &vars_, row_},
                                  rule.pointer + "/send", &rule.pointer)) {
        return true;
      }
      return !rule.pass;
    }
    return false;
  }

  // Periodic rules: one deadline for all of them, at the earliest next one.
  struct Heartbeats final : Deadlined {
    explicit Heartbeats(Session& s) : session(s) {}
    Heartbeats(const Heartbeats&) = delete;
    Heartbeats& operator=(const Heartbeats&) = delete;
    ~Heartbeats() = default;
    void on_deadline() override { session.on_heartbeat(); }
    Session& session;
    std::vector<TimePoint> next;  // per rule; TimePoint::max() for message rules
  };

  void start_heartbeats() {
    const auto& rules = plan_.scenario->rules;
    if (std::none_of(rules.begin(), rules.end(), [](const Rule& r) { return r.every; })) return;
    if (heartbeats_) worker_.deadlines().cancel(*heartbeats_);  // a reconnect's: start over
    heartbeats_ = std::make_unique<Heartbeats>(*this);
    for (const Rule& r : rules)
      heartbeats_->next.push_back(r.every ? after(*r.every) : TimePoint::max());
    arm_heartbeats();
  }

  void arm_heartbeats() {
    const auto earliest = std::min_element(heartbeats_->next.begin(), heartbeats_->next.end());
    worker_.deadlines().set(*heartbeats_, *earliest);
  }

  void on_heartbeat() {
    if (finished_ || closing_ || reconnect_) return;  // reconnecting: they start over at the open
    auto self = this->shared_from_this();  // a failed send may release the worker's reference
    const TimePoint now = Clock::now();
    const auto& rules = plan_.scenario->rules;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (heartbeats_->next[i] > now) continue;
      heartbeats_->next[i] = after(*rules[i].every);
      if (!transmit(*rules[i].reply, TemplateContext{index_, 0, &vars_, row_},
                    rules[i].pointer + "/send", &rules[i].pointer)) {
        return;
      }
    }
    arm_heartbeats();
  }

  // --- rooms: broadcasts and their delivery -----------------------------------------------------

  // A send marked "broadcast": its id goes on the room's board just before the message is
  // written, so a member's receipt can never come first.
  bool announce_broadcast(const Capture& id, const std::string& payload, const std::string& where) {
    if (!plan_.rooms) return true;
    const std::optional<VarValue> v = id_in(id, payload);
    if (!v) {
      fail("broadcast.id", where +
                               ": the message sent has no broadcast id where \"broadcast\" "
                               "says (check its \"id\" against the message)");
      return false;
    }
    worker_.count_missing(kDeliveryMissing,
                          plan_.rooms->broadcast(room_, index_, v->text, Clock::now()));
    count(kBroadcasts, 1);
    return true;
  }

  // A message of the room's broadcasts ("deliveries"): its delivery is recorded; true when it
  // is thereby consumed (not offered to the steps unless "pass").
  bool delivered(const std::string& payload, TimePoint at) {
    const Deliveries& d = *plan_.scenario->deliveries;
    const std::optional<VarValue> id = recognised(d, payload);
    if (!id) return false;
    const RoomBoard::Receipt r = plan_.rooms->receive(room_, index_, id->text, at);
    worker_.count_missing(kDeliveryMissing, r.missing);
    if (r.delivery) record(kDelivery, *r.delivery);
    if (!r.known && d.sent_at) delivered_from_elsewhere(d, payload, at);
    if (r.fanout) worker_.record(kFanout, *r.fanout);
    if (r.fanout_50) worker_.record(kFanout50, *r.fanout_50);
    if (r.fanout_90) worker_.record(kFanout90, *r.fanout_90);
    return !d.pass;
  }

  // A broadcast another process sent (another shard, another tool): timed by the wall-clock
  // send time it carries ("sent_at"), against this process's wall clock at its receipt. Same-
  // process broadcasts never come here: they keep the monotonic clock (RoomBoard).
  void delivered_from_elsewhere(const Deliveries& d, const std::string& payload, TimePoint at) {
    const std::optional<VarValue> v = id_in(*d.sent_at, payload);
    if (!v) return;
    char* end = nullptr;
    const double sent = std::strtod(v->text.c_str(), &end);
    if (end == v->text.c_str() || !std::isfinite(sent)) return;
    const double sent_us = d.sent_at_unit == Deliveries::Unit::kUs ? sent : sent * 1000.0;
    const auto wall_at = std::chrono::system_clock::now() - (Clock::now() - at);
    const double at_us =
        std::chrono::duration<double, std::micro>(wall_at.time_since_epoch()).count();
    record(kDelivery,
           std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double, std::micro>(std::max(0.0, at_us - sent_us))));
    count(kDeliveryRemote, 1);
  }

  // --- rooms: joins and the others' presence events ----------------------------------------

  // A send marked "join": from now on this member sees the presence events of the members that
  // join after it, and the members that joined before it expect its own.
  bool announce_join(const Capture& id, const std::string& payload, const std::string& where) {
    if (!plan_.presence) return true;
    const std::optional<VarValue> v = id_in(id, payload);
    if (!v) {
      fail("join.id", where +
                          ": the message sent has no member id where \"join\" says (check "
                          "its \"id\" against the message)");
      return false;
    }
    // The first announce adds this member: the members announced before it expect it.
    const bool first = !std::exchange(presence_joined_, true);
    worker_.count_missing(
        kPresenceMissing,
        first ? plan_.presence->join_and_broadcast(room_, index_, v->text, Clock::now())
              : plan_.presence->broadcast(room_, index_, v->text, Clock::now()));
    return true;
  }

  // A presence event of another member ("presence"): true when it is consumed.
  bool saw_presence(const std::string& payload, TimePoint at) {
    const Deliveries& d = *plan_.scenario->presence;
    const std::optional<VarValue> id = recognised(d, payload);
    if (!id) return false;
    const RoomBoard::Receipt r = plan_.presence->receive(room_, index_, id->text, at);
    worker_.count_missing(kPresenceMissing, r.missing);
    if (r.delivery) record(kPresence, *r.delivery);
    return !d.pass;
  }

  // The id `c` takes from `payload` (a JSON pointer parses it first).
  static std::optional<VarValue> id_in(const Capture& c, const std::string& payload) {
    if (c.from != Capture::From::kJson) return capture_from_message(c, payload, nullptr);
    const auto parsed = nlohmann::json::parse(payload, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    return capture_from_message(c, payload, &parsed);
  }

  // The id of a message `d` recognises, or nullopt.
  std::optional<VarValue> recognised(const Deliveries& d, const std::string& payload) {
    try {
      if (!Expectation(d.when, TemplateContext{index_, 0, &vars_, row_}).match(payload, nullptr)) {
        return std::nullopt;
      }
    } catch (const TemplateError&) {
      return std::nullopt;  // it matches on a variable not captured yet
    }
    return id_in(d.id, payload);
  }

  // An open connection's upgrade request and 101 answer (header maps, the key, the status
  // text) are read by nothing after on_open: not by websocketpp on the client side, not by the
  // steps (the captures above ran). Held, they were ~1 KiB of every idle connection's RSS
  // (bench/README.md, "What a held connection costs"). websocketpp only lends them const;
  // they are its own non-const members, so freeing what they hold is defined (release():
  // assigning new ones kept a std::string's buffer, and allocated websocketpp's unused one).
  void release_handshake() {
    using Request = std::decay_t<decltype(con_->get_request())>;
    using Response = std::decay_t<decltype(con_->get_response())>;
    const_cast<Request&>(con_->get_request()).release();
    const_cast<Response&>(con_->get_response()).release();
  }

  // --- captures from the upgrade response -----------------------------------------------------

  void capture_upgrade() {
    const auto* connect = program_[0].step->as<ConnectStep>();
    if (connect == nullptr) return;
    for (const Capture& c : connect->captures) {
      VarValue v{{}, false, true};
      switch (c.from) {
        case Capture::From::kStatus:
          v.text = std::to_string(con_->get_response().status());
          v.is_json = true;
          break;
        case Capture::From::kHeader:
          v.text = con_->get_response_header(c.arg);
          break;
        case Capture::From::kCookie:
          v.text = cookie_value(con_->get_response_header("Set-Cookie"), c.arg);
          break;
        default:
          continue;
      }
      if (vars_.size() <= c.var) vars_.resize(c.var + 1);
      vars_[c.var] = std::move(v);
    }
  }

  // The value of cookie `name` in Set-Cookie header text (several cookies joined by ", ").
  static std::string cookie_value(const std::string& header, const std::string& name) {
    std::size_t at = 0;
    while ((at = header.find(name + "=", at)) != std::string::npos) {
      const bool starts = at == 0 || header[at - 1] == ' ' || header[at - 1] == ',';
      if (starts) {
        const std::size_t begin = at + name.size() + 1;
        const std::size_t end = header.find_first_of(";,", begin);
        return header.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      }
      at += name.size();
    }
    return {};
  }

  // --- seeing what happens --------------------------------------------------------------------

  // The last message the steps saw (for a message.timeout), shortened.
  void keep_last(const std::string& payload) {
    if (!waiting_) return;
    ++seen_;
    constexpr std::size_t kShown = 120;
    last_message_.assign(payload, 0, std::min(payload.size(), kShown));
    last_message_size_ = payload.size();
  }

  std::string timeout_detail() const {
    std::string out;
    if (waiting_) out += "; expected " + waiting_->describe();
    if (seen_ == 0) return out + "; no message arrived meanwhile";
    out += "; " + std::to_string(seen_) + " message(s) arrived that it did not match";
    if (seen_ > unmatched_) {
      out += " (" + std::to_string(seen_ - unmatched_) + " kept for the expects after it)";
    }
    out += ", the last: " + printable(last_message_, last_message_size_);
    return redact(out, plan_.secrets);
  }

  static std::string printable(const std::string& bytes, std::size_t size) {
    std::string out;
    for (const char ch : bytes) {
      const auto c = static_cast<unsigned char>(ch);
      if (c >= 0x20 && c < 0x7F) {
        out += ch;
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[c >> 4U];
        out += kHex[c & 0xFU];
      }
    }
    if (size > bytes.size()) out += "... (" + std::to_string(size) + " bytes)";
    return out;
  }

  void trace_message(const char* dir, bool text, const std::string& payload,
                     const std::string* rule) {
    constexpr std::size_t kShown = 100;
    const std::string shown = printable(payload.substr(0, kShown), payload.size());
    trace_event(dir, text ? "text" : "binary", [&] {
      return std::to_string(payload.size()) + " B " + shown +
             (rule != nullptr ? "  (rule " + *rule + ")" : "");
    });
  }

  // `detail()` makes the line's text, only when tracing: building it cost every connection a
  // few string allocations (the 101's status line, the close codes) for nothing.
  template <typename Detail>
  void trace_event(const char* dir, const char* what, const Detail& detail) {
    if (!tracing_) return;
    worker_.trace(fmt::format("trace c{} +{:.3f} ms {} {} {}", index_,
                              ms_between(t0_, Clock::now()), dir, what,
                              redact(std::string(detail()), plan_.secrets)));
  }

  void sleep(Duration d) {
    due_ = Due{};
    due_.sleep = true;
    worker_.deadlines().set(*this, after(d));
  }

  void ping(const PingStep& p) {
    websocketpp::lib::error_code ec;
    ping_sent_ = Clock::now();
    con_->ping(p.payload, ec);
    if (ec) {
      refused("ping", ec);
      return;
    }
    awaiting_pong_ = true;
    trace_event("->", "ping", [&] { return std::to_string(p.payload.size()) + " B"; });
    const ScaledTimeout wait = plan_.opts->timeouts.wait(p.within);
    arm(wait, "ping.timeout", "no pong within ");
  }

  void on_pong() {
    if (!awaiting_pong_ || finished_) return;
    awaiting_pong_ = false;
    disarm();
    record(kPing, read_done(ping_sent_) - ping_sent_);
    trace_event("<-", "pong", [&] { return ""; });
    ++step_;
    run_steps();
  }

  void begin_close(std::uint16_t code, const std::string& reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    disarm();
    websocketpp::lib::error_code ec;
    close_sent_ = Clock::now();
    trace_event("->", "close",
                [&] { return std::to_string(code) + (reason.empty() ? "" : " " + reason); });
    con_->set_close_handshake_timeout(0);  // the deadline below is this close's timer
    con_->close(code, reason, ec);
    if (ec) {
      const Failure why = refusal("close", ec);
      fail(why.category, why.message);
    }
    const TimeoutPlan& t = plan_.opts->timeouts;
    arm(ScaledTimeout{t.written.close, t.effective.close}, "close.timeout",
        "the server did not answer the close frame within ", nullptr, close_sent_);
  }

  // --- reconnects (README "Reconnects") --------------------------------------------------------

  // A reconnect under way: from the loss (or the reconnect step's start) until the connection is
  // open again, or every try failed.
  struct Reconnecting {
    const ReconnectPolicy* policy = nullptr;
    std::string why;  // "the reconnect step at /steps/3", "the connection was lost (...)"
    TimePoint lost{}, try_started{};
    std::int64_t tries = 0;  // started so far
    bool step = false;       // a reconnect step (done at the open); else "on_drop"
    bool trying = false;     // a try is under way: its failure is not the session's
    std::string last_failure;
  };
  // A server that accepts and drops again and again ends the session after this many drops.
  static constexpr std::int64_t kMaxDrops = 1000;

  void begin_reconnect(const ReconnectStep& r, const std::string& pointer) {
    reconnect_ = std::make_unique<Reconnecting>();
    Reconnecting& rc = *reconnect_;
    rc.policy = &r.policy;
    rc.why = "the reconnect step at " + pointer;
    rc.lost = Clock::now();
    rc.step = true;
    if (heartbeats_) worker_.deadlines().cancel(*heartbeats_);
    trace_event("->", "reconnect",
                [&] { return r.drop ? "dropping the connection" : "closing the connection"; });
    if (!r.drop) {
      begin_close(1000, "wslat reconnect");  // on_close goes on with try_reconnect
      return;
    }
    let_go();
    try_reconnect();
  }

  // The server closed or lost the open connection (not a protocol violation) and the scenario
  // has "on_drop": connect again; the step the session was at starts over at the open. False
  // when the session fails as it would without "on_drop".
  bool dropped(TimePoint now, const Failure& why) {
    if (++rare().drops > kMaxDrops) {
      fail("reconnect.exhausted", "the server dropped the connection " + std::to_string(kMaxDrops) +
                                      " times; the last: " + why.category + ": " + why.message);
      return true;
    }
    reconnect_ = std::make_unique<Reconnecting>();
    Reconnecting& rc = *reconnect_;
    rc.policy = &*plan_.scenario->on_drop;
    rc.why = "the connection was lost (" + why.category + ": " + why.message + ")";
    rc.lost = now;
    if (heartbeats_) worker_.deadlines().cancel(*heartbeats_);
    trace_event("<-", "drop", [&] { return why.category + ": " + why.message; });
    waiting_.reset();
    expect_started_ = TimePoint{};
    awaiting_pong_ = false;
    rewind_after_drop();
    let_go();
    try_reconnect();
    return true;
  }

  // The step a drop interrupted starts over at the open; an expect from the send it answers
  // (its reply was lost with the connection): back over the expects right before it, to the
  // send before them.
  void rewind_after_drop() {
    if (step_ >= program_.size() || !program_[step_].step->is<ExpectStep>()) return;
    std::size_t s = step_;
    while (s > 1 && program_[s - 1].step->is<ExpectStep>()) --s;
    if (s > 1 && program_[s - 1].step->is<SendStep>()) step_ = s - 1;
  }

  void try_reconnect() {
    Reconnecting& rc = *reconnect_;
    ++rc.tries;
    rc.trying = true;
    rc.try_started = Clock::now();
    tcp_start_ = tcp_done_ = tls_done_ = proxy_done_ = TimePoint{};
    if (rare_) rare_->verify_error.clear();
    trace_event("->", "reconnect", [&] {
      return "try " + std::to_string(rc.tries) + " of " + std::to_string(rc.policy->attempts);
    });
    open_connection();
  }

  // A try failed (fail() during a try): wait and try again, or give up.
  void try_failed(const std::string& category, const std::string& message) {
    Reconnecting& rc = *reconnect_;
    rc.trying = false;
    disarm();
    let_go();
    count(kReconnectFailures, 1);
    rc.last_failure = category + ": " + message;
    trace_event("<-", "reconnect",
                [&] { return "try " + std::to_string(rc.tries) + " failed: " + rc.last_failure; });
    if (rc.tries >= rc.policy->attempts) {
      fail("reconnect.exhausted",
           rc.why + ": could not connect again: " + std::to_string(rc.tries) +
               (rc.tries == 1 ? " try" : " tries") + " over " +
               format_duration(std::chrono::duration_cast<Duration>(Clock::now() - rc.lost)) +
               " failed; the last: " + rc.last_failure);
      return;
    }
    due_ = Due{};
    due_.retry = true;
    worker_.deadlines().set(*this, after(jittered(rc.policy->delay(rc.tries + 1))));
  }

  // Open again: the reconnect's metrics, then the steps go on (after the reconnect step, or at
  // the step the drop interrupted).
  void reopened(TimePoint at) {
    const Reconnecting& rc = *reconnect_;
    record(kReconnect, at - rc.try_started);
    record(kDisconnected, at - rc.lost);
    count(kReconnects, 1);
    if (rc.step) ++step_;
    reconnect_.reset();
    closing_ = false;
    run_steps();
  }

  Duration jittered(Duration d) {
    const double jitter = reconnect_->policy->jitter;
    if (jitter <= 0 || d <= Duration{}) return d;
    const double u = static_cast<double>(worker_.mask_key()) / 4294967296.0;  // [0, 1)
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
        static_cast<double>(d.count()) * (1.0 + jitter * (2 * u - 1))));
  }

  // Tears the current connection down with no close frame (a lost network); what it reports
  // afterwards no longer reaches the session (configure's handlers are for con_ only).
  void let_go() {
    if (!con_) return;
    const ConnectionPtr old = std::move(con_);
    con_.reset();
    websocketpp::lib::error_code ignored;
    old->terminate(ignored);
    pongs_.clear();
  }

  // --- state few connections use --------------------------------------------------------------
  // Held by pointer and allocated the first time it is needed, so that a held connection does
  // not carry it (bench/README.md, "What a held connection costs"); so are Reconnecting and the
  // export record.
  struct Rare {
    std::string login_cookies;  // "login": the cookies it set, for the upgrade's Cookie
    std::string verify_error;   // why the server's certificate was rejected (TLS)
    std::int64_t drops = 0;     // "on_drop" reconnects so far
  };
  Rare& rare() {
    if (!rare_) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  const std::string& verify_error() const {
    static const std::string kNoError;
    return rare_ ? rare_->verify_error : kNoError;
  }

  // --- bookkeeping ----------------------------------------------------------------------------

  // A phase timer: on expiry the session fails with `category` and `text` (+ `subject` +
  // " within "; + the duration when the text ends with a space). A scenario timeout is described
  // with the value the scenario wrote and the profile's scaling; wslat's own duration (`own`)
  // as it is. The message is only built on expiry: arming happens several times per
  // connection, expiring almost never.
  // The timeout runs from `from` when given (a time the caller has just read, saving a clock
  // read), else from now.
  void arm(const ScaledTimeout& t, const char* category, const char* text,
           const std::string* subject = nullptr, TimePoint from = {}) {
    arm_timer(t.effective, t, category, text, subject, from);
  }
  void arm(Duration own, const char* category, const char* text) {
    arm_timer(own, std::nullopt, category, text, nullptr, {});
  }
  void arm_timer(Duration d, std::optional<ScaledTimeout> scaled, const char* category,
                 const char* text, const std::string* subject, TimePoint from) {
    due_ = Due{false, false, category, text, subject, d, scaled};
    worker_.deadlines().set(*this, after(d, from));
  }

  // from (default: now) + d, saturated (asio's expires_after saturates too: a `within` of
  // 2,400,000 h scaled by a profile is Duration::max(), which must mean "never", not a time in
  // the past).
  static TimePoint after(Duration d, TimePoint from = {}) {
    const TimePoint now = from == TimePoint{} ? Clock::now() : from;
    return d >= TimePoint::max() - now ? TimePoint::max() : now + d;
  }

  // The phase deadline (or the sleep) is due: the worker's Deadlines took it out of its queue.
  void on_deadline() override {
    if (finished_) return;
    auto self = this->shared_from_this();  // fail() may release the worker's reference
    if (due_.sleep) {
      ++step_;
      run_steps();
      return;
    }
    if (due_.retry) {  // a reconnect's wait between tries
      try_reconnect();
      return;
    }
    // A client waits for the server to close the TCP connection after the close handshake
    // (RFC 6455 7.1.1; websocketpp does): a server that answered and kept it open is a close
    // timeout too, in words that say which half it missed.
    if (std::string_view(due_.category) == "close.timeout" && closing_ && server_closed()) {
      due_.text = "the server answered the close frame but did not close the connection within ";
    }
    std::string message = due_.text;
    if (due_.subject != nullptr) message += *due_.subject + " within ";
    if (!message.empty() && message.back() == ' ') {
      message += due_.scaled ? plan_.opts->timeouts.describe(*due_.scaled)
                             : format_duration(due_.duration);
    }
    if (std::string_view(due_.category) == "message.timeout") message += timeout_detail();
    fail(due_.category, message);
  }

  // Stops the phase timer: the deadline leaves the worker's queue at once, so a timeout that
  // lost the race to its phase's completion can never fail a later phase (Deadlines fires a
  // deadline only while it is queued, and takes it out before calling on_deadline).
  void disarm() { worker_.deadlines().cancel(*this); }

  void record(Metric m, Clock::duration d) {
    worker_.record(m, std::max(d, Clock::duration::zero()));
    if (export_) export_->record(m, std::chrono::duration<double, std::milli>(d).count());
    if (!plan_.role_slots.empty()) {  // and the role's own copy, METRIC@ROLE
      worker_.record(plan_.role_slots[role_] + m, std::max(d, Clock::duration::zero()));
    }
  }
  void count(std::size_t counter, std::int64_t n) {
    counted_[counter] += n;
    worker_.count(counter, n, role_);
  }

  // For the handlers websocketpp calls while parsing what a read returned (open, message,
  // pong): the time that read completed (wspp_config.hpp, last_read_done), not the time the
  // parse reached the handler; never before `not_before` (a step started after that read).
  static TimePoint read_done(TimePoint not_before = TimePoint{}) {
    const TimePoint t = last_read_done;
    return t == TimePoint{} ? Clock::now() : std::max(t, not_before);
  }

  void fail(const std::string& category, const std::string& message) {
    // failed_ too: abandon() terminates the connection, and a plain socket's shutdown completes
    // synchronously, so websocketpp calls on_close (which would count a second, "reset", error)
    // before finish() runs.
    if (finished_ || failed_) return;
    if (reconnect_ && reconnect_->trying) {  // one try failed: the next, or reconnect.exhausted
      try_failed(category, message);
      return;
    }
    failed_ = true;
    // With roles every category names the role: message.timeout@listener.
    const std::string named = plan_.scenario->roles.empty()
                                  ? category
                                  : category + "@" + plan_.scenario->roles[role_].name;
    if (export_) {
      export_->category = named;
      export_->message = message;
    }
    worker_.count_error(named, message);
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
    if (heartbeats_) worker_.deadlines().cancel(*heartbeats_);
    if (joined_) plan_.rooms->leave(room_, index_);
    if (presence_joined_) plan_.presence->leave(room_, index_);
    if (!failed_ && !interrupted_) {
      record(kSession, now - t0_);
      if (!perceived_done_ && last_expect_done_ && !plan_.has_ready_mark) {
        record(kPerceived, *last_expect_done_ - t0_);
        perceived_ms_ = ms_between(t0_, *last_expect_done_);
      }
    }
    TimelinePoint p;
    p.t_ms = ms_between(plan_.run_start, t0_);
    if (opened_) p.ms[kTimelineHandshake] = ms_between(connect_from_, open_time_);
    p.ms[kTimelineE2e] = e2e_ms_;
    p.ms[kTimelinePerceived] = perceived_ms_;
    p.ok = !failed_;
    if (opened_) worker_.end_connection_counts(counted_, role_);
    if (export_) {
      export_->interrupted = interrupted_;
      worker_.export_connection(std::move(*export_));
      export_.reset();
    }
    worker_.session_done(*this, p, failed_);
    con_.reset();
  }

  Worker<Client>& worker_;
  const RunPlan& plan_;
  std::int64_t index_;
  const Vars* row_;  // this connection's row of the scenario's data file, or nullptr
  TimePoint t0_;
  TimePoint connect_from_ = t0_;          // the handshake's start: t0_, or when the login answered
  TimePoint proxy_done_{};                // the proxy answered the CONNECT (proxied runs only)
  std::size_t role_ = 0;                  // index in Scenario::roles (0 without roles)
  std::int64_t room_ = 0;                 // Scenario::room_of(index_)
  const std::vector<FlatStep>& program_;  // the role's flattened steps
  bool joined_ = false;                   // on the room's board (RoomBoard::join)
  bool presence_joined_ = false;          // sent its "join": sees the presence of later joiners
  // What the pending deadline means: the end of a sleep, or a phase timeout (failure category
  // and message parts, built into a message only when it fires).
  struct Due {
    bool sleep = false;
    bool retry = false;  // the wait before a reconnect's next try
    const char* category = "";
    const char* text = "";
    const std::string* subject = nullptr;
    Duration duration{};
    std::optional<ScaledTimeout> scaled;
  };
  Due due_;
  ConnectionPtr con_;
  std::size_t step_ = 0;
  TimePoint tcp_start_{}, tcp_done_{}, tls_done_{}, open_time_{}, close_sent_{}, ping_sent_{};
  TimePoint expect_started_{};
  std::optional<TimePoint> first_send_, last_send_, last_expect_done_;
  // Lists, not deques: libstdc++'s deque allocates ~600 bytes as it is constructed, and these
  // stay empty in most sessions (bench/results-counts.md: 4 allocations per cycle fewer).
  std::list<std::pair<TimePoint, std::string>> inbox_;
  Vars vars_;                                      // this connection's ${var:...} values
  std::optional<Expectation> waiting_;             // the expect step waiting, made ready
  std::vector<std::deque<TimePoint>> pair_sends_;  // send times per paired name, not answered
  std::unique_ptr<Heartbeats> heartbeats_;         // periodic rules, if any
  std::unique_ptr<Reconnecting> reconnect_;        // a reconnect under way
  std::int64_t resolves_ = 0;                      // name resolutions started (the last counts)
  std::string last_message_;                       // the last message the steps saw, shortened
  std::size_t last_message_size_ = 0;
  std::int64_t seen_ = 0, unmatched_ = 0;  // messages while an expect waited; skipped ones
  std::size_t inbox_bytes_ = 0;
  std::list<std::weak_ptr<typename MessagePtr::element_type>> pongs_;  // sent, not yet written
  Deflate* deflate_ = nullptr;  // the connection's permessage-deflate, when negotiated
  bool opened_ = false, closing_ = false, finished_ = false, failed_ = false;
  bool first_message_done_ = false, e2e_done_ = false, perceived_done_ = false;
  bool awaiting_pong_ = false;
  bool interrupted_ = false, abandoned_ = false;
  bool tracing_ = false;  // --trace: print this connection's frames
  double e2e_ms_ = -1, perceived_ms_ = -1;
  std::size_t slot_ = 0;  // index in the worker's list of live sessions
  std::array<std::int64_t, kCounterSlotCount> counted_{};  // this connection's counters
  std::unique_ptr<ConnectionRecord> export_;  // only with --export-csv / --export-ndjson
  std::unique_ptr<Rare> rare_;                // allocated by rare(), the first time it is needed
};

}  // namespace wslat::net
