// The scenario checker: generic value checks and every part of the file but the steps
// (scenario_steps.cpp) and templates (scenario_template.cpp).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <tuple>

#include <fmt/core.h>

#include "http_syntax.hpp"
#include "profile.hpp"
#include "scenario_check.hpp"
#include "threshold.hpp"

namespace wslat::scenario_detail {
namespace {

// Profile overrides in "environments" (see the README's Profiles section).
constexpr double kMinMultiplier = 0.001;
constexpr double kMaxMultiplier = 1000.0;
constexpr double kMaxMargin = 100.0;

const std::vector<std::string> kTopLevelKeys = {"name",
                                                "target",
                                                "headers",
                                                "subprotocols",
                                                "require_subprotocol",
                                                "permessage_deflate",
                                                "origin",
                                                "cookies",
                                                "login",
                                                "redact",
                                                "load",
                                                "timeouts",
                                                "steps",
                                                "thresholds",
                                                "environments",
                                                "embedded",
                                                "max_message_size",
                                                "description",
                                                "$schema",
                                                "tls",
                                                "on",
                                                "data",
                                                "roles",
                                                "rooms",
                                                "deliveries",
                                                "presence",
                                                "delivery_wait",
                                                "on_drop"};

// "4KiB", "16MiB", "1024B", "1.5MB": bytes, or nullopt.
std::optional<std::int64_t> parse_size(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
    ++i;
  }
  if (i == 0 || i == text.size()) return std::nullopt;
  std::string unit = text.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, double> kUnits = {
      {"b", 1.0},     {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0},
      {"kb", 1000.0}, {"mb", 1e6},     {"gb", 1e9}};
  const auto unit_it = kUnits.find(unit);
  if (unit_it == kUnits.end()) return std::nullopt;
  char* end = nullptr;
  const std::string number = text.substr(0, i);
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  const double bytes = value * unit_it->second;
  if (bytes < 1.0 || bytes > 9e15) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

}  // namespace

ScenarioIssue Checker::located(std::optional<std::size_t> offset, std::string ptr,
                               std::string message) const {
  ScenarioIssue issue{file_, 0, 0, std::move(ptr), std::move(message)};
  if (offset) std::tie(issue.line, issue.column) = line_column(text_, *offset);
  return issue;
}

void Checker::issue(const std::string& ptr, std::string message) {
  issues_.push_back(located(locations_.value_at(ptr), ptr, std::move(message)));
}

void Checker::key_issue(const std::string& ptr, std::string message) {
  const auto key = locations_.key_at(ptr);
  issues_.push_back(located(key ? key : locations_.value_at(ptr), ptr, std::move(message)));
}

std::vector<std::string> Checker::ordered_keys(const json& obj, const std::string& ptr) const {
  std::vector<std::pair<std::size_t, std::string>> keyed;
  for (const auto& item : obj.items()) {
    keyed.emplace_back(locations_.exact_key_at(child_pointer(ptr, item.key())).value_or(0),
                       item.key());
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) out.push_back(std::move(k.second));
  return out;
}

void Checker::check_keys(const json& obj, const std::string& ptr,
                         const std::vector<std::string>& allowed, const std::string& what) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = fmt::format("unknown key \"{}\" in {}", key, what);
    if (const auto suggestion = did_you_mean(key, allowed); !suggestion.empty()) {
      message += suggestion;
    } else if (allowed.empty()) {
      message += ": it takes no keys, write {}";
    } else {
      message += fmt::format(": expected one of {}", join(allowed, ", "));
    }
    key_issue(child_pointer(ptr, key), message);
  }
}

bool Checker::require_object(const json& j, const std::string& ptr, const std::string& what) {
  if (j.is_object()) return true;
  issue(ptr, fmt::format("{} is not an object: {} must be an object {{...}}", describe(j), what));
  return false;
}

std::optional<std::string> Checker::get_string(const json& j, const std::string& ptr,
                                               const std::string& what) {
  if (j.is_string()) return j.get<std::string>();
  issue(ptr, fmt::format("{} is not a string: expected {}", describe(j), what));
  return std::nullopt;
}

std::optional<Duration> Checker::get_duration(const json& j, const std::string& ptr,
                                              bool allow_zero) {
  std::string error;
  const std::string text = j.is_string() ? j.get<std::string>() : j.dump();
  const auto d = j.is_string() || j.is_number() ? parse_duration(text, &error) : std::nullopt;
  if (!d) {
    if (error.empty()) error = "expected a string such as \"250ms\", \"1.5s\" or \"2m\"";
    issue(ptr, fmt::format("{} is not a duration: {}", describe(j),
                           reason_after(error, " is not a duration: ")));
    return std::nullopt;
  }
  if (!allow_zero && d->count() <= 0) {
    issue(ptr, fmt::format("{} is zero: a timeout must be positive, e.g. \"5s\"", describe(j)));
    return std::nullopt;
  }
  return d;
}

std::optional<std::int64_t> Checker::get_positive_int(const json& j, const std::string& ptr,
                                                      std::int64_t max) {
  const bool integer = j.is_number_unsigned() || j.is_number_integer();
  if (integer && j.get<std::int64_t>() >= 1 &&
      (j.is_number_integer() || j.get<std::uint64_t>() <= static_cast<std::uint64_t>(max)) &&
      j.get<std::int64_t>() <= max) {
    return j.get<std::int64_t>();
  }
  issue(ptr,
        fmt::format("{} is not allowed here: expected an integer from 1 to {}", describe(j), max));
  return std::nullopt;
}

std::optional<std::int64_t> Checker::get_size(const json& j, const std::string& ptr) {
  if (j.is_number_unsigned() || j.is_number_integer()) {
    if (j.get<std::int64_t>() >= 1) return j.get<std::int64_t>();
  } else if (j.is_string()) {
    if (const auto bytes = parse_size(j.get<std::string>())) return bytes;
  }
  issue(ptr, fmt::format("{} is not a size: expected a positive number of bytes (1024) or a "
                         "string with a unit: \"1024B\", \"64KiB\", \"16MiB\", \"1MB\"",
                         describe(j)));
  return std::nullopt;
}

std::optional<double> Checker::get_number(const json& j, const std::string& ptr, double lo,
                                          double hi, const char* meaning) {
  if (j.is_number() && j.get<double>() >= lo && j.get<double>() <= hi) return j.get<double>();
  issue(ptr, fmt::format("{} is not allowed here: expected a number from {} to {} ({})",
                         describe(j), lo, hi, meaning));
  return std::nullopt;
}

std::string Checker::resolve_target(const json& j, const std::string& ptr) {
  const auto written = get_string(j, ptr, "a ws:// or wss:// URL, or \"embedded\"");
  if (!written) return {};
  const std::size_t before = issues_.size();
  std::string url = expand(compile(*written, ptr, TemplateScope::kEnvOnly), {});
  if (issues_.size() != before || url.empty() || url == "embedded") return url;
  // Checked after ${env:...} expansion: that is what goes into the request line. The message
  // quotes the value as written, never the expansion (a secret).
  std::string problem;
  if (!parse_ws_url(url, &problem)) {
    issue(ptr, fmt::format("{} is not a WebSocket URL: {}; expected ws://HOST[:PORT]/PATH, "
                           "wss://HOST[:PORT]/PATH or \"embedded\"",
                           describe(j), problem));
  }
  return url;
}

void Checker::check_headers(const json& j, Scenario& s) {
  if (!require_object(j, "/headers", "\"headers\"")) return;
  for (const auto& name : ordered_keys(j, "/headers")) {
    const json& value = j[name];
    const std::string ptr = child_pointer("/headers", name);
    if (const auto why = header_name_problem(name)) {
      key_issue(ptr,
                fmt::format("{} is not a valid HTTP header name: {}", quote_escaped(name), *why));
    }
    const auto text = get_string(value, ptr, "a header value (a string)");
    if (!text) continue;
    Template t = compile(*text, ptr, TemplateScope::kAll);
    // Every literal byte, ${env:...} values included; the runtime placeholders expand to
    // digits, hex and '-' only (the runner checks the expansion again before sending).
    if (const auto why = header_value_problem(expand_shown(t))) issue(ptr, *why);
    if (const auto why = reserved_header_problem(name, *text)) issue(ptr, *why);
    s.headers.emplace_back(name, std::move(t));
  }
}

std::vector<std::string> Checker::get_string_array(const json& j, const std::string& ptr) {
  std::vector<std::string> out;
  if (!j.is_array()) {
    issue(ptr, fmt::format("{} is not an array: expected an array of strings, e.g. [\"a\"]",
                           describe(j)));
    return out;
  }
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string item_ptr = child_pointer(ptr, i);
    const auto text = get_string(j[i], item_ptr, "a non-empty string");
    if (text && text->empty()) issue(item_ptr, "empty string: expected a non-empty string");
    if (text && !text->empty()) out.push_back(*text);
  }
  return out;
}

Load Checker::check_load(const json& j, const std::string& ptr) {
  Load load;
  if (!require_object(j, ptr, "\"load\"")) return load;
  check_keys(j, ptr,
             {"connections", "concurrency", "rate", "duration", "stages", "max_concurrency"},
             "\"load\"");
  const bool closed = j.contains("connections") || j.contains("concurrency");
  const bool open = j.contains("rate") || j.contains("duration") || j.contains("stages") ||
                    j.contains("max_concurrency");
  if (closed && open) {
    issue(ptr,
          "mixes the closed model (connections, concurrency) with the open model (rate, "
          "duration, stages, max_concurrency): use one of them");
    return load;
  }
  if (open) {
    check_open_load(j, ptr, load);
    return load;
  }
  if (j.contains("connections")) {
    load.connections = get_positive_int(j["connections"], ptr + "/connections", 100'000'000)
                           .value_or(load.connections);
  }
  if (j.contains("concurrency")) {
    load.concurrency = get_positive_int(j["concurrency"], ptr + "/concurrency", 1'000'000)
                           .value_or(load.concurrency);
  }
  return load;
}

void Checker::check_open_load(const json& j, const std::string& ptr, Load& load) {
  std::string error;
  if (j.contains("rate")) {
    const json& r = j["rate"];
    load.rate = r.is_string() ? parse_rate(r.get<std::string>(), &error) : std::nullopt;
    if (!load.rate) {
      issue(ptr + "/rate", fmt::format("{} is not a rate: {}", describe(r),
                                       error.empty() ? "expected e.g. \"20/s\" or \"1200/m\""
                                                     : reason_after(error, " is not a rate: ")));
    }
  }
  if (j.contains("duration")) load.duration = get_duration(j["duration"], ptr + "/duration", false);
  if (j.contains("max_concurrency")) {
    load.max_concurrency =
        get_positive_int(j["max_concurrency"], ptr + "/max_concurrency", 1'000'000)
            .value_or(load.max_concurrency);
  }
  if (j.contains("stages")) load.stages = check_stages(j["stages"], ptr + "/stages");
  if (load.stages.empty() && !j.contains("stages")) {
    if (!j.contains("rate")) {
      issue(ptr, "the open model needs \"rate\" (e.g. \"20/s\") with \"duration\", or \"stages\"");
    } else if (!j.contains("duration")) {
      issue(ptr, "\"rate\" needs a \"duration\" (e.g. \"30s\"): how long to keep arriving");
    }
  }
}

std::vector<Stage> Checker::check_stages(const json& stages, const std::string& stages_ptr) {
  std::vector<Stage> out;
  if (!stages.is_array() || stages.empty()) {
    issue(stages_ptr, fmt::format("{} is not allowed here: expected a non-empty array of "
                                  "{{\"duration\": \"30s\", \"target\": \"20/s\"}}",
                                  describe(stages)));
    return out;
  }
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const std::string sp = child_pointer(stages_ptr, i);
    if (!require_object(stages[i], sp, "a stage")) continue;
    check_keys(stages[i], sp, {"duration", "target"}, "a stage");
    Stage stage;
    if (!stages[i].contains("duration") || !stages[i].contains("target")) {
      issue(sp,
            "a stage needs both \"duration\" and \"target\", e.g. {\"duration\": \"30s\", "
            "\"target\": \"20/s\"}");
      continue;
    }
    stage.duration =
        get_duration(stages[i]["duration"], sp + "/duration", false).value_or(Duration{});
    const json& target = stages[i]["target"];
    const std::string text = target.is_string() ? target.get<std::string>() : "";
    // A ramp down to zero is legitimate; parse_rate rejects zero rates on purpose.
    const auto slash = text.find('/');
    const bool zero = slash != std::string::npos && slash > 0 &&
                      text.find_first_not_of("0.") >= slash &&
                      parse_rate("1" + text.substr(slash)).has_value();
    std::string rate_error;
    const auto rate = zero ? std::optional<Rate>(Rate{0.0}) : parse_rate(text, &rate_error);
    if (!rate) {
      issue(sp + "/target",
            fmt::format("{} is not a rate: {}", describe(target),
                        rate_error.empty() ? "expected e.g. \"20/s\" or \"0/s\""
                                           : reason_after(rate_error, " is not a rate: ")));
    }
    stage.target = rate.value_or(Rate{});
    out.push_back(stage);
  }
  return out;
}

Timeouts Checker::check_timeouts(const json& j, const std::string& ptr) {
  Timeouts t;
  if (!require_object(j, ptr, "\"timeouts\"")) return t;
  std::vector<std::string> keys;
  for (const TimeoutField& f : kTimeoutFields) keys.emplace_back(f.name);
  check_keys(j, ptr, keys, "\"timeouts\"");
  for (const TimeoutField& f : kTimeoutFields) {
    if (!j.contains(f.name)) continue;
    if (const auto d = get_duration(j[f.name], ptr + "/" + f.name, false)) t.*f.field = *d;
  }
  return t;
}

std::vector<ThresholdSpec> Checker::check_thresholds(const json& j, const std::string& ptr) {
  std::vector<ThresholdSpec> out;
  if (!require_object(j, ptr, "\"thresholds\" (metric -> [expressions])")) return out;
  const auto& metrics = known_metrics();
  for (const auto& metric : ordered_keys(j, ptr)) {
    const json& exprs = j[metric];
    const std::string mp = child_pointer(ptr, metric);
    if (!takes_thresholds(metric)) {
      key_issue(mp, fmt::format("{}{} (known metrics: {})", threshold_refusal(metric),
                                did_you_mean(metric, metrics), join(metrics, ", ")));
      continue;
    }
    if (!exprs.is_array()) {
      issue(mp, fmt::format("{} is not an array: expected an array of expressions, e.g. "
                            "[\"p95 < 1s\"]",
                            describe(exprs)));
      continue;
    }
    for (std::size_t i = 0; i < exprs.size(); ++i) {
      const std::string ep = child_pointer(mp, i);
      const auto expr = get_string(exprs[i], ep, "an expression such as \"p95 < 1s\"");
      if (!expr) continue;
      try {
        parse_threshold(metric, *expr, ep);
        out.push_back({metric, *expr, ep});
      } catch (const UsageError& e) {
        // parse_threshold names `where` itself; the issue carries the pointer already.
        std::string message = e.what();
        if (message.rfind(ep + ": ", 0) == 0) message = message.substr(ep.size() + 2);
        issue(ep, message);
      }
    }
  }
  return out;
}

std::map<std::string, ProfileOverride> Checker::check_environments(const json& j,
                                                                   const std::string& ptr) {
  std::map<std::string, ProfileOverride> out;
  if (!require_object(j, ptr, "\"environments\" (profile -> overrides)")) return out;
  for (const auto& name : ordered_keys(j, ptr)) {
    const json& value = j[name];
    const std::string np = child_pointer(ptr, name);
    const auto canonical = canonical_profile_name(name);
    if (!canonical) {
      key_issue(np, fmt::format("unknown profile \"{}\": expected one of production (prod), "
                                "staging (stage), development (dev), local, test",
                                name));
      continue;
    }
    if (out.count(*canonical) != 0) {
      key_issue(np,
                fmt::format("profile \"{}\" is given twice (as an alias of {})", name, *canonical));
      continue;
    }
    if (!require_object(value, np, "a profile override")) continue;
    check_keys(value, np, {"multiplier", "margin", "target"}, "a profile override");
    ProfileOverride o;
    // Bounded so that scaled durations stay meaningful: 1e308 overflowed every `within` in
    // `run` (negative: immediate timeouts), and a tiny multiplier scaled them all to zero.
    if (value.contains("multiplier")) {
      o.multiplier = get_number(value["multiplier"], np + "/multiplier", kMinMultiplier,
                                kMaxMultiplier, "thresholds and timeouts are multiplied by it");
    }
    if (value.contains("margin")) {
      o.margin = get_number(value["margin"], np + "/margin", 0.0, kMaxMargin,
                            "timeouts also grow by it: 0.2 is 20%");
    }
    if (value.contains("target")) o.target = resolve_target(value["target"], np + "/target");
    out[*canonical] = o;
  }
  return out;
}

// The target and what goes into the upgrade request.
void Checker::check_deflate_parameters(const json& j, Scenario& s) {
  const std::string ptr = "/permessage_deflate";
  check_keys(j, ptr,
             {"client_max_window_bits", "server_max_window_bits", "client_no_context_takeover",
              "server_no_context_takeover"},
             "\"permessage_deflate\" (RFC 7692 offer parameters)");
  // In RFC 7692's order (§7.1): the windows, then the context takeovers.
  std::string offer = "permessage-deflate";
  for (const char* key : {"client_max_window_bits", "server_max_window_bits"}) {
    if (!j.contains(key)) continue;
    const json& v = j[key];
    const std::string at = ptr + "/" + key;
    if (v.is_boolean() && std::string(key) == "client_max_window_bits") {
      // true: offered without a value (the server may choose); false: not offered
      if (v.get<bool>()) offer += "; client_max_window_bits";
    } else if (v.is_number_integer() && v.get<std::int64_t>() >= 8 && v.get<std::int64_t>() <= 15) {
      offer += fmt::format("; {}={}", key, v.get<std::int64_t>());
    } else {
      issue(at, fmt::format("expected a window size in bits from 8 to 15{}, got {}",
                            std::string(key) == "client_max_window_bits" ? " (or true)" : "",
                            v.dump()));
    }
  }
  for (const char* key : {"client_no_context_takeover", "server_no_context_takeover"}) {
    if (!j.contains(key)) continue;
    const json& v = j[key];
    if (!v.is_boolean()) {
      issue(ptr + "/" + key, "expected true or false, got " + v.dump());
    } else if (v.get<bool>()) {
      offer += fmt::format("; {}", key);
    }
  }
  s.permessage_deflate = true;
  s.permessage_deflate_offer = offer;
}

void Checker::check_connection(const json& doc, Scenario& s) {
  if (doc.contains("target")) s.target = resolve_target(doc["target"], "/target");
  if (doc.contains("headers")) check_headers(doc["headers"], s);
  if (doc.contains("subprotocols")) {
    s.subprotocols = get_string_array(doc["subprotocols"], "/subprotocols");
    const json& list = doc["subprotocols"];
    for (std::size_t i = 0; list.is_array() && i < list.size(); ++i) {
      if (!list[i].is_string() || list[i].get<std::string>().empty()) continue;  // said above
      if (const auto why = subprotocol_problem(list[i].get<std::string>())) {
        issue(child_pointer("/subprotocols", i), *why);
      }
    }
  }
  if (doc.contains("require_subprotocol")) {
    const json& v = doc["require_subprotocol"];
    if (!v.is_boolean()) {
      issue("/require_subprotocol", "expected true or false, got " + v.dump());
    } else {
      s.require_subprotocol = v.get<bool>();
      if (s.require_subprotocol && s.subprotocols.empty()) {
        issue("/require_subprotocol", "true without \"subprotocols\": list the ones to offer");
      }
    }
  }
  if (doc.contains("permessage_deflate")) {
    const json& v = doc["permessage_deflate"];
    if (v.is_object()) {
      check_deflate_parameters(v, s);
    } else if (!v.is_boolean()) {
      issue("/permessage_deflate",
            "expected true, false or an object of RFC 7692 parameters, got " + v.dump());
    } else {
      s.permessage_deflate = v.get<bool>();
    }
  }
  if (doc.contains("redact")) s.redact = get_string_array(doc["redact"], "/redact");
  if (doc.contains("tls") && require_object(doc["tls"], "/tls", "\"tls\" (client TLS options)")) {
    const json& tls = doc["tls"];
    check_keys(tls, "/tls", {"cert", "key", "sni", "min_version"}, "\"tls\"");
    for (const auto& [key, field] :
         {std::pair{"cert", &TlsOptions::cert}, std::pair{"key", &TlsOptions::key},
          std::pair{"sni", &TlsOptions::sni}, std::pair{"min_version", &TlsOptions::min_version}}) {
      if (!tls.contains(key)) continue;
      const std::string ptr = std::string("/tls/") + key;
      if (const auto v = get_string(tls[key], ptr, "a non-empty string")) {
        if (v->empty()) issue(ptr, "expected a non-empty string");
        s.tls.*field = *v;
      }
    }
    if (s.tls.cert.empty() != s.tls.key.empty()) {
      issue("/tls", "a client certificate needs both \"cert\" and \"key\"");
    }
    if (!s.tls.min_version.empty() && s.tls.min_version != "1.2" && s.tls.min_version != "1.3") {
      issue("/tls/min_version", "expected \"1.2\" or \"1.3\"");
    }
  }
}

Scenario Checker::check(const json& doc) {
  Scenario s;
  s.file = file_;
  if (!require_object(doc, "", "a scenario file")) throw ScenarioError(issues_);
  check_keys(doc, "", kTopLevelKeys, "the scenario");
  if (!doc.contains("name")) {
    issue("", "missing \"name\": give the scenario a name, e.g. \"name\": \"chat-golden-path\"");
  } else if (const auto name = get_string(doc["name"], "/name", "a non-empty name")) {
    if (name->empty()) issue("/name", "empty name: expected a non-empty string");
    s.name = *name;
  }
  // For editors (schema/scenario.schema.json); otherwise ignored.
  if (doc.contains("$schema"))
    get_string(doc["$schema"], "/$schema", "the path or URL of a schema");
  check_connection(doc, s);
  check_login_fields(doc, s);
  if (doc.contains("load")) s.load = check_load(doc["load"], "/load");
  if (doc.contains("timeouts")) s.timeouts = check_timeouts(doc["timeouts"], "/timeouts");
  if (doc.contains("max_message_size")) {
    s.max_message_bytes =
        get_size(doc["max_message_size"], "/max_message_size").value_or(s.max_message_bytes);
  }
  if (doc.contains("embedded")) {
    if (require_object(doc["embedded"], "/embedded", "\"embedded\" (serve options)")) {
      s.embedded = doc["embedded"];
    }
  }
  check_rooms(doc, s);  // before the steps: ${room} needs the size
  if (doc.contains("roles")) {
    if (doc.contains("steps")) {
      key_issue("/steps",
                "a scenario has either \"steps\" (every connection runs them) or "
                "\"roles\" (each role its own steps), not both: move the steps into a "
                "role");
    }
    s.roles = check_roles(doc["roles"], "/roles");
  } else if (!doc.contains("steps")) {
    issue("",
          "missing \"steps\": expected a non-empty array of steps, e.g. "
          "[{\"send\": {\"text\": \"hi\"}}, {\"expect\": {\"any\": true}}] (or \"roles\")");
  } else {
    s.steps = check_steps(doc["steps"], "/steps", 0);
  }
  if (s.roles.empty() && (s.steps.empty() || !s.steps.front().is<ConnectStep>())) {
    s.steps.insert(s.steps.begin(), Step{"/steps", ConnectStep{}});  // implied: not in the file
  }
  if (s.room_size > 0 && !s.roles.empty()) {
    std::int64_t sum = 0;
    for (const Role& r : s.roles) sum += r.count;
    if (sum != s.room_size) {
      issue("/rooms/size", fmt::format("a room has {} members but the roles' counts add up to {}: "
                                       "the counts apply per room, make them add up to the size",
                                       s.room_size, sum));
    }
  }
  check_deliveries(doc, s);
  check_presence(doc, s);
  if (doc.contains("on")) s.rules = check_rules(doc["on"], "/on");
  check_on_drop(doc, s);
  check_names(s);
  check_variables();
  s.variables = variables_;
  check_data(doc, s);
  if (s.rooms_by) s.rooms_by->data = s.data;  // ${data:NAME} in "by"
  if (doc.contains("thresholds")) {
    s.thresholds = check_thresholds(doc["thresholds"], "/thresholds");
    for (const auto& t : s.thresholds) {
      const std::size_t at = t.metric.find('@');
      if (at != std::string::npos) {
        const std::string role = t.metric.substr(at + 1);
        if (std::none_of(s.roles.begin(), s.roles.end(),
                         [&](const Role& r) { return r.name == role; })) {
          key_issue(
              t.pointer.substr(0, t.pointer.rfind('/')),
              fmt::format("no role is named \"{}\": METRIC@ROLE names a role of \"roles\"", role));
        }
      }
      if (t.metric.rfind("rtt.", 0) == 0 && t.metric.find('@') == std::string::npos &&
          std::find(s.step_metrics.begin(), s.step_metrics.end(), t.metric) ==
              s.step_metrics.end()) {
        issue(t.pointer,
              fmt::format("no expect is named \"{}\": {} is the latency of the expect "
                          "step with that \"name\"{}",
                          t.metric.substr(4), t.metric, did_you_mean(t.metric, s.step_metrics)));
      }
    }
  } else {
    s.thresholds = default_thresholds();
    s.thresholds_defaulted = true;
  }
  if (doc.contains("environments")) {
    s.environments = check_environments(doc["environments"], "/environments");
  }
  check_steps_cross(s);
  if (!issues_.empty()) {
    std::stable_sort(issues_.begin(), issues_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    throw ScenarioError(issues_);
  }
  s.secrets = secrets_;
  return s;
}

}  // namespace wslat::scenario_detail
