#include "detail/encoding.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using ee::detail::as_bytes;
using ee::detail::Bytes;

std::string str(Bytes const& b) { return std::string(b.begin(), b.end()); }

TEST(Hex, RoundTripsAndAcceptsBothCases) {
  Bytes const data = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ee::detail::hex_encode(data), "0001abff");
  EXPECT_EQ(*ee::detail::hex_decode("0001ABff"), data);
  EXPECT_EQ(*ee::detail::hex_decode(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndBadCharacters) {
  auto odd = ee::detail::hex_decode("abc");
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error(), ee::errc::bad_hex);
  EXPECT_EQ(odd.error(), ee::condition::invalid_input);
  for (auto bad : {"0g", "zz", " 1", "1 ", "0x", "-1", "\xff\xff"}) {
    auto r = ee::detail::hex_decode(bad);
    EXPECT_FALSE(r) << bad;
  }
  auto bad_offset = ee::detail::hex_decode("00112g");
  ASSERT_FALSE(bad_offset);
  EXPECT_NE(bad_offset.error().message().find("offset 5"), std::string::npos);
}

TEST(Hex, DecodeIntoFixedSizeChecksLength) {
  std::array<std::uint8_t, 4> out{};
  EXPECT_TRUE(ee::detail::hex_decode_into("deadbeef", out));
  EXPECT_EQ(out[0], 0xde);
  EXPECT_EQ(out[3], 0xef);
  auto short_input = ee::detail::hex_decode_into("dead", out);
  ASSERT_FALSE(short_input);
  EXPECT_NE(short_input.error().message().find("expected 8 hex characters, got 4"), std::string::npos);
}

// RFC 4648 section 10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  std::pair<char const*, char const*> const vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(ee::detail::base64_encode(as_bytes(plain)), encoded);
    auto decoded = ee::detail::base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(str(*decoded), plain);
  }
}

TEST(Base64, RejectsMalformedInput) {
  for (auto bad : {"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9-", "Zm9_",
                   "Zh==",  // non-zero trailing bits: canonical form is Zg==
                   "Zm9=",  // non-zero trailing bits: canonical form is Zm8=
                   "Zg==Zg==", "Z=g="}) {
    auto r = ee::detail::base64_decode(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
    if (!r) {
      EXPECT_EQ(r.error(), ee::errc::bad_base64);
    }
  }
}

TEST(Base64Url, UsesUrlAlphabetWithoutPadding) {
  Bytes const data = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(ee::detail::base64_encode(data), "+/+/");
  EXPECT_EQ(ee::detail::base64url_encode(data), "-_-_");
  EXPECT_EQ(*ee::detail::base64url_decode("-_-_"), data);
  EXPECT_EQ(ee::detail::base64url_encode(as_bytes("f")), "Zg");
  EXPECT_EQ(str(*ee::detail::base64url_decode("Zm9vYmE")), "fooba");
}

TEST(Base64Url, RejectsPaddingStandardAlphabetAndBadLengths) {
  for (auto bad : {"Zg==", "Zg=", "+/+/", "a", "abcde", "Zh", "Zm9vYmF=", "Zm9v.YmE"}) {
    auto r = ee::detail::base64url_decode(bad);
    EXPECT_FALSE(r) << "accepted: " << bad;
  }
}

TEST(Base64, RoundTripsEveryLength) {
  Bytes data;
  for (int n = 0; n < 70; ++n) {
    auto enc = ee::detail::base64_encode(data);
    auto url = ee::detail::base64url_encode(data);
    ASSERT_EQ(*ee::detail::base64_decode(enc), data) << n;
    ASSERT_EQ(*ee::detail::base64url_decode(url), data) << n;
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

// The decoder works four symbols at a time: a bad symbol anywhere, in a full group or in the
// tail, is refused with its own offset, and the tails' unused bits must be zero.
TEST(Base64Url, NamesTheOffsetOfABadSymbolAnywhereAndChecksBothTails) {
  std::string const good = "Zm9vYmFyZm9vYmE";  // 15 symbols: three groups and a tail of three
  ASSERT_TRUE(ee::detail::base64url_decode(good));
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char bad : {'.', '=', '+', '\0', '\x80'}) {
      auto text = good;
      text[i] = bad;
      auto r = ee::detail::base64url_decode(text);
      ASSERT_FALSE(r) << "offset " << i;
      EXPECT_NE(r.error().message().find("offset " + std::to_string(i)), std::string::npos) << r.error().message();
    }
  }
  EXPECT_TRUE(ee::detail::base64url_decode("Zm8"));   // two bytes, unused bits zero
  EXPECT_FALSE(ee::detail::base64url_decode("Zm9"));  // unused bits set
  EXPECT_TRUE(ee::detail::base64url_decode("Zg"));
  for (char c : std::string("hijklmnopqrstuvxyzBCDEF")) {  // not A, Q, g, w: their low 4 bits are zero
    EXPECT_FALSE(ee::detail::base64url_decode(std::string("Z") + c)) << c;
  }
}

}  // namespace
