// The syntax of what wslat puts on the wire before the WebSocket opens: header names and
// values, subprotocols (RFC 7230) and the ws:// / wss:// target (RFC 3986, RFC 6455 §3).
// One set of rules used by the scenario checker, the command line and the runner, so a CR or
// LF can never turn one value into two header lines (or a request line into a header), and
// websocketpp never sees a value it would throw on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wslat {

// Equal without case in ASCII, as HTTP compares field names and tokens (RFC 9110 §5.1), not in
// the C locale's terms. Inline: the client compares the upgrade answer's header names with it
// for every connection, and a call into libc's strncasecmp cost ~17 instruction-cache misses
// per connection (callgrind).
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
inline bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}
// Whether `needle` occurs in `haystack`, without case in ASCII (an empty needle always does).
inline bool contains_ci(std::string_view haystack, std::string_view needle) {
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (equals_ci(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// RFC 7230 tchar: letters, digits and !#$%&'*+-.^_`|~ (the same table websocketpp's
// append_header, add_subprotocol and header parser apply).
constexpr bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Each returns std::nullopt when the text is valid, else why it is not, written for the user
// and without quoting the text (it may hold a secret from ${env:...}). Callers say where.

// A header name: one or more RFC 7230 token characters (letters, digits, !#$%&'*+-.^_`|~).
std::optional<std::string> header_name_problem(std::string_view name);
// A header value: visible ASCII, SP, HTAB and bytes >= 0x80 (e.g. UTF-8); no CR, LF, NUL or
// other control byte.
std::optional<std::string> header_value_problem(std::string_view value);
// A subprotocol name: a token, as for header names.
std::optional<std::string> subprotocol_problem(std::string_view name);

// "header \"NAME\": why" for an invalid name or value, else std::nullopt.
std::optional<std::string> header_problem(std::string_view name, std::string_view value);

// A header the WebSocket handshake needs wslat to write, which a user value would silently lose
// to: Sec-WebSocket-Key, -Version, -Accept, and -Protocol (the scenario's "subprotocols" write
// it). Host is the user's to set (it then replaces the URL's), but not empty. Upgrade and
// Connection keep the user's tokens ("websocket" and "Upgrade" are appended). `value` as written
// (templates unexpanded is fine: only emptiness is looked at).
std::optional<std::string> reserved_header_problem(std::string_view name, std::string_view value);

// `text` in double quotes with control bytes, '"' and '\\' escaped (\r, \n, \x07), so a
// message naming a bad header name stays one line. Not for secrets: callers quote names only.
std::string quote_escaped(std::string_view text);

// A target URL split into what the runner connects to and what the request line carries.
struct WsUrl {
  bool secure = false;         // wss
  std::string host;            // name, IPv4, or IPv6 without brackets
  std::uint16_t port = 0;      // 1..65535; 80/443 when not written
  std::string resource;        // path and query, starting with '/'
  bool has_userinfo = false;   // USER[:PASSWORD]@ was written
  std::string user, password;  // percent-decoded; sent as Authorization: Basic
};
// Parses ws://[USER[:PASSWORD]@]HOST[:PORT][/PATH][?QUERY] or wss://... . USER and PASSWORD are
// RFC 3986 user info (letters, digits, -._~!$&'()*+,;= and %XX; one '@'); HOST is a name of
// letters, digits and -._~ or an [IPv6] literal; PORT 1..65535; PATH and QUERY visible ASCII
// without '#'. Problems never quote the user info (it holds a password).
// On failure returns std::nullopt and sets `problem`.
std::optional<WsUrl> parse_ws_url(std::string_view url, std::string* problem);

}  // namespace wslat
