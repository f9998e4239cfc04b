// Fuzzes the runner's parser of the server's answer to the upgrade request (UpgradeResponse in
// lib/net/client_upgrade.hpp, through parse_upgrade_answer) against websocketpp 0.8.2's own
// response parser, which it replaced: on any bytes, split into reads anywhere, both must refuse
// them or neither; both must find the answer complete, or not, after the same reads; and a
// complete answer must give the same status, version, reason, header values and leftover bytes,
// and each value read as a Sec-WebSocket-Extensions list must give the same list (or be refused
// by both). The known, intended differences are left out: websocketpp reads a Content-Length
// body after the blank line (a 101 has none: UpgradeResponse leaves those bytes to the frame
// reader, and does not refuse a Content-Length that is not a number), and the two count the
// bytes towards max_header_size differently (websocketpp adds 3 per read ending inside a line),
// so answers near that size, or refused for it by one of them, are only run.
//
// Input: reads separated by the byte 0x1E (fields.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

// websocketpp/http/response.hpp uses lib::shared_ptr without including its definition.
#include <websocketpp/common/memory.hpp>
#include <websocketpp/http/response.hpp>

#include "fields.hpp"
#include "net/client_upgrade.hpp"
#include "runner.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_response: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> reads = wslat::fuzz::split_fields(data, size);
  std::vector<std::string> ask;  // every name the answer might have, in another case
  for (const std::string& read : reads) {
    for (std::size_t at = 0; (at = read.find("\r\n", at)) != std::string::npos; at += 2) {
      const std::size_t colon = read.find(':', at);
      if (colon != std::string::npos) ask.push_back(read.substr(at + 2, colon - at - 2));
    }
  }
  for (std::string& name : ask) {
    for (char& c : name) c = static_cast<char>(c ^ ((c >= 'a' && c <= 'z') ? 0x20 : 0));
  }

  const wslat::UpgradeAnswer ours = wslat::parse_upgrade_answer(reads, ask);
  if (size > 15000) return 0;  // max_header_size is counted differently: only run
  // websocketpp converts the status to an enum whose range is 0-511: beyond, its conversion is
  // undefined (UBSan stops there), where UpgradeResponse keeps the number. Both read the status
  // line at the same point, so ours says whether websocketpp's would convert such a number.
  if (ours.status < 0 || ours.status > 511) return 0;

  websocketpp::http::parser::response theirs;
  std::string error;
  std::size_t used_reads = 0, left = 0;
  try {
    for (const std::string& read : reads) {
      ++used_reads;
      const std::size_t used = theirs.consume(read.data(), read.size());
      if (theirs.headers_ready()) {
        left = read.size() - used;
        break;
      }
    }
  } catch (const websocketpp::http::exception& e) {
    error = e.what();
  }
  // websocketpp also refused a Content-Length it could not read as a number; UpgradeResponse
  // never reads one (so a 403 with a broken Content-Length is http.403, not "not HTTP").
  if (error == "Unable to parse Content-Length header" && ours.error.empty()) return 0;
  // websocketpp also counts 3 bytes more per read that ends inside a line: many small reads
  // reach its max_header_size sooner.
  const char* const too_large = "Maximum header size exceeded.";
  if (error != ours.error && (error == too_large || ours.error == too_large)) return 0;
  if (error != ours.error) finding("refused differently");
  if (!error.empty()) return 0;
  if (theirs.headers_ready() != ours.complete) finding("complete after different reads");
  if (!ours.complete) return 0;
  if (used_reads != ours.reads) finding("complete after a different number of reads");
  if (theirs.get_header("Content-Length").empty() && left != ours.left) {
    finding("different bytes left for the frames");
  }
  if (static_cast<int>(theirs.get_status_code()) != ours.status) finding("another status");
  if (theirs.get_version() != ours.version) finding("another version");
  if (theirs.get_status_msg() != ours.reason) finding("another reason");
  if (theirs.get_headers().size() != ours.headers.size()) finding("another number of headers");
  for (const auto& [name, value] : ours.headers) {
    if (theirs.get_header(name) != value) finding("another header value");
  }
  for (std::size_t i = 0; i < ask.size(); ++i) {
    if (theirs.get_header(ask[i]) != ours.asked[i]) finding("another value looked up");
  }
  // Each value read as a Sec-WebSocket-Extensions list (client_upgrade.cpp's copy of
  // websocketpp's grammar): refused alike, and the same extensions and parameters.
  for (const auto& [name, value] : ours.headers) {
    wslat::net::ParameterList mine;
    websocketpp::http::parameter_list wspp;
    const bool mine_refused = wslat::net::parse_parameter_list(value, mine);
    if (mine_refused != theirs.get_header_as_plist(name, wspp)) {
      finding("a parameter list refused differently");
    }
    if (!mine_refused && mine != wspp) finding("another parameter list");
  }
  return 0;
}
