// The scenario model: structs, parsing with located errors, and effective budgets. Where the
// code lives: docs/design.md.
// A Scenario is a value: parse once, validate everything at once, then hand it to the runner.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "threshold_types.hpp"
#include "timeouts.hpp"
#include "units.hpp"

namespace re2 {
class RE2;
}

namespace wslat {

// A variable's value on one connection: text, and whether that text is JSON (a number,
// boolean, null, object or array captured from a JSON message) rather than a string.
struct VarValue {
  std::string text;
  bool is_json = false;
  bool set = false;
};
using Vars = std::vector<VarValue>;  // indexed like Scenario::variables

class RoomsBy;

// A string with ${...} placeholders, compiled at parse time.
// ${env:NAME} is resolved when the scenario is loaded (its value is a secret: see
// Scenario::secrets); ${iteration}, ${connection}, ${uuid}, ${now_ms}, ${now_us}, ${var:NAME} (a
// captured variable, per connection) and ${data:NAME} (a field of the connection's row of the
// data file) per use. README "Templates and variables".
struct Template {
  struct Part {
    enum class Kind {
      kLiteral,
      kIteration,
      kConnection,
      kUuid,
      kNowMs,
      kNowUs,
      kVar,
      kData,
      kRoom
    } kind = Kind::kLiteral;
    std::string literal;         // kLiteral: the text; kVar, kData: the variable's or field's name
    std::size_t var = 0;         // kVar: index in Scenario::variables; kData: in DataTable::fields
    std::int64_t room_size = 0;  // kRoom: "rooms" size (the room is connection / size), 0: none
    std::shared_ptr<const RoomsBy> rooms_by =
        nullptr;  // kRoom with "rooms": {"by": ...}: the room's name
    // Where the expansion lands: plain text; inside a JSON string (escaped); a whole JSON value
    // (typed: a captured number stays a number); a regular expression (quoted, matched as is).
    enum class Into { kText, kJsonString, kJsonValue, kRegex } into = Into::kText;
    // A ":string" or ":number" suffix: the JSON type of a whole-value placeholder.
    enum class As { kAuto, kString, kNumber } as = As::kAuto;
  };
  std::vector<Part> parts;
  bool is_constant() const;
};

struct TemplateContext {
  std::int64_t connection = 0;  // 0-based index of the connection in the whole run
  std::int64_t iteration = 0;   // 0-based index of the innermost enclosing repeat, else 0
  const Vars* vars = nullptr;   // the connection's variables (nullptr: none set yet)
  const Vars* row = nullptr;    // the connection's data row, by DataTable::fields (${data:NAME})
};
// A template that cannot be expanded on this connection: a variable not captured (yet), a
// ":number" value that is not a number. The session fails as `template.unset`.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
std::string expand(const Template& t, const TemplateContext& ctx);
// For outputs and checks before any connection: connection 0, iteration 0, and every
// ${var:NAME} and ${data:NAME} written as such.
std::string expand_shown(const Template& t);

// Where a step or rule stores part of what it matched into a variable. On an expect or a rule:
// a JSON pointer into a JSON message, a regex (group 1, else the whole match), or the whole
// text; on connect: the upgrade response's status, a header or a cookie.
struct Capture {
  enum class From { kJson, kRegex, kText, kStatus, kHeader, kCookie } from = From::kText;
  std::size_t var = 0;                    // index in Scenario::variables
  std::string arg;                        // kJson: pointer; kHeader, kCookie: the name
  std::shared_ptr<const re2::RE2> regex;  // kRegex
};
// The value `capture` takes from a matched message (`parsed`: the message as JSON, if it is
// JSON), or nullopt when the message does not have it (then the message does not match).
std::optional<VarValue> capture_from_message(const Capture& capture, const std::string& message,
                                             const nlohmann::json* parsed);

// One struct per step kind, named in the file by kName. To add a kind: a struct here, an entry
// in StepBody, then the compiler names every layer that must handle it (each visits the variant
// without a catch-all): its parsing and budget (lib/scenario_steps.cpp) and its execution
// (Session::run_step in lib/net/session.hpp).
struct ConnectStep {
  static constexpr const char* kName = "connect";
  std::vector<Capture> captures;  // from the upgrade response
};

// Bytes to send built from parts: hex, templated text, numbers and length prefixes (MQTT,
// custom binary protocols). A part is exactly one of these.
struct BinaryPart {
  enum class Kind { kBytes, kText, kUint, kLength } kind = Kind::kBytes;
  std::string bytes;           // kBytes
  Template text;               // kText: UTF-8 text; kUint: the number
  int width = 1;               // kUint, kLength: 1, 2 or 4 bytes big-endian; 0 = varint
  std::vector<BinaryPart> of;  // kLength: the parts whose byte count it prefixes
};
std::string build_binary(const std::vector<BinaryPart>& parts, const TemplateContext& ctx);

struct SendStep {
  static constexpr const char* kName = "send";
  enum class Kind { kText, kJson, kBinary, kSize } kind = Kind::kText;
  Template payload;               // text and json (json is serialized then templated)
  std::string binary;             // decoded bytes for kBinary
  std::vector<BinaryPart> parts;  // kBinary written as parts (then `binary` is unused)
  std::size_t size = 0;           // kSize: generated payload of this many bytes (text, 'x'...)
  std::string name;               // "name": pairs it with the expects of that name (per-step rtt)
  std::size_t pair = kNoPair;     // index of the name among Scenario::paired_sends, or kNoPair
  static constexpr std::size_t kNoPair = static_cast<std::size_t>(-1);
  // "broadcast": where the correlation id is in the sent message (a JSON pointer, a regex group
  // or the whole text): the other members of the room time its delivery (Scenario::deliveries).
  std::optional<Capture> broadcast;
  // "join": this send joins the room; where the member's id is in it. The other members that
  // receive its presence event (Scenario::presence) time it.
  std::optional<Capture> join;
};

// Its implicit noexcept constructors call nlohmann::json's noexcept ones, in whose bodies the
// analysis sees a throw (for value types other than null) that it cannot rule out.
struct ExpectStep {  // NOLINT(bugprone-exception-escape): see above; they do not throw
  static constexpr const char* kName = "expect";
  enum class Kind { kJson, kText, kRegex, kAny, kBinary } kind = Kind::kAny;
  nlohmann::json json;                    // kJson: subset to match (when `pattern` is constant)
  std::string text;                       // kText: exact text; kRegex: the pattern source
  std::shared_ptr<const re2::RE2> regex;  // kRegex (RE2 syntax, search semantics), constant
  Template pattern;                // kJson, kText, kRegex as a template: expanded per connection
  std::string bytes, mask;         // kBinary: the bytes, and 0x00 where a byte is "??" (any)
  bool prefix = false;             // kBinary: the message starts with `bytes` (else equals them)
  std::optional<Duration> within;  // else timeouts.message
  std::string mark;                // "ready" marks perceived latency
  std::vector<Capture> captures;
  std::string name;                      // "name": its own metric rtt.<name>
  std::size_t metric = kNoMetric;        // index in Scenario::step_metrics
  std::size_t pair = SendStep::kNoPair;  // sends of the same name it is timed from
  static constexpr std::size_t kNoMetric = static_cast<std::size_t>(-1);
};

// An expect step made ready for one connection: its templates expanded with the connection's
// variables (a constant one uses the step's own pattern). Built when the expect starts waiting.
class Expectation {
 public:
  // Throws TemplateError when a variable it uses is not set.
  Expectation(const ExpectStep& step, const TemplateContext& ctx);
  // True when `message` satisfies the expectation and every capture could be taken; the
  // captured values are then stored into `vars` (when not nullptr). A regex sees the whole
  // message and answers in time linear in it; a json expectation never matches a message nested
  // deeper than kMaxJsonDepth (json_text.hpp).
  bool match(const std::string& message, Vars* vars) const;
  const ExpectStep& step() const { return *step_; }
  // What it waits for, in a few words: `json {"id":3}`, `text "pong"`, `any message`.
  std::string describe() const;

 private:
  const ExpectStep* step_;
  nlohmann::json json_;                    // kJson with a templated pattern
  std::string text_;                       // kText with a templated pattern
  std::shared_ptr<const re2::RE2> regex_;  // kRegex with a templated pattern
};
// True when `message` (one received text/binary message) satisfies the expectation, with no
// variables set: Expectation(expect, {}).match(message, nullptr).
bool matches(const ExpectStep& expect, const std::string& message);
// Compiles a regex expectation's pattern as scenario files are (RE2 syntax, UTF-8). nullptr,
// with RE2's reason in `error`, when RE2 cannot express it (backreferences, lookaround).
std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, std::string* error);

struct SleepStep {
  static constexpr const char* kName = "sleep";
  Duration duration{};
};

struct PingStep {
  static constexpr const char* kName = "ping";
  std::string payload;
  std::optional<Duration> within;  // else timeouts.message
};

struct CloseStep {
  static constexpr const char* kName = "close";
  std::uint16_t code = 1000;
  std::string reason;
};

// How a session connects again (README "Reconnects"): at most `attempts` tries; the first at
// once, try k >= 2 `delay(k)` after try k-1 failed. Each try is bounded by the connect and
// handshake timeouts.
struct ReconnectPolicy {
  std::int64_t attempts = 1;
  Duration initial = std::chrono::milliseconds(100);  // the wait before the second try
  Duration max = std::chrono::seconds(2);             // no wait is longer
  double factor = 2;                                  // each wait is the previous one × factor
  double jitter = 0;  // each wait × a uniform random value in [1 - jitter, 1 + jitter]
  // The wait before try `attempt` (1-based; 0 for the first) without jitter, saturated at max.
  Duration delay(std::int64_t attempt) const;
  // The sum of every wait, each at its longest (jitter included): for the worst-case budget.
  Duration total_delay() const;
};

// Closes the connection (a close handshake, or "drop": the TCP connection torn down with no
// close frame, as a lost network does) and connects again to the same target; the steps go on
// with the connection's variables kept (resume tokens).
struct ReconnectStep {
  static constexpr const char* kName = "reconnect";
  bool drop = false;
  ReconnectPolicy policy;
};

struct Step;
struct RepeatStep {
  static constexpr const char* kName = "repeat";
  std::int64_t times = 1;
  std::vector<Step> steps;
};

// The kinds in the order error messages list them.
using StepBody = std::variant<ConnectStep, SendStep, ExpectStep, SleepStep, PingStep, CloseStep,
                              ReconnectStep, RepeatStep>;

struct Step {
  std::string pointer;  // JSON pointer of the step in the file, e.g. "/steps/3"
  StepBody body;

  template <class Kind>
  bool is() const {
    return std::holds_alternative<Kind>(body);
  }
  // The payload when the step is of this kind, else nullptr.
  template <class Kind>
  const Kind* as() const {
    return std::get_if<Kind>(&body);
  }
};

// The step kinds' names ("connect", "send", ...) in StepBody order.
std::vector<std::string> step_kind_names();

// A step of the flattened program the runner executes: repeats unrolled, each step
// carrying its template context iteration.
struct FlatStep {
  const Step* step = nullptr;  // never a RepeatStep
  std::int64_t iteration = 0;
};
// Unrolls repeats. Throws UsageError if the unrolled program exceeds 1,000,000 steps.
std::vector<FlatStep> flatten(const std::vector<Step>& steps);

struct Stage {
  Duration duration{};
  Rate target{};  // the rate reached at the end of the stage (linear from the previous)
};

struct Load {
  // Closed model.
  std::int64_t connections = 1;
  std::int64_t concurrency = 1;
  // Open model (rate/stages set): arrivals at the intended times for `duration`.
  std::optional<Rate> rate;
  std::optional<Duration> duration;
  std::vector<Stage> stages;
  std::int64_t max_concurrency = 10'000;
  bool open_model() const { return rate.has_value() || !stages.empty(); }
};

// Per-profile overrides under "environments": {"staging": {...}}.
struct ProfileOverride {
  std::optional<double> multiplier;
  std::optional<double> margin;
  std::optional<std::string> target;
};

// A rule that runs in the background of every connection (the scenario's "on"): when a message
// matching `when` arrives, send `reply` (answering server pings, acknowledging); or every
// `every`, send `reply` (application heartbeats). A message a rule handled is not offered to the
// steps' expects unless `pass` is set.
struct Rule {
  std::string pointer;             // "/on/0"
  std::optional<ExpectStep> when;  // a message rule: its matcher and captures
  std::optional<Duration> every;   // a periodic rule
  std::optional<SendStep> reply;   // what to send (a message rule may only capture)
  bool pass = false;
};

// Client TLS options of a scenario ("tls"); --cert/--key, --sni and --tls-min override them.
// Paths as written (relative ones are relative to the scenario file's folder).
struct TlsOptions {
  std::string cert, key, sni, min_version;
};

// "login": an HTTP(S) request each connection makes before it connects (README "Login before
// connecting"). Its captures (status, header, cookie, or the body: json, regex, text) are set
// before the upgrade request is built, so the headers, "origin" and "cookies" may use them.
struct LoginSpec {
  std::string method;  // "GET" without a body, else "POST" unless written
  Template url;
  std::vector<std::pair<std::string, Template>> headers;
  std::optional<Template> body;  // "body" (text) or "json" (then Content-Type: application/json)
  std::string content_type;      // "" or the implied one of "json"
  std::vector<Capture> captures;
  bool send_cookies = false;  // the cookies the login set go with the upgrade ("Cookie")
};

// The scenario's "data" file, loaded once when the scenario is checked and shared read-only by
// every connection (copies of the Scenario share it too): CSV with a header line, or JSON Lines
// (one object per line). Only the fields the templates use are kept. README "Data files".
struct DataTable {
  std::vector<std::string> fields;  // the ${data:NAME} fields used, by Part::var
  std::vector<Vars> rows;           // each row: one value per field (CSV: strings; JSONL: typed)
};
struct DataFeed {
  enum class Order { kSequential, kRandom, kUnique } order = Order::kSequential;
  static constexpr std::uint64_t kDefaultSeed = 0;
  std::uint64_t seed = kDefaultSeed;  // "random": the same seed picks the same rows
  std::string file;                   // as written
  std::string path;                   // as opened: relative to the scenario file's directory
  std::shared_ptr<const DataTable> table;
  // Where "order" (else "file") is in the scenario file, for the row count check.
  std::string pointer;
  int line = 0, column = 0;
  // The row connection `connection` (the global index of the whole run, all shards) uses:
  // sequential: connection % rows; random: a hash of (connection, seed) % rows; unique:
  // connection (check_data_rows made sure there are enough).
  std::size_t row_index(std::int64_t connection) const;
  const Vars* row(std::int64_t connection) const;
};

// "rooms": {"by": "${data:room}"}: a connection's room is the value of `by` on it (its data row,
// ${connection}); connections with the same value share a room, numbered in order of first
// appearance, and ${room} is that value. Computed for connections 0..i when i is first asked
// (thread-safe), so every process and worker sees the same rooms. README "Roles, rooms and
// delivery latency".
class RoomsBy {
 public:
  std::string text;  // "by" as written
  Template by;
  std::optional<DataFeed> data;  // the scenario's, for ${data:NAME} in `by`
  struct Place {
    std::int64_t room = 0;      // 0-based, in order of first appearance
    std::int64_t position = 0;  // the member's 0-based position in its room
  };
  Place place(std::int64_t connection) const;
  std::string name(std::int64_t room) const;  // the value of `by` that made the room

 private:
  mutable std::mutex mu_;
  mutable std::vector<Place> places_;  // by connection
  mutable std::map<std::string, std::int64_t> ids_;
  mutable std::vector<std::string> names_;   // by room
  mutable std::vector<std::int64_t> sizes_;  // by room: members so far
};

// A role ("roles"): a step list run by `count` connections of every `count`-sum (or room).
struct Role {
  std::string name;
  std::string pointer;  // "/roles/listener"
  std::int64_t count = 1;
  std::vector<Step> steps;  // a leading connect is implied when missing
};

// "deliveries": how a member recognises a broadcast message and finds its id in it.
struct Deliveries {  // NOLINT(bugprone-exception-escape): as ExpectStep
  ExpectStep when;   // the matcher (no captures)
  Capture id;
  bool pass = false;  // also offered to the steps' expects
  // "sent_at": where the sender's wall-clock send time (Unix epoch, `sent_at_unit`) is in the
  // message: a broadcast this process did not send is timed by it (receipt wall time - it).
  std::optional<Capture> sent_at;
  enum class Unit { kMs, kUs } sent_at_unit = Unit::kMs;
};

struct Scenario {
  std::string name;
  std::string file;    // path as given
  std::string sha256;  // of the file's bytes
  std::string target;  // "" or "embedded" -> the embedded server
  std::vector<std::pair<std::string, Template>> headers;
  std::vector<std::string> subprotocols;
  // The server must select one of `subprotocols`, or the connection fails (upgrade.subprotocol);
  // otherwise selecting none is a warning.
  bool require_subprotocol = false;
  // Offer permessage-deflate (RFC 7692); the server may decline (result "negotiated").
  bool permessage_deflate = false;
  // Its Sec-WebSocket-Extensions offer when "permessage_deflate" is an object of parameters;
  // "" for true (the browsers' offer, kDeflateOffer).
  std::string permessage_deflate_offer;
  TlsOptions tls;
  std::optional<Template> origin;                         // "origin": the Origin header
  std::vector<std::pair<std::string, Template>> cookies;  // "cookies": one Cookie header
  std::optional<LoginSpec> login;                         // "login"
  std::vector<std::string> redact;   // extra header names to redact (case-insensitive)
  std::vector<std::string> secrets;  // values resolved from ${env:...}: never printed
  Load load;
  Timeouts timeouts;
  std::vector<Step> steps;            // a leading connect is implied when missing
  std::vector<Role> roles;            // "roles" instead of "steps" (then `steps` is empty)
  std::int64_t room_size = 0;         // "rooms": {"size": N}; 0: the run is one room (or "by")
  std::shared_ptr<RoomsBy> rooms_by;  // "rooms": {"by": ...}
  std::optional<Deliveries> deliveries;
  std::optional<Deliveries> presence;  // "presence": a member's presence event and its id
  Duration delivery_wait = std::chrono::seconds(5);  // "delivery_wait"
  std::vector<Rule> rules;                           // "on"
  std::vector<std::string> variables;                // names of the ${var:NAME} variables, by index
  std::vector<std::string> step_metrics;             // "rtt.<name>" of named expects, in file order
  std::vector<std::string> step_metric_notes;        // per step metric: which steps it times
  std::size_t paired_sends = 0;           // names shared by sends and expects (ExpectStep::pair)
  std::vector<ThresholdSpec> thresholds;  // the defaults when the file has none
  bool thresholds_defaulted = false;
  std::map<std::string, ProfileOverride> environments;
  nlohmann::json embedded;  // "embedded": serve options (object) or null
  std::int64_t max_message_bytes = std::int64_t{16} * 1024 * 1024;  // "max_message_size"
  std::optional<DataFeed> data;                                     // "data"
  // "on_drop": {"reconnect": {...}}: a connection the server closed or lost is opened again (and
  // the step it was at starts over) instead of failing the session.
  std::optional<ReconnectPolicy> on_drop;

  // The step lists the connections run: each role's, or `steps`.
  std::vector<const std::vector<Step>*> step_lists() const;
  // The role (index in `roles`) of the connection with this 0-based run index: its slot
  // (index modulo the room size, its position in its room modulo the sum of the counts with
  // "by", or index modulo the sum of the counts) taken by the roles in file order, each `count`
  // slots. 0 without roles.
  std::size_t role_of(std::int64_t connection) const;
  // The 0-based room of a connection (0 without "rooms").
  std::int64_t room_of(std::int64_t connection) const {
    if (rooms_by) return rooms_by->place(connection).room;
    return room_size > 0 ? connection / room_size : 0;
  }
  bool has_rooms() const { return room_size > 0 || rooms_by != nullptr; }
};

// One problem found in a scenario file. `line`/`column` are 1-based (0 when unknown);
// `pointer` is the JSON pointer of the offending value.
struct ScenarioIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string pointer;
  std::string message;  // what was found and what was expected
};
std::string format_issue(const ScenarioIssue& issue);  // "file:line:col: /pointer: message"

// Thrown with every issue of the file at once (exit 64). what() lists them, one per line.
class ScenarioError : public UsageError {
 public:
  explicit ScenarioError(std::vector<ScenarioIssue> issues);
  const std::vector<ScenarioIssue>& issues() const { return issues_; }

 private:
  std::vector<ScenarioIssue> issues_;
};

// Reads, parses and validates. `env` looks up environment variables (for ${env:NAME});
// a missing one is an issue. Throws ScenarioError listing every issue (or UsageError when
// the file cannot be read).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Scenario load_scenario(const std::string& path, const EnvLookup& env);
Scenario parse_scenario(const std::string& text, const std::string& file, const EnvLookup& env);
EnvLookup process_env();

// "unique" data rows: throws ScenarioError (located at /data/order) when the data file has
// fewer rows than the connections `load` (the effective load: flags applied) plans in the whole
// run, every shard included. Nothing to check for other orders or without a data file.
void check_data_rows(const Scenario& s, const Load& load);
// The row a connection uses (nullptr without a data file).
const Vars* data_row(const Scenario& s, std::int64_t connection);

// The default thresholds of the metric registry (lib/metrics.hpp): handshake p95 < 3s,
// e2e p95 < 1s, perceived p95 < 2s, errors rate < 1%.
std::vector<ThresholdSpec> default_thresholds();

// Worst case time the steps can take with the given (effective) timeouts: the sum of
// connect + handshake, each expect's within, each ping's within, sleeps, the close timeout,
// repeats multiplied out. Each entry explains one contribution, for `validate`.
struct BudgetItem {
  std::string pointer;
  std::string what;  // "connect", "expect within", ...
  Duration duration{};
};
struct TimeoutBudget {
  Duration total{};
  std::vector<BudgetItem> items;
};
// Each step's own `within` (expect, ping) counts as the plan scales it (TimeoutPlan::wait).
TimeoutBudget worst_case_budget(const Scenario& s, const TimeoutPlan& timeouts);
// The same for the timeouts as written (no profile).
TimeoutBudget worst_case_budget(const Scenario& s, const Timeouts& written);

}  // namespace wslat
