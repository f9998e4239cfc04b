#include "push.hpp"

namespace wslat {

std::string base64url(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (bytes.empty()) return "=";
  std::string out;
  std::size_t i = 0;
  const auto at = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const unsigned v = at(i) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string pushgateway_url(const std::string& base, const RunResult& r) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/metrics/job/wslat";
  url += "/scenario@base64/" + base64url(r.scenario_name);
  url += "/target@base64/" + base64url(r.target);
  url += "/profile@base64/" + base64url(r.profile_name);
  if (!r.shard.empty()) url += "/shard@base64/" + base64url(r.shard);
  return url;
}

}  // namespace wslat
