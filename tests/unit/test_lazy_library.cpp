// LazyLibrary: libcurl and libmicrohttpd are opened at their first use (lib/lazy_library.hpp).
#include <doctest/doctest.h>

#include "lazy_library.hpp"

TEST_CASE("a library opened at first use: its functions, or a message naming what to install") {
  wslat::LazyLibrary zlib("libz.so.1", "zlib1g");
  using Version = const char* (*)();
  const auto version = zlib.function<Version>("zlibVersion");
  const bool found = version != nullptr;
  REQUIRE(found);
  CHECK(version()[0] == '1');
  CHECK(zlib.error().empty());
  CHECK(zlib.symbol("no_such_function_in_zlib") == nullptr);
  CHECK(zlib.error().find("has no function no_such_function_in_zlib") != std::string::npos);
  CHECK(zlib.error().find("upgrade the Debian package zlib1g") != std::string::npos);

  wslat::LazyLibrary missing("libwslat-missing.so.7", "libwslat-missing7");
  CHECK(missing.symbol("anything") == nullptr);
  CHECK(missing.error().find("cannot load libwslat-missing.so.7") != std::string::npos);
  CHECK(missing.error().find("install the Debian package libwslat-missing7") != std::string::npos);
}
