// Timeouts: as a scenario writes them, and as a run waits for them. Scenario durations are
// written for production; the profile scales every timeout, and every step's own `within`, by
// one factor. That factor is applied once, when the run is planned (plan_timeouts in
// profile.hpp): `validate`, the runner and every timeout message read the TimeoutPlan.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "units.hpp"

namespace wslat {

struct Timeouts {
  Duration connect = std::chrono::seconds(5);    // DNS + TCP (+ TLS)
  Duration handshake = std::chrono::seconds(5);  // upgrade request -> 101
  Duration message = std::chrono::seconds(5);    // default `within` of expect / ping
  Duration close = std::chrono::seconds(2);      // close frame -> closed
  Duration login = std::chrono::seconds(10);     // the "login" request, all of it
};

// The fields of Timeouts by their name in the scenario file and the result's "timeouts_ms".
struct TimeoutField {
  const char* name;
  Duration Timeouts::*field;
};
inline constexpr TimeoutField kTimeoutFields[] = {{"connect", &Timeouts::connect},
                                                  {"handshake", &Timeouts::handshake},
                                                  {"message", &Timeouts::message},
                                                  {"close", &Timeouts::close},
                                                  {"login", &Timeouts::login}};

// d × factor, saturating at Duration::max() instead of overflowing.
Duration scale_duration(Duration d, double factor);

// One timeout as the scenario wrote it and as the run waits for it.
struct ScaledTimeout {
  Duration written{};
  Duration effective{};
};

struct TimeoutPlan {
  Timeouts written;    // as the scenario wrote them
  Timeouts effective;  // as the run waits for them: written × factor
  double factor = 1.0;
  std::string note;  // "× 0.3, profile local, chosen by default"; "" when factor is 1

  // What a step with this `within` (expect, ping) waits: its own `within` scaled like every
  // timeout, or the message timeout when it has none.
  ScaledTimeout wait(const std::optional<Duration>& within) const;
  // "600ms (2s × 0.3, profile local, chosen by default)", or just "600ms" when unscaled.
  std::string describe(const ScaledTimeout& t) const;
};

// Every timeout × factor; `note` says where the factor came from.
TimeoutPlan scaled_timeouts(const Timeouts& written, double factor, std::string note);
// The timeouts as written (no profile).
inline TimeoutPlan unscaled_timeouts(const Timeouts& written) {
  return scaled_timeouts(written, 1.0, "");
}

}  // namespace wslat
