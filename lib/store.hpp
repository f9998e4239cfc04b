// Files wslat writes and reads: atomic writes (temp + rename), the results folder layout,
// and loading result/baseline files with errors that name the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "error.hpp"
#include "result.hpp"

namespace wslat {

// Files in wslat's own results folder (runs, `--save-baseline auto`): writes to
// "<path>.tmp.<pid>.<n>.<random>" in the same directory, fsyncs, renames over `path`.
// Creates missing parent directories. On any failure the old file is untouched, the temp
// file removed, and RunError says which path and why.
void write_file_atomic(const std::string& path, const std::string& content);

// A file the user named (--export-*, --save-baseline FILE, -o FILE):
// - a regular file, or a new name, is replaced atomically as above;
// - a symlink is written through: the file it points to is replaced atomically, in the
//   target's directory, and the link itself stays;
// - anything else that exists (FIFO, character device such as /dev/null, socket) is opened
//   only now and written in place, never replaced;
// - the file wslat's own stdout or stderr is (e.g. /dev/stdout) is written to that stream,
//   after what is already there; a failure there throws BrokenStream.
// The directory must exist: wslat creates no directories for files the user names.
void write_output_file(const std::string& path, const std::string& content);

// A file the user named, written piece by piece as write_output_file writes it whole (the
// same cases): a regular file or new name goes to a temp file beside it (symlinks followed),
// renamed over it only by commit(); a FIFO or device is written in place; wslat's own stdout
// or stderr directly. Opened by the constructor (RunError naming the path). Destroyed without
// commit(): the temp file is removed, the old file untouched.
class OutputFileWriter {
 public:
  explicit OutputFileWriter(const std::string& path);
  ~OutputFileWriter();
  OutputFileWriter(const OutputFileWriter&) = delete;
  OutputFileWriter& operator=(const OutputFileWriter&) = delete;
  // Buffered; throws RunError when a write fails (the temp file stays until destruction).
  void append(const std::string& text);
  void commit();  // throws RunError
  const std::string& path() const { return path_; }

 private:
  void flush();
  std::string path_, file_, temp_;  // file_: the name to replace; temp_: "" unless replacing
  int fd_ = -1;
  bool own_fd_ = true;
  std::string buffer_;
};

// Writing to wslat's own stdout or stderr failed (reader gone, terminal hung up).
class BrokenStream : public RunError {
 public:
  using RunError::RunError;
};

// Checks before a run that a file the user named could be written as write_output_file
// would, without opening anything that is not a regular file (a FIFO or device is only
// checked for write permission) and without creating directories. Throws RunError.
void check_writable_file(const std::string& path);
// Checks (creating it when missing) that a results-folder directory is writable: a probe
// file is created and removed there. Throws RunError naming the directory.
void check_writable_dir(const std::string& dir);

// A regular file to be written later and an upper bound of its size.
struct PlannedFile {
  std::string path;
  std::uintmax_t max_bytes = 0;
};
// Checks before a run that each file system can hold the planned files together: in one
// directory per file system, a probe file of the summed size is allocated (posix_fallocate)
// and removed again. Non-regular paths (FIFO, device, stdout) are skipped; so is a file
// system that cannot allocate ahead. The space is checked, not held for the run.
// Throws RunError naming the directory, the size needed and the files.
void check_free_space(const std::vector<PlannedFile>& files);

// Reads a whole file; throws UsageError "cannot read FILE: reason".
std::string read_text_file(const std::string& path);

// Parses and validates a stored result or baseline. Throws UsageError
// "FILE: not a wslat result: <problem>" for corrupt, truncated or foreign JSON.
RunResult load_result_file(const std::string& path);

// Results folder (README, "Results folder").
// <dir>/runs/<scenario>/<UTC timestamp>.json  (timestamp like 20261127T140000.123Z), or
// <stamp>-N.json when that name is taken: the first free name at the time of the call.
std::string run_result_path(const std::string& results_dir, const std::string& scenario_name,
                            const std::string& started_at);
// Stores a run under the first free name of run_result_path, atomically and without ever
// replacing a file: the complete temp file is renamed with RENAME_NOREPLACE (or hard-linked),
// and the next name is tried when another process took this one in the meantime. Creates
// the directories. Returns the path written; throws RunError.
std::string write_run_file(const std::string& results_dir, const std::string& scenario_name,
                           const std::string& started_at, const std::string& content);
// <dir>/baselines/<scenario>.<profile>.json
std::string baseline_path(const std::string& results_dir, const std::string& scenario_name,
                          const std::string& profile_name);
// Stored runs of a scenario, oldest first (file paths).
std::vector<std::string> list_runs(const std::string& results_dir,
                                   const std::string& scenario_name);
// A scenario name made safe for a file name ([A-Za-z0-9._-], others -> '-').
std::string safe_file_name(const std::string& name);

}  // namespace wslat
