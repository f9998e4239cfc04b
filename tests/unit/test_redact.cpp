// Redaction has one home (lib/redact.hpp): what it masks holds for every output that uses it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "redact.hpp"

TEST_CASE("redact masks every occurrence of each secret and a URL's password") {
  const std::vector<std::string> secrets{"tok-123", ""};  // an empty secret masks nothing
  CHECK(wslat::redact("wss://h/ws?t=tok-123&u=tok-123", secrets) == "wss://h/ws?t=***&u=***");
  CHECK(wslat::redact("ws://user:pass@h:80/ws", {}) == "ws://user:***@h:80/ws");
  CHECK(wslat::redact("ws://h/ws?mail=a@b:c", {}) == "ws://h/ws?mail=a@b:c");  // not user info
  CHECK(wslat::redact("nothing to hide", secrets) == "nothing to hide");
}

TEST_CASE("redact_header shows a secret header as *** and redacts any other value") {
  const std::vector<std::string> extra{"X-Api-Key"};
  const std::vector<std::string> secrets{"tok-123"};
  CHECK(wslat::redact_header("Authorization", "Bearer abc", extra, secrets) == "***");
  CHECK(wslat::redact_header("x-api-key", "plain", extra, secrets) == "***");
  CHECK(wslat::redact_header("X-Trace", "id tok-123", extra, secrets) == "id ***");
  CHECK(wslat::redact_header("X-Trace", "1", extra, secrets) == "1");
}

TEST_CASE("is_secret_header knows the credential headers and the scenario's own, any case") {
  CHECK(wslat::is_secret_header("authorization", {}));
  CHECK(wslat::is_secret_header("Cookie", {}));
  CHECK(wslat::is_secret_header("Sec-WebSocket-Key", {}));
  CHECK(wslat::is_secret_header("x-api-key", {"X-Api-Key"}));
  CHECK_FALSE(wslat::is_secret_header("X-Trace", {"X-Api-Key"}));
}
