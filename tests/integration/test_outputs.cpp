// Where `wslat run` writes: files the user names (a symlink is written through, a FIFO or
// device in place, /dev/fd/1 on stdout, a missing directory is an error), a disk without
// room for the outputs is noticed before the run, and parallel runs into one results folder
// keep every run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace wslat::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  fs::create_directories(dir);
  return dir;
}

// One quick connection against the embedded server, or (with `duration`) 20/s for that long.
std::string scenario(const std::string& name, const std::string& duration = "") {
  json s = {{"name", name},
            {"load", {{"connections", 1}, {"concurrency", 1}}},
            {"steps", json::array({{{"send", {{"text", "hi"}}}},
                                   {{"expect", {{"text", "hi"}}}},
                                   {{"close", {{"code", 1000}}}}})}};
  if (!duration.empty()) s["load"] = {{"rate", "20/s"}, {"duration", duration}};
  return write_temp_file(name + ".json", s.dump(2));
}

// Reads a FIFO from a thread until its writer closes it, without ever blocking the test: a
// non-blocking open (a blocking one would wait for a writer forever) and bounded polls.
class FifoReader {
 public:
  explicit FifoReader(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_NONBLOCK)) {
    REQUIRE(fd_ >= 0);
    thread_ = std::thread([this] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      char buf[65536];
      while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n > 0) got_.append(buf, static_cast<std::size_t>(n));
        if (n == 0) break;  // the writer closed it: the whole output is in
      }
    });
  }
  ~FifoReader() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;
  const std::string& finish() {
    thread_.join();
    return got_;
  }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::string got_;
  std::thread thread_;
};

TEST_CASE("exports: a symlink is written through, a FIFO in place, /dev/fd/1 onto stdout") {
  const std::string dir = fresh_dir("exports-special");
  fs::create_directory(dir + "/real");
  std::ofstream(dir + "/real/r.json") << "old";
  fs::create_symlink("real/r.json", dir + "/link.json");
  const std::string fifo = dir + "/summary.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  FifoReader reader(fifo);  // like `cat summary.fifo &` started before wslat

  const auto r = run_wslat({"run", scenario("exports-special"), "--export-json", dir + "/link.json",
                            "--export-markdown", fifo, "--export-junit", "/dev/fd/1",
                            "--results-dir", dir + "/results"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  // The link stays a link; the file it points to holds the result.
  CHECK(fs::is_symlink(dir + "/link.json"));
  CHECK(json::parse(read_file(dir + "/real/r.json"))["verdict"] == "pass");
  // The FIFO's reader got the whole summary, and the FIFO is still a FIFO.
  const std::string summary = reader.finish();
  CHECK(summary.find("exports-special") != std::string::npos);
  CHECK(fs::is_fifo(fifo));
  // /dev/fd/1 is wslat's stdout: the JUnit report follows the text report there.
  const auto report_at = r.out.find("exports-special");
  const auto junit_at = r.out.find("<testsuites");
  CHECK(report_at != std::string::npos);
  CHECK(junit_at != std::string::npos);
  CHECK(report_at < junit_at);
  CHECK(r.out.find("</testsuites>") != std::string::npos);
}

TEST_CASE("exports: a path in a missing directory fails before the run and creates nothing") {
  const std::string dir = fresh_dir("exports-missing-dir");
  const auto r = run_wslat({"run", scenario("exports-missing-dir"), "--export-html",
                            dir + "/typo/sub/r.html", "--results-dir", dir + "/results"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("directory " + dir + "/typo/sub does not exist") != std::string::npos);
  CHECK(!fs::exists(dir + "/typo"));
  CHECK(files_under(dir + "/results").empty());  // nothing ran
}

TEST_CASE("exports: a device refusing the write is exit 3, and every other output is kept") {
  const std::string dir = fresh_dir("exports-device");
  // A private copy of /dev/full (a regression replaces the copy, not the system's node).
  const std::string full = dir + "/full";
  if (::mknod(full.c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) {
    MESSAGE("skipped: mknod needs privileges");
    return;
  }
  const auto r = run_wslat({"run", scenario("exports-device"), "--export-json", full,
                            "--export-junit", dir + "/r.xml", "--results-dir", dir + "/results"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("cannot write " + full) != std::string::npos);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  CHECK(fs::is_character_file(full));  // written in place, never replaced
  CHECK(read_file(dir + "/r.xml").find("</testsuites>") != std::string::npos);
  CHECK(files_under(dir + "/results").size() == 1);  // the run is stored all the same
}

// A 64 KiB tmpfs, unmounted again when the test ends; mounting needs root.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST_CASE("full disk: outputs without room fail before the run (exit 3), not after it") {
  const std::string dir = fresh_dir("full-disk");
  const SmallDisk disk(dir + "/small");
  if (!disk.mounted()) {
    MESSAGE("skipped: mounting a tmpfs needs root");
    return;
  }
  // Nearly full: an HTML report (about 20 KiB for this run) no longer fits.
  std::ofstream(dir + "/small/filler") << std::string(56 * 1024, 'x');
  // A 60 s run: stopping well before it ends proves it never started, with room for a sanitizer
  // build's start and the worst-case render of the free-space probe on a busy machine.
  const auto file = scenario("full-disk", "60s");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--export-html", dir + "/small/r.html", "--results-dir", dir + "/results"},
           {"--results-dir", dir + "/small/results"}}) {
    CAPTURE(args[0]);
    std::vector<std::string> argv{"run", file};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_wslat(argv);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("not enough free space for the outputs in " + dir + "/small") !=
          std::string::npos);
    CHECK(r.err.find(" errors ") == std::string::npos);  // no progress line: nothing ran
    CHECK(r.wall_ms < 30000);                            // the 60 s run never started
  }
  CHECK(!fs::exists(dir + "/small/r.html"));
  for (const auto& f : files_under(dir + "/small")) CHECK(f == dir + "/small/filler");
}

TEST_CASE("parallel runs into one results folder keep every run under its own name") {
  const std::string dir = fresh_dir("parallel-runs");
  const auto file = scenario("parallel");
  constexpr int kParallel = 20;
  constexpr int kRounds = 2;
  std::atomic<int> failed{0};
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> runs;
    for (int i = 0; i < kParallel; ++i) {
      runs.emplace_back([&] {
        const auto r = run_wslat({"run", file, "-q", "--format", "json", "--results-dir", dir},
                                 std::chrono::seconds(90));
        if (r.exit_code != 0) failed.fetch_add(1);
      });
    }
    for (auto& t : runs) t.join();
  }
  CHECK(failed.load() == 0);
  const auto stored = files_under(dir + "/runs/parallel");
  CHECK(stored.size() == static_cast<std::size_t>(kParallel * kRounds));
  for (const auto& f : stored) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
    CHECK(json::accept(read_file(f)));
  }
}

}  // namespace
}  // namespace wslat::test
