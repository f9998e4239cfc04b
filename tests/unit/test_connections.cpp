// Per-connection export records (lib/connections.hpp): what a session records becomes one CSV
// row / NDJSON line with the documented columns; messages are quoted and redacted.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "connections.hpp"
#include "metrics.hpp"

namespace {

using wslat::ConnectionColumns;
using wslat::ConnectionRecord;
using wslat::latency_slot;

std::chrono::system_clock::time_point epoch_plus(long long ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

TEST_CASE("a connection record keeps each phase's first value and rtt count/min/mean/max") {
  ConnectionRecord r;
  r.index = 7;
  r.start_ms = 12.5;
  r.record(latency_slot("dns"), 1.25);
  r.record(latency_slot("dns"), 9);  // a reconnect's: not kept
  r.record(latency_slot("handshake"), 40.0004);
  r.record(latency_slot("rtt"), 2);
  r.record(latency_slot("rtt"), 4);
  r.record(latency_slot("rtt"), 9);
  r.record(latency_slot("ping"), 3);  // not a column
  const ConnectionColumns cols;
  const auto start = epoch_plus(1'796'000'000'000);  // 2026-11-30T00:53:20Z
  const std::string header = wslat::connections_csv_header(cols);
  CHECK(header ==
        "index,start_ms,start_time,login_ms,dns_ms,tcp_ms,proxy_ms,tls_ms,upgrade_ms,"
        "handshake_ms,first_message_ms,e2e_ms,perceived_ms,close_ms,session_ms,rtt_count,"
        "rtt_min_ms,rtt_mean_ms,rtt_max_ms,outcome,category,message\n");
  CHECK(wslat::connection_csv_row(r, cols, start) ==
        "7,12.500,2026-11-30T00:53:20.012Z,,1.250,,,,,40.000,,,,,,3,2.000,5.000,9.000,ok,,\n");
  const auto j = nlohmann::json::parse(wslat::connection_ndjson_line(r, cols, start));
  CHECK(j["phases_ms"] == nlohmann::json{{"dns", 1.25}, {"handshake", 40.0}});
  CHECK(j["rtt_ms"] == nlohmann::json{{"count", 3}, {"min", 2.0}, {"mean", 5.0}, {"max", 9.0}});
  CHECK(j["outcome"] == "ok");
  CHECK_FALSE(j.contains("role"));
  CHECK_FALSE(j.contains("category"));
}

TEST_CASE("a failed connection's message is quoted for CSV and its secrets redacted") {
  ConnectionRecord r;
  r.index = 3;
  r.role = 1;
  r.room = 2;
  r.category = "message.timeout@bad";
  r.message = "expected \"tok-1\", got a,b\nline";
  ConnectionColumns cols;
  cols.roles = {"ok", "bad"};
  cols.rooms = true;
  cols.secrets = {"tok-1"};
  CHECK(wslat::connections_csv_header(cols).rfind("index,role,room,start_ms,", 0) == 0);
  const std::string row = wslat::connection_csv_row(r, cols, epoch_plus(0));
  CHECK(row.rfind("3,bad,2,0.000,1970-01-01T00:00:00.000Z,", 0) == 0);
  CHECK(row.find(",0,,,,error,message.timeout@bad,\"expected \"\"***\"\", got a,b\nline\"\n") !=
        std::string::npos);
  const auto j = nlohmann::json::parse(wslat::connection_ndjson_line(r, cols, epoch_plus(0)));
  CHECK(j["role"] == "bad");
  CHECK(j["room"] == 2);
  CHECK(j["outcome"] == "error");
  CHECK(j["message"] == "expected \"***\", got a,b\nline");
  r.category.clear();
  r.interrupted = true;
  CHECK(nlohmann::json::parse(wslat::connection_ndjson_line(r, cols, epoch_plus(0)))["outcome"] ==
        "interrupted");
}
