#include "cp/secrets.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using ee::cp::Argon2Params;
using ee::cp::hash_secret;
using ee::cp::lookup_prefix;
using ee::cp::new_secret;
using ee::cp::verify_secret;

bool is_base62(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

TEST(Secrets, NewSecretIsPrefixAnd32Base62) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto const s = new_secret("ee_live_");
    ASSERT_EQ(s.size(), 8u + 32u);
    EXPECT_TRUE(s.starts_with("ee_live_"));
    for (char c : s.substr(8)) EXPECT_TRUE(is_base62(c)) << s;
    EXPECT_TRUE(seen.insert(s).second) << "repeated secret";
  }
  // Every base62 character turns up (a skewed or truncated alphabet would not).
  std::set<char> chars;
  for (auto const& s : seen)
    for (char c : s.substr(8)) chars.insert(c);
  EXPECT_EQ(chars.size(), 62u);
}

TEST(Secrets, LookupPrefixIsTheFirstTwelveCharacters) {
  auto const s = new_secret("ee_sess_");
  auto const p = lookup_prefix(s);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(*p, s.substr(0, 12));
  EXPECT_EQ(ee::cp::kLookupPrefixLength, 12u);
}

TEST(Secrets, LookupPrefixRefusesShortOrForeignCharacters) {
  EXPECT_FALSE(lookup_prefix(""));
  EXPECT_FALSE(lookup_prefix("ee_live_abc"));  // 11 characters
  EXPECT_TRUE(lookup_prefix("ee_live_abcd"));  // 12
  EXPECT_FALSE(lookup_prefix("ee_live_ab.d0000"));
  EXPECT_FALSE(lookup_prefix("ee_live_abcd000\n"));  // a character beyond the prefix counts too
  EXPECT_FALSE(lookup_prefix(std::string("ee_live_abcd\0" "00", 15)));
  auto const bad = lookup_prefix("ee_live_secret$value");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), ee::errc::invalid_value);
  EXPECT_EQ(bad.error().message().find("secret$value"), std::string::npos)
      << "the error must not repeat the input";
}

TEST(Secrets, HashRoundTrip) {
  auto const s = new_secret("ee_live_");
  auto const h = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *h;
  EXPECT_EQ(h->find(s), std::string::npos);
  EXPECT_TRUE(verify_secret(s, *h));
  // A second hash of the same secret has another salt.
  auto const h2 = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h2);
  EXPECT_NE(*h, *h2);
  EXPECT_TRUE(verify_secret(s, *h2));
}

TEST(Secrets, WrongSecretFails) {
  auto const s = new_secret("ee_live_");
  auto const h = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h);
  EXPECT_FALSE(verify_secret(new_secret("ee_live_"), *h));
  auto flipped = s;
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(verify_secret(flipped, *h));
  EXPECT_FALSE(verify_secret(s.substr(0, s.size() - 1), *h));
  EXPECT_FALSE(verify_secret(s + "x", *h));
  EXPECT_FALSE(verify_secret("", *h));
}

TEST(Secrets, OtherParamsVerifyFromTheirEncoding) {
  auto const s = new_secret("ee_live_");
  Argon2Params const heavier{.memory_kib = 32768, .iterations = 3, .parallelism = 2};
  auto const h = hash_secret(s, heavier);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=32768,t=3,p=2$")) << *h;
  EXPECT_TRUE(verify_secret(s, *h));
  EXPECT_FALSE(verify_secret(new_secret("ee_live_"), *h));
}

TEST(Secrets, HashRefusesParamsOutOfRange) {
  EXPECT_FALSE(hash_secret("x", Argon2Params{.memory_kib = 19456, .iterations = 0, .parallelism = 1}));
  EXPECT_FALSE(hash_secret("x", Argon2Params{.memory_kib = 19456, .iterations = 2, .parallelism = 0}));
  EXPECT_FALSE(hash_secret("x", Argon2Params{.memory_kib = 4, .iterations = 2, .parallelism = 1}));
  EXPECT_FALSE(hash_secret(
      "x", Argon2Params{.memory_kib = ee::cp::kArgon2MaxMemoryKib + 1, .iterations = 2, .parallelism = 1}));
  EXPECT_FALSE(hash_secret("x", Argon2Params{.memory_kib = 19456, .iterations = 65, .parallelism = 1}));
}

TEST(Secrets, AcceptableParamsAreOwaspMinimumOrAbove) {
  EXPECT_TRUE(ee::cp::argon2_params_acceptable(Argon2Params{}));
  EXPECT_TRUE(ee::cp::argon2_params_acceptable({.memory_kib = 65536, .iterations = 3, .parallelism = 4}));
  EXPECT_FALSE(ee::cp::argon2_params_acceptable({.memory_kib = 19455, .iterations = 2, .parallelism = 1}));
  EXPECT_FALSE(ee::cp::argon2_params_acceptable({.memory_kib = 19456, .iterations = 1, .parallelism = 1}));
  EXPECT_FALSE(ee::cp::argon2_params_acceptable({.memory_kib = 19456, .iterations = 2, .parallelism = 0}));
  EXPECT_FALSE(ee::cp::argon2_params_acceptable({.memory_kib = 2u * 1024u * 1024u, .iterations = 2, .parallelism = 1}));
}

TEST(Secrets, MalformedEncodingsAreFalseNeverThrow) {
  auto const s = new_secret("ee_live_");
  auto const h = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h);
  auto const good = *h;
  // Every truncation of a good string fails.
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(verify_secret(s, good.substr(0, n))) << "prefix of length " << n;
  std::vector<std::string> const bad = {
      "",
      "$",
      "$argon2id$",
      "$argon2id$v=19$",
      "$argon2id$v=19$m=,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=2,p=1",
      "$argon2id$v=19$m=19456,t=2,p=1$",
      "$argon2id$v=19$m=19456,t=2,p=1$$",
      "$argon2id$v=19$m=-1,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=99999999999,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      // Cost beyond the maxima: refused before Argon2 would allocate 4 GiB.
      "$argon2id$v=19$m=4194304,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=100000,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=2,p=255$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      // Version 0x10 and an order other than m,t,p.
      "$argon2id$v=16$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$t=2,m=19456,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      // Characters outside base64 and padding.
      "$argon2id$v=19$m=19456,t=2,p=1$AAAA*AAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$",
      std::string(300, 'A'),
      good + std::string(300, 'A'),
      good + "$extra",
  };
  for (auto const& e : bad) EXPECT_FALSE(verify_secret(s, e)) << e;
  // An embedded NUL must not cut the string short for libargon2.
  auto with_nul = good;
  with_nul.insert(with_nul.size() - 3, 1, '\0');
  EXPECT_FALSE(verify_secret(s, with_nul));
  EXPECT_TRUE(verify_secret(s, good));
}

TEST(Secrets, OnlyArgon2idIsAccepted) {
  auto const s = new_secret("ee_live_");
  auto const h = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h);
  // The same string relabelled as argon2i or argon2d: libargon2 would happily verify those
  // against another algorithm; the algorithm is pinned.
  for (std::string_view other : {"$argon2i$", "$argon2d$", "$scrypt$", "$2b$"}) {
    auto relabelled = std::string(other) + h->substr(std::string_view("$argon2id$").size());
    EXPECT_FALSE(verify_secret(s, relabelled)) << relabelled;
  }
}

TEST(VerifiedSecrets, CachesOnlyVerifiedPairs) {
  ee::cp::VerifiedSecrets cache(8);
  auto const s = new_secret("ee_live_");
  auto const h = hash_secret(s, Argon2Params{});
  ASSERT_TRUE(h);
  EXPECT_FALSE(cache.verify(new_secret("ee_live_"), *h));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.remembered(s, *h));
  EXPECT_TRUE(cache.verify(s, *h));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.remembered(s, *h));
  EXPECT_FALSE(cache.remembered(s, *h + "A"));
  EXPECT_FALSE(cache.remembered(new_secret("ee_live_"), *h));
  EXPECT_TRUE(cache.verify(s, *h));
  EXPECT_EQ(cache.size(), 1u);
  cache.forget_all();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(cache.verify(s, *h));
}

TEST(VerifiedSecrets, NeverServesAChangedHash) {
  ee::cp::VerifiedSecrets cache(8);
  auto const old_key = new_secret("ee_live_");
  auto const old_hash = hash_secret(old_key, Argon2Params{});
  ASSERT_TRUE(old_hash);
  ASSERT_TRUE(cache.verify(old_key, *old_hash));
  // Rotation: the row now holds another key's hash. The old key is cached against the old hash
  // only, so it fails against the new one.
  auto const new_key = new_secret("ee_live_");
  auto const new_hash = hash_secret(new_key, Argon2Params{});
  ASSERT_TRUE(new_hash);
  EXPECT_FALSE(cache.remembered(old_key, *new_hash));
  EXPECT_FALSE(cache.verify(old_key, *new_hash));
  EXPECT_TRUE(cache.verify(new_key, *new_hash));
  // The same secret rehashed (another salt) is verified afresh, not served from the entry.
  auto const rehash = hash_secret(old_key, Argon2Params{});
  ASSERT_TRUE(rehash);
  EXPECT_TRUE(cache.verify(old_key, *rehash));
  EXPECT_EQ(cache.size(), 3u);
  // A cached pair does not vouch for another secret against the same hash.
  EXPECT_FALSE(cache.verify(new_key, *old_hash));
  // Nor for a hash that differs in one character (a corrupted or tampered row).
  auto tampered = *old_hash;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(cache.verify(old_key, tampered));
}

TEST(VerifiedSecrets, EvictsTheOldestAtCapacity) {
  Argon2Params const cheap{.memory_kib = 64, .iterations = 1, .parallelism = 1};
  ee::cp::VerifiedSecrets cache(2);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 3; ++i) {
    auto key = new_secret("ee_live_");
    auto hash = hash_secret(key, cheap);
    ASSERT_TRUE(hash);
    pairs.emplace_back(key, *hash);
    EXPECT_TRUE(cache.verify(pairs.back().first, pairs.back().second));
  }
  EXPECT_EQ(cache.size(), 2u);
  // The evicted pair still verifies (by Argon2), and a zero-capacity cache caches nothing.
  EXPECT_TRUE(cache.verify(pairs[0].first, pairs[0].second));
  ee::cp::VerifiedSecrets none(0);
  EXPECT_TRUE(none.verify(pairs[1].first, pairs[1].second));
  EXPECT_EQ(none.size(), 0u);
}

TEST(VerifiedSecrets, ConcurrentUse) {
  Argon2Params const cheap{.memory_kib = 64, .iterations = 1, .parallelism = 1};
  ee::cp::VerifiedSecrets cache(4);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 6; ++i) {
    auto key = new_secret("ee_live_");
    auto hash = hash_secret(key, cheap);
    ASSERT_TRUE(hash);
    pairs.emplace_back(key, *hash);
  }
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        auto const& p = pairs[static_cast<std::size_t>((i + t) % 6)];
        if (!cache.verify(p.first, p.second)) ++wrong;
        if (cache.verify(p.first, pairs[static_cast<std::size_t>((i + t + 1) % 6)].second)) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.size(), 4u);
}

TEST(Secrets, VerifyNothingRuns) {
  ee::cp::verify_nothing(Argon2Params{});
  ee::cp::verify_nothing(Argon2Params{.memory_kib = 0, .iterations = 0, .parallelism = 0});  // falls back
  SUCCEED();
}

}  // namespace
