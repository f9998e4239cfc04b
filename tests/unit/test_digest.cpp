// The digests behind the accept value and a scenario's fingerprint, against published vectors.
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "digest.hpp"

namespace {

template <typename Digest>
std::string hex(const Digest& d) {
  std::string out;
  for (const unsigned char b : d) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

TEST_CASE("digest: SHA-1 and SHA-256 of FIPS 180's \"abc\"; SHA-1 parts hash as one text") {
  CHECK(hex(wslat::sha1({"abc"})) == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex(wslat::sha1({"a", "", "bc"})) == hex(wslat::sha1({"abc"})));
  CHECK(hex(wslat::sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(wslat::sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("digest: the accept value of RFC 6455's example key, and of keys of other lengths") {
  CHECK(wslat::AcceptValue("dGhlIHNhbXBsZSBub25jZQ==").view() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // A key is hashed as given: an empty or a long one still gives 28 characters, each its own.
  const std::string long_key(300, 'k');
  CHECK(wslat::AcceptValue("").view().size() == 28);
  CHECK(wslat::AcceptValue(long_key).view().size() == 28);
  CHECK(wslat::AcceptValue(long_key).view() != wslat::AcceptValue("").view());
}
