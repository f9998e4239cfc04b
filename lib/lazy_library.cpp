#include "lazy_library.hpp"

#include <dlfcn.h>

#include <fmt/core.h>

namespace wslat {

void LazyLibrary::open() {
  std::call_once(once_, [this] {
    handle_ = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* why = ::dlerror();
      const std::lock_guard<std::mutex> lock(mu_);
      error_ = fmt::format("cannot load {} ({}); install the Debian package {}", soname_,
                           why != nullptr ? why : "unknown error", package_);
    }
  });
}

void* LazyLibrary::symbol(const char* name) {
  open();
  if (handle_ == nullptr) return nullptr;
  void* p = ::dlsym(handle_, name);
  if (p == nullptr) {
    const std::lock_guard<std::mutex> lock(mu_);
    error_ = fmt::format(
        "{} has no function {}: it is older than the one wslat was built with; "
        "upgrade the Debian package {}",
        soname_, name, package_);
  }
  return p;
}

std::string LazyLibrary::error() {
  open();
  const std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace wslat
