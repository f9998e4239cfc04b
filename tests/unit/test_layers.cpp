// The pipeline's include direction (docs/design.md, "Dependencies"): result, store, history and
// report code is downhill of the scenario model, profiles, threshold parsing and RE2. Each of
// those names is declared once more below, in an unnamed namespace: using it is ambiguous, and
// this file stops compiling, as soon as one of the headers included here declares the real one
// (a forward declaration is enough).
#include <cstddef>

#include <doctest/doctest.h>

#include "history.hpp"
#include "report.hpp"
#include "report/common.hpp"
#include "result.hpp"
#include "store.hpp"
#include "threshold_types.hpp"

namespace wslat {
namespace {
struct Scenario {};
struct ExpectStep {};
struct Profile {};
struct Threshold {};
}  // namespace
// Unqualified and outside the unnamed namespace, so that lookup weighs those and any real
// declaration in wslat alike.
constexpr std::size_t kShadows =
    sizeof(Scenario) + sizeof(ExpectStep) + sizeof(Profile) + sizeof(Threshold);
}  // namespace wslat

namespace re2 {
namespace {
struct RE2 {};
}  // namespace
constexpr std::size_t kShadows = sizeof(RE2);
}  // namespace re2

TEST_CASE("result and report headers declare no scenario, profile, threshold parser or RE2") {
  // Compiles only while each name is unambiguous: see the comment at the top.
  CHECK(wslat::kShadows + re2::kShadows == 5);
}
