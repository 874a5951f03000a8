// The CP's stateless challenges (src/cp/nonces.hpp): issuing stores nothing, a nonce is single
// use, bound to its vm_name when reserved, and authenticated by the table's key.
#include "cp/nonces.hpp"

#include <easyenclave/api/signing.hpp>
#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <string>
#include <vector>

namespace {

using ee::cp::NonceTable;
using namespace std::chrono_literals;

NonceTable::TimePoint const kNow = NonceTable::TimePoint(std::chrono::seconds(1'765'000'000));

NonceTable::Key key(std::uint8_t fill) {
  NonceTable::Key k{};
  k.fill(fill);
  return k;
}

// The spent-nonce record a single CP process uses.
std::shared_ptr<ee::registry::OnceStore> spent(std::size_t capacity) {
  return ee::registry::make_memory_once_store(capacity, true);
}

std::string hex(NonceTable::Entry const& e) { return ee::hex_encode(e.bytes); }

// The layout of nonces.hpp is a format replicas of different versions share: the two MACs are
// HMAC-SHA-256 under the key of exactly the documented inputs.
TEST(NonceTable, MacsAreHmacSha256OfTheDocumentedInputs) {
  NonceTable table(key(7), spent(4), 300s);
  auto const k = key(7);
  for (std::string const vm_name : {"", "vm-1"}) {
    auto const e = table.issue(vm_name, kNow).value();
    std::string core_input = "ee-nonce-v1";
    core_input.append(reinterpret_cast<char const*>(e.bytes.data()), 10);
    core_input += vm_name;
    auto const core = ee::detail::hmac_sha256(k, ee::detail::as_bytes(core_input));
    EXPECT_TRUE(std::equal(core.begin(), core.begin() + 6, e.bytes.begin() + 10)) << vm_name;
    std::string tail_input = "ee-nonce-v1-tail";
    tail_input.append(reinterpret_cast<char const*>(e.bytes.data()), 16);
    auto const tail = ee::detail::hmac_sha256(k, ee::detail::as_bytes(tail_input));
    EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 16, e.bytes.begin() + 16)) << vm_name;
    EXPECT_TRUE(table.take(hex(e), vm_name, kNow)) << vm_name;
  }
}

TEST(NonceTable, IssuingStoresNothingEvenUnderAFlood) {
  NonceTable table(key(1), spent(4), 300s);
  for (int i = 0; i < 200'000; ++i) ASSERT_TRUE(table.issue("", kNow));
  EXPECT_EQ(table.used().value(), 0u);
  // ...and a real agent's nonce still works after the flood (the flood once locked agents out).
  auto nonce = table.issue("vm-1", kNow).value();
  EXPECT_TRUE(table.take(hex(nonce), "vm-1", kNow + 1s));
}

TEST(NonceTable, ANonceIsSingleUseUntilPutBack) {
  NonceTable table(key(1), spent(16), 300s);
  auto nonce = table.issue("", kNow).value();
  auto taken = table.take(hex(nonce), "vm-a", kNow);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->bytes, nonce.bytes);
  EXPECT_EQ(taken->expires_at, kNow + 300s);
  auto again = table.take(hex(nonce), "vm-a", kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), ee::cp::errc::unknown_nonce);
  table.put_back(*taken, kNow);
  EXPECT_TRUE(table.take(hex(nonce), "vm-a", kNow));
}

TEST(NonceTable, TheLegacyPrefixIsTheSameNonce) {
  NonceTable table(key(1), spent(16), 300s);
  auto nonce = table.issue("", kNow).value();
  auto const full = hex(nonce);
  auto taken = table.take(full.substr(0, 32), "vm-a", kNow);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->bytes, nonce.bytes) << "the whole nonce is recovered from its prefix";
  EXPECT_FALSE(table.take(full, "vm-a", kNow)) << "prefix and full nonce are one use";
}

TEST(NonceTable, ReservedNoncesServeOnlyTheirVmName) {
  NonceTable table(key(1), spent(16), 300s);
  auto nonce = table.issue("vm-1", kNow).value();
  auto other = table.take(hex(nonce), "vm-2", kNow);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), ee::cp::errc::nonce_for_other_vm);
  EXPECT_TRUE(table.take(hex(nonce), "vm-1", kNow));
}

TEST(NonceTable, RefusesExpiredNoncesAndForgetsUsedOnesWhenTheyExpire) {
  NonceTable table(key(1), spent(16), 300s);
  auto nonce = table.issue("", kNow).value();
  auto late = table.take(hex(nonce), "", kNow + 300s);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), ee::cp::errc::nonce_expired);
  auto used = table.issue("", kNow).value();
  ASSERT_TRUE(table.take(hex(used), "", kNow));
  EXPECT_EQ(table.used().value(), 1u);
  EXPECT_EQ(table.purge(kNow + 299s).value(), 0u);
  EXPECT_EQ(table.purge(kNow + 300s).value(), 1u);
  EXPECT_EQ(table.used().value(), 0u);
  table.put_back(nonce, kNow + 301s);  // expired: nothing to put back
  EXPECT_EQ(table.used().value(), 0u);
}

TEST(NonceTable, RefusesEveryAlteredByteAndNoncesOfAnotherKey) {
  NonceTable table(key(1), spent(64), 300s);
  auto nonce = table.issue("vm-1", kNow).value();
  for (std::size_t i = 0; i < nonce.bytes.size(); ++i) {
    auto altered = nonce;
    altered.bytes[i] ^= 0x01;
    auto r = table.take(hex(altered), "vm-1", kNow);
    EXPECT_FALSE(r) << "byte " << i;
  }
  // A far-future expiry cannot be minted by editing the expiry bytes (the MAC covers them).
  auto extended = nonce;
  extended.bytes[1] = 0xff;
  EXPECT_FALSE(table.take(hex(extended), "vm-1", kNow));
  NonceTable other(key(2), spent(16), 300s);
  auto foreign = other.issue("", kNow).value();
  auto r = table.take(hex(foreign), "", kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::cp::errc::unknown_nonce);
  EXPECT_TRUE(table.take(hex(nonce), "vm-1", kNow)) << "the failed attempts did not use it";
}

TEST(NonceTable, RefusesMalformedText) {
  NonceTable table(key(1), spent(16), 300s);
  for (std::string bad : std::vector<std::string>{"", "00", std::string(63, 'a'), std::string(64, 'g'), std::string(65, 'a'),
                          std::string(31, '0'), std::string(64, '0')}) {
    auto r = table.take(bad, "", kNow);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), ee::cp::errc::unknown_nonce) << bad;
  }
}

TEST(NonceTable, BoundsTheUsedRecord) {
  NonceTable table(key(1), spent(2), 300s);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(table.take(hex(table.issue("", kNow).value()), "", kNow));
  auto full = table.take(hex(table.issue("", kNow).value()), "", kNow);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), ee::cp::errc::too_many_challenges);
  // Once the used ones expire there is room again.
  EXPECT_TRUE(table.take(hex(table.issue("", kNow + 300s).value()), "", kNow + 300s));
}

TEST(NonceTable, RandomKeysDifferAndNoncesAreUnique) {
  auto a = NonceTable::create(spent(16), 300s).value();
  auto b = NonceTable::create(spent(16), 300s).value();
  auto n = a->issue("", kNow).value();
  EXPECT_FALSE(b->take(hex(n), "", kNow));
  EXPECT_NE(hex(a->issue("", kNow).value()), hex(n));
}

}  // namespace

namespace {

// Replicas of one CP share its signing key file, so they derive one nonce key: a challenge one
// replica answered is good at another, and spent at one it is spent at both (a shared store).
TEST(NonceTable, ReplicasSharingTheSigningKeyAcceptEachOthersNoncesOnce) {
  auto const signing = ee::api::SigningKey::generate().value();
  auto const other = ee::api::SigningKey::generate().value();
  auto const pem = signing.private_key_pem();
  EXPECT_EQ(NonceTable::derive_key(pem), NonceTable::derive_key(pem));
  EXPECT_NE(NonceTable::derive_key(pem), NonceTable::derive_key(other.private_key_pem()));

  auto const shared = spent(16);
  NonceTable replica_a(NonceTable::derive_key(pem), shared, 300s);
  NonceTable replica_b(NonceTable::derive_key(pem), shared, 300s);
  NonceTable stranger(NonceTable::derive_key(other.private_key_pem()), spent(16), 300s);
  auto const nonce = replica_a.issue("vm-r", kNow).value();
  EXPECT_FALSE(stranger.take(hex(nonce), "vm-r", kNow));
  EXPECT_TRUE(replica_b.take(hex(nonce), "vm-r", kNow));
  auto again = replica_a.take(hex(nonce), "vm-r", kNow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), ee::cp::errc::unknown_nonce);
}

}  // namespace
