// What this binary is: version, the commit it was built from and the build type. Defined in a
// .cpp generated at build time (cmake/build_info.cmake), the only file a new commit recompiles.
#pragma once

namespace wslat {

struct BuildInfo {
  const char* version;  // "0.1.0"
  const char* commit;   // "1a2b3c4d5e6f", "1a2b3c4d5e6f-dirty" or "unknown" (no git)
  const char* build;    // CMAKE_BUILD_TYPE, "+sanitize=address,undefined" when instrumented
};

const BuildInfo& build_info();

}  // namespace wslat
