#include "redact.hpp"

#include <algorithm>
#include <cctype>

namespace wslat {

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 3)) {
      text.replace(pos, s.size(), "***");
    }
  }
  // ws://user:password@host/ -> ws://user:***@host/
  const auto scheme = text.find("://");
  if (scheme != std::string::npos) {
    const auto at = text.find('@', scheme + 3);
    const auto slash = text.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const auto colon = text.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) text.replace(colon + 1, at - colon - 1, "***");
    }
  }
  return text;
}

bool is_secret_header(const std::string& name, const std::vector<std::string>& extra) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  const std::string n = lower(name);
  if (n == "authorization" || n == "cookie" || n == "proxy-authorization" ||
      n == "sec-websocket-key") {
    return true;
  }
  return std::any_of(extra.begin(), extra.end(),
                     [&](const std::string& e) { return lower(e) == n; });
}

std::string redact_header(const std::string& name, const std::string& value,
                          const std::vector<std::string>& extra,
                          const std::vector<std::string>& secrets) {
  return is_secret_header(name, extra) ? "***" : redact(value, secrets);
}

}  // namespace wslat
