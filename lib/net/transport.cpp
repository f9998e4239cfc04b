// The runner's websocketpp side: the plan (target, request fields, addresses, TLS trust), and
// the choice of client. The workers and sessions (lib/net/worker.hpp, lib/net/session.hpp) are
// built for each client in a translation unit of its own (transport_plain.cpp,
// transport_tls.cpp), the heaviest of the build, so that the two compile in parallel. The
// coordination (lib/net/run.cpp) reaches them through lib/net/engine.hpp.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "error.hpp"
#include "http_syntax.hpp"
#include "net/engine.hpp"
#include "net/plan.hpp"
#include "net/wspp_config.hpp"
#include "redact.hpp"
#include "runner.hpp"

namespace wslat {
namespace net {

namespace {

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
    const std::string text = expand_shown(value);
    auto why = header_problem(name, text);
    if (!why) why = reserved_header_problem(name, text);
    if (why) throw UsageError("scenario " + scenario.file + ": " + *why);
  }
  for (const auto& [name, value] : extra_headers) {
    auto why = header_problem(name, value);
    if (!why) why = reserved_header_problem(name, value);
    if (why) throw UsageError("--" + *why);
  }
  for (const auto& p : scenario.subprotocols) {
    if (const auto why = subprotocol_problem(p)) {
      throw UsageError("scenario " + scenario.file + ": subprotocol " + quote_escaped(p) + ": " +
                       *why);
    }
  }
}

// "Basic base64(user:password)" for a target with user info (RFC 7617), else "". Refused with
// an Authorization header as well: one of them would be silently dropped.
std::string basic_authorization(const std::string& target, const Scenario& scenario,
                                const std::vector<std::pair<std::string, std::string>>& extra) {
  const auto url = parse_ws_url(target, nullptr);
  if (!url || !url->has_userinfo) return {};
  const auto is_authorization = [](const std::string& name) {
    return equals_ci(name, "Authorization");
  };
  const bool in_scenario = std::any_of(scenario.headers.begin(), scenario.headers.end(),
                                       [&](const auto& h) { return is_authorization(h.first); });
  const bool in_flags = std::any_of(extra.begin(), extra.end(),
                                    [&](const auto& h) { return is_authorization(h.first); });
  if (in_scenario || in_flags) {
    throw UsageError(std::string("the target URL has user info (USER:PASSWORD@) and ") +
                     (in_flags ? "--header" : "the scenario's \"headers\"") +
                     " has an Authorization header: both would set Authorization; keep one");
  }
  const std::string credentials = url->user + ":" + url->password;
  std::string encoded(4 * ((credentials.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(credentials.data()),
                                static_cast<int>(credentials.size()));
  encoded.resize(static_cast<std::size_t>(n));
  return "Basic " + encoded;
}

// The HTTP CONNECT proxy of opts.proxy ("http://[user:pw@]host[:port][/]", port 80 by default)
// into `plan`, its address resolved now (once per run, not per connection).
void plan_proxy(const RunOptions& opts, RunPlan& plan) {
  if (opts.proxy.empty()) return;
  const auto where = [&opts] { return "proxy " + quote_escaped(redact(opts.proxy, {})); };
  if (opts.proxy.rfind("https://", 0) == 0) {
    throw UsageError(where() +
                     ": https:// proxies (TLS to the proxy) are not supported; use "
                     "http://[USER:PASSWORD@]HOST[:PORT] (wss:// stays encrypted end to end "
                     "through the CONNECT tunnel)");
  }
  if (opts.proxy.rfind("http://", 0) != 0) {
    throw UsageError(where() +
                     ": expected http://[USER:PASSWORD@]HOST[:PORT] (an HTTP CONNECT proxy)");
  }
  std::string problem;
  const auto url = parse_ws_url("ws://" + opts.proxy.substr(7), &problem);
  if (!url || url->resource != "/") {
    throw UsageError(where() + ": " + (url ? "a path is not allowed" : problem) +
                     "; expected http://[USER:PASSWORD@]HOST[:PORT]");
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::error_code ec;
  const auto results = resolver.resolve(url->host, std::to_string(url->port), ec);
  if (ec || results.empty()) {
    throw UsageError(where() + ": cannot resolve " + url->host + ": " +
                     (ec ? ec.message() : "no address"));
  }
  const bool v6 = url->host.find(':') != std::string::npos;
  plan.proxied = true;
  plan.proxy_address = results.begin()->endpoint();
  plan.proxy_name = (v6 ? "[" + url->host + "]" : url->host) + ":" + std::to_string(url->port);
  // websocketpp resolves the proxy's host for every connection: give it the address.
  const auto& a = plan.proxy_address;
  plan.proxy_url =
      "http://" +
      (a.address().is_v6() ? "[" + a.address().to_string() + "]" : a.address().to_string()) + ":" +
      std::to_string(a.port());
  plan.proxy_user = url->user;
  plan.proxy_password = url->password;
}

}  // namespace

RunPlan make_plan(const Scenario& scenario, const RunOptions& opts) {
  RunPlan plan;
  plan.scenario = &scenario;
  plan.opts = &opts;
  plan.secrets = scenario.secrets;
  const std::size_t per_role = kLatencySlotCount + scenario.step_metrics.size();
  for (const auto* steps : scenario.step_lists()) {
    plan.programs.push_back(flatten(*steps));
    if (plan.programs.back().empty() || !plan.programs.back().front().step->is<ConnectStep>()) {
      throw UsageError("scenario " + scenario.file + ": the steps must start with a connect");
    }
    for (const auto& fs : plan.programs.back()) {
      const auto* expect = fs.step->as<ExpectStep>();
      if (expect != nullptr && expect->mark == "ready") {
        plan.has_ready_mark = true;
      }
    }
    if (!scenario.roles.empty()) plan.role_slots.push_back(per_role * (plan.role_slots.size() + 1));
  }
  // With roles the missing deliveries are counted per role of the member that missed them.
  const auto role_of = [s = plan.scenario](std::int64_t member) { return s->role_of(member); };
  if (scenario.deliveries) {
    plan.rooms =
        std::make_shared<RoomBoard>(scenario.delivery_wait, role_of, scenario.roles.size());
  }
  if (scenario.presence) {
    plan.presence =
        std::make_shared<RoomBoard>(scenario.delivery_wait, role_of, scenario.roles.size());
  }
  plan.uri = std::make_shared<websocketpp::uri>(target_uri(opts.target, plan.secrets));
  if (!plan.uri->get_secure() && (!opts.sni.empty() || !opts.cert_file.empty() ||
                                  !opts.key_file.empty() || !opts.tls_min.empty())) {
    throw UsageError(
        "--sni, --cert, --key and --tls-min (and the scenario's \"tls\") apply to wss:// targets "
        "only");
  }
  if (!opts.sni.empty()) {
    if (opts.sni.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
            std::string::npos ||
        opts.sni.front() == '.' || opts.sni.front() == '-') {
      throw UsageError("--sni " + quote_escaped(opts.sni) +
                       ": expected a DNS host name (letters, digits, '-' and '.')");
    }
  }
  check_request_fields(scenario, opts.extra_headers);
  plan.authorization = basic_authorization(opts.target, scenario, opts.extra_headers);
  if (!plan.authorization.empty()) plan.secrets.push_back(plan.authorization);
  plan_proxy(opts, plan);
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
    out.push_back(asio::ip::address_v4(0x7F000001U + static_cast<std::uint32_t>(i)));
  }
  return out;
}

namespace {

// The client's side of TLS that does not depend on trust: its certificate (mutual TLS) and the
// lowest version it accepts. Usage errors (exit 64) name the option and how to fix it.
void configure_client_tls(asio::ssl::context& ctx, const RunOptions& opts) {
  if (opts.cert_file.empty() != opts.key_file.empty()) {
    throw UsageError(opts.cert_file.empty() ? "--key needs --cert (the client certificate)"
                                            : "--cert needs --key (the certificate's private key)");
  }
  asio::error_code ec;
  if (!opts.cert_file.empty()) {
    ctx.use_certificate_chain_file(opts.cert_file, ec);
    if (ec) {
      throw UsageError("--cert " + opts.cert_file + ": cannot load the client certificate: " +
                       ec.message() + " (give a PEM file)");
    }
    ctx.use_private_key_file(opts.key_file, asio::ssl::context::pem, ec);
    if (ec) {
      throw UsageError("--key " + opts.key_file + ": cannot load the private key: " + ec.message() +
                       " (give an unencrypted PEM key)");
    }
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
      throw UsageError("--key " + opts.key_file + " is not the private key of --cert " +
                       opts.cert_file);
    }
  }
  if (!opts.tls_min.empty()) {
    int version = 0;
    if (opts.tls_min == "1.2") version = TLS1_2_VERSION;
    if (opts.tls_min == "1.3") version = TLS1_3_VERSION;
    if (version == 0 || SSL_CTX_set_min_proto_version(ctx.native_handle(), version) != 1) {
      throw UsageError("--tls-min " + quote_escaped(opts.tls_min) + ": expected 1.2 or 1.3");
    }
  }
}

}  // namespace

SslContextPtr make_ssl_context(const RunOptions& opts) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  configure_client_tls(*ctx, opts);
  asio::error_code ec;
  if (opts.insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_default_verify_paths(ec);
  if (!opts.ca_file.empty()) {
    ctx->load_verify_file(opts.ca_file, ec);
    if (ec) {
      throw UsageError("--ca " + opts.ca_file + ": cannot load CA certificates: " + ec.message() +
                       " (give a PEM file)");
    }
  }
  return ctx;
}

// Which client connects to a ws:// target without a proxy: wslat's own core (the default), or
// websocketpp's (WSLAT_CLIENT=websocketpp), which wss:// and proxied targets still use until the
// core has TLS and CONNECT (docs/client-core-plan.md, steps 5 and 6). Kept so that the two can
// be compared in one build (bench/run.sh) and a difference in behaviour told from a bug.
bool own_client_core() {
  const char* env = std::getenv("WSLAT_CLIENT");
  if (env == nullptr || *env == '\0' || std::string_view(env) == "wslat") return true;
  if (std::string_view(env) == "websocketpp") return false;
  throw UsageError("WSLAT_CLIENT=" + quote_escaped(env) +
                   ": expected \"wslat\" (the default) or \"websocketpp\"");
}

std::unique_ptr<Transport> make_transport(const Scenario& scenario, const RunOptions& opts) {
  if (opts.target.rfind("wss://", 0) == 0) return make_tls_transport(scenario, opts);
  if (opts.proxy.empty() && own_client_core()) return make_core_transport(scenario, opts);
  return make_plain_transport(scenario, opts);
}

}  // namespace net

using net::basic_authorization;
using net::build_upgrade_request;
using net::check_request_fields;
using net::FastRng;
using net::HttpError;
using net::target_uri;
using net::UpgradeRequest;
using net::UpgradeResponse;

std::string upgrade_request_text(const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::vector<std::string>& subprotocols) {
  const websocketpp::uri uri = target_uri(target, {});
  Scenario scenario;
  scenario.file = "(request)";
  scenario.subprotocols = subprotocols;
  check_request_fields(scenario, headers);
  const std::string authorization = basic_authorization(target, scenario, headers);
  // What Session::add_request_fields does before connecting, then the processor's request.
  UpgradeRequest req;
  if (!authorization.empty()) req.replace_header("Authorization", authorization);
  for (const auto& [name, value] : headers) {
    if (equals_ci(name, "Host")) {
      req.replace_header(name, value);
    } else {
      req.append_header(name, value);
    }
  }
  FastRng<std::uint32_t, websocketpp::concurrency::none> rng;
  build_upgrade_request(req, net::upgrade_target(uri), subprotocols, rng);
  return req.raw();
}

UpgradeAnswer parse_upgrade_answer(const std::vector<std::string>& reads,
                                   const std::vector<std::string>& ask) {
  UpgradeAnswer out;
  UpgradeResponse res;
  try {
    for (const std::string& read : reads) {
      ++out.reads;
      const std::size_t used = res.consume(read.data(), read.size());
      if (res.headers_ready()) {
        out.left = read.size() - used;
        break;
      }
    }
  } catch (const HttpError& e) {
    out.error = e.what();
  }
  out.status = res.status();
  out.complete = out.error.empty() && res.headers_ready();
  if (!out.complete) return out;
  out.version = res.version();
  out.reason = res.get_status_msg();
  for (const auto& h : res.get_headers()) out.headers.emplace_back(res.name(h), res.value(h));
  for (const std::string& name : ask) out.asked.push_back(res.get_header(name));
  return out;
}

}  // namespace wslat
