// wslat's permessage-deflate (lib/net/deflate.hpp) on its own, without websocketpp: what a
// client core of wslat's own relies on (docs/client-core-plan.md step 3) — the answer checked
// against the offer, messages that round-trip through compress and decompress with the context
// kept between them, and the two ways a server's data fails, each with its close code and
// websocketpp's words. test_connect_deflate.cpp runs it against real servers.
#include <cstdint>
#include <string>

#include <doctest/doctest.h>

#include "net/deflate.hpp"

namespace wslat::test {

namespace {

net::ParameterList plist(const char* text) {
  net::ParameterList out;
  REQUIRE_FALSE(net::parse_parameter_list(text, out));
  return out;
}

// An error code's truth, for doctest (which cannot print a std::error_code here).
bool ok(std::error_code ec) { return !ec; }

std::string inflate(net::Deflate& d, const std::string& wire, std::error_code* ec) {
  std::string out;
  *ec = d.decompress(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size(), out);
  return out;
}

}  // namespace

TEST_CASE("permessage-deflate on its own: round trips, and what a server's bad data fails with") {
  net::Deflate d;
  CHECK_FALSE(d.is_enabled());
  const auto offer = plist("permessage-deflate; client_max_window_bits");
  CHECK(ok(d.accept(plist("permessage-deflate; server_no_context_takeover"), offer, 1000)));
  net::accepted_deflate = nullptr;  // what the Session takes at open
  REQUIRE(d.is_enabled());

  const std::string text(600, 'a');
  std::string first, second;
  REQUIRE(ok(d.compress(text, first)));
  REQUIRE(ok(d.compress(text, second)));
  CHECK(first.size() < 60);
  CHECK(second.size() < first.size());  // the second refers back to the first (context kept)
  CHECK(first.substr(first.size() - 4) == std::string("\x00\x00\xff\xff", 4));
  std::error_code ec;
  CHECK(inflate(d, first, &ec) == text);
  CHECK(ok(ec));
  CHECK(inflate(d, second, &ec) == text);
  CHECK(ok(ec));

  SUBCASE("data that is not DEFLATE: 1007") {
    inflate(d, "\xff\xff\xff\xff garbage", &ec);
    REQUIRE_FALSE(ok(ec));
    CHECK(ec.message() == "A payload contained invalid data");
    CHECK(net::close_code(static_cast<net::CodecProblem>(ec.value())) == 1007);
  }
  SUBCASE("a message that inflates past the size limit: 1009") {
    std::string big;
    REQUIRE(ok(d.compress(std::string(5000, 'b'), big)));
    CHECK(big.size() < 1000);  // small on the wire, too large once inflated
    inflate(d, big, &ec);
    REQUIRE_FALSE(ok(ec));
    CHECK(ec.message() == "A message was too large");
    CHECK(net::close_code(static_cast<net::CodecProblem>(ec.value())) == 1009);
  }
}

TEST_CASE("permessage-deflate answers that do not fit the offer are refused, in the user's words") {
  const auto offer = plist("permessage-deflate; client_max_window_bits=10");
  const auto refused = [&offer](const char* answer) {
    net::Deflate d;
    const std::error_code ec = d.accept(plist(answer), offer, 1000);
    CHECK_FALSE(d.is_enabled());
    return ec.message();
  };
  CHECK(refused("x-other").find("not offered") != std::string::npos);
  CHECK(refused("permessage-deflate, permessage-deflate").find("more than once") !=
        std::string::npos);
  CHECK(refused("permessage-deflate; client_max_window_bits=12").find("invalid parameter") !=
        std::string::npos);
  CHECK(refused("permessage-deflate; server_no_context_takeover=1").find("invalid parameter") !=
        std::string::npos);
  CHECK(net::Deflate::syntax_error().message().find("not a valid extension list") !=
        std::string::npos);
  net::accepted_deflate = nullptr;
}

}  // namespace wslat::test
