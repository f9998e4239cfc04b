// libcurl, opened at its first use (curl_shim.cpp, lazy_library.hpp).
#pragma once

#include <string>

namespace wslat::net {

// "" when libcurl can be used; otherwise why not and what to install.
std::string curl_unavailable();

}  // namespace wslat::net
