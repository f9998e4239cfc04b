#include "results_dir.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace wslat::cli {
namespace {

bool current_dir_writable() {
  std::string name = ".wslat-probe-XXXXXX";
  std::vector<char> buf(name.begin(), name.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(buf.data());
  return true;
}

std::string home_dir() {
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return home;
  const passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr && pw->pw_dir != nullptr ? pw->pw_dir : "";
}

}  // namespace

ResultsDir default_results_dir() {
  struct stat st {};
  if ((::stat("results", &st) == 0 && S_ISDIR(st.st_mode)) || current_dir_writable()) {
    return {"results", false};
  }
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/') return {std::string(state) + "/wslat/results", true};
  const std::string home = home_dir();
  if (home.empty()) return {"results", false};  // nowhere better: fails as it would have
  return {home + "/.local/state/wslat/results", true};
}

}  // namespace wslat::cli
