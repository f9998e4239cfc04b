// Files wslat writes and reads: atomic writes, writability probes, result loading errors,
// the results folder layout.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "error.hpp"
#include "store.hpp"

namespace fs = std::filesystem;
using namespace wslat;

namespace {

// A fresh directory, removed with everything in it when the test ends.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wslat-store-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

RunResult small_result() {
  RunResult r;
  r.tool_version = "0.1.0";
  r.scenario_name = "smoke";
  r.scenario_file = "scenarios/smoke.json";
  r.scenario_sha256 = std::string(64, 'a');
  r.target = "ws://127.0.0.1:1/";
  r.profile_name = "local";
  r.profile_multiplier = 0.3;
  r.started_at = "2026-11-27T14:00:00.123Z";
  r.duration_ms = 12.5;
  r.attempted = r.opened = 3;
  Histogram h;
  for (int i = 1; i <= 3; ++i) h.record_ns(i * 1'000'000);
  r.metrics["handshake"].histogram = h;
  refresh_summaries(r);
  return r;
}

}  // namespace

TEST_CASE("write_file_atomic creates parent directories and replaces an existing file whole") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const std::string path = dir + "/a/b/result.json";
  write_file_atomic(path, "first version, rather long so a partial write would show");
  CHECK(slurp(path) == "first version, rather long so a partial write would show");
  write_file_atomic(path, "second");
  CHECK(slurp(path) == "second");
  CHECK(entries(dir + "/a/b") == std::vector<std::string>{"result.json"});  // no temp left
}

TEST_CASE("write_file_atomic fails cleanly when the target is a directory") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  fs::create_directory(dir + "/taken");
  const std::string msg = error_of([&] { write_file_atomic(dir + "/taken", "x"); });
  CHECK(msg.find(dir + "/taken") != std::string::npos);
  CHECK_THROWS_AS(write_file_atomic(dir + "/taken", "x"), RunError);
  CHECK(entries(dir) == std::vector<std::string>{"taken"});  // temp file removed
  CHECK(fs::is_directory(dir + "/taken"));
}

TEST_CASE("writes below a regular file fail with the path named (works even as root)") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  spit(dir + "/plain", "I am a file");
  CHECK_THROWS_AS(write_file_atomic(dir + "/plain/out.json", "x"), RunError);
  const std::string msg = error_of([&] { check_writable_dir(dir + "/plain/results"); });
  CHECK(msg.find(dir + "/plain/results") != std::string::npos);
  CHECK_THROWS_AS(check_writable_file(dir + "/plain/out.json"), RunError);
  CHECK_THROWS_AS(check_writable_file(dir), RunError);  // a directory is not a file
  CHECK(slurp(dir + "/plain") == "I am a file");
}

TEST_CASE("check_writable_dir creates the directory and leaves no probe behind") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  check_writable_dir(dir + "/results/runs");
  CHECK(fs::is_directory(dir + "/results/runs"));
  CHECK(entries(dir + "/results/runs").empty());
  fs::create_directory(dir + "/out");
  check_writable_file(dir + "/out/report.html");
  CHECK(entries(dir + "/out").empty());
}

TEST_CASE("a file the user names in a missing directory is an error, no directory is made") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const std::string path = dir + "/typo/report.html";
  std::string msg = error_of([&] { check_writable_file(path); });
  CHECK(msg.find("directory " + dir + "/typo does not exist") != std::string::npos);
  msg = error_of([&] { write_output_file(path, "x"); });
  CHECK(msg.find("directory " + dir + "/typo does not exist") != std::string::npos);
  CHECK_THROWS_AS(write_output_file(path, "x"), RunError);
  CHECK(entries(dir).empty());
}

TEST_CASE("write_output_file writes through a symlink and keeps the link and the file's mode") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  fs::create_directory(dir + "/real");
  spit(dir + "/real/r.json", "old");
  fs::permissions(dir + "/real/r.json", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_symlink("real/r.json", dir + "/link.json");
  check_writable_file(dir + "/link.json");
  write_output_file(dir + "/link.json", "new");
  CHECK(fs::is_symlink(dir + "/link.json"));
  CHECK(fs::read_symlink(dir + "/link.json") == "real/r.json");
  CHECK(slurp(dir + "/real/r.json") == "new");
  CHECK(fs::status(dir + "/real/r.json").permissions() ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(entries(dir + "/real") == std::vector<std::string>{"r.json"});  // no temp left

  // A dangling link is written through as well: the file appears where it points.
  fs::create_symlink("real/later.json", dir + "/dangling.json");
  write_output_file(dir + "/dangling.json", "created");
  CHECK(fs::is_symlink(dir + "/dangling.json"));
  CHECK(slurp(dir + "/real/later.json") == "created");
}

TEST_CASE("write_output_file writes a FIFO in place and check_writable_file never opens it") {
  const TempDir tmp;
  const std::string fifo = tmp.path + "/pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // Would block (no reader) or tell a reader the output ended if it opened the FIFO.
  check_writable_file(fifo);
  CHECK(fs::is_fifo(fifo));
  // The reader never blocks the test: a non-blocking open and a bounded poll.
  const int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(rd >= 0);
  std::string got;
  std::thread reader([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{rd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::read(rd, buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<std::size_t>(n));
      if (n == 0) break;  // the writer closed: end of the output
    }
  });
  try {
    write_output_file(fifo, "through the pipe");
  } catch (...) {
  }
  reader.join();
  ::close(rd);
  CHECK(got == "through the pipe");
  CHECK(fs::is_fifo(fifo));
  CHECK(entries(tmp.path) == std::vector<std::string>{"pipe"});
}

TEST_CASE("write_output_file writes a character device in place (as root: a mknod'ed /dev/full)") {
  const TempDir tmp;
  const std::string full = tmp.path + "/full";
  // A private copy of /dev/full, so a regression replaces the copy, not the system's node.
  if (::mknod(full.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) {
    MESSAGE("skipped: mknod needs privileges");
    return;
  }
  check_writable_file(full);
  const std::string msg = error_of([&] { write_output_file(full, "{}"); });
  CHECK(msg.find("cannot write " + full) != std::string::npos);
  CHECK(msg.find("No space left on device") != std::string::npos);
  CHECK(fs::is_character_file(full));
  CHECK(entries(tmp.path) == std::vector<std::string>{"full"});
}

TEST_CASE("check_free_space allocates and removes a probe, and names the folder when full") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  check_free_space({{dir + "/a.json", 64 * 1024}, {dir + "/b.html", 64 * 1024}});
  CHECK(entries(dir).empty());
  // No file system holds an exbibyte: the check must refuse before anything is written.
  const std::uintmax_t huge = std::uintmax_t{1} << 60;
  const std::string msg = error_of([&] { check_free_space({{dir + "/a.json", huge}}); });
  CHECK(msg.find("not enough free space for the outputs in " + dir) != std::string::npos);
  CHECK(msg.find(dir + "/a.json") != std::string::npos);
  CHECK(entries(dir).empty());
}

TEST_CASE("write_run_file: runs stored at once under one time stamp all keep their own file") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> ready{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      for (int i = 0; i < kPerThread; ++i) {
        try {
          write_run_file(dir, "chat", "2026-11-27T14:00:00.123Z",
                         "{\"writer\": " + std::to_string(t * 1000 + i) + "}");
        } catch (...) {
          errors.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);
  const auto runs = list_runs(dir, "chat");
  CHECK(runs.size() == static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> contents;
  for (const auto& f : runs) contents.insert(slurp(f));
  CHECK(contents.size() == runs.size());                     // none overwritten by another
  CHECK(entries(dir + "/runs/chat").size() == runs.size());  // no temp file left
  CHECK(runs.front() == dir + "/runs/chat/2026-11-27T140000.123Z.json");
}

TEST_CASE("load_result_file names the file and the problem") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const std::string text = to_json(small_result()).dump(2);

  spit(dir + "/garbage.json", "{\n  \"schema\": nope\n}");
  std::string msg = error_of([&] { load_result_file(dir + "/garbage.json"); });
  CHECK(msg.find(dir + "/garbage.json: not valid JSON at line 2 column") != std::string::npos);

  spit(dir + "/truncated.json", text.substr(0, text.size() / 2));
  msg = error_of([&] { load_result_file(dir + "/truncated.json"); });
  CHECK(msg.find(dir + "/truncated.json: not valid JSON at line") != std::string::npos);

  spit(dir + "/foreign.json", R"({"name": "some other tool's output"})");
  msg = error_of([&] { load_result_file(dir + "/foreign.json"); });
  CHECK(msg.find(dir + "/foreign.json: not a wslat result: ") != std::string::npos);
  CHECK_THROWS_AS(load_result_file(dir + "/foreign.json"), UsageError);

  spit(dir + "/empty.json", "");
  msg = error_of([&] { load_result_file(dir + "/empty.json"); });
  CHECK(msg.find(dir + "/empty.json: not valid JSON: the file is empty") != std::string::npos);

  msg = error_of([&] { load_result_file(dir + "/missing.json"); });
  CHECK(msg.find("cannot read " + dir + "/missing.json") != std::string::npos);
}

TEST_CASE("a written result loads back") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const RunResult r = small_result();
  write_file_atomic(dir + "/r.json", to_json(r).dump());
  const RunResult back = load_result_file(dir + "/r.json");
  CHECK(back.scenario_name == "smoke");
  CHECK(back.metrics.at("handshake").histogram == r.metrics.at("handshake").histogram);
}

TEST_CASE("results folder layout") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const std::string first = run_result_path(dir, "chat", "2026-11-27T14:00:00.123Z");
  CHECK(first == dir + "/runs/chat/2026-11-27T140000.123Z.json");
  write_file_atomic(first, "{}");
  const std::string second = run_result_path(dir, "chat", "2026-11-27T14:00:00.123Z");
  CHECK(second == dir + "/runs/chat/2026-11-27T140000.123Z-1.json");
  write_file_atomic(second, "{}");
  CHECK(run_result_path(dir, "chat", "2026-11-27T14:00:00.123Z") ==
        dir + "/runs/chat/2026-11-27T140000.123Z-2.json");
  CHECK(baseline_path(dir, "chat golden", "staging") ==
        dir + "/baselines/chat-golden.staging.json");

  const std::string safe = safe_file_name("../../etc/passwd");
  CHECK(safe.find('/') == std::string::npos);
  CHECK(safe.front() != '.');
  CHECK(safe_file_name("") == "unnamed");
}

TEST_CASE("list_runs is oldest first, duplicates after their stamp, temp files skipped") {
  const TempDir tmp;
  const std::string& dir = tmp.path;
  const std::string runs = dir + "/runs/chat/";
  for (const char* f :
       {"2026-11-28T090000Z.json", "2026-11-27T140000.123Z-1.json", "2026-11-27T140000.123Z.json",
        "2026-11-27T120000Z.json", "2026-11-28T090000Z.json.tmp.1.0", "notes.txt"}) {
    write_file_atomic(runs + f, "{}");
  }
  const std::vector<std::string> expected{
      runs + "2026-11-27T120000Z.json", runs + "2026-11-27T140000.123Z.json",
      runs + "2026-11-27T140000.123Z-1.json", runs + "2026-11-28T090000Z.json"};
  CHECK(list_runs(dir, "chat") == expected);
  CHECK(list_runs(dir, "never-ran").empty());
}
