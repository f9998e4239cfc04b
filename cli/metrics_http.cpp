#include "metrics_http.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "error.hpp"
#include "microhttpd_shim.hpp"

namespace wslat::cli {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result reply(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* content_type) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  const MHD_Result ok = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return ok;
}

// One /api/events response: its subscription, dropped when libmicrohttpd is done with it.
struct EventReader {
  EventStream* stream;
  std::shared_ptr<EventStream::Client> client;
};

ssize_t read_events(void* cls, uint64_t /*pos*/, char* buf, size_t max) {
  auto* r = static_cast<EventReader*>(cls);
  const std::size_t n = r->stream->read(*r->client, buf, max);
  if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
  return static_cast<ssize_t>(n);
}

void free_events(void* cls) {
  auto* r = static_cast<EventReader*>(cls);
  r->stream->unsubscribe(*r->client);
  delete r;
}

MHD_Result serve_events(MHD_Connection* connection, EventStream& stream,
                        const std::optional<std::string>& key) {
  auto client = stream.subscribe(key.value_or(""));
  if (!client) {
    const std::string text = "too many live clients (--live-clients " +
                             std::to_string(stream.max_clients()) +
                             "); the dashboard falls back to polling /api/samples\n";
    MHD_Response* response = MHD_create_response_from_buffer(
        text.size(), const_cast<char*>(text.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, "30");
    const MHD_Result ok = MHD_queue_response(connection, MHD_HTTP_SERVICE_UNAVAILABLE, response);
    MHD_destroy_response(response);
    return ok;
  }
  auto* reader = new EventReader{&stream, std::move(client)};
  MHD_Response* response =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, &read_events, reader, &free_events);
  if (response == nullptr) {
    free_events(reader);
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  const MHD_Result ok = MHD_queue_response(connection, MHD_HTTP_OK, response);
  MHD_destroy_response(response);
  return ok;
}

// GET or HEAD /metrics: the exposition; /probe (with --scenarios): one probe's exposition; / says
// where they are; anything else 404 or 405.
MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* upload_data_size, void** /*con_cls*/) {
  const auto* endpoint = static_cast<const MetricsEndpoint*>(cls);
  if (*upload_data_size != 0) {  // a body: not for us; drop it
    *upload_data_size = 0;
    return MHD_YES;
  }
  const std::string m = method;
  if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
    return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain");
  }
  const std::string path = url;
  const auto arg = [&](const char* key) -> std::optional<std::string> {
    const char* v = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, key);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  if (path == "/metrics") {
    return reply(connection, MHD_HTTP_OK, endpoint->scrape(), kContentType);
  }
  if (path == "/probe") {
    if (!endpoint->probe()) {
      return reply(connection, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n",
                   "text/plain");
    }
    if (m == MHD_HTTP_METHOD_HEAD) return reply(connection, MHD_HTTP_OK, "", kContentType);
    const HttpReply r = endpoint->probe()(arg("target"), arg("scenario"));
    return reply(connection, r.status, r.body, r.content_type.c_str());
  }
  if (path == "/api/events" && endpoint->events() != nullptr) {
    if (m == MHD_HTTP_METHOD_HEAD) return reply(connection, MHD_HTTP_OK, "", "text/event-stream");
    return serve_events(connection, *endpoint->events(), arg("target"));
  }
  if (endpoint->pages()) {
    if (const auto page = endpoint->pages()(path, arg("target"))) {
      return reply(connection, page->status, m == MHD_HTTP_METHOD_HEAD ? "" : page->body,
                   page->content_type.c_str());
    }
  }
  if (path == "/") {
    return reply(connection, MHD_HTTP_OK, "wslat monitor: metrics at /metrics\n", "text/plain");
  }
  return reply(connection, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n",
               "text/plain");
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(const ListenAddress& where, std::function<std::string()> metrics,
                                 ProbeHandler probe, PageHandler pages, EventStream* events)
    : metrics_(std::move(metrics)),
      probe_(std::move(probe)),
      pages_(std::move(pages)),
      events_(events),
      host_(where.host == "localhost" ? "127.0.0.1" : where.host) {
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
  if (::inet_pton(AF_INET, host_.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(where.port);
    addr = reinterpret_cast<const sockaddr*>(&v4);
  } else if (::inet_pton(AF_INET6, host_.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(where.port);
    addr = reinterpret_cast<const sockaddr*>(&v6);
    flags |= MHD_USE_IPv6;
  } else {
    throw UsageError("--listen " + where.host + ": not an IP address");
  }
  if (const std::string why = microhttpd_unavailable(); !why.empty()) {
    throw RunError("--listen needs libmicrohttpd: " + why);
  }
  errno = 0;
  // A scrape is one short request: a few at once, and no client may hold a slot for long (a
  // /probe lasts as long as the scenario's timeouts allow; its reply is the only one it waits
  // for).
  daemon_ = MHD_start_daemon(flags, where.port, nullptr, nullptr, &on_request, this,
                             MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT, 32U,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
  if (daemon_ == nullptr) {
    throw RunError(fmt::format(
        "--listen {}:{}: cannot listen there ({}); choose another port, "
        "or 0 for any free one",
        host_, where.port, errno != 0 ? std::strerror(errno) : "libmicrohttpd refused"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : where.port;
}

MetricsEndpoint::~MetricsEndpoint() {
  // A live client's thread waits in EventStream::read: closing the stream ends its response,
  // so stopping the daemon (which joins every connection's thread) does not wait for it.
  if (events_ != nullptr) events_->close();
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

std::string MetricsEndpoint::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/metrics", v6 ? "[" : "", host_, v6 ? "]" : "", port_);
}

}  // namespace wslat::cli
