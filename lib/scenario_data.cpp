// Data feeding: the scenario's "data" file (CSV or JSON Lines), read once when the scenario is
// checked; each connection's row by its global index. README "Data files".
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <tuple>

#include <csv.h>

#include <fmt/core.h>

#include "http_syntax.hpp"
#include "json_text.hpp"
#include "scenario_check.hpp"
#include "schedule.hpp"

namespace wslat {
namespace {

using nlohmann::json;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_jsonl(const std::string& file) {
  std::string lower = file;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ends_with(lower, ".jsonl") || ends_with(lower, ".ndjson");
}

// A problem in the data file itself: "users.csv:3: ..." (line 0: the whole file).
struct DataProblem {
  int line = 0;
  std::string message;
};

// What reading a data file gives: the used fields' values per row, the line of each row, and
// the columns the file has (CSV: its header; JSONL: the keys seen).
struct ReadData {
  std::vector<Vars> rows;
  std::vector<int> lines;
  std::vector<std::string> columns;
  std::vector<std::string> missing;  // used fields the file does not have at all
  std::optional<DataProblem> problem;
};

// CSV (RFC 4180) with Debian's libcsv in strict mode: quoted fields with "" escapes, CRLF or LF
// line ends, no trimming of spaces (they are data). The first record is the header; every
// record has as many fields as the header. Empty lines are skipped.
class CsvReader {
 public:
  CsvReader(const std::vector<std::string>& fields, ReadData& out) : fields_(fields), out_(out) {}

  void read(const std::string& bytes) {
    csv_parser parser{};
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
      fail(0, "libcsv could not be initialised (out of memory)");
      return;
    }
    csv_set_space_func(&parser, [](unsigned char) { return 0; });
    std::size_t at = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a UTF-8 BOM
    // One line at a time, so that a record's first line and an error's line are known.
    constexpr int kRowNotBegun = 0;  // libcsv's parser state between records
    while (at < bytes.size() && !out_.problem) {
      ++line_;
      if (parser.pstate == kRowNotBegun) record_line_ = line_;
      const std::size_t nl = bytes.find('\n', at);
      const std::size_t end = nl == std::string::npos ? bytes.size() : nl + 1;
      const std::size_t used =
          csv_parse(&parser, bytes.data() + at, end - at, on_field, on_record, this);
      if (used != end - at && !out_.problem) {
        fail(line_, fmt::format("column {}: {} (a quote may only open a field and must be "
                                "doubled inside a quoted one: \"a \"\"b\"\"\")",
                                used + 1, csv_strerror(csv_error(&parser))));
      }
      at = end;
    }
    if (!out_.problem && csv_fini(&parser, on_field, on_record, this) != 0 && !out_.problem) {
      fail(record_line_, "a quoted field is not closed at the end of the file: add the closing \"");
    }
    csv_free(&parser);
  }

 private:
  static void on_field(void* s, std::size_t len, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    r->record_.emplace_back(static_cast<const char*>(s), len);
  }
  static void on_record(int /*terminator*/, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    if (!r->out_.problem) r->end_record();
    r->record_.clear();
  }

  void end_record() {
    if (!have_header_) {
      have_header_ = true;
      out_.columns = record_;
      for (const auto& field : fields_) {
        const auto n = std::count(record_.begin(), record_.end(), field);
        if (n == 0) out_.missing.push_back(field);
        if (n > 1) {
          fail(
              record_line_,
              fmt::format("the header names column \"{}\" {} times: rename all but one", field, n));
        }
        const auto it = std::find(record_.begin(), record_.end(), field);
        index_.push_back(it == record_.end() ? -1 : static_cast<int>(it - record_.begin()));
      }
      return;
    }
    if (record_.size() != out_.columns.size()) {
      fail(record_line_,
           fmt::format("{} field{} where the header has {}: every line needs one field per "
                       "column (quote a field that contains a comma)",
                       record_.size(), record_.size() == 1 ? "" : "s", out_.columns.size()));
      return;
    }
    Vars row;
    row.reserve(index_.size());
    for (const int i : index_) {
      row.push_back(i < 0 ? VarValue{}
                          : VarValue{record_[static_cast<std::size_t>(i)], false, true});
    }
    out_.rows.push_back(std::move(row));
    out_.lines.push_back(record_line_);
  }

  void fail(int line, std::string message) { out_.problem = DataProblem{line, std::move(message)}; }

  const std::vector<std::string>& fields_;
  ReadData& out_;
  std::vector<std::string> record_;
  std::vector<int> index_;  // per used field: its column, or -1
  bool have_header_ = false;
  int line_ = 0;         // the line being read
  int record_line_ = 0;  // the line the current record started on
};

// JSON Lines: one JSON object per line (blank lines skipped). A string field's value is its
// text; any other value keeps its JSON type (as a captured value does).
void read_jsonl(const std::string& bytes, const std::vector<std::string>& fields, ReadData& out) {
  std::vector<int> first_without(fields.size(), 0);
  std::vector<std::int64_t> without(fields.size(), 0);
  std::size_t at = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int line = 0;
  while (at < bytes.size()) {
    ++line;
    std::size_t end = bytes.find('\n', at);
    if (end == std::string::npos) end = bytes.size();
    std::string_view text(bytes.data() + at, end - at);
    at = end + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    json obj;
    try {
      obj = parse_json_bounded(text);
    } catch (const JsonTooDeep& e) {
      out.problem = DataProblem{line, e.what()};
      return;
    } catch (const json::exception& e) {
      std::string why = e.what();
      if (const auto colon = why.find("] "); colon != std::string::npos)
        why = why.substr(colon + 2);
      out.problem = DataProblem{line, "invalid JSON: " + why};
      return;
    }
    if (!obj.is_object()) {
      out.problem = DataProblem{
          line, fmt::format("{} is not an object: each line must be one JSON object, e.g. "
                            "{{\"user\": \"alice\", \"id\": 1}}",
                            scenario_detail::describe(obj))};
      return;
    }
    for (const auto& item : obj.items()) {
      if (std::find(out.columns.begin(), out.columns.end(), item.key()) == out.columns.end()) {
        out.columns.push_back(item.key());
      }
    }
    Vars row;
    row.reserve(fields.size());
    for (std::size_t f = 0; f < fields.size(); ++f) {
      const auto it = obj.find(fields[f]);
      if (it == obj.end()) {
        if (without[f]++ == 0) first_without[f] = line;
        row.emplace_back();
      } else if (it->is_string()) {
        row.push_back({it->get<std::string>(), false, true});
      } else {
        row.push_back({it->dump(), true, true});
      }
    }
    out.rows.push_back(std::move(row));
    out.lines.push_back(line);
  }
  for (std::size_t f = 0; f < fields.size() && !out.problem; ++f) {
    if (without[f] == 0) continue;
    if (static_cast<std::size_t>(without[f]) == out.rows.size()) {
      out.missing.push_back(fields[f]);
    } else {
      out.problem = DataProblem{
          first_without[f],
          fmt::format("no field \"{}\" in this object ({} line{} without it): every line needs "
                      "the fields the scenario uses",
                      fields[f], without[f], without[f] == 1 ? "" : "s")};
    }
  }
}

std::string order_name(DataFeed::Order order) {
  switch (order) {
    case DataFeed::Order::kSequential:
      return "sequential";
    case DataFeed::Order::kRandom:
      return "random";
    case DataFeed::Order::kUnique:
      return "unique";
  }
  return "";
}

}  // namespace

std::size_t DataFeed::row_index(std::int64_t connection) const {
  const std::size_t n = table ? table->rows.size() : 0;
  if (n == 0) return 0;
  const auto c = static_cast<std::uint64_t>(connection);
  switch (order) {
    case Order::kSequential:
      return static_cast<std::size_t>(c % n);
    case Order::kRandom:
      return static_cast<std::size_t>(splitmix64(seed ^ splitmix64(c)) % n);
    case Order::kUnique:
      return static_cast<std::size_t>(c);  // may be out of range: row() says so
  }
  return 0;
}

const Vars* DataFeed::row(std::int64_t connection) const {
  if (!table || connection < 0) return nullptr;
  const std::size_t i = row_index(connection);
  return i < table->rows.size() ? &table->rows[i] : nullptr;
}

const Vars* data_row(const Scenario& s, std::int64_t connection) {
  return s.data ? s.data->row(connection) : nullptr;
}

void check_data_rows(const Scenario& s, const Load& load) {
  if (!s.data || s.data->order != DataFeed::Order::kUnique || !s.data->table) return;
  const std::int64_t rows = static_cast<std::int64_t>(s.data->table->rows.size());
  const std::int64_t planned = load.open_model() ? ArrivalSchedule(load).size() : load.connections;
  if (planned <= rows) return;
  const std::string what =
      load.open_model() ? "arrivals the open-model load plans (rate × duration, or the stages)"
                        : "connections (load.connections, or --connections)";
  throw ScenarioError({{s.file, s.data->line, s.data->column, s.data->pointer,
                        fmt::format("\"unique\" gives every connection its own row, but {} has "
                                    "{} row{} for {} {}, all shards together: add rows, plan "
                                    "fewer connections, or use \"sequential\" (rows are reused)",
                                    s.data->file, rows, rows == 1 ? "" : "s", planned, what)}});
}

namespace scenario_detail {

std::optional<DataFeed> Checker::check_data_block(const json& j, const std::string& ptr) {
  if (!require_object(j, ptr, "\"data\" ({\"file\": \"users.csv\", \"order\": ...})")) {
    return std::nullopt;
  }
  check_keys(j, ptr, {"file", "order", "seed"}, "\"data\"");
  DataFeed feed;
  bool ok = true;
  if (!j.contains("file")) {
    issue(ptr,
          "missing \"file\": name a CSV file (header line first) or a JSON Lines file "
          "(.jsonl or .ndjson), relative to the scenario file, e.g. \"users.csv\"");
    ok = false;
  } else if (const auto file = get_string(j["file"], ptr + "/file", "a file name")) {
    if (file->empty()) {
      issue(ptr + "/file", "empty file name: expected e.g. \"users.csv\"");
      ok = false;
    }
    feed.file = *file;
  } else {
    ok = false;
  }
  feed.pointer = ptr + "/file";
  if (j.contains("order")) {
    static const std::vector<std::string> kOrders = {"sequential", "random", "unique"};
    const auto order = get_string(j["order"], ptr + "/order",
                                  "\"sequential\", \"random\" or "
                                  "\"unique\"");
    const auto it = order ? std::find(kOrders.begin(), kOrders.end(), *order) : kOrders.end();
    if (order && it == kOrders.end()) {
      issue(ptr + "/order",
            fmt::format("unknown order \"{}\"{}: expected \"sequential\" (connection i takes row "
                        "i modulo the rows), \"random\" (a row chosen by a hash of i and "
                        "\"seed\") or \"unique\" (row i; too few rows is an error)",
                        *order, did_you_mean(*order, kOrders)));
      ok = false;
    } else if (order) {
      feed.order = static_cast<DataFeed::Order>(it - kOrders.begin());
      feed.pointer = ptr + "/order";
    }
  }
  if (j.contains("seed")) {
    const json& seed = j["seed"];
    if (!seed.is_number_unsigned() &&
        !(seed.is_number_integer() && seed.get<std::int64_t>() >= 0)) {
      issue(ptr + "/seed",
            fmt::format("{} is not a seed: expected a whole number >= 0, e.g. 7", describe(seed)));
      ok = false;
    } else if (feed.order != DataFeed::Order::kRandom) {
      issue(ptr + "/seed", fmt::format("\"seed\" only applies to \"order\": \"random\" (the order "
                                       "is \"{}\"): remove it or set the order",
                                       order_name(feed.order)));
      ok = false;
    } else {
      feed.seed = seed.get<std::uint64_t>();
    }
  }
  if (!ok) return std::nullopt;
  if (const auto at = locations_.value_at(feed.pointer)) {
    std::tie(feed.line, feed.column) = line_column(text_, *at);
  }
  return feed;
}

void Checker::load_data(DataFeed& feed) {
  const std::string file_ptr = "/data/file";
  const std::filesystem::path written(feed.file);
  feed.path =
      written.is_absolute()
          ? feed.file
          : (std::filesystem::path(file_).parent_path() / written).lexically_normal().string();
  const std::string shown = feed.path == feed.file ? feed.file : feed.file + " (" + feed.path + ")";
  std::error_code ec;
  if (std::filesystem::is_directory(feed.path, ec)) {
    issue(file_ptr, fmt::format("{} is a directory: name a CSV or JSON Lines file", shown));
    return;
  }
  std::ifstream in(feed.path, std::ios::binary);
  if (!in) {
    issue(file_ptr, fmt::format("cannot read data file {}: {} (the path is relative to the "
                                "scenario file's directory)",
                                shown, std::strerror(errno)));
    return;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ReadData read;
  const bool jsonl = is_jsonl(feed.file);
  if (jsonl) {
    read_jsonl(bytes, data_fields_, read);
  } else {
    CsvReader(data_fields_, read).read(bytes);
  }
  if (read.problem) {
    issue(file_ptr,
          read.problem->line > 0
              ? fmt::format("{}:{}: {}", feed.file, read.problem->line, read.problem->message)
              : fmt::format("{}: {}", feed.file, read.problem->message));
    return;
  }
  if (read.rows.empty()) {
    issue(file_ptr, fmt::format("{} has no rows: {}", feed.file,
                                jsonl ? "expected one JSON object per line"
                                      : "expected a header line, then one line per row"));
    return;
  }
  bool missing = false;
  for (const VarUse& ref : data_refs_) {
    const std::string& field = data_fields_[ref.var];
    if (std::find(read.missing.begin(), read.missing.end(), field) == read.missing.end()) continue;
    missing = true;
    issue(ref.ptr, fmt::format("${{data:{}}}: {} has no {} \"{}\"{} ({}: {})", field, feed.file,
                               jsonl ? "field" : "column", field, did_you_mean(field, read.columns),
                               jsonl ? "fields" : "columns",
                               read.columns.empty() ? "none" : join(read.columns, ", ")));
  }
  if (missing) return;
  // A value that goes into a header must be one: found now, with its line, rather than as
  // request.invalid on the connections that take that row.
  for (const VarUse& ref : data_refs_) {
    if (ref.order != -1) continue;
    for (std::size_t r = 0; r < read.rows.size(); ++r) {
      const auto why = header_value_problem(read.rows[r][ref.var].text);
      if (!why) continue;
      issue(file_ptr, fmt::format("{}:{}: the value of \"{}\" cannot go into the header at {}: {}",
                                  feed.file, read.lines[r], data_fields_[ref.var], ref.ptr, *why));
      return;
    }
  }
  auto table = std::make_shared<DataTable>();
  table->fields = data_fields_;
  table->rows = std::move(read.rows);
  feed.table = std::move(table);
}

void Checker::check_data(const json& doc, Scenario& s) {
  if (!doc.contains("data")) {
    for (const VarUse& ref : data_refs_) {
      issue(ref.ptr,
            fmt::format("${{data:{}}} needs a data file: add \"data\": {{\"file\": "
                        "\"users.csv\"}} (a CSV file with a \"{}\" column, or JSON "
                        "Lines with a \"{}\" field)",
                        data_fields_[ref.var], data_fields_[ref.var], data_fields_[ref.var]));
    }
    return;
  }
  auto feed = check_data_block(doc["data"], "/data");
  if (!feed) return;
  load_data(*feed);
  if (feed->table) s.data = std::move(feed);
}

}  // namespace scenario_detail
}  // namespace wslat
