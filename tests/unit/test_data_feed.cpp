// Data feeding: a scenario's CSV or JSON Lines file, each connection's row, ${data:NAME} in
// templates, and every data file problem as a located error before any connection.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace {

using nlohmann::json;
using wslat::Scenario;
using wslat::TemplateContext;

// A fresh directory for this process's scenario and data files.
const std::string& dir() {
  static const std::string d = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wslat-data-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    return tmpl;
  }();
  return d;
}

void write(const std::string& name, const std::string& content) {
  std::ofstream(dir() + "/" + name, std::ios::binary) << content;
}

// Parses `doc` as if it were dir()/s.json (data files are relative to it).
Scenario parse(const json& doc) {
  return wslat::parse_scenario(doc.dump(2), dir() + "/s.json",
                               [](const std::string&) { return std::nullopt; });
}

json scenario(const json& data, const json& steps) {
  return {{"name", "t"}, {"data", data}, {"steps", steps}};
}

// The message of a scenario that does not parse: "file:line:col: /pointer: message" lines.
std::string error_of(const json& doc) {
  try {
    parse(doc);
  } catch (const wslat::ScenarioError& e) {
    return e.what();
  }
  return "(no error)";
}

const wslat::Template& send_payload(const Scenario& s, std::size_t i) {
  const auto* send = s.steps.at(i).as<wslat::SendStep>();
  REQUIRE(send != nullptr);
  return send->payload;
}

std::string sent_by(const Scenario& s, std::int64_t connection, std::size_t step = 1) {
  return wslat::expand(send_payload(s, step),
                       TemplateContext{connection, 0, nullptr, wslat::data_row(s, connection)});
}

const json kSendUser = json::array({{{"send", {{"text", "${data:user}"}}}}});

}  // namespace

TEST_CASE("data: CSV follows RFC 4180 (quotes, doubled quotes, commas, newlines, CRLF, BOM)") {
  write("rfc.csv",
        "\xEF\xBB\xBFuser,note,token\r\n"
        "alice,plain, t1 \r\n"
        "\"bob, jr\",\"say \"\"hi\"\"\",t2\r\n"
        "\r\n"
        "\"carol\ncarolsen\",,t3");
  const Scenario s = parse(scenario(
      {{"file", "rfc.csv"}}, json::array({{{"send", {{"text", "${data:user}|${data:token}"}}}}})));
  REQUIRE(s.data);
  REQUIRE(s.data->table->rows.size() == 3);
  // Only the fields the scenario uses are kept, in the order the templates name them.
  CHECK(s.data->table->fields == std::vector<std::string>{"user", "token"});
  CHECK(sent_by(s, 0) == "alice| t1 ");  // spaces are data, not trimmed
  CHECK(sent_by(s, 1) == "bob, jr|t2");
  CHECK(sent_by(s, 2) == "carol\ncarolsen|t3");
  CHECK(sent_by(s, 3) == "alice| t1 ");  // sequential: connection % rows
}

TEST_CASE("data: CSV values are strings, JSON Lines values keep their JSON type") {
  write("typed.csv", "id,name\n7,\"a\"\"b\"\n");
  const Scenario csv = parse(scenario(
      {{"file", "typed.csv"}},
      json::array(
          {{{"send",
             {{"json",
               {{"id", "${data:id}"}, {"n", "${data:id:number}"}, {"name", "${data:name}"}}}}}}})));
  CHECK(json::parse(sent_by(csv, 0)) == json{{"id", "7"}, {"n", 7}, {"name", "a\"b"}});

  write("typed.jsonl",
        "{\"id\": 7, \"name\": \"x\\\"y\", \"ok\": true, \"o\": {\"k\": [1]}}\n"
        "\n"
        "{\"id\": 8.5, \"name\": \"z\", \"ok\": false, \"o\": null}\r\n");
  const Scenario jl =
      parse(scenario({{"file", "typed.jsonl"}}, json::array({{{"send",
                                                               {{"json",
                                                                 {{"id", "${data:id}"},
                                                                  {"s", "${data:id:string}"},
                                                                  {"name", "${data:name}"},
                                                                  {"ok", "${data:ok}"},
                                                                  {"o", "${data:o}"},
                                                                  {"in", "n=${data:name}"}}}}}}})));
  CHECK(json::parse(sent_by(jl, 0)) == json{{"id", 7},
                                            {"s", "7"},
                                            {"name", "x\"y"},
                                            {"ok", true},
                                            {"o", {{"k", {1}}}},
                                            {"in", "n=x\"y"}});
  CHECK(
      json::parse(sent_by(jl, 1)) ==
      json{{"id", 8.5}, {"s", "8.5"}, {"name", "z"}, {"ok", false}, {"o", nullptr}, {"in", "n=z"}});
}

TEST_CASE("data: fields expand in headers, expects and binary text parts") {
  write("h.csv", "user,token\nalice,abc\nbob,def\n");
  const Scenario s = parse(
      {{"name", "t"},
       {"data", {{"file", "h.csv"}}},
       {"headers", {{"Authorization", "Bearer ${data:token}"}}},
       {"steps", json::array({
                     {{"send", {{"binary", json::array({"01", {{"text", "${data:user}"}}})}}}},
                     {{"expect", {{"json", {{"user", "${data:user}"}}}}}},
                 })}});
  const TemplateContext bob{1, 0, nullptr, wslat::data_row(s, 1)};
  CHECK(wslat::expand(s.headers.at(0).second, bob) == "Bearer def");
  const auto* send = s.steps.at(1).as<wslat::SendStep>();
  REQUIRE(send != nullptr);
  CHECK(wslat::build_binary(send->parts, bob) == std::string("\x01") + "bob");
  const auto* expect = s.steps.at(2).as<wslat::ExpectStep>();
  REQUIRE(expect != nullptr);
  CHECK(wslat::Expectation(*expect, bob).match(R"({"user":"bob"})", nullptr));
  CHECK_FALSE(wslat::Expectation(*expect, bob).match(R"({"user":"alice"})", nullptr));
  // Shown (reports, validate) as written, never a row's value.
  CHECK(wslat::expand_shown(s.headers.at(0).second) == "Bearer ${data:token}");
}

TEST_CASE("data: rows by the global connection index: sequential, random (seeded), unique") {
  std::string csv = "user\n";
  for (int i = 0; i < 10; ++i) csv += "u" + std::to_string(i) + "\n";
  write("ten.csv", csv);
  const Scenario seq = parse(scenario({{"file", "ten.csv"}, {"order", "sequential"}}, kSendUser));
  CHECK(sent_by(seq, 0) == "u0");
  CHECK(sent_by(seq, 9) == "u9");
  CHECK(sent_by(seq, 23) == "u3");

  const Scenario r1 = parse(scenario({{"file", "ten.csv"}, {"order", "random"}}, kSendUser));
  const Scenario r1again = parse(scenario({{"file", "ten.csv"}, {"order", "random"}}, kSendUser));
  const Scenario r2 =
      parse(scenario({{"file", "ten.csv"}, {"order", "random"}, {"seed", 42}}, kSendUser));
  std::set<std::size_t> seen;
  bool differs = false;
  for (std::int64_t c = 0; c < 200; ++c) {
    const std::size_t row = r1.data->row_index(c);
    CHECK(row < 10);
    seen.insert(row);
    CHECK(row == r1again.data->row_index(c));  // reproducible: the default seed is fixed
    differs = differs || row != r2.data->row_index(c);
  }
  CHECK(seen.size() == 10);  // spread over every row
  CHECK(differs);            // another seed, other rows

  const Scenario uniq = parse(scenario({{"file", "ten.csv"}, {"order", "unique"}}, kSendUser));
  CHECK(sent_by(uniq, 7) == "u7");
  CHECK(wslat::data_row(uniq, 10) == nullptr);  // never a reused row
  // The copy a runner holds shares the rows (loaded once, read-only).
  const Scenario copy = uniq;  // NOLINT(performance-unnecessary-copy-initialization)
  CHECK(copy.data->table.get() == uniq.data->table.get());
}

TEST_CASE("data: unique with fewer rows than planned connections is a located error") {
  write("two.csv", "user\nalice\nbob\n");
  json doc = scenario({{"file", "two.csv"}, {"order", "unique"}}, kSendUser);
  const Scenario s = parse(doc);
  wslat::Load load;
  load.connections = 2;
  CHECK_NOTHROW(wslat::check_data_rows(s, load));
  load.connections = 3;
  try {
    wslat::check_data_rows(s, load);
    FAIL("expected a ScenarioError");
  } catch (const wslat::ScenarioError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find(dir() + "/s.json:") == 0);
    CHECK(what.find("/data/order: ") != std::string::npos);
    CHECK(what.find("two.csv has 2 rows for 3 connections") != std::string::npos);
    CHECK(e.issues().at(0).line > 0);
  }
  // Open model: every arrival of the whole run (10/s for 1 s: 10 arrivals).
  wslat::Load open;
  open.rate = wslat::Rate{10.0};
  open.duration = std::chrono::seconds(1);
  CHECK_THROWS_AS(wslat::check_data_rows(s, open), wslat::ScenarioError);
  // Other orders reuse rows.
  const Scenario seq = parse(scenario({{"file", "two.csv"}}, kSendUser));
  CHECK_NOTHROW(wslat::check_data_rows(seq, load));
}

TEST_CASE("data: a missing file, missing column, empty file or malformed line is located") {
  write("users.csv", "user,token\nalice,t1\n");
  // Missing file: at /data/file, with the path as opened.
  std::string e = error_of(scenario({{"file", "nope.csv"}}, kSendUser));
  CHECK(e.find("/data/file: cannot read data file nope.csv (" + dir() + "/nope.csv)") !=
        std::string::npos);
  CHECK(e.find(dir() + "/s.json:") == 0);
  // A column the file lacks: at the placeholder, with the columns it has.
  e = error_of(
      scenario({{"file", "users.csv"}}, json::array({{{"send", {{"text", "${data:usr}"}}}}})));
  CHECK(e.find("/steps/0/send/text: ${data:usr}: users.csv has no column \"usr\": did you mean "
               "\"user\"? (columns: user, token)") != std::string::npos);
  // No data block at all.
  e = error_of({{"name", "t"}, {"steps", kSendUser}});
  CHECK(e.find("/steps/0/send/text: ${data:user} needs a data file") != std::string::npos);
  // Empty, and a header without rows.
  write("empty.csv", "");
  CHECK(error_of(scenario({{"file", "empty.csv"}}, kSendUser)).find("empty.csv has no rows") !=
        std::string::npos);
  write("header.csv", "user\n");
  CHECK(error_of(scenario({{"file", "header.csv"}}, kSendUser)).find("header.csv has no rows") !=
        std::string::npos);
  write("empty.jsonl", "\n\n");
  CHECK(error_of(scenario({{"file", "empty.jsonl"}}, kSendUser)).find("empty.jsonl has no rows") !=
        std::string::npos);
  // Malformed CSV lines, with their line numbers.
  write("count.csv", "user,token\nalice,t1\nbob\n");
  CHECK(error_of(scenario({{"file", "count.csv"}}, kSendUser))
            .find("/data/file: count.csv:3: 1 field where the header has 2") != std::string::npos);
  write("quote.csv", "user\nalice\nbo\"b\n");
  CHECK(error_of(scenario({{"file", "quote.csv"}}, kSendUser))
            .find("/data/file: quote.csv:3: column 3: ") != std::string::npos);
  write("open.csv", "user\nalice\n\"bob\n");
  CHECK(error_of(scenario({{"file", "open.csv"}}, kSendUser))
            .find("open.csv:3: a quoted field is not closed") != std::string::npos);
  write("dup.csv", "user,user\na,b\n");
  CHECK(error_of(scenario({{"file", "dup.csv"}}, kSendUser))
            .find("dup.csv:1: the header names column \"user\" 2 times") != std::string::npos);
  // Malformed JSON Lines.
  write("bad.ndjson", "{\"user\": \"a\"}\n{\"user\": \n");
  CHECK(error_of(scenario({{"file", "bad.ndjson"}}, kSendUser))
            .find("/data/file: bad.ndjson:2: invalid JSON: ") != std::string::npos);
  write("arr.jsonl", "{\"user\": \"a\"}\n[1]\n");
  CHECK(error_of(scenario({{"file", "arr.jsonl"}}, kSendUser))
            .find("arr.jsonl:2: an array is not an object") != std::string::npos);
  write("some.jsonl", "{\"user\": \"a\"}\n{\"id\": 1}\n{\"id\": 2}\n");
  CHECK(error_of(scenario({{"file", "some.jsonl"}}, kSendUser))
            .find("some.jsonl:2: no field \"user\" in this object (2 lines without it)") !=
        std::string::npos);
  write("none.jsonl", "{\"id\": 1}\n");
  CHECK(error_of(scenario({{"file", "none.jsonl"}}, kSendUser))
            .find("${data:user}: none.jsonl has no field \"user\" (fields: id)") !=
        std::string::npos);
}

TEST_CASE("data: the data block and placeholders are checked like the rest of the file") {
  write("users.csv", "user,token\nalice,t1\n");
  std::string e = error_of(scenario({{"file", "users.csv"}, {"order", "shuffle"}}, kSendUser));
  CHECK(e.find("/data/order: unknown order \"shuffle\"") != std::string::npos);
  e = error_of(scenario({{"file", "users.csv"}, {"seed", 3}}, kSendUser));
  CHECK(e.find("/data/seed: \"seed\" only applies to \"order\": \"random\"") != std::string::npos);
  e = error_of(scenario({{"file", "users.csv"}, {"order", "random"}, {"seed", -1}}, kSendUser));
  CHECK(e.find("/data/seed: -1 is not a seed") != std::string::npos);
  e = error_of(scenario({{"order", "unique"}}, kSendUser));
  CHECK(e.find("/data: missing \"file\"") != std::string::npos);
  e = error_of(scenario({{"file", "users.csv"}, {"rows", 3}}, kSendUser));
  CHECK(e.find("/data/rows: unknown key \"rows\"") != std::string::npos);
  // The target is resolved once per run: a row's field cannot go there.
  json doc = scenario({{"file", "users.csv"}}, kSendUser);
  doc["target"] = "ws://${data:user}/";
  CHECK(error_of(doc).find("/target: ${data:user} cannot be used here") != std::string::npos);
  // A value that cannot be a header value is found with its line, before any connection.
  write("crlf.csv", "token\nok\n\"bad\r\nX-Injected: 1\"\n");
  doc = {{"name", "t"},
         {"data", {{"file", "crlf.csv"}}},
         {"headers", {{"Authorization", "${data:token}"}}},
         {"steps", json::array({{{"send", {{"text", "x"}}}}})}};
  e = error_of(doc);
  CHECK(e.find("/data/file: crlf.csv:3: the value of \"token\" cannot go into the header at "
               "/headers/Authorization") != std::string::npos);
  // A file that has the column but where no step uses it is fine, and so is no placeholder.
  CHECK_NOTHROW(
      parse(scenario({{"file", "users.csv"}}, json::array({{{"send", {{"text", "x"}}}}}))));
}
