#include "store.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
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

[[noreturn]] void throw_errno(const char* step) {
  throw std::system_error(errno, std::generic_category(), step);
}

// A unique sibling name: pid tells processes on one host apart, the counter threads and
// calls, the random part hosts that share a results folder over the network.
std::string temp_name(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  static const auto salt = static_cast<std::uint32_t>(
      std::random_device{}() ^
      static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("{}.tmp.{}.{}.{:08x}", path, ::getpid(), counter.fetch_add(1), salt);
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
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a non-blocking pipe or tty
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n < 0) throw_errno("write");
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

// Creates `temp` (never an existing file), writes and fsyncs it; on failure removes it again.
// `mode`: permission bits to give it (those of the file it will replace), else 0644 - umask.
void write_temp_file(const std::string& temp, const std::string& content,
                     std::optional<mode_t> mode = std::nullopt) {
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("create");
  try {
    if (mode && ::fchmod(fd, *mode) != 0) throw_errno("chmod");
    write_all(fd, content);
    if (::fsync(fd) != 0) throw_errno("fsync");
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    throw std::system_error(err, std::generic_category(), "close");
  }
}

// Publishes the complete `temp` as `name` unless `name` exists; false when it does.
// RENAME_NOREPLACE where the file system has it, else link(), which never replaces either.
bool publish_no_replace(const std::string& temp, const fs::path& name) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, name.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) throw_errno("rename");
  if (::link(temp.c_str(), name.c_str()) == 0) {
    ::unlink(temp.c_str());
    return true;
  }
  if (errno == EEXIST) return false;
  throw_errno("link");
}

// Where a user-named output goes and how it is written.
enum class OutputKind { kReplace, kInPlace, kStdout, kStderr };
struct OutputTarget {
  OutputKind kind = OutputKind::kReplace;
  fs::path file;               // kReplace: the file to replace (symlinks followed)
  std::optional<mode_t> mode;  // kReplace: permission bits of the existing file
};

bool same_file(const struct stat& st, int fd) {
  struct stat open_file {};
  return ::fstat(fd, &open_file) == 0 && open_file.st_dev == st.st_dev &&
         open_file.st_ino == st.st_ino;
}

// Follows the symlinks at the end of `path` to the name they finally designate, which need
// not exist yet (a dangling link is written through as well).
fs::path follow_links(const fs::path& path) {
  fs::path p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    std::error_code ec;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) throw std::system_error(ec, "readlink");
    p = target.is_absolute() ? target : parent_or_dot(p) / target;
  }
  throw std::system_error(ELOOP, std::generic_category(), "resolve");
}

OutputTarget resolve_output(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw_errno("stat");
    return {OutputKind::kReplace, follow_links(path), std::nullopt};
  }
  if (S_ISDIR(st.st_mode)) {
    throw RunError(fmt::format("cannot write {}: it is a directory; give a file name", path));
  }
  // Before the regular-file case: `> out.txt` plus `--export-json out.txt` (or /dev/stdout)
  // must not swap the file the shell opened for another.
  if (same_file(st, STDOUT_FILENO)) return {OutputKind::kStdout, path, std::nullopt};
  if (same_file(st, STDERR_FILENO)) return {OutputKind::kStderr, path, std::nullopt};
  if (!S_ISREG(st.st_mode)) return {OutputKind::kInPlace, path, std::nullopt};
  return {OutputKind::kReplace, follow_links(path), st.st_mode & 0777};
}

// A directory the user's file goes in must exist: creating directories for a mistyped path
// (as root, anywhere) is worse than saying so.
void require_dir(const fs::path& dir, const std::string& for_path) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return;
    throw RunError(fmt::format("cannot write {}: {} is not a directory; choose another path",
                               for_path, dir.string()));
  }
  const int err = errno;
  if (err == ENOENT) {
    throw RunError(fmt::format(
        "cannot write {}: directory {} does not exist; create it first (wslat creates no "
        "directories for files you name) or choose another path",
        for_path, dir.string()));
  }
  throw RunError(fmt::format("cannot write {}: {}: {}", for_path, dir.string(), errno_text(err)));
}

// Creates and removes a file in `dir`; throws RunError when that is not possible.
void probe_dir(const fs::path& dir) {
  const std::string probe = temp_name((dir / ".wslat-probe").string());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw RunError(fmt::format(
        "directory {} is not writable: {}; fix its permissions or choose another directory",
        dir.string(), errno_text(err)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void replace_atomically(const fs::path& file, const std::string& content,
                        std::optional<mode_t> mode, const std::string& shown) {
  const std::string temp = temp_name(file.string());
  try {
    write_temp_file(temp, content, mode);
    if (::rename(temp.c_str(), file.c_str()) != 0) {
      const int err = errno;
      ::unlink(temp.c_str());
      throw std::system_error(err, std::generic_category(), "rename");
    }
  } catch (const std::system_error& e) {
    // e.what() is "<step>: <reason>", e.g. "rename: Is a directory".
    throw RunError(
        fmt::format("cannot write {}: {}; give a file path (not a directory) in a "
                    "writable place with free space",
                    shown, e.what()));
  }
  fsync_dir(parent_or_dot(file));
}

void write_in_place(const std::string& path, const std::string& content) {
  // A FIFO's open waits for a reader; a signal (Ctrl-C) ends the wait.
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw_errno("open");
  try {
    write_all(fd, content);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0 && errno != EINTR) throw_errno("close");
}

std::string size_text(std::uintmax_t bytes) {
  if (bytes >= (1U << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{} KiB", (bytes + 1023) / 1024);
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
  create_parent_dirs(parent_or_dot(target), path);
  replace_atomically(target, content, std::nullopt, path);
}

void write_output_file(const std::string& path, const std::string& content) {
  try {
    const OutputTarget t = resolve_output(path);
    switch (t.kind) {
      case OutputKind::kStdout:
      case OutputKind::kStderr: {
        const bool out = t.kind == OutputKind::kStdout;
        std::fflush(out ? stdout : stderr);  // after what wslat already wrote there
        try {
          write_all(out ? STDOUT_FILENO : STDERR_FILENO, content);
        } catch (const std::system_error& e) {
          throw BrokenStream(fmt::format("cannot write {} (wslat's {}): {}", path,
                                         out ? "stdout" : "stderr", e.code().message()));
        }
        return;
      }
      case OutputKind::kInPlace:
        write_in_place(path, content);
        return;
      case OutputKind::kReplace:
        require_dir(parent_or_dot(t.file), path);
        replace_atomically(t.file, content, t.mode,
                           t.file == fs::path(path)
                               ? path
                               : fmt::format("{} (linked to {})", path, t.file.string()));
        return;
    }
  } catch (const std::system_error& e) {
    throw RunError(fmt::format("cannot write {}: {}", path, e.what()));
  }
}

OutputFileWriter::OutputFileWriter(const std::string& path) : path_(path) {
  try {
    const OutputTarget t = resolve_output(path);
    switch (t.kind) {
      case OutputKind::kStdout:
      case OutputKind::kStderr:
        fd_ = t.kind == OutputKind::kStdout ? STDOUT_FILENO : STDERR_FILENO;
        own_fd_ = false;
        return;
      case OutputKind::kInPlace:  // a FIFO's open waits for a reader
        fd_ = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd_ < 0) throw_errno("open");
        return;
      case OutputKind::kReplace: {
        require_dir(parent_or_dot(t.file), path);
        file_ = t.file.string();
        const std::string temp = temp_name(file_);
        fd_ = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ < 0) throw_errno("create");
        temp_ = temp;
        if (t.mode && ::fchmod(fd_, *t.mode) != 0) throw_errno("chmod");
        return;
      }
    }
  } catch (const std::system_error& e) {
    if (fd_ >= 0 && own_fd_) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
    throw RunError(fmt::format("cannot write {}: {}; give a file path in a writable directory",
                               path, e.what()));
  } catch (...) {
    if (fd_ >= 0 && own_fd_) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
    throw;
  }
}

OutputFileWriter::~OutputFileWriter() {
  if (fd_ >= 0 && own_fd_) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFileWriter::append(const std::string& text) {
  buffer_ += text;
  if (buffer_.size() >= (std::size_t{1} << 16)) flush();
}

void OutputFileWriter::flush() {
  if (fd_ < 0) throw RunError(fmt::format("cannot write {}: already closed", path_));
  try {
    write_all(fd_, buffer_);
  } catch (const std::system_error& e) {
    throw RunError(fmt::format("cannot write {}: {}", path_, e.what()));
  }
  buffer_.clear();
}

void OutputFileWriter::commit() {
  flush();
  if (!own_fd_) {
    fd_ = -1;
    return;
  }
  try {
    if (!temp_.empty() && ::fsync(fd_) != 0) throw_errno("fsync");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0 && errno != EINTR) throw_errno("close");
    if (temp_.empty()) return;
    if (::rename(temp_.c_str(), file_.c_str()) != 0) throw_errno("rename");
    temp_.clear();
  } catch (const std::system_error& e) {
    throw RunError(fmt::format("cannot write {}: {}", path_, e.what()));
  }
  fsync_dir(parent_or_dot(fs::path(file_)));
}

void check_writable_dir(const std::string& dir) {
  create_parent_dirs(fs::path(dir), dir);
  probe_dir(fs::path(dir));
}

void check_writable_file(const std::string& path) {
  try {
    const OutputTarget t = resolve_output(path);
    if (t.kind == OutputKind::kStdout || t.kind == OutputKind::kStderr) return;
    // Not opened: opening a FIFO now would block, or tell its reader the output ended.
    const std::string& checked = t.kind == OutputKind::kInPlace ? path : t.file.string();
    if (t.kind == OutputKind::kReplace) {
      require_dir(parent_or_dot(t.file), path);
      probe_dir(parent_or_dot(t.file));
      if (!t.mode) return;  // a new file
    }
    if (::access(checked.c_str(), W_OK) != 0) {
      const int err = errno;
      throw RunError(fmt::format("cannot write {}: {}; fix its permissions or choose another file",
                                 path, errno_text(err)));
    }
  } catch (const std::system_error& e) {
    throw RunError(fmt::format("cannot write {}: {}", path, e.what()));
  }
}

void check_free_space(const std::vector<PlannedFile>& files) {
  struct Group {
    dev_t device = 0;
    fs::path dir;
    std::uintmax_t bytes = 0;
    std::vector<std::string> paths;
  };
  std::vector<Group> groups;
  for (const auto& f : files) {
    fs::path dir;
    try {
      const OutputTarget t = resolve_output(f.path);
      if (t.kind != OutputKind::kReplace) continue;  // written in place: no new file
      dir = parent_or_dot(t.file);
    } catch (const Error&) {
      continue;  // check_writable_file reports what is wrong with the path
    } catch (const std::system_error&) {
      continue;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return x.device == st.st_dev; });
    if (g == groups.end()) g = groups.insert(groups.end(), Group{st.st_dev, dir, 0, {}});
    g->bytes += f.max_bytes;
    g->paths.push_back(f.path);
  }
  for (const auto& g : groups) {
    const std::string probe = temp_name((g.dir / ".wslat-space").string());
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) continue;  // an unwritable directory is reported by the writability checks
    const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(g.bytes));
    ::close(fd);
    ::unlink(probe.c_str());
    if (err != ENOSPC && err != EDQUOT && err != EFBIG) continue;  // fine, or cannot tell
    std::string list;
    for (const auto& p : g.paths) list += (list.empty() ? "" : ", ") + p;
    throw RunError(fmt::format(
        "not enough free space for the outputs in {} ({}): up to {} may be needed for {}; free "
        "some space or write them elsewhere",
        g.dir.string(), errno_text(err), size_text(g.bytes), list));
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

std::string write_run_file(const std::string& results_dir, const std::string& scenario_name,
                           const std::string& started_at, const std::string& content) {
  const fs::path dir = fs::path(results_dir) / "runs" / safe_file_name(scenario_name);
  create_parent_dirs(dir, dir.string());
  const std::string stamp = stamp_from(started_at);
  const fs::path first = dir / (stamp + ".json");
  const std::string temp = temp_name(first.string());
  bool written = false;
  try {
    write_temp_file(temp, content);
    written = true;
    // Parallel runs started in the same millisecond race for the same name: whoever
    // publishes first keeps it, the others take the next number.
    for (long n = 0; n < 100000; ++n) {
      const fs::path name = n == 0 ? first : dir / fmt::format("{}-{}.json", stamp, n);
      if (publish_no_replace(temp, name)) {
        fsync_dir(dir);
        return name.string();
      }
    }
    throw std::system_error(EEXIST, std::generic_category(), "rename");
  } catch (const std::system_error& e) {
    if (written) ::unlink(temp.c_str());
    throw RunError(
        fmt::format("cannot store the run in {}: {}; free some space or fix the "
                    "folder's permissions",
                    dir.string(), e.what()));
  }
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
