// `wslat init`: the starter scenario it writes is valid and runs; it never overwrites a file.
#include <string>

#include <doctest/doctest.h>

#include "harness.hpp"

using wslat::test::read_file;
using wslat::test::run_wslat;
using wslat::test::start_serve;
using wslat::test::temp_dir;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("init: the starter scenario validates and passes against a server with a welcome") {
  auto server = start_serve({"--welcome", R"({"type":"hello"})"});
  const std::string path = temp_dir() + "/init-starter.json";
  const auto init = run_wslat({"init", server.url(), path});
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);
  const std::string text = read_file(path);
  CHECK(contains(text, "\"target\": \"" + server.url() + "\""));
  CHECK(contains(text, "\"description\""));  // the comments
  CHECK(contains(text, R"("thresholds": {"handshake":["p95 < 3s"],"e2e":["p95 < 1s"],)"
                       R"("perceived":["p95 < 2s"],"errors":["rate < 1%"]})"));

  const auto validate = run_wslat({"validate", path});
  INFO(validate.out << validate.err);
  CHECK(validate.exit_code == 0);
  const auto run = run_wslat({"run", path, "--no-save", "--quiet"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
}

TEST_CASE("init: an existing file is never overwritten (exit 64, content kept)") {
  const std::string path = temp_dir() + "/init-existing.json";
  const auto first = run_wslat({"init", "ws://127.0.0.1:9/", path});
  REQUIRE(first.exit_code == 0);
  const std::string before = read_file(path);
  const auto second = run_wslat({"init", "wss://example.invalid/other", path});
  CHECK(second.exit_code == 64);
  CHECK(contains(second.err, "already exists"));
  CHECK(read_file(path) == before);
}

TEST_CASE("init: a URL that is not ws:// or wss:// is a usage error and writes nothing") {
  const std::string path = temp_dir() + "/init-bad-url.json";
  const auto r = run_wslat({"init", "http://example.invalid/", path});
  CHECK(r.exit_code == 64);
  CHECK(contains(r.err, "not a WebSocket URL"));
  for (const auto& f : wslat::test::files_under(temp_dir())) {
    CHECK_MESSAGE(!contains(f, "init-bad-url"), f);  // nor a temporary file
  }
}
