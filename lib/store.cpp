#include "store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "json_text.hpp"

namespace wslat {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

fs::path parent_or_dot(const fs::path& p) {
  const fs::path parent = p.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// A unique sibling name: pid tells processes apart, the counter threads and calls.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
}

void create_parent_dirs(const fs::path& dir, const std::string& for_path) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    const std::string why = ec ? ec.message() : "a file of that name is in the way";
    throw RunError(fmt::format(
        "cannot create directory {} for {}: {}; choose another path or remove what is in the way",
        dir.string(), for_path, why));
  }
}

void write_all(int fd, const std::string& content) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "write");
    done += static_cast<std::size_t>(n);
  }
}

// Makes the rename itself durable; failure here is not worth failing the write for
// (some file systems refuse fsync on directories).
void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_temp_file(const std::string& temp, const std::string& content) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create");
  try {
    write_all(fd, content);
    if (::fsync(fd) != 0) throw std::system_error(errno, std::generic_category(), "fsync");
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw std::system_error(errno, std::generic_category(), "close");
}

// Run files are named after the start time; ':' is not portable in file names.
std::string stamp_from(const std::string& started_at) {
  std::string stamp;
  for (char c : started_at) {
    if (c != ':') stamp += c;
  }
  return stamp.empty() ? std::string("run") : safe_file_name(stamp);
}

// Sort key of a run file: "<stamp>.json" and "<stamp>-N.json" (same stamp, N-th duplicate)
// must order by stamp, then N, which plain string order gets wrong ('-' < '.').
std::tuple<std::string, long, std::string> run_sort_key(const fs::path& file) {
  const std::string stem = file.stem().string();
  const auto dash = stem.rfind('-');
  if (dash != std::string::npos && dash > 0 && stem[dash - 1] == 'Z' && dash + 1 < stem.size() &&
      stem.size() - dash <= 7 &&
      std::all_of(stem.begin() + static_cast<long>(dash) + 1, stem.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    return {stem.substr(0, dash), std::stol(stem.substr(dash + 1)), stem};
  }
  return {stem, 0, stem};
}

// nlohmann reports a byte offset; users want line and column.
std::pair<int, int> line_column(const std::string& text, std::size_t byte) {
  int line = 1;
  int column = 1;
  const std::size_t end = std::min(byte > 0 ? byte - 1 : 0, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." ->
// "syntax error ...".
std::string parse_problem(const std::string& what) {
  const auto col = what.find("column ");
  const auto colon = what.find(": ", col == std::string::npos ? 0 : col);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path target(path);
  const fs::path dir = parent_or_dot(target);
  create_parent_dirs(dir, path);
  const std::string temp = temp_name(path);
  try {
    write_temp_file(temp, content);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      throw std::system_error(errno, std::generic_category(), "rename");
    }
  } catch (const std::system_error& e) {
    ::unlink(temp.c_str());
    // e.what() is "<step>: <reason>", e.g. "rename: Is a directory".
    throw RunError(
        fmt::format("cannot write {}: {}; give a file path (not a directory) in a "
                    "writable place with free space",
                    path, e.what()));
  }
  fsync_dir(dir);
}

void check_writable_dir(const std::string& dir) {
  create_parent_dirs(fs::path(dir), dir);
  const std::string probe = temp_name((fs::path(dir) / ".wslat-probe").string());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw RunError(fmt::format(
        "directory {} is not writable: {}; fix its permissions or choose another directory", dir,
        errno_text(err)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void check_writable_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(fs::path(path), ec)) {
    throw RunError(fmt::format("cannot write {}: it is a directory; give a file name", path));
  }
  check_writable_dir(parent_or_dot(fs::path(path)).string());
  if (fs::exists(fs::path(path), ec) && ::access(path.c_str(), W_OK) != 0) {
    const int err = errno;
    throw RunError(fmt::format("cannot write {}: {}; fix its permissions or choose another file",
                               path, errno_text(err)));
  }
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(fs::path(path), ec)) {
    throw UsageError(fmt::format("cannot read {}: it is a directory; give a file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw UsageError(fmt::format("cannot read {}: {}", path, errno_text(err)));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw UsageError(fmt::format("cannot read {}: {}", path, errno_text(errno)));
  return buf.str();
}

RunResult load_result_file(const std::string& path) {
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = parse_json_bounded(text);
  } catch (const JsonTooDeep& e) {
    const auto [line, column] = line_column(text, e.offset() + 1);
    throw UsageError(
        fmt::format("{}: not valid JSON at line {} column {}: {}", path, line, column, e.what()));
  } catch (const nlohmann::json::parse_error& e) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw UsageError(
          fmt::format("{}: not valid JSON: the file is empty; expected a wslat "
                      "result written by `wslat run` or `wslat merge`",
                      path));
    }
    const auto [line, column] = line_column(text, e.byte);
    throw UsageError(fmt::format("{}: not valid JSON at line {} column {}: {}", path, line, column,
                                 parse_problem(e.what())));
  } catch (const nlohmann::json::exception& e) {  // e.g. 1e999: a number beyond double range
    throw UsageError(fmt::format("{}: not valid JSON: {}", path, parse_problem(e.what())));
  }
  try {
    return result_from_json(j);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("{}: not a wslat result: {}", path, e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{}: not a wslat result: {}", path, e.what()));
  }
}

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  // A leading dot would hide the file or, as "..", climb out of the results folder.
  for (char& c : out) {
    if (c != '.') break;
    c = '-';
  }
  return out.empty() ? std::string("unnamed") : out;
}

std::string run_result_path(const std::string& results_dir, const std::string& scenario_name,
                            const std::string& started_at) {
  const fs::path dir = fs::path(results_dir) / "runs" / safe_file_name(scenario_name);
  const std::string stamp = stamp_from(started_at);
  fs::path candidate = dir / (stamp + ".json");
  std::error_code ec;
  for (int n = 1; fs::exists(candidate, ec); ++n) {
    candidate = dir / fmt::format("{}-{}.json", stamp, n);
  }
  return candidate.string();
}

std::string baseline_path(const std::string& results_dir, const std::string& scenario_name,
                          const std::string& profile_name) {
  const std::string file =
      safe_file_name(scenario_name) + "." + safe_file_name(profile_name) + ".json";
  return (fs::path(results_dir) / "baselines" / file).string();
}

std::vector<std::string> list_runs(const std::string& results_dir,
                                   const std::string& scenario_name) {
  const fs::path dir = fs::path(results_dir) / "runs" / safe_file_name(scenario_name);
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    // Skip temp files of a write in progress (or left by a crash).
    if (p.extension() != ".json" || name.find(".tmp.") != std::string::npos) continue;
    if (!it->is_regular_file(ec)) continue;
    files.push_back(p);
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return run_sort_key(a) < run_sort_key(b); });
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(f.string());
  return out;
}

}  // namespace wslat
