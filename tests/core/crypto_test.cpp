#include "detail/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

using ee::detail::as_bytes;
using ee::detail::hex_encode;

// FIPS 180-2 appendix vectors for "abc".
TEST(Sha, KnownAnswers) {
  EXPECT_EQ(hex_encode(ee::detail::sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_encode(ee::detail::sha384(as_bytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(hex_encode(ee::detail::sha512(as_bytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
            "454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(hex_encode(ee::detail::sha256({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha, IncrementalEqualsOneShot) {
  ee::detail::Sha256Hasher h;
  h.update(as_bytes("a"));
  h.update(as_bytes(""));
  h.update(as_bytes("bc"));
  EXPECT_EQ(h.finish(), ee::detail::sha256(as_bytes("abc")));
}

// RFC 4231 test case 2.
TEST(Hmac, Rfc4231Case2) {
  EXPECT_EQ(hex_encode(ee::detail::hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Random, ProducesDistinctBytes) {
  auto a = ee::detail::random_bytes(32);
  auto b = ee::detail::random_bytes(32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(ee::detail::random_bytes(0));
}

TEST(Uuid, Version4FormatAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto id = ee::detail::uuid_v4();
    ASSERT_TRUE(id);
    ASSERT_TRUE(ee::detail::is_uuid(*id)) << *id;
    EXPECT_EQ((*id)[14], '4');
    EXPECT_NE(std::string("89ab").find((*id)[19]), std::string::npos) << *id;
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Uuid, RecognisesOnlyCanonicalForm) {
  EXPECT_TRUE(ee::detail::is_uuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(ee::detail::is_uuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_FALSE(ee::detail::is_uuid("123e4567e89b12d3a456426614174000"));
  EXPECT_FALSE(ee::detail::is_uuid("123e4567-e89b-12d3-a456-42661417400"));
  EXPECT_FALSE(ee::detail::is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_FALSE(ee::detail::is_uuid("{23e4567-e89b-12d3-a456-426614174000"));
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(ee::detail::constant_time_equal(as_bytes("secret"), as_bytes("secret")));
  EXPECT_FALSE(ee::detail::constant_time_equal(as_bytes("secret"), as_bytes("secreT")));
  EXPECT_FALSE(ee::detail::constant_time_equal(as_bytes("secret"), as_bytes("secret2")));
  EXPECT_TRUE(ee::detail::constant_time_equal({}, {}));
}

}  // namespace
