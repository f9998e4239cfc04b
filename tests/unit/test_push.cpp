// Where `wslat run --push` puts a run in a Pushgateway (lib/push.hpp): base64url grouping-key
// values, so that a target URL's slashes survive the path.
#include <doctest/doctest.h>

#include "push.hpp"

TEST_CASE("push: base64url without padding, as the Pushgateway reads @base64 values") {
  CHECK(wslat::base64url("") == "=");
  CHECK(wslat::base64url("f") == "Zg");
  CHECK(wslat::base64url("fo") == "Zm8");
  CHECK(wslat::base64url("foo") == "Zm9v");
  CHECK(wslat::base64url("ws://h:1/a?b") == "d3M6Ly9oOjEvYT9i");
  CHECK(wslat::base64url("\xfb\xff") == "-_8");  // URL-safe alphabet: - and _, not + and /
}

TEST_CASE("push: the grouping key is job=wslat, scenario, target, profile (and shard)") {
  wslat::RunResult r;
  r.scenario_name = "chat";
  r.target = "wss://chat.example.com/ws";
  r.profile_name = "production";
  const std::string key =
      "/metrics/job/wslat/scenario@base64/Y2hhdA/target@base64/"
      "d3NzOi8vY2hhdC5leGFtcGxlLmNvbS93cw/profile@base64/cHJvZHVjdGlvbg";
  CHECK(wslat::pushgateway_url("http://127.0.0.1:9091", r) == "http://127.0.0.1:9091" + key);
  CHECK(wslat::pushgateway_url("http://gw/prefix/", r) == "http://gw/prefix" + key);
  r.shard = "2/4";
  CHECK(wslat::pushgateway_url("http://gw", r) == "http://gw" + key + "/shard@base64/Mi80");
}
