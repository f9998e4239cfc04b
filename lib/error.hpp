// User-facing errors and the exit codes they map to (README, "Exit codes").
#pragma once

#include <stdexcept>
#include <string>

namespace wslat {

namespace exit_code {
constexpr int kPass = 0;
constexpr int kThresholdBreached = 1;
constexpr int kRegression = 2;
constexpr int kCouldNotRun = 3;
constexpr int kUsage = 64;
constexpr int kInterrupted = 130;
}  // namespace exit_code

// An error whose message is written for the user: what went wrong, where, how to fix it.
// Caught once in cli/main.cpp, printed as "wslat: <message>", and turned into `exit_code`.
class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int exit_code() const noexcept { return code_; }

 private:
  int code_;
};

// Bad command line or scenario file (exit 64).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(exit_code::kUsage, message) {}
};

// The run could not happen or its output could not be stored (exit 3).
class RunError : public Error {
 public:
  explicit RunError(const std::string& message) : Error(exit_code::kCouldNotRun, message) {}
};

}  // namespace wslat
