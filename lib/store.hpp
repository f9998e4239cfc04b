// Files wslat writes and reads: atomic writes (temp + rename), the results folder layout,
// and loading result/baseline files with errors that name the file and the problem.
#pragma once

#include <string>
#include <vector>

#include "result.hpp"

namespace wslat {

// Writes to "<path>.tmp.<pid>.<n>" in the same directory, fsyncs, renames over `path`.
// Creates missing parent directories. On any failure the old file is untouched, the temp
// file removed, and RunError says which path and why.
void write_file_atomic(const std::string& path, const std::string& content);

// Checks before a run that `path` could be written (its directory exists or can be created,
// and a probe file can be created and removed there). Throws RunError naming the path.
void check_writable_file(const std::string& path);
void check_writable_dir(const std::string& dir);

// Reads a whole file; throws UsageError "cannot read FILE: reason".
std::string read_text_file(const std::string& path);

// Parses and validates a stored result or baseline. Throws UsageError
// "FILE: not a wslat result: <problem>" for corrupt, truncated or foreign JSON.
RunResult load_result_file(const std::string& path);

// Results folder (SPEC "Results folder").
// <dir>/runs/<scenario>/<UTC timestamp>.json  (timestamp like 20261127T140000.123Z)
std::string run_result_path(const std::string& results_dir, const std::string& scenario_name,
                            const std::string& started_at);
// <dir>/baselines/<scenario>.<profile>.json
std::string baseline_path(const std::string& results_dir, const std::string& scenario_name,
                          const std::string& profile_name);
// Stored runs of a scenario, oldest first (file paths).
std::vector<std::string> list_runs(const std::string& results_dir,
                                   const std::string& scenario_name);
// A scenario name made safe for a file name ([A-Za-z0-9._-], others -> '-').
std::string safe_file_name(const std::string& name);

}  // namespace wslat
