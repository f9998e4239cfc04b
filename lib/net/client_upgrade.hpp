// The client's side of the HTTP upgrade (RFC 6455 §4.1, §4.2.2), with no websocketpp in it: the
// request wslat writes, the parser of the server's answer (and of a proxy's answer to CONNECT),
// the checks of a 101, and the Sec-WebSocket-Extensions parameter lists. Step 1 of
// docs/client-core-plan.md: today wspp_config.hpp adapts these to websocketpp's request and
// response types; a client core of wslat's own is to use them as they are.
//
// The request and the parser keep websocketpp 0.8.2's syntax, errors and texts (the request's
// header rules, the response parser's line syntax and error messages, the parameter-list
// grammar): fuzz/fuzz_response.cpp compares the parser with websocketpp's.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <forward_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <openssl/evp.h>

#include "build_info.hpp"
#include "digest.hpp"
#include "http_syntax.hpp"

namespace wslat::net {

// How many bytes of headers an answer may have before its blank line (websocketpp's
// http::max_header_size, kept: the error texts name it).
inline constexpr std::size_t kMaxHeaderSize = 16000;

// An HTTP text wslat cannot read or write, with websocketpp's words as what().
class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether `s` has a byte that is not an RFC 7230 token character (is_tchar, http_syntax.hpp).
inline bool has_non_token_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return !is_tchar(static_cast<unsigned char>(c)); });
}

// `s` without the linear white space around it, as websocketpp's strip_lws reads it: spaces and
// tabs, a CRLF followed by one of them; from the end the same scan runs backwards, so "\n\r"
// before a space or tab is stripped too.
std::string_view strip_lws(std::string_view s);

// A Sec-WebSocket-Extensions list: extensions in order, each with its parameters (websocketpp's
// http::parameter_list, the same type).
using AttributeList = std::map<std::string, std::string>;
using ParameterList = std::vector<std::pair<std::string, AttributeList>>;
// Appends the extensions of `in` to `out`. True when `in` is not a valid list (then `out` may
// hold what was read before the error), as websocketpp's parse_parameter_list.
bool parse_parameter_list(std::string_view in, ParameterList& out);

// The request line and headers of a request wslat writes (the upgrade, a CONNECT). Headers are
// kept in a vector, in the order they were set, their names and values appended to one string,
// instead of websocketpp's std::map with a case-insensitive comparator (~4 k instructions per
// connection in map nodes and tolower(), callgrind). The same calls with the same meaning as
// websocketpp's: names compared without case; append_header joins a repeated name's values with
// ", " and refuses a name with a non-token character. The request goes out in the order set
// (websocketpp's in the map's alphabetical order; HTTP leaves the order of different names to
// the sender, RFC 9110 §5.3).
class UpgradeRequest {
 public:
  static constexpr std::size_t kUsualHeaders = 12;
  static constexpr std::size_t kUsualText = 256;

  // The request line, in one string (the usual "GET / HTTP/1.1" fits in std::string's own 15
  // bytes): three strings made the connection object 56 bytes larger (transport_plain.cpp).
  // The parts may be views into the line itself (the setters below): a new string is made.
  void set_request_line(std::string_view method, std::string_view uri, std::string_view version) {
    std::string line;
    line.reserve(method.size() + uri.size() + version.size() + 2);
    line.append(method).append(" ").append(uri).append(" ").append(version);
    line_.swap(line);
    method_len_ = static_cast<std::uint32_t>(method.size());
    uri_len_ = static_cast<std::uint32_t>(uri.size());
  }
  // One part at a time, as websocketpp's CONNECT request is made.
  void set_method(std::string_view m) { set_request_line(m, get_uri(), get_version()); }
  void set_uri(std::string_view u) { set_request_line(get_method(), u, get_version()); }
  void set_version(std::string_view v) { set_request_line(get_method(), get_uri(), v); }
  std::string_view get_method() const { return std::string_view(line_).substr(0, method_len_); }
  std::string_view get_uri() const {
    return line_.empty() ? std::string_view()
                         : std::string_view(line_).substr(method_len_ + 1, uri_len_);
  }
  std::string_view get_version() const {
    return line_.empty() ? std::string_view()
                         : std::string_view(line_).substr(method_len_ + uri_len_ + 2);
  }

  // Keys as std::string_view: callers pass string literals, which would otherwise each make a
  // temporary std::string (an allocation past 15 characters).
  std::string_view header(std::string_view key) const {
    const auto it = find(key);
    return it == headers_.end() ? std::string_view() : value_of(*it);
  }
  // By reference, as websocketpp's: made on first use for that header and kept (and kept up to
  // date by replace_header and append_header, as its map entry would be).
  const std::string& get_header(std::string_view key) const;
  void append_header(std::string_view key, std::string_view val) {
    if (has_non_token_char(key)) throw HttpError("Invalid header name");
    const auto it = find(key);
    if (it == headers_.end() || it->value_len == 0) {
      replace_header(key, val);
    } else {
      append_to(it, val);  // rare
    }
  }
  void replace_header(std::string_view key, std::string_view val) {
    if (text_.empty()) text_.reserve(kUsualText);  // one allocation for the usual request
    const auto it = find(key);
    if (it == headers_.end()) {
      // One allocation for an upgrade request's ~8 headers, not one per doubling.
      if (headers_.empty()) headers_.reserve(kUsualHeaders);
      const std::size_t name_at = text_.size();
      text_.append(key).append(": ");
      const std::size_t value_at = text_.size();
      text_.append(val).append("\r\n");
      headers_.push_back({name_at, key.size(), value_at, val.size()});
    } else {
      const std::size_t at = text_.size();
      text_.append(val);
      set_value(*it, at, val.size());
      lines_ = false;
    }
  }
  void remove_header(std::string_view key);
  // Whether no header has been set yet.
  bool no_headers() const { return headers_.empty(); }
  // The header lines of `other`, as set there (build_upgrade_request's prototype).
  void copy_headers(const UpgradeRequest& other) {
    text_ = other.text_;
    headers_ = other.headers_;
    lines_ = other.lines_;
    made_.clear();
  }
  // A new value for the header last set: in place when it has the old one's length (the
  // prototype's key), so the lines stay as they were set.
  void overwrite_last_value(std::string_view val) {
    Header& h = headers_.back();
    if (val.size() == h.value_len) {
      text_.replace(h.value_at, h.value_len, val);
      set_value(h, h.value_at, h.value_len);
    } else {
      const std::size_t at = text_.size();
      text_.append(val);
      set_value(h, at, val.size());
      lines_ = false;
    }
  }
  // True when the header is there and is not a valid parameter list (parse_parameter_list).
  bool get_header_as_plist(std::string_view key, ParameterList& out) const {
    const std::string& value = get_header(key);
    return !value.empty() && parse_parameter_list(value, out);
  }

  // Frees what the request holds once the upgrade is done (Session::release_handshake). Not
  // `*this = UpgradeRequest{}`: a std::string moved from an empty one keeps its own buffer
  // (libstdc++), so text_ stayed with every open connection (bench/README.md).
  void release() {
    std::string().swap(line_);
    method_len_ = uri_len_ = 0;
    std::string().swap(text_);
    std::vector<Header>().swap(headers_);
    made_.clear();
    lines_ = true;
  }

  // The request as it goes on the wire: request line, header lines, blank line.
  std::string raw() const {
    std::string out;
    out.reserve(line_.size() + text_.size() + 4 * headers_.size() + 4);
    out.append(line_).append("\r\n");
    if (lines_) {
      out.append(text_);  // the header lines as they were set
    } else {
      for (const Header& h : headers_) {
        out.append(name_of(h)).append(": ").append(value_of(h)).append("\r\n");
      }
    }
    return out.append("\r\n");
  }

 private:
  // Offsets into text_, where each header is appended as its line ("name: value\r\n") when it
  // is set, so that raw() copies the lines at once. A changed value goes after them, and the
  // old one stays behind, unused (a request is built once): raw() then writes line by line.
  struct Header {
    std::size_t name_at, name_len, value_at, value_len;
  };

  std::string_view name_of(const Header& h) const { return {text_.data() + h.name_at, h.name_len}; }
  std::string_view value_of(const Header& h) const {
    return {text_.data() + h.value_at, h.value_len};
  }
  void set_value(Header& h, std::size_t at, std::size_t len) {
    h.value_at = at;
    h.value_len = len;
    if (made_.empty()) return;
    const std::size_t index = static_cast<std::size_t>(&h - headers_.data());
    for (auto& [i, text] : made_) {
      if (i == index) text.assign(value_of(h));
    }
  }
  void append_to(std::vector<Header>::iterator it, std::string_view val);
  std::vector<Header>::const_iterator find(std::string_view key) const {
    for (auto it = headers_.begin(); it != headers_.end(); ++it) {
      if (equals_ci(name_of(*it), key)) return it;
    }
    return headers_.end();
  }
  std::vector<Header>::iterator find(std::string_view key) {
    for (auto it = headers_.begin(); it != headers_.end(); ++it) {
      if (equals_ci(name_of(*it), key)) return it;
    }
    return headers_.end();
  }

  std::string line_;  // "method uri version"
  std::uint32_t method_len_ = 0, uri_len_ = 0;
  std::string text_;  // the header lines (and changed values)
  std::vector<Header> headers_;
  bool lines_ = true;  // text_ is exactly the header lines, in order
  mutable std::forward_list<std::pair<std::size_t, std::string>> made_;  // get_header's
};

// The parser of an HTTP answer: the server's to the upgrade, a proxy's to CONNECT. websocketpp's
// response parser kept it in a std::map with a case-insensitive comparator, a node and two
// strings per header, and built strings per line and an istringstream for the status code: ~11
// allocations and ~6% of a connection's user time (bench/README.md, "Where a cycle's CPU goes").
// UpgradeResponse keeps the answer's text in one string, reads each line once as it completes,
// and keeps the headers as offsets into the text (one vector).
//
// The same syntax and the same errors as websocketpp 0.8.2's response::consume: lines end with
// CRLF; the status line is "version SP code SP reason" (a code that is not a number, or a
// missing space, throws); a header line without ':' or with a non-token name throws; a name and
// a value lose their surrounding spaces and tabs; a repeated name's values are joined with ", ";
// more than kMaxHeaderSize bytes without the blank line throw. One difference: the bytes after
// the blank line are never consumed as a body, even with a Content-Length (websocketpp read that
// many bytes of frames as the body of a 101, which cannot have one, RFC 9110 §15.2).
class UpgradeResponse {
 public:
  // Where a header's name and value are in the answer's text (offsets, so that the text may
  // grow while the answer arrives).
  struct Header {
    std::size_t name_at, name_len, value_at, value_len;
  };
  using Headers = std::vector<Header>;

  // Appends `buf` to the answer so far and reads each line as soon as it is complete (garbage
  // fails at its first line, as websocketpp's does, not when the server gives up); once the
  // blank line is there, returns how many of these bytes belonged to the answer (the rest are
  // frames). Before: all of them. Throws HttpError for an answer that is not HTTP.
  std::size_t consume(const char* buf, std::size_t len) {
    if (ready_) return 0;
    const std::size_t had = text_.size();
    if (had == 0) text_.reserve(len);
    text_.append(buf, len);
    for (std::size_t eol; (eol = text_.find("\r\n", checked_)) != std::string::npos;
         checked_ = eol + 2) {
      if (eol + 2 > kMaxHeaderSize) fail(kTooLarge);
      const std::string_view line(text_.data() + checked_, eol - checked_);
      if (checked_ == 0) {
        status_line(line);
      } else if (line.empty()) {
        text_.resize(eol + 2);  // frames that came with the answer stay in the caller's buffer
        join_repeated();
        ready_ = true;
        return eol + 2 - had;
      } else {
        header_line(line);
      }
    }
    if (text_.size() > kMaxHeaderSize) fail(kTooLarge);
    return len;
  }
  // What consume throws for more than kMaxHeaderSize bytes without the blank line.
  static constexpr const char* kTooLarge = "Maximum header size exceeded.";
  bool headers_ready() const { return ready_; }

  // The status as the server sent it (any number).
  int status() const { return code_; }
  std::string_view version() const { return {text_.data(), version_len_}; }
  // By reference: made on first use and kept.
  const std::string& get_status_msg() const {
    if (status_msg_.empty()) status_msg_.assign(text_, reason_at_, reason_len_);
    return status_msg_;
  }
  // By reference too: made on first use for that header, and kept.
  const std::string& get_header(std::string_view key) const;
  bool get_header_as_plist(std::string_view key, ParameterList& out) const {
    const std::string& v = get_header(key);
    return !v.empty() && parse_parameter_list(v, out);
  }
  // In the order received; a repeated name once, with its values joined.
  const Headers& get_headers() const { return headers_; }
  std::string_view name(const Header& h) const { return {text_.data() + h.name_at, h.name_len}; }
  std::string_view value(const Header& h) const { return {text_.data() + h.value_at, h.value_len}; }

  // Frees the answer once the upgrade is done (Session::release_handshake); as a new one after.
  void release() {
    Headers().swap(headers_);
    std::string().swap(text_);
    std::string().swap(status_msg_);
    made_.clear();
    checked_ = reason_at_ = reason_len_ = version_len_ = 0;
    code_ = 0;
    ready_ = false;
  }

 private:
  [[noreturn]] static void fail(const char* what) { throw HttpError(what); }
  std::size_t at(std::string_view part) const {
    return static_cast<std::size_t>(part.data() - text_.data());
  }
  void status_line(std::string_view line);
  void header_line(std::string_view line);
  void join_repeated();

  static constexpr std::size_t kUsualHeaders = 8;
  std::string text_;  // the answer, up to its blank line (and a repeated header's joined values)
  Headers headers_;
  mutable std::forward_list<std::pair<std::size_t, std::string>> made_;  // get_header's
  mutable std::string status_msg_;
  std::size_t checked_ = 0;  // where the first line not read yet starts
  std::size_t reason_at_ = 0, reason_len_ = 0, version_len_ = 0;
  int code_ = 0;
  bool ready_ = false;
};

// What the request line and Host header are made of: the target URL's parts (views into the
// caller's strings).
struct UpgradeTarget {
  bool secure = false;
  std::string_view host;  // a name, IPv4, or IPv6 without brackets
  std::uint16_t port = 0;
  std::string_view resource;
};

// The Host header for `target`: "name", "name:port" when the port is not the scheme's default,
// and "[v6]" / "[v6]:port" for an IPv6 literal (websocketpp's own leaves the brackets out, which
// nginx answers with 400).
std::string host_header(const UpgradeTarget& target);

// A new Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 §4.1).
template <typename Rng>
std::array<char, 24> upgrade_key(Rng& rng) {
  std::array<unsigned char, 16> key;
  for (std::size_t i = 0; i < key.size(); i += 4) {
    const std::uint32_t r = rng();
    std::memcpy(key.data() + i, &r, 4);
  }
  std::array<unsigned char, 4 * ((sizeof key + 2) / 3) + 1> encoded;  // with EVP's '\0'
  EVP_EncodeBlock(encoded.data(), key.data(), static_cast<int>(key.size()));
  std::array<char, 24> out;
  std::memcpy(out.data(), encoded.data(), out.size());
  return out;
}

// The upgrade request (websocketpp's hybi13::client_handshake_request without its
// std::stringstream): GET, Upgrade, Connection, Sec-WebSocket-Version, Host (host_header() unless
// the user gave one), Sec-WebSocket-Protocol, User-Agent (wslat's unless the user gave one), the
// key last; on top of the headers `req` holds already (the user's, the deflate offer).
//
// A worker sends the same request to every connection of a run but for the key, so a request
// with no header set before (none from the scenario, the command line or a login) copies the
// thread's last such request, when it was built for the same target and subprotocols, and writes
// its own key over the copy's: 2,428 → 882 instructions and 111 → 45 instruction-cache misses
// per connection (callgrind, bench/README.md).
template <typename Rng>
void build_upgrade_request(UpgradeRequest& req, const UpgradeTarget& target,
                           const std::vector<std::string>& subprotocols, Rng& rng) {
  struct Prototype {
    bool valid = false, secure = false;
    std::uint16_t port = 0;
    std::string host, resource;
    std::vector<std::string> subprotocols;
    UpgradeRequest req;
    bool fits(const UpgradeTarget& t, const std::vector<std::string>& protocols) const {
      return valid && secure == t.secure && port == t.port && host == t.host &&
             resource == t.resource && subprotocols == protocols;
    }
  };
  thread_local Prototype prototype;
  req.set_request_line("GET", target.resource, "HTTP/1.1");
  const bool plain = req.no_headers();
  if (plain && prototype.fits(target, subprotocols)) {
    req.copy_headers(prototype.req);
    const auto key = upgrade_key(rng);
    req.overwrite_last_value({key.data(), key.size()});
    return;
  }
  req.append_header("Upgrade", "websocket");
  req.append_header("Connection", "Upgrade");
  req.replace_header("Sec-WebSocket-Version", "13");
  // A Host the user gave wins (a name for a virtual host while the target is an address);
  // otherwise the URL's, an IPv6 literal in brackets (RFC 7230 §5.4, RFC 3986 §3.2.2).
  if (req.header("Host").empty()) req.replace_header("Host", host_header(target));
  if (!subprotocols.empty()) {
    std::string joined = subprotocols.front();
    for (std::size_t i = 1; i < subprotocols.size(); ++i) joined += ", " + subprotocols[i];
    req.replace_header("Sec-WebSocket-Protocol", joined);
  }
  // wslat's name, so that a server's logs tell its traffic apart (websocketpp would add its own,
  // "WebSocket++/0.8.2", after the key); one the user gave wins.
  if (req.header("User-Agent").empty()) {
    static const std::string agent = std::string("wslat/") + build_info().version;
    req.replace_header("User-Agent", agent);
  }
  const auto key = upgrade_key(rng);
  req.replace_header("Sec-WebSocket-Key", {key.data(), key.size()});  // last (overwrite_last_value)
  if (plain) {
    prototype.valid = false;  // until every field is in place (a throw leaves it invalid)
    prototype.secure = target.secure;
    prototype.port = target.port;
    prototype.host = target.host;
    prototype.resource = target.resource;
    prototype.subprotocols = subprotocols;
    prototype.req.copy_headers(req);
    prototype.valid = true;
  }
}

// Why an answer is not a valid upgrade, in the user's terms (websocketpp says "A required HTTP
// header is missing" for a wrong Sec-WebSocket-Accept). kNotSwitching keeps websocketpp's text;
// the Session reports a status other than 101 as http.<status> before it looks at the error.
enum class UpgradeProblem { kNoUpgrade = 1, kNoConnection, kNoAccept, kWrongAccept, kNotSwitching };
std::error_code upgrade_error(UpgradeProblem p);

// Why a proxy's answer to CONNECT could not be read, in the user's terms: the Session's "proxy"
// failure says "proxy HOST:PORT failed during the CONNECT: " and this.
enum class ProxyAnswerProblem { kNotHttp = 1, kTooLarge };
std::error_code proxy_answer_error(ProxyAnswerProblem p);

// How many bytes of a proxy's answer one read asks for: an answer to CONNECT is a status line
// and a few headers.
inline constexpr std::size_t kProxyReadChunk = 1024;

// websocketpp's hybi13::validate_server_handshake_response with one pass over the answer's
// headers instead of case-insensitive map look-ups and locale-based searches (~12k instructions
// per connection): the same checks (101; Upgrade contains "websocket" and Connection contains
// "Upgrade", without case, as substrings as websocketpp's; the SHA-1 accept value).
// `*extensions`: whether the answer has a Sec-WebSocket-Extensions header.
inline std::error_code check_upgrade_response(const UpgradeRequest& req, const UpgradeResponse& res,
                                              bool* extensions) {
  if (res.status() != 101) return upgrade_error(UpgradeProblem::kNotSwitching);
  bool upgrade = false, connection = false;
  std::optional<std::string_view> accept;
  for (const UpgradeResponse::Header& h : res.get_headers()) {
    const std::string_view name = res.name(h), value = res.value(h);
    if (equals_ci(name, "Upgrade")) {
      upgrade = contains_ci(value, "websocket");
    } else if (equals_ci(name, "Connection")) {
      connection = contains_ci(value, "Upgrade");
    } else if (equals_ci(name, "Sec-WebSocket-Accept")) {
      accept = value;
    } else if (equals_ci(name, "Sec-WebSocket-Extensions")) {
      *extensions = true;
    }
  }
  if (!upgrade) return upgrade_error(UpgradeProblem::kNoUpgrade);
  if (!connection) return upgrade_error(UpgradeProblem::kNoConnection);
  if (!accept) return upgrade_error(UpgradeProblem::kNoAccept);
  // The SHA-1 accept value (digest.hpp: OpenSSL's SHA-1 functions and base64, no allocation).
  if (*accept != AcceptValue(req.header("Sec-WebSocket-Key")).view()) {
    return upgrade_error(UpgradeProblem::kWrongAccept);
  }
  return {};
}

// The extensions the server accepted, checked against the request's offers; the extension's
// accept() (Deflate's) sets up permessage-deflate when it is one of them. Only for an answer
// with the header.
template <typename Extension>
std::error_code accept_extensions(Extension& deflate, const UpgradeRequest& req,
                                  const UpgradeResponse& res, std::size_t max_message_bytes) {
  static constexpr std::string_view kExtensions = "Sec-WebSocket-Extensions";
  ParameterList answer, offered;
  if (res.get_header_as_plist(kExtensions, answer)) return Extension::syntax_error();
  // Our own request: wslat's offer and the user's --header / "headers" (checked before).
  if (req.get_header_as_plist(kExtensions, offered)) offered.clear();
  return deflate.accept(answer, offered, max_message_bytes);
}

}  // namespace wslat::net
