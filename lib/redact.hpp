// Redaction: the one place that decides what of a secret may be shown. Every output (reports,
// stored results, error messages, `validate`) masks secrets through these functions.
#pragma once

#include <string>
#include <vector>

namespace wslat {

// Replaces every secret value, and the password of a URL's user info, with ***.
std::string redact(std::string text, const std::vector<std::string>& secrets);
// True for Authorization, Cookie, Proxy-Authorization, Sec-WebSocket-Key and names listed in
// `extra` (case-insensitive).
bool is_secret_header(const std::string& name, const std::vector<std::string>& extra);
// A request header's value as outputs show it: *** for a secret header, else redacted.
std::string redact_header(const std::string& name, const std::string& value,
                          const std::vector<std::string>& extra,
                          const std::vector<std::string>& secrets);

}  // namespace wslat
