// Fuzzes the upgrade request the runner builds from user text (target URL, headers as
// --header and "headers" give them, subprotocols): wslat's checks, then the same websocketpp
// request building the runner uses. Any input must either be refused with a UsageError or give
// a request whose every line is well formed, with exactly the header lines expected: no
// exception from websocketpp, no CR/LF smuggled into the request line or a header.
//
// Input: fields separated by the byte 0x1E (a control byte, so it could never be valid inside
// a field anyway). Field 0 is the target; a field starting with '>' is a subprotocol; any other
// is a header "Name:value" (split at the first ':'; without one, an empty value).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "fields.hpp"
#include "http_syntax.hpp"
#include "runner.hpp"

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_tchar(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string::npos;
}

[[noreturn]] void finding(const char* what) {
  // libFuzzer reports the abort with the input that caused it.
  std::fprintf(stderr, "fuzz_request: %s\n", what);
  std::abort();
}

// The request must be: request line, header lines, empty line; nothing else.
void check_request(const std::string& req, std::set<std::string> expected_names) {
  if (req.size() < 4 || req.compare(req.size() - 4, 4, "\r\n\r\n") != 0) {
    finding("the request does not end with an empty line");
  }
  for (std::size_t i = 0; i < req.size(); ++i) {  // every CR starts a CRLF, every LF ends one
    if (req[i] == '\r' && (i + 1 == req.size() || req[i + 1] != '\n')) finding("lone CR");
    if (req[i] == '\n' && (i == 0 || req[i - 1] != '\r')) finding("lone LF");
  }
  const std::string head = req.substr(0, req.size() - 2);  // each line ends with CRLF
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < head.size();) {
    const std::size_t end = head.find("\r\n", at);
    lines.push_back(head.substr(at, end - at));
    at = end + 2;
  }
  const std::string& request_line = lines.front();
  if (request_line.rfind("GET /", 0) != 0 || request_line.size() < 14 ||
      request_line.compare(request_line.size() - 9, 9, " HTTP/1.1") != 0) {
    finding("malformed request line");
  }
  const std::string resource = request_line.substr(4, request_line.size() - 13);
  for (const char ch : resource) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) finding("a space, control or non-ASCII byte in the request line");
  }
  std::set<std::string> seen;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::size_t colon = line.find(": ");
    if (colon == std::string::npos || colon == 0) finding("a header line without 'Name: '");
    const std::string name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
      finding("a header name that is not a token");
    }
    for (const char ch : line.substr(colon + 2)) {
      const auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\t') || c == 0x7f) finding("a control byte in a header value");
    }
    if (!seen.insert(lower(name)).second) finding("a header line twice");
  }
  if (seen != expected_names) finding("header lines other than the ones asked for");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> fields = wslat::fuzz::split_fields(data, size);
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> subprotocols;
  std::set<std::string> expected{"upgrade", "connection",        "sec-websocket-version",
                                 "host",    "sec-websocket-key", "user-agent"};
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    if (!f.empty() && f.front() == '>') {
      subprotocols.push_back(f.substr(1));
      expected.insert("sec-websocket-protocol");
      continue;
    }
    const std::size_t colon = f.find(':');
    headers.emplace_back(f.substr(0, colon), colon == std::string::npos ? "" : f.substr(colon + 1));
    expected.insert(lower(headers.back().first));
  }
  // User info in the target becomes an Authorization header.
  if (const auto url = wslat::parse_ws_url(fields.front(), nullptr); url && url->has_userinfo) {
    expected.insert("authorization");
  }
  std::string request;
  try {
    request = wslat::upgrade_request_text(fields.front(), headers, subprotocols);
  } catch (const wslat::UsageError&) {
    return 0;  // refused with a message: the expected outcome for bad input
  }
  check_request(request, expected);
  return 0;
}
