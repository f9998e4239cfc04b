// A fuzz input as fields separated by the byte 0x1E (a control byte, so it could never be valid
// inside a field anyway): the request's target, headers and subprotocols (fuzz_request), the
// reads an answer arrives in (fuzz_response). No separator: one field, the whole input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wslat::fuzz {

inline std::vector<std::string> split_fields(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  for (std::size_t at = 0;;) {
    const std::size_t end = text.find('\x1e', at);
    fields.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return fields;
}

}  // namespace wslat::fuzz
