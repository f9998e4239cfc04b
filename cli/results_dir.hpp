// Where the results folder is when --results-dir is not given (README, "Results folder").
#pragma once

#include <string>

namespace wslat::cli {

struct ResultsDir {
  std::string path;
  bool fallback = false;  // the current folder is not writable: the XDG state folder instead
};

// ./results when it exists or the current folder accepts a new file (a probe file, created
// and removed: permission bits say nothing for root or a read-only mount); otherwise
// $XDG_STATE_HOME/wslat/results, or ~/.local/state/wslat/results when XDG_STATE_HOME is
// unset or not an absolute path (XDG Base Directory spec).
ResultsDir default_results_dir();

// The text --help shows for --results-dir.
inline constexpr const char* kResultsDirHelp =
    "Results folder (default: ./results, or $XDG_STATE_HOME/wslat/results, i.e. "
    "~/.local/state/wslat/results, when the current folder is not writable)";

}  // namespace wslat::cli
