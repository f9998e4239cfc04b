// The scenario checker (internal to lib/scenario_*.cpp): walks the parsed document, builds the
// Scenario and collects every issue with its location. The top level, load, timeouts,
// thresholds and environments are checked in scenario_check.cpp, steps (one overload of
// check_body per kind) in scenario_steps.cpp, templates in scenario_template.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario.hpp"
#include "scenario_diagnostics.hpp"

namespace wslat::scenario_detail {

constexpr std::int64_t kMaxRepeatTimes = 1'000'000;
constexpr std::int64_t kMaxFlatSteps = 1'000'000;

// Where a template is: only ${env:...} resolved (target, ...); a step (variables in file order);
// a rule of "on" (may fire at any time: its variables need a capture anywhere).
enum class TemplateScope { kEnvOnly, kAll, kRule };

// The literal text of a template, its placeholders left out (to check a templated regex).
std::string expand_blank(const Template& t);

class Checker {
 public:
  using json = nlohmann::json;

  Checker(const std::string& text, std::string file, const EnvLookup& env)
      : text_(text), file_(std::move(file)), env_(env), locations_(text_) {}

  Scenario check(const json& doc);

 private:
  // Where a step's body is checked: the step's pointer ("/steps/2"), its body's
  // ("/steps/2/send"), how many repeats enclose it and its index in its array.
  struct StepSite {
    std::string step;
    std::string body;
    int depth = 0;
    std::size_t index = 0;
  };

  ScenarioIssue located(std::optional<std::size_t> offset, std::string ptr,
                        std::string message) const;
  // At the value `ptr` names, else at its nearest ancestor in the text.
  void issue(const std::string& ptr, std::string message);
  // At the key naming `ptr` (or the nearest ancestor's key), else as issue().
  void key_issue(const std::string& ptr, std::string message);
  // Keys of an object in file order (nlohmann sorts them), so output follows the file.
  std::vector<std::string> ordered_keys(const json& obj, const std::string& ptr) const;

  void check_keys(const json& obj, const std::string& ptr, const std::vector<std::string>& allowed,
                  const std::string& what);
  bool require_object(const json& j, const std::string& ptr, const std::string& what);
  std::optional<std::string> get_string(const json& j, const std::string& ptr,
                                        const std::string& what);
  std::optional<Duration> get_duration(const json& j, const std::string& ptr, bool allow_zero);
  std::optional<std::int64_t> get_positive_int(const json& j, const std::string& ptr,
                                               std::int64_t max);
  std::optional<std::int64_t> get_size(const json& j, const std::string& ptr);
  std::optional<double> get_number(const json& j, const std::string& ptr, double lo, double hi,
                                   const char* meaning);

  Template compile(const std::string& text, const std::string& ptr, TemplateScope scope,
                   Template::Part::Into into = Template::Part::Into::kText);
  void compile_json(Template& out, const json& j, const std::string& ptr,
                    TemplateScope scope = TemplateScope::kAll);
  std::optional<std::string> env_value(const std::string& var, const std::string& ptr);
  std::optional<Template::Part> runtime_part(std::string name, const std::string& ptr,
                                             TemplateScope scope);
  // The index of variable `name` in Scenario::variables (added when first seen).
  std::size_t variable(const std::string& name);
  void check_variables();
  // The index of data field `name` in DataTable::fields (added when first seen).
  std::size_t data_field(const std::string& name);
  // "data": the file, its order, and every ${data:NAME} against its columns (scenario_data.cpp).
  void check_data(const json& doc, Scenario& s);
  std::optional<DataFeed> check_data_block(const json& j, const std::string& ptr);
  void load_data(DataFeed& feed);
  std::string resolve_target(const json& j, const std::string& ptr);

  void check_connection(const json& doc, Scenario& s);
  // "permessage_deflate" as an object of RFC 7692 offer parameters.
  void check_deflate_parameters(const json& j, Scenario& s);
  void check_headers(const json& j, Scenario& s);
  // "origin", "cookies" and "login" (lib/scenario_login.cpp).
  void check_login_fields(const json& doc, Scenario& s);
  std::optional<LoginSpec> check_login(const json& j, const std::string& ptr);
  void check_cookies(const json& j, Scenario& s);
  std::vector<std::string> get_string_array(const json& j, const std::string& ptr);
  Load check_load(const json& j, const std::string& ptr);
  void check_open_load(const json& j, const std::string& ptr, Load& load);
  std::vector<Stage> check_stages(const json& stages, const std::string& stages_ptr);
  Timeouts check_timeouts(const json& j, const std::string& ptr);
  std::vector<ThresholdSpec> check_thresholds(const json& j, const std::string& ptr);
  std::map<std::string, ProfileOverride> check_environments(const json& j, const std::string& ptr);

  std::vector<Step> check_steps(const json& j, const std::string& ptr, int depth);
  std::optional<Step> check_step(const json& j, const std::string& ptr, int depth,
                                 std::size_t index);
  // One per step kind: a kind without one does not compile (check_step visits StepBody).
  void check_body(const json& j, const StepSite& at, ConnectStep& connect);
  void check_body(const json& j, const StepSite& at, SendStep& send);
  void check_body(const json& j, const StepSite& at, ExpectStep& expect);
  void check_body(const json& j, const StepSite& at, SleepStep& sleep);
  void check_body(const json& j, const StepSite& at, PingStep& ping);
  void check_body(const json& j, const StepSite& at, CloseStep& close);
  void check_body(const json& j, const StepSite& at, ReconnectStep& reconnect);
  void check_body(const json& j, const StepSite& at, RepeatStep& repeat);
  void check_matcher(const json& j, const std::string& ptr, ExpectStep& expect,
                     TemplateScope scope);
  void check_expect_fields(const json& j, const std::string& ptr, ExpectStep& expect,
                           TemplateScope scope);
  void check_binary_matcher(const json& value, const std::string& ptr, ExpectStep& expect);
  void check_send_fields(const json& j, const std::string& ptr, SendStep& send,
                         TemplateScope scope);
  std::vector<BinaryPart> check_binary_parts(const json& j, const std::string& ptr,
                                             TemplateScope scope, int depth);
  // "capture" of an expect or rule (`of_message`) or of the connect step; `of_login`: of the
  // "login" (the response's status, headers and cookies, and its body as a message).
  std::vector<Capture> check_captures(const json& j, const std::string& ptr, bool of_message,
                                      const ExpectStep* expect, TemplateScope scope,
                                      bool of_login = false);
  Capture message_capture(const std::string& from, const json& arg, const std::string& fp);
  std::vector<Rule> check_rules(const json& j, const std::string& ptr);
  void check_names(Scenario& s);
  // Roles, rooms and deliveries (lib/scenario_roles.cpp).
  std::vector<Role> check_roles(const json& j, const std::string& ptr);
  void check_rooms(const json& doc, Scenario& s);
  void check_rooms_by(const json& j, Scenario& s);
  std::optional<Capture> check_id(const json& j, const std::string& ptr);
  void check_deliveries(const json& doc, Scenario& s);
  void check_sent_at(const json& j, const std::string& ptr, Deliveries& d);
  void check_presence(const json& doc, Scenario& s);
  // A matcher + "id" (+ "pass"): "deliveries" and "presence"; `what` names it in messages.
  std::optional<Deliveries> check_recognizer(const json& j, const std::string& ptr,
                                             const std::string& what);
  void check_regex(const json& value, const std::string& ptr, ExpectStep& expect,
                   TemplateScope scope);
  bool check_var_name(const std::string& name, const std::string& ptr);
  std::string step_name(const json& j, const std::string& ptr);
  void check_steps_cross(const Scenario& s);
  // Reconnects (lib/scenario_reconnect.cpp): "on_drop", and the policy it shares with the step.
  void check_on_drop(const json& doc, Scenario& s);
  ReconnectPolicy check_reconnect_policy(const json& j, const std::string& ptr,
                                         ReconnectPolicy policy);

  const std::string& text_;
  std::string file_;
  const EnvLookup& env_;
  LocationIndex locations_;
  std::vector<ScenarioIssue> issues_;
  std::vector<std::string> secrets_;
  bool closed_ = false;  // a top-level close was seen: later steps are issues
  // Variables: their names, and where each is used and captured, in file order (step_order_).
  struct VarUse {
    std::size_t var = 0;
    std::string ptr;
    int order = 0;
  };
  static constexpr int kAnytime = -2;  // used or captured by a rule
  static constexpr int kLogin = -3;    // used or captured by the "login", before the headers
  std::vector<std::string> variables_;
  std::vector<VarUse> var_refs_, var_captures_;
  // ${data:NAME} fields by index, and where each is used (order -1: a header).
  std::vector<std::string> data_fields_;
  std::vector<VarUse> data_refs_;
  int step_order_ = -1;  // -1: before the connection (headers); then one per step
  int ready_marks_ = 0;
  std::int64_t room_size_ = 0;               // "rooms" size, for ${room}
  std::shared_ptr<const RoomsBy> rooms_by_;  // "rooms": {"by": ...}, for ${room}
};

}  // namespace wslat::scenario_detail
