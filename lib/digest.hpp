// The digests wslat computes: SHA-1 for the WebSocket accept value (RFC 6455 §4.2.2), which the
// client checks and the embedded server writes, and SHA-256 for a scenario file's fingerprint.
//
// Through OpenSSL's low-level functions, not EVP. Measured (callgrind): EVP's first use loads
// OpenSSL 3's provider machinery, ~5 M instructions, a third of a whole one-connection run of a
// ws:// scenario; per accept value, a reused EVP context cost 2,741 instructions and 142
// instruction-cache misses (a tenth of a cycle's), the direct calls 2,077 and 73, nearly all in
// the block function (valgrind hides SHA-NI, so that is the AVX2 one). OpenSSL 3 marks
// SHA1_Init & co. deprecated in favour of EVP but keeps them in its default build (Debian's);
// its one-shot SHA1() and SHA256() go through EVP and fetch the algorithm on every call. What is
// hashed here is no secret: nothing to cleanse.
#pragma once

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace wslat {

// SHA-1 of the concatenation of `parts`.
inline std::array<unsigned char, SHA_DIGEST_LENGTH> sha1(
    std::initializer_list<std::string_view> parts) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> out;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  for (const std::string_view p : parts) SHA1_Update(&ctx, p.data(), p.size());
  SHA1_Final(out.data(), &ctx);
#pragma GCC diagnostic pop
  return out;
}

inline std::array<unsigned char, SHA256_DIGEST_LENGTH> sha256(std::string_view bytes) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, bytes.data(), bytes.size());
  SHA256_Final(out.data(), &ctx);
#pragma GCC diagnostic pop
  return out;
}

// The GUID of RFC 6455 §1.3, appended to the client's key before hashing.
inline constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)), 28 characters, with
// no allocation. The key is hashed as given, whatever its length.
class AcceptValue {
 public:
  explicit AcceptValue(std::string_view key) {
    const auto digest = sha1({key, kWebSocketGuid});
    EVP_EncodeBlock(chars_.data(), digest.data(), static_cast<int>(digest.size()));
  }
  std::string_view view() const { return {reinterpret_cast<const char*>(chars_.data()), kSize}; }

 private:
  static constexpr std::size_t kSize = std::size_t{4} * ((SHA_DIGEST_LENGTH + 2) / 3);  // 28
  std::array<unsigned char, kSize + 1> chars_;  // EVP_EncodeBlock ends it with a NUL
};

}  // namespace wslat
