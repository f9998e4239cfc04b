// libmicrohttpd, opened at its first use (microhttpd_shim.cpp, lib/lazy_library.hpp).
#pragma once

#include <string>

namespace wslat::cli {

// "" when libmicrohttpd can be used; otherwise why not and what to install.
std::string microhttpd_unavailable();

}  // namespace wslat::cli
