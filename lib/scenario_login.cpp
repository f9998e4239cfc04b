// The scenario's "origin", "cookies" and "login": what a connection does and sends before and
// with its upgrade request, beyond "headers" (README "Login, origin and cookies").
#include <algorithm>

#include <fmt/core.h>

#include "http_syntax.hpp"
#include "scenario_check.hpp"

namespace wslat::scenario_detail {
namespace {

// RFC 6265 §4.1.1 cookie-octet: no controls, whitespace, DQUOTE, comma, semicolon, backslash.
std::optional<std::string> cookie_value_problem(const std::string& value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == ',' || c == ';' || c == '\\') {
      return "a cookie value cannot hold spaces, control characters, '\"', ',', ';' or '\\' "
             "(RFC 6265): encode it, e.g. in base64";
    }
  }
  return std::nullopt;
}

bool has_header(const Scenario& s, const char* name) {
  return std::any_of(s.headers.begin(), s.headers.end(),
                     [name](const auto& h) { return equals_ci(h.first, name); });
}

}  // namespace

void Checker::check_cookies(const json& j, Scenario& s) {
  if (!require_object(j, "/cookies", "\"cookies\" (name -> value)")) return;
  for (const auto& name : ordered_keys(j, "/cookies")) {
    const std::string ptr = child_pointer("/cookies", name);
    if (name.empty() || header_name_problem(name)) {
      key_issue(ptr, fmt::format("{} is not a cookie name: letters, digits and !#$%&'*+-.^_`|~",
                                 quote_escaped(name)));
    }
    const auto text = get_string(j[name], ptr, "a cookie value (a string)");
    if (!text) continue;
    Template t = compile(*text, ptr, TemplateScope::kAll);
    if (const auto why = cookie_value_problem(expand_blank(t))) issue(ptr, *why);
    s.cookies.emplace_back(name, std::move(t));
  }
}

std::optional<LoginSpec> Checker::check_login(const json& j, const std::string& ptr) {
  if (!require_object(j, ptr, "\"login\" ({\"url\": \"https://...\", ...})")) return std::nullopt;
  check_keys(j, ptr, {"url", "method", "headers", "body", "json", "capture", "send_cookies"},
             "\"login\"");
  LoginSpec login;
  // Everything the login sends is expanded before anything is captured on the connection:
  // its own captures are not usable in it (check_variables says so).
  const int saved_order = step_order_;
  step_order_ = kLogin;
  if (!j.contains("url")) {
    issue(ptr, "missing \"url\": the login's http:// or https:// URL");
  } else if (const auto url = get_string(j["url"], ptr + "/url", "an http:// or https:// URL")) {
    login.url = compile(*url, ptr + "/url", TemplateScope::kAll);
    const std::string shown = expand_shown(login.url);
    if (shown.rfind("http://", 0) != 0 && shown.rfind("https://", 0) != 0) {
      issue(ptr + "/url", fmt::format("{} is not an HTTP URL: expected http://HOST[:PORT]/PATH "
                                      "or https://HOST[:PORT]/PATH",
                                      describe(j["url"])));
    }
  }
  if (j.contains("body") && j.contains("json")) {
    issue(ptr, "both \"body\" and \"json\": the login sends one body, keep one of them");
  } else if (j.contains("body")) {
    if (const auto body = get_string(j["body"], ptr + "/body", "the request body (a string)")) {
      login.body = compile(*body, ptr + "/body", TemplateScope::kAll);
    }
  } else if (j.contains("json")) {
    Template t;
    compile_json(t, j["json"], ptr + "/json");
    login.body = std::move(t);
    login.content_type = "application/json";
  }
  login.method = login.body ? "POST" : "GET";
  if (j.contains("method")) {
    const auto method = get_string(j["method"], ptr + "/method", "an HTTP method (\"POST\")");
    if (method && (method->empty() || header_name_problem(*method) ||
                   std::any_of(method->begin(), method->end(),
                               [](char c) { return c >= 'a' && c <= 'z'; }))) {
      issue(ptr + "/method",
            fmt::format("{} is not an HTTP method: expected an upper-case token such as "
                        "\"POST\", \"PUT\" or \"GET\"",
                        describe(j["method"])));
    } else if (method) {
      login.method = *method;
    }
  }
  if (j.contains("headers") &&
      require_object(j["headers"], ptr + "/headers", "the login's \"headers\"")) {
    for (const auto& name : ordered_keys(j["headers"], ptr + "/headers")) {
      const std::string hp = child_pointer(ptr + "/headers", name);
      if (const auto why = header_name_problem(name)) {
        key_issue(hp,
                  fmt::format("{} is not a valid HTTP header name: {}", quote_escaped(name), *why));
      }
      const auto text = get_string(j["headers"][name], hp, "a header value (a string)");
      if (!text) continue;
      Template t = compile(*text, hp, TemplateScope::kAll);
      if (const auto why = header_value_problem(expand_shown(t))) issue(hp, *why);
      if (equals_ci(name, "Content-Type")) login.content_type.clear();  // the user's wins
      login.headers.emplace_back(name, std::move(t));
    }
  }
  if (j.contains("capture")) {
    login.captures =
        check_captures(j["capture"], ptr + "/capture", true, nullptr, TemplateScope::kAll, true);
  }
  if (j.contains("send_cookies")) {
    const json& v = j["send_cookies"];
    if (!v.is_boolean()) {
      issue(ptr + "/send_cookies",
            fmt::format("{} is not true or false: true sends the cookies the login set with the "
                        "upgrade request",
                        describe(v)));
    } else {
      login.send_cookies = v.get<bool>();
    }
  }
  step_order_ = saved_order;
  return login;
}

void Checker::check_login_fields(const json& doc, Scenario& s) {
  if (doc.contains("login")) s.login = check_login(doc["login"], "/login");
  if (doc.contains("origin")) {
    if (const auto text = get_string(doc["origin"], "/origin",
                                     "the Origin header's value, e.g. \"https://app.example\"")) {
      Template t = compile(*text, "/origin", TemplateScope::kAll);
      if (text->empty()) issue("/origin", "empty origin: give e.g. \"https://app.example\"");
      if (const auto why = header_value_problem(expand_shown(t))) issue("/origin", *why);
      s.origin = std::move(t);
    }
    if (has_header(s, "Origin")) {
      key_issue("/headers/Origin",
                "\"Origin\" is given twice: as a header and as \"origin\"; keep \"origin\"");
    }
  }
  if (doc.contains("cookies")) check_cookies(doc["cookies"], s);
  const bool login_cookies = s.login && s.login->send_cookies;
  if ((!s.cookies.empty() || login_cookies) && has_header(s, "Cookie")) {
    for (const auto& [name, value] : s.headers) {
      if (!equals_ci(name, "Cookie")) continue;
      key_issue(child_pointer("/headers", name),
                "a \"Cookie\" header with \"cookies\" or the login's \"send_cookies\": wslat "
                "writes one Cookie header from those; move these cookies into \"cookies\"");
    }
  }
}

}  // namespace wslat::scenario_detail
