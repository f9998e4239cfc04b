// Starting a program from a test. Everything the exec needs (the program's path, argv, the
// environment) is built before fork(), so that the child only calls async-signal-safe functions
// (dup2, open, setpgid, signal, execve, _exit). A test process has threads (listeners, servers,
// readers of pipes): a child that allocated between fork() and exec could wait forever for an
// allocator lock another thread held at the fork. glibc's malloc guards its locks across fork();
// the allocators of the sanitizer builds (GCC 12's libasan and libtsan) need not.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace wslat::test {

class PreparedExec {
 public:
  // argv[0] is a path, or a name looked up on PATH (the PATH in `env` when it sets one), as
  // execvp would. `env` sets (or replaces) variables, `unset` removes them.
  explicit PreparedExec(std::vector<std::string> argv,
                        const std::map<std::string, std::string>& env = {},
                        const std::vector<std::string>& unset = {})
      : args_(std::move(argv)) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      if (env.count(name) != 0 || std::find(unset.begin(), unset.end(), name) != unset.end()) {
        continue;
      }
      vars_.push_back(entry);
    }
    for (const auto& [name, value] : env) vars_.push_back(name + "=" + value);
    path_ = args_.empty() ? std::string() : resolve(args_.front(), env);
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& v : vars_) envp_.push_back(v.data());
    envp_.push_back(nullptr);
  }
  // argv_ and envp_ point into args_ and vars_: never copied or moved.
  PreparedExec(const PreparedExec&) = delete;
  PreparedExec& operator=(const PreparedExec&) = delete;

  // In the child after fork(): runs the program, or exits 127 (as a shell does for a program it
  // cannot run). Async-signal-safe.
  [[noreturn]] void exec() const noexcept {
    ::execve(path_.c_str(), argv_.data(), envp_.data());
    ::_exit(127);
  }

 private:
  static std::string resolve(const std::string& program,
                             const std::map<std::string, std::string>& env) {
    if (program.find('/') != std::string::npos) return program;
    const auto set = env.find("PATH");
    const char* inherited = std::getenv("PATH");
    std::string path = set != env.end()       ? set->second
                       : inherited != nullptr ? std::string(inherited)
                                              : std::string("/usr/local/bin:/usr/bin:/bin");
    std::size_t from = 0;
    for (;;) {
      const std::size_t colon = path.find(':', from);
      std::string dir =
          path.substr(from, colon == std::string::npos ? std::string::npos : colon - from);
      const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
          ::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
      if (colon == std::string::npos) break;
      from = colon + 1;
    }
    return program;  // not found: execve fails and the child exits 127
  }

  std::vector<std::string> args_, vars_;
  std::string path_;
  std::vector<char*> argv_, envp_;
};

}  // namespace wslat::test
