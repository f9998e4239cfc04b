// RFC 7230 tokens and field values, and ws:// / wss:// URLs, checked byte by byte.
#include "http_syntax.hpp"

#include <fmt/core.h>

namespace wslat {
namespace {

// A byte as the user would name it, without the text around it (it may be a secret).
std::string describe_byte(unsigned char c) {
  switch (c) {
    case '\r':
      return "a line break (CR, \\r)";
    case '\n':
      return "a line break (LF, \\n)";
    case '\0':
      return "a NUL byte";
    case ' ':
      return "a space";
    case '\t':
      return "a tab";
    default:
      break;
  }
  if (c < 0x20 || c == 0x7f) return fmt::format("a control byte (0x{:02X})", c);
  if (c >= 0x80) return fmt::format("a non-ASCII byte (0x{:02X})", c);
  return fmt::format("'{}'", static_cast<char>(c));
}

std::optional<std::string> token_problem(std::string_view text, const char* what) {
  if (text.empty()) return fmt::format("empty {}: expected at least one character", what);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (!is_tchar(c)) {
      return fmt::format("{} is not allowed in a {} (letters, digits and !#$%&'*+-.^_`|~ only)",
                         describe_byte(c), what);
    }
  }
  return std::nullopt;
}

bool is_host_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_ipv6_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One part of "USER[:PASSWORD]" (RFC 3986 userinfo), percent-decoded into `out`.
std::optional<std::string> decode_userinfo(std::string_view part, std::string& out,
                                           bool colon_allowed) {
  static constexpr std::string_view kAllowed = "-._~!$&'()*+,;=";
  for (std::size_t i = 0; i < part.size(); ++i) {
    const char c = part[i];
    if (c == '%') {
      if (i + 2 >= part.size() || hex_value(part[i + 1]) < 0 || hex_value(part[i + 2]) < 0) {
        return std::string("a '%' in the user info is not followed by two hex digits");
      }
      out += static_cast<char>(hex_value(part[i + 1]) * 16 + hex_value(part[i + 2]));
      i += 2;
    } else if (is_host_char(static_cast<unsigned char>(c)) ||
               kAllowed.find(c) != std::string_view::npos || (colon_allowed && c == ':')) {
      out += c;
    } else {
      return std::string(
          "the user info holds a character that must be percent-encoded (e.g. %40 for '@', %3A "
          "for ':' in the user name, %20 for a space)");
    }
  }
  return std::nullopt;
}

// Splits "[USER[:PASSWORD]@]HOST[:PORT]" (the authority) into `out`; returns the problem or
// nullopt.
std::optional<std::string> parse_authority(std::string_view authority, WsUrl& out) {
  if (authority.empty()) return std::string("the host is missing");
  if (const auto at = authority.find('@'); at != std::string_view::npos) {
    if (authority.find('@', at + 1) != std::string_view::npos) {
      return std::string("more than one '@': percent-encode an '@' in the password as %40");
    }
    const std::string_view info = authority.substr(0, at);
    const auto colon = info.find(':');
    out.has_userinfo = true;
    if (auto why = decode_userinfo(info.substr(0, colon), out.user, false)) return why;
    if (colon != std::string_view::npos) {
      if (auto why = decode_userinfo(info.substr(colon + 1), out.password, true)) return why;
    }
    if (out.user.find(':') != std::string::npos) {
      return std::string("the user name holds a ':', which Basic authentication cannot carry");
    }
    authority = authority.substr(at + 1);
    if (authority.empty()) return std::string("the host is missing");
  }
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("the IPv6 host lacks its closing ']'");
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return fmt::format("{} after the IPv6 host: expected ':PORT' or '/PATH'",
                         describe_byte(static_cast<unsigned char>(rest.front())));
    }
    if (!rest.empty()) port = rest.substr(1);
    if (host.empty() || host.find(':') == std::string_view::npos) {
      return std::string("the IPv6 host between '[' and ']' is not an IPv6 address");
    }
    for (const char ch : host) {
      if (!is_ipv6_char(static_cast<unsigned char>(ch))) {
        return fmt::format("{} is not allowed in an IPv6 host (hex digits, ':' and '.' only)",
                           describe_byte(static_cast<unsigned char>(ch)));
      }
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) return std::string("the host is missing");
    for (const char ch : host) {
      if (!is_host_char(static_cast<unsigned char>(ch))) {
        return fmt::format(
            "{} is not allowed in the host (letters, digits, '-', '.', '_', '~'; an IPv6 address "
            "goes in brackets: [::1])",
            describe_byte(static_cast<unsigned char>(ch)));
      }
    }
  }
  out.host = std::string(host);
  out.port = out.secure ? 443 : 80;
  if (!port || port->empty()) return std::nullopt;  // "host:" is the default port (RFC 3986)
  std::uint32_t value = 0;
  for (const char ch : *port) {
    if (ch < '0' || ch > '9') {
      return fmt::format("the port is not a number: {} in it; expected 1 to 65535",
                         describe_byte(static_cast<unsigned char>(ch)));
    }
    value = value * 10 + static_cast<std::uint32_t>(ch - '0');
    if (value > 65535) return std::string("the port is out of range: expected 1 to 65535");
  }
  if (value == 0) return std::string("the port is 0: expected 1 to 65535");
  out.port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

}  // namespace

std::string quote_escaped(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::optional<std::string> header_name_problem(std::string_view name) {
  return token_problem(name, "header name");
}

std::optional<std::string> header_value_problem(std::string_view value) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return fmt::format(
          "{} is not allowed in a header value: one line of visible text, "
          "spaces and tabs only",
          describe_byte(c));
    }
  }
  return std::nullopt;
}

std::optional<std::string> header_problem(std::string_view name, std::string_view value) {
  auto why = header_name_problem(name);
  if (!why) why = header_value_problem(value);
  if (why) return "header " + quote_escaped(name) + ": " + *why;
  return std::nullopt;
}

std::optional<std::string> reserved_header_problem(std::string_view name, std::string_view value) {
  const auto is = [name](std::string_view other) {
    if (name.size() != other.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const auto lower = [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
      };
      if (lower(name[i]) != lower(other[i])) return false;
    }
    return true;
  };
  if (is("Host")) {
    if (value.find_first_not_of(" \t") == std::string_view::npos) {
      return std::string(
          "header \"Host\" is empty: give host[:port], or remove it to send the URL's");
    }
    return std::nullopt;
  }
  if (is("Sec-WebSocket-Protocol")) {
    return "header " + quote_escaped(name) +
           ": wslat writes it from the scenario's \"subprotocols\"; list them there instead";
  }
  for (const char* own : {"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Accept"}) {
    if (is(own)) {
      return "header " + quote_escaped(name) +
             ": wslat writes it for the WebSocket handshake (RFC 6455); remove it";
    }
  }
  return std::nullopt;
}

std::optional<std::string> subprotocol_problem(std::string_view name) {
  return token_problem(name, "subprotocol");
}

std::optional<WsUrl> parse_ws_url(std::string_view url, std::string* problem) {
  const auto fail = [problem](std::string why) -> std::optional<WsUrl> {
    if (problem) *problem = std::move(why);
    return std::nullopt;
  };
  WsUrl out;
  std::string_view rest;
  if (url.rfind("wss://", 0) == 0) {
    out.secure = true;
    rest = url.substr(6);
  } else if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else {
    return fail("the scheme is not ws:// or wss:// (lower case)");
  }
  const auto end = rest.find_first_of("/?#");
  if (auto why = parse_authority(rest.substr(0, end), out)) return fail(std::move(*why));
  const std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  for (const char ch : tail) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '#') {
      return fail(
          "a fragment ('#') is not sent to the server (RFC 6455): remove it, or write "
          "%23 for a literal '#'");
    }
    if (c <= 0x20 || c >= 0x7f) {
      return fail(
          fmt::format("{} is not allowed in the path or query: percent-encode it "
                      "(e.g. %20 for a space)",
                      describe_byte(c)));
    }
  }
  out.resource = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
  return out;
}

}  // namespace wslat
