// JSON pointers (RFC 6901) in error messages: the paths users are pointed at.
#pragma once

#include <string>

namespace wslat {

// Escapes one reference token: "~" -> "~0", "/" -> "~1".
inline std::string json_pointer_token(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace wslat
