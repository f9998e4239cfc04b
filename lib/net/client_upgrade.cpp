#include "net/client_upgrade.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>

namespace wslat::net {
namespace {

bool is_lws_char(char c) { return c == ' ' || c == '\t'; }

// websocketpp's extract_lws: a CRLF followed by a space or tab, then spaces and tabs. Read
// backwards (reverse iterators) as websocketpp's strip_lws does, the CRLF is "\n\r".
template <typename It>
It extract_lws(It begin, It end) {
  It it = begin;
  if (end - begin > 2 && *begin == '\r' && *(begin + 1) == '\n' && is_lws_char(*(begin + 2))) {
    it += 3;
  }
  while (it != end && is_lws_char(*it)) ++it;
  return it;
}
template <typename It>
It extract_all_lws(It begin, It end) {
  It old_it;
  It new_it = begin;
  do {
    old_it = new_it;
    new_it = extract_lws(old_it, end);
  } while (new_it != end && old_it != new_it);
  return new_it;
}

using Cursor = std::string_view::const_iterator;

// websocketpp's extract_token: the token at `begin` (empty when there is none) and what follows.
std::pair<std::string, Cursor> extract_token(Cursor begin, Cursor end) {
  const Cursor it =
      std::find_if(begin, end, [](char c) { return !is_tchar(static_cast<unsigned char>(c)); });
  return {std::string(begin, it), it};
}

// websocketpp's extract_quoted_string: a '"' string with \" inside; `begin` back when there is
// none or it does not end.
std::pair<std::string, Cursor> extract_quoted_string(Cursor begin, Cursor end) {
  std::string s;
  if (begin == end || *begin != '"') return {s, begin};
  Cursor cursor = begin + 1;
  Cursor marker = cursor;
  cursor = std::find(cursor, end, '"');
  while (cursor != end) {
    if (*(cursor - 1) == '\\') {
      s.append(marker, cursor - 1);
      s.append(1, '"');
      ++cursor;
      marker = cursor;
    } else {
      s.append(marker, cursor);
      ++cursor;
      return {s, cursor};
    }
    cursor = std::find(cursor, end, '"');
  }
  return {"", begin};
}

// websocketpp's extract_attributes: *( ";" token [ "=" ( token | quoted-string ) ] ), the first
// ";" already read. `begin` back on a syntax error.
Cursor extract_attributes(Cursor begin, Cursor end, AttributeList& attributes) {
  if (begin == end) return begin;
  Cursor cursor = begin;
  bool first = true;
  while (cursor != end) {
    cursor = extract_all_lws(cursor, end);
    if (cursor == end) break;
    if (first) {
      first = false;
    } else if (*cursor == ';') {
      ++cursor;
    } else {
      break;  // the end of this extension's attributes
    }
    cursor = extract_all_lws(cursor, end);
    auto token = extract_token(cursor, end);
    if (token.first.empty()) return begin;
    const std::string name = std::move(token.first);
    cursor = token.second;
    cursor = extract_all_lws(cursor, end);
    if (cursor == end || *cursor != '=') {
      attributes[name].clear();
      continue;
    }
    ++cursor;
    cursor = extract_all_lws(cursor, end);
    if (cursor == end) return begin;
    auto quoted = extract_quoted_string(cursor, end);
    if (quoted.second != cursor) {
      attributes[name] = std::move(quoted.first);
      cursor = quoted.second;
      continue;
    }
    token = extract_token(cursor, end);
    if (token.first.empty()) return begin;
    attributes[name] = std::move(token.first);
    cursor = token.second;
  }
  return cursor;
}

// websocketpp's extract_parameters: token *( ";" attribute ) *( "," ... ). `begin` back on a
// syntax error.
Cursor extract_parameters(Cursor begin, Cursor end, ParameterList& parameters) {
  if (begin == end) return begin;
  Cursor cursor = begin;
  while (cursor != end) {
    AttributeList attributes;
    cursor = extract_all_lws(cursor, end);
    if (cursor == end) break;
    auto token = extract_token(cursor, end);
    if (token.first.empty()) return begin;
    std::string name = std::move(token.first);
    cursor = token.second;
    cursor = extract_all_lws(cursor, end);
    if (cursor == end) {
      parameters.emplace_back(std::move(name), std::move(attributes));
      break;
    }
    if (*cursor == ';') {
      ++cursor;
      const Cursor after = extract_attributes(cursor, end, attributes);
      if (after == cursor) return begin;
      cursor = after;
    }
    parameters.emplace_back(std::move(name), std::move(attributes));
    cursor = extract_all_lws(cursor, end);
    if (cursor == end || *cursor != ',') break;
    ++cursor;
    if (cursor == end) return begin;  // more was due after the comma
  }
  return cursor;
}

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
      case UpgradeProblem::kNotSwitching:
        return "Invalid HTTP status.";
    }
    return "invalid upgrade answer";
  }
};

class ProxyAnswerProblemCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "wslat.proxy"; }
  std::string message(int problem) const override {
    if (static_cast<ProxyAnswerProblem>(problem) == ProxyAnswerProblem::kTooLarge) {
      return "its answer went on for more than " + std::to_string(kMaxHeaderSize) +
             " bytes without the blank line that ends HTTP headers";
    }
    return "its answer is not HTTP (no \"HTTP/1.1 200 ...\" status line and headers)";
  }
};

// A value made on first use and kept, for get_header's reference (index: the header's).
const std::string& made_value(std::forward_list<std::pair<std::size_t, std::string>>& made,
                              std::size_t index, std::string_view value) {
  for (const auto& [i, text] : made) {
    if (i == index) return text;
  }
  return made.emplace_front(index, value).second;
}

}  // namespace

std::string_view strip_lws(std::string_view s) {
  const char* begin = extract_all_lws(s.data(), s.data() + s.size());
  if (begin == s.data() + s.size()) return {};
  const auto rend = std::make_reverse_iterator(s.data());
  const auto rbegin = extract_all_lws(std::make_reverse_iterator(s.data() + s.size()), rend);
  if (rbegin == rend) return {};
  return {begin, static_cast<std::size_t>(rbegin.base() - begin)};
}

bool parse_parameter_list(std::string_view in, ParameterList& out) {
  if (in.empty()) return false;
  return extract_parameters(in.begin(), in.end(), out) == in.begin();
}

// -- UpgradeRequest ---------------------------------------------------------------------------

const std::string& UpgradeRequest::get_header(std::string_view key) const {
  static const std::string empty;
  const auto it = find(key);
  if (it == headers_.end()) return empty;
  return made_value(made_, static_cast<std::size_t>(it - headers_.begin()), value_of(*it));
}

void UpgradeRequest::append_to(std::vector<Header>::iterator it, std::string_view val) {
  const std::string joined = std::string(value_of(*it)).append(", ").append(val);
  const std::size_t at = text_.size();
  text_.append(joined);
  set_value(*it, at, joined.size());
  lines_ = false;
}

void UpgradeRequest::remove_header(std::string_view key) {
  const auto it = find(key);
  if (it == headers_.end()) return;
  headers_.erase(it);
  made_.clear();  // indices moved (as websocketpp's map, a removed value's reference dangles)
  lines_ = false;
}

// -- UpgradeResponse --------------------------------------------------------------------------

const std::string& UpgradeResponse::get_header(std::string_view key) const {
  static const std::string empty;
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    if (equals_ci(name(headers_[i]), key)) return made_value(made_, i, value(headers_[i]));
  }
  return empty;
}

// "version SP code SP reason"; throws as websocketpp's response::process does.
void UpgradeResponse::status_line(std::string_view line) {
  if (line.empty()) fail("Incomplete Request");
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) fail("Invalid response line");
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) fail("Invalid request line");
  // What `istream >> int` accepts: leading white space, a sign, digits, then anything.
  const char* first = line.data() + sp1 + 1;
  const char* last = line.data() + sp2;
  while (first != last && std::isspace(static_cast<unsigned char>(*first)) != 0) ++first;
  if (last - first > 1 && *first == '+' &&
      std::isdigit(static_cast<unsigned char>(first[1])) != 0) {
    ++first;
  }
  int code = 0;
  const auto parsed = std::from_chars(first, last, code);
  if (parsed.ec != std::errc() || parsed.ptr == first) fail("Unable to parse response code");
  version_len_ = sp1;
  code_ = code;
  reason_at_ = at(line) + sp2 + 1;
  reason_len_ = line.size() - sp2 - 1;
}

// "name: value", both stripped; throws as websocketpp's parser::process_header does.
void UpgradeResponse::header_line(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) fail("Invalid header line");
  const std::string_view n = strip_lws(line.substr(0, colon));
  if (has_non_token_char(n)) fail("Invalid header name");
  const std::string_view v = strip_lws(line.substr(colon + 1));
  // An empty view may point nowhere: its offset is never read.
  if (headers_.empty()) headers_.reserve(kUsualHeaders);
  headers_.push_back({n.empty() ? 0 : at(n), n.size(), v.empty() ? 0 : at(v), v.size()});
}

// websocketpp's map kept a repeated name once, its values joined with ", " (an empty first value
// replaced); the joined values go after the answer's text. Rare: a quadratic pass.
void UpgradeResponse::join_repeated() {
  for (std::size_t i = 0; i < headers_.size(); ++i) {
    for (std::size_t j = i + 1; j < headers_.size();) {
      if (!equals_ci(name(headers_[i]), name(headers_[j]))) {
        ++j;
        continue;
      }
      Header& first = headers_[i];
      if (first.value_len == 0) {
        first.value_at = headers_[j].value_at;
        first.value_len = headers_[j].value_len;
      } else {
        const std::string joined =
            std::string(value(first)).append(", ").append(value(headers_[j]));
        first.value_at = text_.size();
        first.value_len = joined.size();
        text_.append(joined);
      }
      headers_.erase(headers_.begin() + static_cast<std::ptrdiff_t>(j));
    }
  }
}

// -- the rest ---------------------------------------------------------------------------------

std::string host_header(const UpgradeTarget& target) {
  const std::uint16_t default_port = target.secure ? 443 : 80;
  std::string out = target.host.find(':') != std::string_view::npos
                        ? std::string("[").append(target.host).append("]")
                        : std::string(target.host);
  if (target.port != default_port) out += ":" + std::to_string(target.port);
  return out;
}

std::error_code upgrade_error(UpgradeProblem p) {
  static const UpgradeProblemCategory category;
  return {static_cast<int>(p), category};
}

std::error_code proxy_answer_error(ProxyAnswerProblem p) {
  static const ProxyAnswerProblemCategory category;
  return {static_cast<int>(p), category};
}

}  // namespace wslat::net
