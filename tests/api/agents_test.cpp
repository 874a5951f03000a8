// The agent <-> control plane wire contract: field formats, JSON writers and strict readers.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "support/attestation_data.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

namespace api = ee::api;
namespace bj = boost::json;
using ee::condition;
using namespace std::string_literals;
using Strings = std::vector<std::string>;

// --- test data -------------------------------------------------------------------------------

// 32 bytes as the CP issues them, and the 16-byte nonce older agents echo.
constexpr std::string_view kNonce64 =
    "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef";
constexpr std::string_view kNonce32 = "00112233445566778899aabbccddeeff";
// SHA-256("test").
constexpr std::string_view kHex64 =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
// Shaped like the evidence; the readers check only the alphabet, the verifiers the rest.
constexpr std::string_view kToken = "eyJhbGciOiJQUzM4NCJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl";
constexpr std::string_view kQuote = "BAACAIEAAAAAAAAAk5pyM/ecTKmUCg2zlX8GB+Xj8bZ8Y3K7E3nQ==";
constexpr std::int64_t kNow = 1'760'000'000;  // 2025-10-09T08:53:20Z

std::string digest() { return "sha256:" + std::string(kHex64); }
std::string image() { return "ghcr.io/acme/app@" + digest(); }

std::string const& agent_key() {
  static std::string const key = api::SigningKey::generate().value().public_key().base64();
  return key;
}

// A JSON string value from any text (Boost.JSON takes its own string_view only).
bj::value jstr(std::string_view s) { return bj::value(bj::string_view(s.data(), s.size())); }

// --- assertions ------------------------------------------------------------------------------

// Fails with `code`, maps onto invalid_input, and the message mentions `mention`.
template <class T, class Code>
testing::AssertionResult fails_with(ee::result<T> const& r, Code code, std::string_view mention) {
  if (r) return testing::AssertionFailure() << "was accepted";
  ee::Error const e = r.error();
  if (!(e == code))
    return testing::AssertionFailure() << "wrong error " << e.id() << ": " << e.message();
  if (!(e == condition::invalid_input))
    return testing::AssertionFailure() << "condition is " << ee::to_string(e.cond());
  if (e.message().find(mention) == std::string::npos)
    return testing::AssertionFailure()
           << "message '" << e.message() << "' lacks '" << mention << "'";
  return testing::AssertionSuccess();
}

// A field check's rejection: api::errc::invalid_field, message "<field>: <rule>".
testing::AssertionResult rejected(ee::result<void> const& r, std::string_view field) {
  auto const named = fails_with(r, api::errc::invalid_field, field);
  if (!named) return named;
  if (!r.error().message().starts_with(std::string(field) + ": "))
    return testing::AssertionFailure()
           << "message '" << r.error().message() << "' does not start with the field";
  return testing::AssertionSuccess();
}

testing::AssertionResult accepted(ee::result<void> const& r) {
  if (r) return testing::AssertionSuccess();
  return testing::AssertionFailure() << r.error().id() << ": " << r.error().message();
}

// --- JSON builders ---------------------------------------------------------------------------

std::string text(bj::object const& o) { return bj::serialize(o); }

std::string with(bj::object o, std::string_view key, bj::value v) {
  o[key] = std::move(v);
  return text(o);
}

std::string with(bj::object o, std::string_view key, std::string const& v) {
  return with(std::move(o), key, jstr(v));
}
std::string with(bj::object o, std::string_view key, std::string_view v) {
  return with(std::move(o), key, jstr(v));
}
std::string with(bj::object o, std::string_view key, char const* v) {
  return with(std::move(o), key, jstr(v));
}
std::string with(bj::object o, std::string_view key, std::nullptr_t) {
  return with(std::move(o), key, bj::value(nullptr));
}

std::string without(bj::object o, std::string_view key) {
  o.erase(key);
  return text(o);
}

bj::object modern_register() {
  return {{"vm_name", "tdx-vm-1"},
          {"owner", "github:org/acme"},
          {"node_size", "standard"},
          {"datacenter", "gcp:us-central1-a"},
          {"nonce", kNonce64},
          {"public_key", agent_key()},
          {"intel_ta_token", kToken},
          {"quote_b64", kQuote},
          {"agent_url", "http://10.0.0.5:8081"}};
}

bj::object legacy_register() {
  return {{"intel_ta_token", kToken},
          {"vm_name", "legacy-vm"},
          {"nonce", kNonce32},
          {"node_size", "tiny"},
          {"datacenter", "baremetal:lab1"}};
}

bj::object deploy_request() {
  return {{"deployment_id", "dep-1"},
          {"app_name", "web"},
          {"version", "1.2.3"},
          {"image", image()},
          {"env", bj::object{{"MODE", "prod"}}}};
}

// Every field, so that EXPECT_EQ compares the whole message and prints it on failure.
auto fields(api::Challenge const& c) {
  return std::tuple(c.nonce, c.expires_in_seconds, c.ttl_seconds,
                    c.issued_at.time_since_epoch().count());
}
auto fields(api::RegisterRequest const& r) {
  return std::tie(r.vm_name, r.owner, r.node_size, r.datacenter, r.nonce, r.public_key,
                  r.intel_ta_token, r.quote_b64, r.agent_url, r.bootstrap_token,
                  r.continuity_signature);
}
auto fields(api::RegisterResponse const& r) {
  return std::tie(r.agent_id, r.tunnel_token, r.hostname, r.heartbeat_interval_seconds,
                  r.cp_public_key);
}
auto fields(api::HeartbeatRequest const& r) {
  return std::tie(r.status, r.image_digest, r.deployment_id, r.nonce, r.intel_ta_token,
                  r.quote_b64);
}
auto fields(api::HeartbeatResponse const& r) {
  return std::tie(r.verified, r.attestation_due, r.heartbeat_interval_seconds);
}
auto fields(api::AgentDeployRequest const& r) {
  return std::tie(r.deployment_id, r.app_name, r.version, r.image, r.env);
}
auto fields(api::AgentUndeployRequest const& r) { return std::tie(r.deployment_id); }
auto fields(api::AgentDeployResponse const& r) { return std::tie(r.deployment_id, r.status); }

// ============================================================================================
// Field formats
// ============================================================================================

TEST(CheckVmName, AcceptsUpTo63NameCharacters) {
  for (std::string const& v : Strings{"a", "7", "vm-1", "My.VM_name-2", "0abc", "A.b_c-d"})
    EXPECT_TRUE(accepted(api::check_vm_name(v))) << v;
  EXPECT_TRUE(accepted(api::check_vm_name(std::string(63, 'v'))));
  EXPECT_TRUE(accepted(api::check_vm_name("v" + std::string(62, '-'))));
}

TEST(CheckVmName, RejectsEmptyAndTooLong) {
  EXPECT_TRUE(rejected(api::check_vm_name(""), "vm_name"));
  EXPECT_TRUE(rejected(api::check_vm_name(std::string(64, 'v')), "vm_name"));
}

TEST(CheckVmName, RejectsBadCharactersAndLeadingPunctuation) {
  for (std::string const& v : Strings{"-vm", ".vm", "_vm", "vm name", "vm/1", "vm:1", "vm\n",
                                      "vm@x", "vm+1", "vm\xc3\xa9", "vm\x7f", "\tvm", "vm\0x"s})
    EXPECT_TRUE(rejected(api::check_vm_name(v), "vm_name")) << v;
}

TEST(CheckVmName, ErrorNamesTheFieldGiven) {
  EXPECT_TRUE(rejected(api::check_vm_name("-x", "body.app_name"), "body.app_name"));
  auto const r = api::check_vm_name("-x", "body.app_name");
  EXPECT_EQ(r.error().message().find("vm_name"), std::string::npos) << r.error().message();
}

TEST(CheckOwner, AcceptsOrgAndUserLogins) {
  for (std::string const& v : Strings{"github:org/acme", "github:user/octo-cat", "github:org/A1",
                                      "github:user/x", "github:org/0rg", "github:org/a--b-"})
    EXPECT_TRUE(accepted(api::check_owner(v))) << v;
  EXPECT_TRUE(accepted(api::check_owner("github:org/" + std::string(39, 'a'))));
}

TEST(CheckOwner, RejectsOwnerWithoutPrefix) {
  for (std::string const& v :
       Strings{"", "acme", "org/acme", "user/acme", "github:acme", "github/org/acme",
               "GitHub:org/acme", "gitlab:org/acme", " github:org/acme"})
    EXPECT_TRUE(rejected(api::check_owner(v), "owner")) << v;
}

TEST(CheckOwner, RejectsWrongKind) {
  for (std::string const& v : Strings{"github:team/acme", "github:orgs/acme", "github:users/acme",
                                      "github:Org/acme", "github:/acme", "github:repo/acme"})
    EXPECT_TRUE(rejected(api::check_owner(v), "owner")) << v;
}

TEST(CheckOwner, RejectsBadLogin) {
  for (std::string const& v :
       Strings{"github:org/", "github:user/", "github:org/-acme", "github:org/ac_me",
               "github:org/ac.me", "github:org/acme/repo", "github:org/ac me", "github:org/acme ",
               "github:user/\xc3\xa9", "github:org/acme\n"})
    EXPECT_TRUE(rejected(api::check_owner(v), "owner")) << v;
  EXPECT_TRUE(rejected(api::check_owner("github:org/" + std::string(40, 'a')), "owner"));
  EXPECT_TRUE(rejected(api::check_owner("github:user/" + std::string(40, 'a')), "owner"));
}

TEST(CheckNodeSize, AcceptsLowerCaseTokensUpTo32) {
  for (std::string const& v : Strings{"tiny", "standard", "llm", "gpu-a100", "8x", "a"})
    EXPECT_TRUE(accepted(api::check_node_size(v))) << v;
  EXPECT_TRUE(accepted(api::check_node_size(std::string(32, 'n'))));
}

TEST(CheckNodeSize, RejectsEmptyLongUpperCaseAndLeadingDash) {
  EXPECT_TRUE(rejected(api::check_node_size(std::string(33, 'n')), "node_size"));
  for (std::string const& v :
       Strings{"", "Tiny", "LLM", "-tiny", "tiny_1", "tiny.1", " tiny", "ti ny"})
    EXPECT_TRUE(rejected(api::check_node_size(v), "node_size")) << v;
}

TEST(CheckDatacenter, AcceptsCloudAndZone) {
  for (std::string const& v : Strings{"gcp:us-central1-a", "baremetal:lab1", "a:b", "azure:0"})
    EXPECT_TRUE(accepted(api::check_datacenter(v))) << v;
  EXPECT_TRUE(accepted(api::check_datacenter(std::string(40, 'c') + ":" + std::string(40, 'z'))));
}

TEST(CheckDatacenter, RejectsWithoutColon) {
  for (std::string const& v : Strings{"", "gcp", "gcp-us-central1", "gcp/us-central1"})
    EXPECT_TRUE(rejected(api::check_datacenter(v), "datacenter")) << v;
}

TEST(CheckDatacenter, RejectsBadParts) {
  for (std::string const& v :
       Strings{":zone", "gcp:", ":", "GCP:zone", "gcp:Zone", "gcp:us_central", "gcp:zone:extra",
               "gcp::zone", "gcp: zone", "gcp:zone.1", "-gcp:zone", "gcp:-zone"})
    EXPECT_TRUE(rejected(api::check_datacenter(v), "datacenter")) << v;
  EXPECT_TRUE(rejected(api::check_datacenter(std::string(41, 'c') + ":zone"), "datacenter"));
  EXPECT_TRUE(rejected(api::check_datacenter("gcp:" + std::string(41, 'z')), "datacenter"));
}

TEST(CheckDigest, AcceptsSha256WithLowerCaseHex) {
  EXPECT_TRUE(accepted(api::check_digest(digest())));
  EXPECT_TRUE(accepted(api::check_digest("sha256:" + std::string(64, '0'))));
}

TEST(CheckDigest, RejectsOtherAlgorithmsCaseAndLengths) {
  std::string upper(kHex64);
  for (auto& c : upper) c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  std::string const hex(kHex64);
  for (std::string const& v :
       Strings{""s, "sha256:"s, "sha256:" + upper, "SHA256:" + hex, "sha256:" + hex.substr(1),
               "sha256:" + hex + "0", "sha512:" + hex, "sha256" + hex, hex, "sha256:" + hex + "\n",
               "sha256: " + hex.substr(1), "sha256:" + hex.substr(1) + "g"})
    EXPECT_TRUE(rejected(api::check_digest(v), "image_digest")) << v;
}

TEST(CheckPinnedImage, AcceptsNamesPinnedByDigest) {
  for (std::string const& name : Strings{"app", "ghcr.io/acme/app", "registry.local:5000/a/b:v1.2",
                                         "docker.io/library/nginx:1.27", "a_b.c-d"})
    EXPECT_TRUE(accepted(api::check_pinned_image(name + "@" + digest()))) << name;
  EXPECT_TRUE(accepted(api::check_pinned_image(std::string(255, 'i') + "@" + digest())));
}

TEST(CheckPinnedImage, RejectsImagesNotPinnedByDigest) {
  for (std::string const& v : Strings{"ghcr.io/acme/app", "ghcr.io/acme/app:latest", "app@",
                                      "app@latest", "ghcr.io/acme/app:sha256"})
    EXPECT_TRUE(rejected(api::check_pinned_image(v), "image")) << v;
}

TEST(CheckPinnedImage, RejectsUpperCaseShortAndLongDigests) {
  std::string const hex(kHex64);
  std::string upper = hex;
  for (auto& c : upper) c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  for (std::string const& d :
       Strings{"sha256:" + upper, "sha256:" + hex.substr(2), "sha256:" + hex.substr(1),
               "sha256:" + hex + "ab", "sha512:" + hex + hex, "sha256:" + hex.substr(1) + "z"})
    EXPECT_TRUE(rejected(api::check_pinned_image("app@" + d), "image")) << d;
}

TEST(CheckPinnedImage, RejectsBadNames) {
  // The repository is lower case (OCI distribution reference grammar).
  for (std::string const& name : Strings{"", "-app", ".app", "/app", "app/", "app:", "app-", "a pp",
                                         "app@x", "app\n", "\xc3\xa9", "A_b.c-d", "ghcr.io/Acme/app"})
    EXPECT_TRUE(rejected(api::check_pinned_image(name + "@" + digest()), "image")) << name;
  EXPECT_TRUE(rejected(api::check_pinned_image(std::string(256, 'i') + "@" + digest()), "image"));
  EXPECT_TRUE(rejected(api::check_pinned_image("app@@" + digest()), "image"));
}

TEST(FieldChecks, DefaultFieldNamesAndCustomOnes) {
  EXPECT_TRUE(rejected(api::check_vm_name(""), "vm_name"));
  EXPECT_TRUE(rejected(api::check_owner(""), "owner"));
  EXPECT_TRUE(rejected(api::check_node_size(""), "node_size"));
  EXPECT_TRUE(rejected(api::check_datacenter(""), "datacenter"));
  EXPECT_TRUE(rejected(api::check_pinned_image(""), "image"));
  EXPECT_TRUE(rejected(api::check_digest(""), "image_digest"));
  EXPECT_TRUE(rejected(api::check_owner("x", "body.owner"), "body.owner"));
  EXPECT_TRUE(rejected(api::check_node_size("X", "query.node_size"), "query.node_size"));
  EXPECT_TRUE(rejected(api::check_datacenter("x", "dc"), "dc"));
  EXPECT_TRUE(rejected(api::check_pinned_image("x", "body.image"), "body.image"));
  EXPECT_TRUE(rejected(api::check_digest("x", "body.image_digest"), "body.image_digest"));
}

TEST(FieldChecks, ErrorIdAndCondition) {
  auto const r = api::check_vm_name("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().id(), "api.invalid_field");
  EXPECT_EQ(r.error().cond(), condition::invalid_input);
  EXPECT_EQ(r.error(), api::errc::invalid_field);
}

TEST(FieldChecks, RejectionsDoNotEchoTheValue) {
  std::string const secret = "hunter2-secret";
  for (auto const& r : {api::check_vm_name(secret + "!"), api::check_owner(secret),
                        api::check_node_size(secret + "!"), api::check_datacenter(secret),
                        api::check_pinned_image(secret), api::check_digest(secret)}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message().find(secret), std::string::npos) << r.error().message();
  }
}

TEST(OwnerLogin, IsTheLowerCasedName) {
  EXPECT_EQ(api::owner_login("github:org/Acme"), "acme");
  EXPECT_EQ(api::owner_login("github:user/Octo-Cat"), "octo-cat");
  EXPECT_EQ(api::owner_login("github:org/acme"), "acme");
  EXPECT_EQ(api::owner_login("github:user/ABC123"), "abc123");
  EXPECT_EQ(api::owner_login("github:org/" + std::string(39, 'Z')), std::string(39, 'z'));
}

TEST(OwnerLogin, IsEmptyWhenMalformed) {
  for (std::string const& v : Strings{"", "acme", "github:acme", "github:team/acme", "github:org/",
                                      "github:org/-acme", "github:org/acme/x", "GITHUB:ORG/ACME"})
    EXPECT_EQ(api::owner_login(v), "") << v;
  EXPECT_EQ(api::owner_login("github:org/" + std::string(40, 'a')), "");
}

// ============================================================================================
// Register request
// ============================================================================================

TEST(RegisterRequest, ParsesAFullModernRequest) {
  auto r = api::parse_register_request(text(modern_register()));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->vm_name, "tdx-vm-1");
  EXPECT_EQ(r->owner, "github:org/acme");
  EXPECT_EQ(r->node_size, "standard");
  EXPECT_EQ(r->datacenter, "gcp:us-central1-a");
  EXPECT_EQ(r->nonce, kNonce64);
  EXPECT_EQ(r->public_key, agent_key());
  EXPECT_EQ(r->intel_ta_token, kToken);
  EXPECT_EQ(r->quote_b64, kQuote);
  EXPECT_EQ(r->agent_url, "http://10.0.0.5:8081");
}

TEST(RegisterRequest, AcceptsRealItaTokenAndQuote) {
  auto const token =
      ee::test::read_file(ee::test::testdata("attestation/ita/ita_tdx_token_prod_20231205.jwt"));
  ASSERT_EQ(token.size(), 6237u);
  auto const quote = ee::detail::base64_encode(ee::test::quote_bytes("tdx_v4_gtg_spr_e4.dat"));
  ASSERT_FALSE(quote.empty());
  auto o = modern_register();
  o["intel_ta_token"] = token;
  o["quote_b64"] = quote;
  auto r = api::parse_register_request(text(o));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->intel_ta_token, token);
  EXPECT_EQ(r->quote_b64, quote);
}

TEST(RegisterRequest, AcceptsTheLegacyShape) {
  auto r = api::parse_register_request(text(legacy_register()));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->vm_name, "legacy-vm");
  EXPECT_EQ(r->owner, "");
  EXPECT_EQ(r->node_size, "tiny");
  EXPECT_EQ(r->datacenter, "baremetal:lab1");
  EXPECT_EQ(r->nonce, kNonce32);
  EXPECT_EQ(r->public_key, "");
  EXPECT_EQ(r->intel_ta_token, kToken);
  EXPECT_EQ(r->quote_b64, "");
  EXPECT_EQ(r->agent_url, "");
  // A legacy agent may also echo a full-length nonce.
  EXPECT_TRUE(api::parse_register_request(with(legacy_register(), "nonce", kNonce64)));
}

TEST(RegisterRequest, EitherPieceOfEvidenceIsEnough) {
  auto token_only = api::parse_register_request(without(modern_register(), "quote_b64"));
  ASSERT_TRUE(token_only) << token_only.error().message();
  EXPECT_EQ(token_only->quote_b64, "");
  auto quote_only = api::parse_register_request(without(modern_register(), "intel_ta_token"));
  ASSERT_TRUE(quote_only) << quote_only.error().message();
  EXPECT_EQ(quote_only->intel_ta_token, "");
}

TEST(RegisterRequest, RejectsMissingEvidence) {
  auto o = modern_register();
  o.erase("intel_ta_token");
  o.erase("quote_b64");
  EXPECT_TRUE(
      fails_with(api::parse_register_request(text(o)), ee::errc::missing_field, "evidence"));
  for (bj::value const& empty : {bj::value(""), bj::value(nullptr)}) {
    o["intel_ta_token"] = empty;
    o["quote_b64"] = empty;
    EXPECT_TRUE(
        fails_with(api::parse_register_request(text(o)), ee::errc::missing_field, "evidence"))
        << bj::serialize(empty);
  }
  EXPECT_TRUE(fails_with(api::parse_register_request(without(legacy_register(), "intel_ta_token")),
                         ee::errc::missing_field, "evidence"));
}

TEST(RegisterRequest, RejectsMissingRequiredFields) {
  for (std::string_view key : {"vm_name", "node_size", "datacenter", "nonce"}) {
    EXPECT_TRUE(fails_with(api::parse_register_request(without(modern_register(), key)),
                           ee::errc::missing_field, "body." + std::string(key)))
        << key;
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), key, nullptr)),
                           ee::errc::missing_field, "body." + std::string(key)))
        << key;
  }
}

TEST(RegisterRequest, RejectsNonceOfWrongLengthOrAlphabet) {
  std::string const hex(kNonce64);
  for (std::string const& nonce :
       Strings{""s, hex.substr(0, 31), hex.substr(0, 33), hex.substr(0, 63), hex + "0", hex + hex,
               hex.substr(0, 63) + "g", hex.substr(0, 63) + "A", std::string(64, 'F'),
               hex.substr(0, 62) + "0x", " " + hex.substr(1),
               std::string(kNonce32).substr(0, 31) + "Z"}) {
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), "nonce", nonce)),
                           api::errc::invalid_field, "body.nonce"))
        << nonce;
    EXPECT_TRUE(fails_with(api::parse_register_request(with(legacy_register(), "nonce", nonce)),
                           api::errc::invalid_field, "body.nonce"))
        << nonce;
  }
}

TEST(RegisterRequest, ShortNonceOnlyWithoutPublicKey) {
  // The key is bound into REPORTDATA with the full 32-byte nonce.
  EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), "nonce", kNonce32)),
                         api::errc::invalid_field, "body.nonce"));
  auto keyless = modern_register();
  keyless.erase("public_key");
  keyless["nonce"] = kNonce32;
  EXPECT_TRUE(api::parse_register_request(text(keyless)));
  auto with_key = legacy_register();
  with_key["public_key"] = agent_key();
  EXPECT_TRUE(fails_with(api::parse_register_request(text(with_key)), api::errc::invalid_field,
                         "public_key"));
}

TEST(RegisterRequest, RejectsWrongJsonTypes) {
  std::vector<bj::value> const wrong = {bj::value(5), bj::value(true), bj::value(1.5),
                                        bj::value(bj::array{"x"}), bj::value(bj::object{})};
  for (std::string_view key : {"vm_name", "owner", "node_size", "datacenter", "nonce", "public_key",
                               "intel_ta_token", "quote_b64", "agent_url"}) {
    for (auto const& v : wrong) {
      EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), key, v)),
                             ee::errc::wrong_type, "body." + std::string(key)))
          << key << " = " << bj::serialize(v);
    }
  }
}

TEST(RegisterRequest, RejectsMalformedFieldValues) {
  struct Case {
    std::string_view key;
    std::string value;
  };
  Case const cases[] = {
      {"vm_name", "-vm"},
      {"vm_name", "vm name"},
      {"owner", "acme"},
      {"owner", "github:team/acme"},
      {"owner", "github:org/-acme"},
      {"node_size", "Standard"},
      {"datacenter", "gcp"},
      {"datacenter", "gcp:US"},
      {"public_key", "not a key"},
      {"public_key", "AAAA"},
      {"intel_ta_token", "eyJ a.b.c"},
      {"intel_ta_token", "a.b.c="},
      {"intel_ta_token", "a+b.c"},
      {"quote_b64", "AAAA-_"},
      {"quote_b64", "AAAA AAAA"},
      {"quote_b64", "AAAA\n"},
      {"agent_url", "ftp://agent"},
      {"agent_url", "http://"},
      {"agent_url", "https://"},
      {"agent_url", "agent:8081"},
      {"agent_url", "http://agent 8081"},
      {"agent_url", "http://agent\r\nX-Injected: 1"},
      {"agent_url", "HTTP://agent"},
  };
  for (auto const& c : cases)
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), c.key, c.value)),
                           api::errc::invalid_field, "body." + std::string(c.key)))
        << c.key << " = " << c.value;
}

TEST(RegisterRequest, AcceptsPemPublicKeyAndHttpsAgentUrl) {
  auto o = modern_register();
  auto const key = api::SigningKey::generate().value().public_key();
  o["public_key"] = "-----BEGIN PUBLIC KEY-----\n" + key.base64() + "\n-----END PUBLIC KEY-----\n";
  o["agent_url"] = "https://agent.example:8443";
  auto r = api::parse_register_request(text(o));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->agent_url, "https://agent.example:8443");
  for (std::string url : std::vector<std::string>{"http://10.0.0.5:8081/", "http://[::1]:8081", "http://[fd00::5]", "https://a"}) {
    EXPECT_TRUE(api::parse_register_request(with(modern_register(), "agent_url", url))) << url;
  }
}

TEST(RegisterRequest, CarriesABootstrapTokenAndAContinuitySignature) {
  auto o = modern_register();
  o["bootstrap_token"] = "ee_bt_" + std::string(42, 'a') + "-";
  o["continuity_signature"] = std::string(86, 'A') + "==";
  auto r = api::parse_register_request(text(o));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->bootstrap_token, "ee_bt_" + std::string(42, 'a') + "-");
  auto again = api::parse_register_request(api::to_json(*r));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(fields(*again), fields(*r));
  for (std::string bad : std::vector<std::string>{"ee_bt_", "ee_bt_" + std::string(42, 'a'), "ee_bt_" + std::string(44, 'a'),
                          "xx_bt_" + std::string(43, 'a'), "ee_bt_" + std::string(42, 'a') + "=",
                          "ee_bt_" + std::string(42, 'a') + "\n"}) {
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), "bootstrap_token", bad)),
                           api::errc::invalid_field, "bootstrap_token"))
        << bad;
  }
  for (std::string bad : std::vector<std::string>{std::string(88, 'A'), std::string(86, 'A') + "=", std::string(84, 'A') + "====",
                          std::string(86, '*') + "=="}) {
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), "continuity_signature", bad)),
                           api::errc::invalid_field, "continuity_signature"))
        << bad;
  }
  // A signature moves a registration to a key: without one it means nothing.
  auto keyless = modern_register();
  keyless.erase("public_key");
  keyless["nonce"] = std::string(32, 'a');
  keyless["continuity_signature"] = std::string(86, 'A') + "==";
  EXPECT_TRUE(fails_with(api::parse_register_request(text(keyless)), api::errc::invalid_field,
                         "continuity_signature"));
}

TEST(ContinuityMessage, BindsNameOwnerKeyAndNonceWhateverTheKeysSpelling) {
  auto r = api::parse_register_request(text(modern_register())).value();
  auto const message = api::continuity_message(r);
  EXPECT_EQ(message.rfind("ee-continuity-v1\n", 0), 0u);
  auto pem = r;
  auto const key = api::PublicKey::parse(r.public_key).value();
  pem.public_key = "-----BEGIN PUBLIC KEY-----\n" + key.base64() + "\n-----END PUBLIC KEY-----\n";
  EXPECT_EQ(api::continuity_message(pem), message) << "one key, one message";
  for (auto change : {+[](api::RegisterRequest& x) { x.vm_name = "other"; },
                      +[](api::RegisterRequest& x) { x.owner = "github:org/other"; },
                      +[](api::RegisterRequest& x) { x.nonce = std::string(64, 'b'); },
                      +[](api::RegisterRequest& x) { x.public_key = api::SigningKey::generate().value().public_key().base64(); }}) {
    auto changed = r;
    change(changed);
    EXPECT_NE(api::continuity_message(changed), message);
  }
  // Length prefixes: moving a character between fields changes the message.
  auto a = r, b = r;
  a.vm_name = "ab";
  a.owner = "c";
  b.vm_name = "a";
  b.owner = "bc";
  EXPECT_NE(api::continuity_message(a), api::continuity_message(b));
}

// The CP appends its own paths to agent_url: a path or query of the agent's choosing once made
// the CP fetch an internal URL (GET /logs relayed http://127.0.0.1:P/internal?x=/api/logs).
TEST(RegisterRequest, AgentUrlIsAnOriginOnly) {
  for (std::string url : std::vector<std::string>{"http://127.0.0.1:9/internal?x=", "http://a/base", "http://a?x=1", "http://a#f",
                          "http://user@a", "http://user:pw@a:1", "http://a:", "http://a:99999", "http://a:80x",
                          "http://[::1", "http://[]", "http://[::1]x", "http://a_b", "http://a//"}) {
    EXPECT_TRUE(fails_with(api::parse_register_request(with(modern_register(), "agent_url", url)),
                           api::errc::invalid_field, "origin"))
        << url;
  }
}

TEST(RegisterRequest, EnforcesFieldSizesAtTheBoundary) {
  auto const parse_with = [](std::string_view key, std::string const& value) {
    return api::parse_register_request(with(modern_register(), key, value));
  };
  EXPECT_TRUE(parse_with("vm_name", std::string(63, 'v')));
  EXPECT_TRUE(fails_with(parse_with("vm_name", std::string(64, 'v')), api::errc::invalid_field,
                         "body.vm_name"));
  EXPECT_TRUE(parse_with("node_size", std::string(32, 'n')));
  EXPECT_TRUE(fails_with(parse_with("node_size", std::string(33, 'n')), api::errc::invalid_field,
                         "body.node_size"));
  EXPECT_TRUE(parse_with("owner", "github:user/" + std::string(39, 'o')));
  EXPECT_TRUE(fails_with(parse_with("owner", "github:user/" + std::string(40, 'o')),
                         api::errc::invalid_field, "body.owner"));
  EXPECT_TRUE(parse_with("intel_ta_token", std::string(16 * 1024, 't')));
  EXPECT_TRUE(fails_with(parse_with("intel_ta_token", std::string(16 * 1024 + 1, 't')),
                         api::errc::invalid_field, "at most 16384"));
  EXPECT_TRUE(parse_with("quote_b64", std::string(64 * 1024, 'Q')));
  EXPECT_TRUE(fails_with(parse_with("quote_b64", std::string(64 * 1024 + 1, 'Q')),
                         api::errc::invalid_field, "at most 65536"));
  EXPECT_TRUE(fails_with(parse_with("public_key", std::string(4097, 'A')), api::errc::invalid_field,
                         "at most 4096"));
  std::string const url = "http://a";
  EXPECT_TRUE(parse_with("agent_url", url + std::string(512 - url.size(), 'p')));
  EXPECT_TRUE(fails_with(parse_with("agent_url", url + std::string(513 - url.size(), 'p')),
                         api::errc::invalid_field, "at most 512"));
}

TEST(RegisterRequest, RejectsOversizedDocument) {
  // 128 KiB bounds the document whatever its fields.
  auto r =
      api::parse_register_request(with(modern_register(), "padding", std::string(128 * 1024, ' ')));
  EXPECT_TRUE(fails_with(r, ee::errc::json_too_large, "exceeds"));
  auto const exact = text(modern_register());
  auto const pad = std::string(128 * 1024 - exact.size(), ' ');
  EXPECT_TRUE(api::parse_register_request(exact + pad)) << "whitespace up to the limit";
  EXPECT_TRUE(fails_with(api::parse_register_request(exact + pad + " "), ee::errc::json_too_large,
                         "exceeds"));
}

TEST(RegisterRequest, IgnoresUnknownFields) {
  // A newer agent may send fields an older CP does not know.
  auto o = modern_register();
  o["future_field"] = bj::object{{"nested", bj::array{1, "two", nullptr}}};
  o["vm_label"] = 42;
  auto r = api::parse_register_request(text(o));
  ASSERT_TRUE(r) << r.error().message();
  auto plain = api::parse_register_request(text(modern_register()));
  ASSERT_TRUE(plain);
  EXPECT_EQ(fields(*r), fields(*plain));
}

TEST(RegisterRequest, NullOrEmptyOptionalsReadAsAbsent) {
  for (bj::value const& v : {bj::value(nullptr), bj::value("")}) {
    auto o = modern_register();
    o["owner"] = v;
    o["quote_b64"] = v;
    o["agent_url"] = v;
    o["public_key"] = v;
    auto r = api::parse_register_request(text(o));
    ASSERT_TRUE(r) << bj::serialize(v) << ": " << r.error().message();
    EXPECT_EQ(r->owner, "");
    EXPECT_EQ(r->quote_b64, "");
    EXPECT_EQ(r->agent_url, "");
    EXPECT_EQ(r->public_key, "");
  }
}

TEST(RegisterRequest, ErrorsDoNotEchoSecretValues) {
  std::string const token = "eyJsecret.payload.sig$";
  auto r = api::parse_register_request(with(modern_register(), "intel_ta_token", token));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
  auto long_token = api::parse_register_request(
      with(modern_register(), "intel_ta_token", "secret" + std::string(20'000, 'x')));
  ASSERT_FALSE(long_token);
  EXPECT_EQ(long_token.error().message().find("secret"), std::string::npos);
  auto key = api::parse_register_request(with(modern_register(), "public_key", "secretkey"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().message().find("secret"), std::string::npos);
}

TEST(RegisterRequest, RejectsDuplicateKeys) {
  auto const body = text(modern_register());
  // The same key twice, with the same or a different value: ambiguity is refused.
  for (std::string const& dup :
       Strings{R"("vm_name":"tdx-vm-1",)", R"("vm_name":"other",)",
               R"("nonce":")" + std::string(kNonce64) + R"(",)", R"("unknown":1,"unknown":2,)"}) {
    auto r = api::parse_register_request("{" + dup + body.substr(1));
    EXPECT_TRUE(fails_with(r, ee::errc::duplicate_json_key, "repeats")) << dup;
  }
}

TEST(RegisterRequest, RejectsTrailingGarbage) {
  auto const body = text(modern_register());
  for (std::string const& tail : Strings{" x", "{}", ",", "]", "}", "\"", "0", "null", "\x01"})
    EXPECT_TRUE(
        fails_with(api::parse_register_request(body + tail), ee::errc::invalid_json, "JSON"))
        << tail;
  EXPECT_TRUE(fails_with(api::parse_register_request(body + body), ee::errc::invalid_json, "JSON"));
}

TEST(RegisterRequest, AcceptsSurroundingWhitespace) {
  EXPECT_TRUE(api::parse_register_request(" \n\t" + text(modern_register()) + "\r\n "));
}

TEST(RegisterRequest, RejectsNonObjectJson) {
  for (std::string const& doc :
       Strings{"[]", "null", "\"x\"", "1", "true", "[{\"vm_name\":\"x\"}]"})
    EXPECT_TRUE(fails_with(api::parse_register_request(doc), ee::errc::wrong_type, "body")) << doc;
  for (std::string const& doc :
       Strings{"", " ", "{", "}", "{'vm_name':'x'}", R"({"vm_name":"x",})", "{/* c */}",
               "{\"vm_name\":\"\xff\"}", "{vm_name:1}", R"({"a":01})", R"({"a":NaN})"})
    EXPECT_TRUE(fails_with(api::parse_register_request(doc), ee::errc::invalid_json, "JSON"))
        << doc;
}

TEST(RegisterRequest, RejectsDeepNesting) {
  std::string deep = R"({"future":)";
  for (int i = 0; i < 20; ++i) deep += "[";
  for (int i = 0; i < 20; ++i) deep += "]";
  deep += "}";
  EXPECT_TRUE(fails_with(api::parse_register_request(deep), ee::errc::json_too_deep, "nesting"));
}

TEST(RegisterRequest, RoundTripsThroughToJson) {
  api::RegisterRequest const in{.vm_name = "tdx-vm-1",
                                .owner = "github:user/Octo",
                                .node_size = "llm",
                                .datacenter = "azure:westeurope-1",
                                .nonce = std::string(kNonce64),
                                .public_key = agent_key(),
                                .intel_ta_token = std::string(kToken),
                                .quote_b64 = std::string(kQuote),
                                .agent_url = "https://10.0.0.7:8443"};
  auto out = api::parse_register_request(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
  EXPECT_EQ(api::to_json(*out), api::to_json(in));
}

TEST(RegisterRequest, LegacyRoundTripLeavesOutAbsentOptionals) {
  api::RegisterRequest const in{.vm_name = "legacy-vm",
                                .node_size = "tiny",
                                .datacenter = "baremetal:lab1",
                                .nonce = std::string(kNonce32),
                                .intel_ta_token = std::string(kToken)};
  auto const json = api::to_json(in);
  auto const o = bj::parse(json).as_object();
  for (auto key : {"owner", "public_key", "quote_b64", "agent_url"})
    EXPECT_FALSE(o.contains(key)) << key << " in " << json;
  for (auto key : {"vm_name", "node_size", "datacenter", "nonce", "intel_ta_token"})
    EXPECT_TRUE(o.contains(key)) << key << " missing from " << json;
  auto out = api::parse_register_request(json);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

// ============================================================================================
// Challenge
// ============================================================================================

api::Challenge challenge() {
  return {.nonce = std::string(kNonce64),
          .expires_in_seconds = 300,
          .ttl_seconds = 300,
          .issued_at = ee::detail::from_unix_seconds(kNow)};
}

TEST(Challenge, WritesTheDocumentedShape) {
  EXPECT_EQ(api::to_json(challenge()), R"({"nonce":")" + std::string(kNonce64) +
                                           R"(","expires_in_seconds":300,"ttl_seconds":300,)"
                                           R"("issued_at":"2025-10-09T08:53:20Z"})");
}

TEST(Challenge, RoundTrips) {
  auto const in = challenge();
  auto out = api::parse_challenge(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(Challenge, LeavesOutAnUnsetIssuedAt) {
  auto in = challenge();
  in.issued_at = {};
  auto const json = api::to_json(in);
  EXPECT_EQ(json.find("issued_at"), std::string::npos) << json;
  auto out = api::parse_challenge(json);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(Challenge, IssuedAtTravelsInWholeSeconds) {
  auto in = challenge();
  in.issued_at += std::chrono::milliseconds(750);
  auto out = api::parse_challenge(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->issued_at, ee::detail::from_unix_seconds(kNow));
}

TEST(Challenge, AcceptsEitherLifetimeField) {
  std::string const nonce = R"({"nonce":")" + std::string(kNonce64) + R"(",)";
  auto old_cp = api::parse_challenge(nonce + R"("expires_in_seconds":60})");
  ASSERT_TRUE(old_cp) << old_cp.error().message();
  EXPECT_EQ(old_cp->expires_in_seconds, 60);
  EXPECT_EQ(old_cp->ttl_seconds, 60);
  EXPECT_EQ(old_cp->issued_at, api::TimePoint{});
  auto new_cp =
      api::parse_challenge(nonce + R"("ttl_seconds":90,"issued_at":"2025-10-09T10:53:20+02:00"})");
  ASSERT_TRUE(new_cp) << new_cp.error().message();
  EXPECT_EQ(new_cp->expires_in_seconds, 90);
  EXPECT_EQ(new_cp->ttl_seconds, 90);
  EXPECT_EQ(new_cp->issued_at, ee::detail::from_unix_seconds(kNow));
  auto both = api::parse_challenge(nonce + R"("expires_in_seconds":10,"ttl_seconds":20})");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->expires_in_seconds, 10);
  EXPECT_EQ(both->ttl_seconds, 20);
  auto zero = api::parse_challenge(nonce + R"("expires_in_seconds":0})");
  ASSERT_TRUE(zero) << "0 is present, not missing";
  EXPECT_EQ(zero->expires_in_seconds, 0);
}

TEST(Challenge, RejectsMissingLifetime) {
  std::string const nonce = R"({"nonce":")" + std::string(kNonce64) + R"(")";
  EXPECT_TRUE(fails_with(api::parse_challenge(nonce + "}"), ee::errc::missing_field,
                         "body.expires_in_seconds"));
  EXPECT_TRUE(
      fails_with(api::parse_challenge(nonce + R"(,"expires_in_seconds":null,"ttl_seconds":null})"),
                 ee::errc::missing_field, "ttl_seconds"));
}

TEST(Challenge, RejectsOutOfRangeAndMistypedLifetimes) {
  std::string const nonce = R"({"nonce":")" + std::string(kNonce64) + R"(",)";
  for (std::string_view key : {"expires_in_seconds", "ttl_seconds"}) {
    auto const doc = [&](std::string const& v) {
      return nonce + "\"" + std::string(key) + "\":" + v + "}";
    };
    EXPECT_TRUE(api::parse_challenge(doc("31536000"))) << key;
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("31536001")), ee::errc::out_of_range, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("-1")), ee::errc::out_of_range, key));
    EXPECT_TRUE(
        fails_with(api::parse_challenge(doc("18446744073709551615")), ee::errc::out_of_range, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("1.5")), ee::errc::wrong_type, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("6e1")), ee::errc::wrong_type, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("\"60\"")), ee::errc::wrong_type, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("true")), ee::errc::wrong_type, key));
    EXPECT_TRUE(fails_with(api::parse_challenge(doc("1e400")), ee::errc::out_of_range, "number"));
  }
}

TEST(Challenge, RejectsBadNonce) {
  auto const doc = [](std::string const& nonce) {
    return R"({"nonce":")" + nonce + R"(","expires_in_seconds":60})";
  };
  std::string upper(kNonce64);
  for (auto& c : upper) c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  // Unlike register, no 32-character form: the CP always issues 32 bytes.
  for (std::string const& nonce : Strings{std::string(kNonce32), upper, std::string(kNonce64) + "0",
                                          ""s, std::string(63, 'a') + "g"})
    EXPECT_TRUE(
        fails_with(api::parse_challenge(doc(nonce)), api::errc::invalid_field, "body.nonce"))
        << nonce;
  EXPECT_TRUE(fails_with(api::parse_challenge(R"({"expires_in_seconds":60})"),
                         ee::errc::missing_field, "body.nonce"));
  EXPECT_TRUE(fails_with(api::parse_challenge(R"({"nonce":7,"expires_in_seconds":60})"),
                         ee::errc::wrong_type, "body.nonce"));
}

TEST(Challenge, RejectsBadIssuedAt) {
  auto const base = bj::parse(api::to_json(challenge())).as_object();
  for (std::string const& t :
       Strings{"", "yesterday", "2025-10-09", "2025-10-09T08:53:20", "2025-13-09T08:53:20Z",
               "1760000000", "2025-10-09T08:53:20Z x"})
    EXPECT_TRUE(fails_with(api::parse_challenge(with(base, "issued_at", t)),
                           api::errc::invalid_field, "body.issued_at"))
        << t;
  EXPECT_TRUE(fails_with(api::parse_challenge(with(base, "issued_at", kNow)), ee::errc::wrong_type,
                         "body.issued_at"));
  auto null_time = api::parse_challenge(with(base, "issued_at", nullptr));
  ASSERT_TRUE(null_time);
  EXPECT_EQ(null_time->issued_at, api::TimePoint{});
}

// ============================================================================================
// Register response
// ============================================================================================

api::RegisterResponse register_response() {
  return {.agent_id = "agent-7f3a",
          .tunnel_token = "eyJhIjoiYiJ9+/=",
          .hostname = "agent-7f3a.agents.example.com",
          .heartbeat_interval_seconds = 45,
          .cp_public_key = agent_key()};
}

TEST(RegisterResponse, RoundTrips) {
  auto const in = register_response();
  auto out = api::parse_register_response(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(RegisterResponse, LeavesOutAbsentOptionals) {
  api::RegisterResponse const in{.agent_id = "a1"};
  auto const json = api::to_json(in);
  EXPECT_EQ(json, R"({"agent_id":"a1","heartbeat_interval_seconds":30})");
  auto out = api::parse_register_response(json);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(RegisterResponse, IntervalDefaultsTo30) {
  auto out = api::parse_register_response(R"({"agent_id":"a1"})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->heartbeat_interval_seconds, 30);
  EXPECT_EQ(out->tunnel_token, "");
  EXPECT_EQ(out->hostname, "");
  EXPECT_EQ(out->cp_public_key, "");
}

TEST(RegisterResponse, RejectsBadAgentId) {
  EXPECT_TRUE(
      fails_with(api::parse_register_response("{}"), ee::errc::missing_field, "body.agent_id"));
  EXPECT_TRUE(fails_with(api::parse_register_response(R"({"agent_id":1})"), ee::errc::wrong_type,
                         "body.agent_id"));
  EXPECT_TRUE(api::parse_register_response(R"({"agent_id":")" + std::string(128, 'i') + "\"}"));
  for (std::string const& id :
       Strings{""s, std::string(129, 'i'), "-a"s, "a/b"s, "a b"s, "../x"s, "a\\u0000"s})
    EXPECT_TRUE(fails_with(api::parse_register_response(R"({"agent_id":")" + id + "\"}"),
                           api::errc::invalid_field, "body.agent_id"))
        << id;
}

TEST(RegisterResponse, RejectsBadOptionalFields) {
  auto const base = bj::parse(api::to_json(register_response())).as_object();
  struct Case {
    std::string_view key;
    std::string value;
  };
  Case const cases[] = {
      {"tunnel_token", "has space"},
      {"tunnel_token", "line\nbreak"},
      {"tunnel_token", std::string(4097, 't')},
      {"tunnel_token", "caf\xc3\xa9"},
      {"hostname", "-agent.example"},
      {"hostname", "agent..example"},
      {"hostname", "agent.example."},
      {"hostname", "agent-"},
      {"hostname", "agent_1.example"},
      {"hostname", "agent example"},
      {"hostname", std::string(254, 'h')},
      {"hostname", "a.-b"},
      {"hostname", "a-.b"},
      {"hostname", std::string(64, 'h') + ".example"},
      {"cp_public_key", "not a key"},
      {"cp_public_key", std::string(4097, 'A')},
  };
  for (auto const& c : cases)
    EXPECT_TRUE(fails_with(api::parse_register_response(with(base, c.key, c.value)),
                           api::errc::invalid_field, "body." + std::string(c.key)))
        << c.key << " = " << c.value.substr(0, 40);
  EXPECT_TRUE(api::parse_register_response(with(base, "tunnel_token", std::string(4096, 't'))));
  // 253 characters in labels of at most 63: the longest DNS name.
  auto const label = std::string(63, 'h');
  auto const longest = label + "." + label + "." + label + "." + std::string(61, 'h');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(api::parse_register_response(with(base, "hostname", longest)));
  for (std::string_view key : {"tunnel_token", "hostname", "cp_public_key"})
    EXPECT_TRUE(
        fails_with(api::parse_register_response(with(base, key, 5)), ee::errc::wrong_type, key));
}

TEST(RegisterResponse, EnforcesIntervalRange) {
  auto const base = bj::parse(api::to_json(register_response())).as_object();
  auto const parse = [&](bj::value v) {
    return api::parse_register_response(with(base, "heartbeat_interval_seconds", std::move(v)));
  };
  EXPECT_EQ(parse(1).value().heartbeat_interval_seconds, 1);
  EXPECT_EQ(parse(86400).value().heartbeat_interval_seconds, 86400);
  EXPECT_TRUE(fails_with(parse(0), ee::errc::out_of_range, "heartbeat_interval_seconds"));
  EXPECT_TRUE(fails_with(parse(-30), ee::errc::out_of_range, "heartbeat_interval_seconds"));
  EXPECT_TRUE(fails_with(parse(86401), ee::errc::out_of_range, "heartbeat_interval_seconds"));
  EXPECT_TRUE(fails_with(parse("30"), ee::errc::wrong_type, "heartbeat_interval_seconds"));
  EXPECT_TRUE(fails_with(parse(30.0), ee::errc::wrong_type, "heartbeat_interval_seconds"));
  EXPECT_EQ(parse(nullptr).value().heartbeat_interval_seconds, 30);
}

TEST(RegisterResponse, TunnelTokenIsNotEchoed) {
  auto const base = bj::parse(api::to_json(register_response())).as_object();
  auto r = api::parse_register_response(with(base, "tunnel_token", "secret token"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
}

// ============================================================================================
// Heartbeat
// ============================================================================================

api::HeartbeatRequest heartbeat_with_evidence() {
  return {.status = "running",
          .image_digest = digest(),
          .deployment_id = "dep-42",
          .nonce = std::string(kNonce64),
          .intel_ta_token = std::string(kToken),
          .quote_b64 = std::string(kQuote)};
}

TEST(HeartbeatRequest, RoundTripsWithEvidence) {
  auto const in = heartbeat_with_evidence();
  auto out = api::parse_heartbeat_request(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(HeartbeatRequest, IdleHeartbeatIsJustTheStatus) {
  api::HeartbeatRequest const in{.status = "idle"};
  EXPECT_EQ(api::to_json(in), R"({"status":"idle"})");
  auto out = api::parse_heartbeat_request(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(HeartbeatRequest, EitherPieceOfEvidenceIsEnough) {
  auto token_only = heartbeat_with_evidence();
  token_only.quote_b64.clear();
  EXPECT_TRUE(api::parse_heartbeat_request(api::to_json(token_only)));
  auto quote_only = heartbeat_with_evidence();
  quote_only.intel_ta_token.clear();
  EXPECT_TRUE(api::parse_heartbeat_request(api::to_json(quote_only)));
}

TEST(HeartbeatRequest, EvidenceRequiresANonce) {
  auto in = heartbeat_with_evidence();
  in.nonce.clear();
  EXPECT_TRUE(fails_with(api::parse_heartbeat_request(api::to_json(in)), ee::errc::missing_field,
                         "body.nonce"));
}

TEST(HeartbeatRequest, NonceRequiresEvidence) {
  api::HeartbeatRequest const in{.status = "idle", .nonce = std::string(kNonce64)};
  EXPECT_TRUE(fails_with(api::parse_heartbeat_request(api::to_json(in)), api::errc::invalid_field,
                         "body.nonce"));
}

TEST(HeartbeatRequest, NonceMustBe64LowerCaseHex) {
  auto in = heartbeat_with_evidence();
  for (std::string const& nonce : Strings{std::string(kNonce32), std::string(64, 'A'),
                                          std::string(65, 'a'), std::string(63, 'a') + "x"}) {
    in.nonce = nonce;
    EXPECT_TRUE(fails_with(api::parse_heartbeat_request(api::to_json(in)), api::errc::invalid_field,
                           "body.nonce"))
        << nonce;
  }
}

TEST(HeartbeatRequest, RejectsBadStatus) {
  EXPECT_TRUE(
      fails_with(api::parse_heartbeat_request("{}"), ee::errc::missing_field, "body.status"));
  EXPECT_TRUE(fails_with(api::parse_heartbeat_request(R"({"status":1})"), ee::errc::wrong_type,
                         "body.status"));
  for (std::string const& ok : Strings{"idle", "pulling", "failed_2", "x-y", std::string(32, 's')})
    EXPECT_TRUE(api::parse_heartbeat_request(R"({"status":")" + ok + "\"}")) << ok;
  for (std::string const& bad : Strings{""s, "Idle"s, "2idle"s, "-idle"s, "_idle"s, "id le"s,
                                        "idle.now"s, std::string(33, 's')})
    EXPECT_TRUE(fails_with(api::parse_heartbeat_request(R"({"status":")" + bad + "\"}"),
                           api::errc::invalid_field, "body.status"))
        << bad;
}

TEST(HeartbeatRequest, RejectsBadDigestAndDeploymentId) {
  auto const base = bj::parse(api::to_json(heartbeat_with_evidence())).as_object();
  for (std::string const& d : Strings{"sha256:abc", "sha256:" + std::string(64, 'A'),
                                      std::string(kHex64), "sha1:" + std::string(40, 'a')})
    EXPECT_TRUE(fails_with(api::parse_heartbeat_request(with(base, "image_digest", d)),
                           api::errc::invalid_field, "body.image_digest"))
        << d;
  for (std::string const& id : Strings{"-dep", "dep/1", std::string(129, 'd')})
    EXPECT_TRUE(fails_with(api::parse_heartbeat_request(with(base, "deployment_id", id)),
                           api::errc::invalid_field, "body.deployment_id"))
        << id;
  EXPECT_TRUE(api::parse_heartbeat_request(with(base, "deployment_id", std::string(128, 'd'))));
}

TEST(HeartbeatRequest, RejectsOversizedEvidence) {
  auto const base = bj::parse(api::to_json(heartbeat_with_evidence())).as_object();
  EXPECT_TRUE(api::parse_heartbeat_request(with(base, "quote_b64", std::string(64 * 1024, 'Q'))));
  EXPECT_TRUE(fails_with(
      api::parse_heartbeat_request(with(base, "quote_b64", std::string(64 * 1024 + 1, 'Q'))),
      api::errc::invalid_field, "body.quote_b64"));
  EXPECT_TRUE(fails_with(
      api::parse_heartbeat_request(with(base, "intel_ta_token", std::string(16 * 1024 + 1, 't'))),
      api::errc::invalid_field, "body.intel_ta_token"));
  EXPECT_TRUE(
      fails_with(api::parse_heartbeat_request(with(base, "pad", std::string(128 * 1024, 'p'))),
                 ee::errc::json_too_large, "exceeds"));
}

TEST(HeartbeatResponse, WritesEveryField) {
  EXPECT_EQ(api::to_json(api::HeartbeatResponse{}),
            R"({"verified":true,"attestation_due":false,"heartbeat_interval_seconds":30})");
}

TEST(HeartbeatResponse, RoundTrips) {
  for (api::HeartbeatResponse const& in :
       {api::HeartbeatResponse{}, api::HeartbeatResponse{false, true, 1},
        api::HeartbeatResponse{true, true, 86400}}) {
    auto out = api::parse_heartbeat_response(api::to_json(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(fields(*out), fields(in));
  }
}

TEST(HeartbeatResponse, OptionalFieldsHaveDefaults) {
  auto out = api::parse_heartbeat_response(R"({"verified":false})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_FALSE(out->verified);
  EXPECT_FALSE(out->attestation_due);
  EXPECT_EQ(out->heartbeat_interval_seconds, 30);
}

TEST(HeartbeatResponse, RejectsMissingOrMistypedFields) {
  EXPECT_TRUE(
      fails_with(api::parse_heartbeat_response("{}"), ee::errc::missing_field, "body.verified"));
  EXPECT_TRUE(fails_with(api::parse_heartbeat_response(R"({"verified":null})"),
                         ee::errc::missing_field, "body.verified"));
  for (std::string const& v : Strings{"\"true\"", "1", "0", "[]"}) {
    EXPECT_TRUE(fails_with(api::parse_heartbeat_response(R"({"verified":)" + v + "}"),
                           ee::errc::wrong_type, "body.verified"))
        << v;
    EXPECT_TRUE(fails_with(
        api::parse_heartbeat_response(R"({"verified":true,"attestation_due":)" + v + "}"),
        ee::errc::wrong_type, "body.attestation_due"))
        << v;
  }
  for (std::string const& v : Strings{"0", "86401", "-1"})
    EXPECT_TRUE(fails_with(api::parse_heartbeat_response(
                               R"({"verified":true,"heartbeat_interval_seconds":)" + v + "}"),
                           ee::errc::out_of_range, "body.heartbeat_interval_seconds"))
        << v;
}

// ============================================================================================
// CP -> agent
// ============================================================================================

TEST(AgentDeployRequest, RoundTripsWithEnv) {
  api::AgentDeployRequest const in{.deployment_id = "dep-1",
                                   .app_name = "web",
                                   .version = "1.2.3+build.7",
                                   .image = image(),
                                   .env = {{"MODE", "prod"},
                                           {"EMPTY", ""},
                                           {"_PRIVATE", "quote \" backslash \\ newline \n tab \t"},
                                           {"UNICODE", "caf\xc3\xa9 \xe2\x9c\x93"},
                                           {"NUL", std::string("a\0b", 3)},
                                           {"x1", std::string(4096, 'v')}}};
  auto out = api::parse_agent_deploy_request(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
}

TEST(AgentDeployRequest, LeavesOutEmptyVersionAndEnv) {
  api::AgentDeployRequest const in{.deployment_id = "d", .app_name = "a", .image = image()};
  EXPECT_EQ(api::to_json(in),
            R"({"deployment_id":"d","app_name":"a","image":")" + image() + R"("})");
  auto out = api::parse_agent_deploy_request(api::to_json(in));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(fields(*out), fields(in));
  auto empty_env = api::parse_agent_deploy_request(with(deploy_request(), "env", bj::object{}));
  ASSERT_TRUE(empty_env);
  EXPECT_TRUE(empty_env->env.empty());
  auto null_env = api::parse_agent_deploy_request(with(deploy_request(), "env", nullptr));
  ASSERT_TRUE(null_env);
  EXPECT_TRUE(null_env->env.empty());
}

TEST(AgentDeployRequest, RejectsMissingOrBadRequiredFields) {
  for (std::string_view key : {"deployment_id", "app_name", "image"}) {
    EXPECT_TRUE(fails_with(api::parse_agent_deploy_request(without(deploy_request(), key)),
                           ee::errc::missing_field, "body." + std::string(key)))
        << key;
    EXPECT_TRUE(fails_with(api::parse_agent_deploy_request(with(deploy_request(), key, 1)),
                           ee::errc::wrong_type, "body." + std::string(key)))
        << key;
  }
  struct Case {
    std::string_view key;
    std::string value;
  };
  Case const cases[] = {
      {"deployment_id", "-dep"},
      {"deployment_id", std::string(129, 'd')},
      {"app_name", "-web"},
      {"app_name", std::string(64, 'w')},
      {"app_name", "web app"},
      {"version", "-1"},
      {"version", "1 2"},
      {"version", std::string(129, '1')},
      {"image", "ghcr.io/acme/app:latest"},
      {"image", "ghcr.io/acme/app@sha256:" + std::string(64, 'F')},
      {"image", "ghcr.io/acme/app@sha256:" + std::string(63, 'f')},
  };
  for (auto const& c : cases)
    EXPECT_TRUE(fails_with(api::parse_agent_deploy_request(with(deploy_request(), c.key, c.value)),
                           api::errc::invalid_field, "body." + std::string(c.key)))
        << c.key << " = " << c.value;
  EXPECT_TRUE(
      api::parse_agent_deploy_request(with(deploy_request(), "version", std::string(128, '1'))));
}

TEST(AgentDeployRequest, EnforcesEnvLimits) {
  bj::object env;
  for (int i = 0; i < 64; ++i) env["VAR_" + std::to_string(i)] = "v";
  auto sixty_four = api::parse_agent_deploy_request(with(deploy_request(), "env", env));
  ASSERT_TRUE(sixty_four) << sixty_four.error().message();
  EXPECT_EQ(sixty_four->env.size(), 64u);
  env["VAR_64"] = "v";
  EXPECT_TRUE(fails_with(api::parse_agent_deploy_request(with(deploy_request(), "env", env)),
                         api::errc::invalid_field, "body.env"));

  auto const one = [](std::string const& name, bj::value value) {
    return api::parse_agent_deploy_request(
        with(deploy_request(), "env", bj::object{{name, std::move(value)}}));
  };
  EXPECT_TRUE(one("N" + std::string(127, '_'), "v"));
  EXPECT_TRUE(
      fails_with(one("N" + std::string(128, '_'), "v"), api::errc::invalid_field, "body.env"));
  EXPECT_TRUE(one("VALUE", jstr(std::string(4096, 'v'))));
  EXPECT_TRUE(fails_with(one("VALUE", jstr(std::string(4097, 'v'))), api::errc::invalid_field,
                         "body.env.VALUE"));
}

TEST(AgentDeployRequest, RejectsBadEnvNamesWithoutEchoingThem) {
  for (std::string const& name : Strings{"1ABC", "A-B", "", "A B", "A=B", "A.B", "caf\xc3\xa9",
                                         "$HOME", "SECRET\nX", std::string("A\0B", 3)}) {
    auto r = api::parse_agent_deploy_request(
        with(deploy_request(), "env", bj::object{{"OK", "1"}, {name, "v"}}));
    EXPECT_TRUE(fails_with(r, api::errc::invalid_field, "entry 1")) << name;
    if (!r && !name.empty()) {
      EXPECT_EQ(r.error().message().find(name), std::string::npos) << name;
    }
  }
}

TEST(AgentDeployRequest, RejectsNonStringEnvValuesAndNonObjectEnv) {
  for (bj::value const& v :
       {bj::value(1), bj::value(true), bj::value(bj::array{}), bj::value(bj::object{{"A", "b"}})})
    EXPECT_TRUE(fails_with(
        api::parse_agent_deploy_request(with(deploy_request(), "env", bj::object{{"NAME", v}})),
        ee::errc::wrong_type, "body.env.NAME"))
        << bj::serialize(v);
  EXPECT_TRUE(fails_with(
      api::parse_agent_deploy_request(with(deploy_request(), "env", bj::object{{"NAME", nullptr}})),
      ee::condition::invalid_input, "body.env.NAME"));
  for (bj::value const& v : {bj::value("A=B"), bj::value(bj::array{"A=B"}), bj::value(1)})
    EXPECT_TRUE(fails_with(api::parse_agent_deploy_request(with(deploy_request(), "env", v)),
                           ee::errc::wrong_type, "body.env"))
        << bj::serialize(v);
}

TEST(AgentDeployRequest, EnvValuesAreNotEchoed) {
  auto r = api::parse_agent_deploy_request(
      with(deploy_request(), "env", bj::object{{"TOKEN", "secret" + std::string(5000, 's')}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
}

TEST(AgentUndeployRequest, RoundTrips) {
  EXPECT_EQ(api::to_json(api::AgentUndeployRequest{}), "{}");
  EXPECT_EQ(api::to_json(api::AgentUndeployRequest{"dep-1"}), R"({"deployment_id":"dep-1"})");
  for (api::AgentUndeployRequest const& in :
       {api::AgentUndeployRequest{}, api::AgentUndeployRequest{"dep-1"}}) {
    auto out = api::parse_agent_undeploy_request(api::to_json(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(fields(*out), fields(in));
  }
}

TEST(AgentUndeployRequest, RejectsBadDeploymentId) {
  EXPECT_TRUE(fails_with(api::parse_agent_undeploy_request(R"({"deployment_id":"../etc"})"),
                         api::errc::invalid_field, "body.deployment_id"));
  EXPECT_TRUE(fails_with(api::parse_agent_undeploy_request(R"({"deployment_id":7})"),
                         ee::errc::wrong_type, "body.deployment_id"));
  EXPECT_TRUE(fails_with(api::parse_agent_undeploy_request("[]"), ee::errc::wrong_type, "body"));
  auto null_id = api::parse_agent_undeploy_request(R"({"deployment_id":null})");
  ASSERT_TRUE(null_id);
  EXPECT_EQ(null_id->deployment_id, "");
}

TEST(AgentDeployResponse, RoundTrips) {
  EXPECT_EQ(api::to_json(api::AgentDeployResponse{.status = "stopped"}), R"({"status":"stopped"})");
  for (api::AgentDeployResponse const& in :
       {api::AgentDeployResponse{.status = "stopped"},
        api::AgentDeployResponse{.deployment_id = "dep-1", .status = "deploying"}}) {
    auto out = api::parse_agent_deploy_response(api::to_json(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(fields(*out), fields(in));
  }
}

TEST(AgentDeployResponse, RejectsBadFields) {
  EXPECT_TRUE(fails_with(api::parse_agent_deploy_response(R"({"deployment_id":"d"})"),
                         ee::errc::missing_field, "body.status"));
  EXPECT_TRUE(fails_with(api::parse_agent_deploy_response(R"({"status":"Running"})"),
                         api::errc::invalid_field, "body.status"));
  EXPECT_TRUE(fails_with(api::parse_agent_deploy_response(R"({"status":["running"]})"),
                         ee::errc::wrong_type, "body.status"));
  EXPECT_TRUE(
      fails_with(api::parse_agent_deploy_response(R"({"deployment_id":"a b","status":"running"})"),
                 api::errc::invalid_field, "body.deployment_id"));
}

// What ee-agent answers when registered, running a deployment, and asked for fresh evidence.
api::AgentHealth agent_health() {
  api::AgentHealth h;
  h.status = "ok";
  h.version = "0.1.0";
  h.mode = "agent";
  h.agent_id = "agent-1";
  h.vm_name = "vm-1";
  h.registered = true;
  h.hostname = "agent-1.agents.example.com";
  h.public_key = agent_key();
  h.uptime_seconds = 3600;
  h.workload = {.state = "running",
                .deployment_id = "dep-1",
                .image = image(),
                .image_digest = digest(),
                .detail = "up since 12:00; \"quoted\"\n",
                .restarts = 2};
  h.tunnel = {.state = "running", .restarts = 1};
  h.cp_trust = "attested";
  h.cp_mrtd = std::string(96, 'a');
  h.last_error = "heartbeat: HTTP 503";
  h.attestation = api::HealthAttestation{.quote_b64 = std::string(kQuote),
                                         .report_data = std::string(kHex64) + std::string(kHex64),
                                         .provider = "simulator"};
  return h;
}

auto fields(api::AgentHealth const& h) {
  return std::tie(h.status, h.version, h.mode, h.agent_id, h.vm_name, h.registered, h.hostname,
                  h.public_key, h.uptime_seconds, h.workload.state, h.workload.deployment_id,
                  h.workload.image, h.workload.image_digest, h.workload.detail,
                  h.workload.restarts, h.tunnel.state, h.tunnel.restarts, h.control_plane,
                  h.cp_trust, h.cp_mrtd, h.last_error);
}

TEST(AgentHealth, RoundTrips) {
  api::AgentHealth idle;
  idle.status = "ok";
  idle.workload.state = "idle";
  // Every field the agent always sends is written, empty or not; the others only when set.
  EXPECT_EQ(api::to_json(idle),
            R"({"status":"ok","version":"","mode":"","agent_id":"","vm_name":"","registered":false,)"
            R"("hostname":"","public_key":"","uptime_seconds":0,"workload":{"state":"idle",)"
            R"("deployment_id":"","image":"","image_digest":"","detail":"","restarts":0},)"
            R"("tunnel":{"state":"","restarts":0}})");
  for (auto const& in : {idle, agent_health()}) {
    auto out = api::parse_agent_health(api::to_json(in));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(fields(*out), fields(in));
    ASSERT_EQ(out->attestation.has_value(), in.attestation.has_value());
    if (in.attestation) {
      EXPECT_EQ(out->attestation->quote_b64, in.attestation->quote_b64);
      EXPECT_EQ(out->attestation->report_data, in.attestation->report_data);
      EXPECT_EQ(out->attestation->provider, in.attestation->provider);
    }
    EXPECT_EQ(api::to_json(*out), api::to_json(in));
  }
}

// What ee-agent writes (src/agent/agent_api.cpp), byte for byte: before it registered, in agent
// mode (cp_trust, no cp_mrtd), and in cp-bootstrap mode (control_plane, no cp_trust). Each reads
// and writes back to itself.
TEST(AgentHealth, WritesTheAgentsAnswerByteForByte) {
  for (std::string const text : {
           R"({"status":"ok","version":"0.1.0","mode":"agent","agent_id":"","vm_name":"vm-1",)"
           R"("registered":false,"hostname":"","public_key":"x","uptime_seconds":3,)"
           R"("workload":{"state":"idle","deployment_id":"","image":"","image_digest":"",)"
           R"("detail":"","restarts":0},"tunnel":{"state":"none","restarts":0},)"
           R"("cp_trust":"trust_on_first_use","last_error":"register: HTTP 403 \"no\""})",
           R"({"status":"ok","version":"0.1.0","mode":"cp-bootstrap","agent_id":"",)"
           R"("vm_name":"cp-1","registered":false,"hostname":"","public_key":"x",)"
           R"("uptime_seconds":70,"workload":{"state":"idle","deployment_id":"","image":"",)"
           R"("image_digest":"","detail":"","restarts":0},"tunnel":{"state":"restarting",)"
           R"("restarts":4},"control_plane":"running"})",
       }) {
    auto out = api::parse_agent_health(text);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(api::to_json(*out), text);
  }
  auto bootstrap = api::parse_agent_health(
      R"({"status":"ok","mode":"cp-bootstrap","uptime_seconds":70,"workload":{"state":"idle"},)"
      R"("tunnel":{"state":"restarting","restarts":4},"control_plane":"running"})");
  ASSERT_TRUE(bootstrap) << bootstrap.error().message();
  EXPECT_EQ(bootstrap->mode, "cp-bootstrap");
  EXPECT_EQ(bootstrap->uptime_seconds, 70);
  EXPECT_EQ(bootstrap->tunnel.state, "restarting");
  EXPECT_EQ(bootstrap->tunnel.restarts, 4);
  EXPECT_EQ(bootstrap->control_plane, "running");
  EXPECT_EQ(bootstrap->cp_trust, "");
}

// Older agents and stand-ins send less, and newer ones may send more: absent and null fields read
// as their defaults, unknown ones are ignored.
TEST(AgentHealth, ReadsAShorterAnswerAsDefaultsAndIgnoresUnknownFields) {
  auto out = api::parse_agent_health(
      R"({"status":"ok","agent_id":null,"registered":null,"tunnel":null,"future":{"x":[1]},)"
      R"("workload":{"state":"running","deployment_id":"dep-1","restarts":null,"more":true}})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->status, "ok");
  EXPECT_EQ(out->version, "");
  EXPECT_EQ(out->agent_id, "");
  EXPECT_FALSE(out->registered);
  EXPECT_EQ(out->uptime_seconds, 0);
  EXPECT_EQ(out->workload.state, "running");
  EXPECT_EQ(out->workload.deployment_id, "dep-1");
  EXPECT_EQ(out->workload.restarts, 0);
  EXPECT_EQ(out->tunnel.state, "");
  EXPECT_EQ(out->tunnel.restarts, 0);
  EXPECT_FALSE(out->attestation);
}

TEST(AgentHealth, RejectsMissingOrMalformedFieldsNamingThem) {
  EXPECT_TRUE(fails_with(api::parse_agent_health(R"({"status":"ok"})"), ee::errc::missing_field,
                         "body.workload"));
  EXPECT_TRUE(fails_with(api::parse_agent_health(R"({"workload":"running"})"),
                         ee::errc::wrong_type, "body.workload"));
  EXPECT_TRUE(fails_with(api::parse_agent_health(R"({"workload":{}})"), ee::errc::missing_field,
                         "body.workload.state"));
  EXPECT_TRUE(fails_with(api::parse_agent_health(R"({"workload":{"state":"Running!"}})"),
                         api::errc::invalid_field, "body.workload.state"));
  EXPECT_TRUE(fails_with(
      api::parse_agent_health(R"({"workload":{"state":"running","deployment_id":"../x"}})"),
      api::errc::invalid_field, "body.workload.deployment_id"));
  EXPECT_TRUE(fails_with(
      api::parse_agent_health(R"({"workload":{"state":"running","image_digest":"md5:00"}})"),
      api::errc::invalid_field, "body.workload.image_digest"));
  EXPECT_TRUE(fails_with(
      api::parse_agent_health(R"({"agent_id":"a b","workload":{"state":"idle"}})"),
      api::errc::invalid_field, "body.agent_id"));

  // Every other field, one at a time, in an answer that is otherwise the agent's.
  struct Case {
    std::string json;  // members put in front of a valid workload
    ee::error_code code;
    char const* field;
  };
  ee::error_code const invalid = api::errc::invalid_field;
  ee::error_code const wrong_type = ee::errc::wrong_type;
  ee::error_code const out_of_range = ee::errc::out_of_range;
  for (auto const& c : std::initializer_list<Case>{
           {R"("status":1)", wrong_type, "body.status"},
           {R"("version":"0.1 beta")", invalid, "body.version"},
           {R"("mode":"Agent")", invalid, "body.mode"},
           {R"("vm_name":"-vm")", invalid, "body.vm_name"},
           {R"("registered":"yes")", wrong_type, "body.registered"},
           {R"("hostname":"a..example")", invalid, "body.hostname"},
           {R"("public_key":7)", wrong_type, "body.public_key"},
           {R"("uptime_seconds":-1)", out_of_range, "body.uptime_seconds"},
           {R"("uptime_seconds":1.5)", wrong_type, "body.uptime_seconds"},
           {R"("tunnel":"running")", wrong_type, "body.tunnel"},
           {R"("tunnel":{"state":"up now"})", invalid, "body.tunnel.state"},
           {R"("tunnel":{"restarts":-2})", out_of_range, "body.tunnel.restarts"},
           {R"("control_plane":"Running")", invalid, "body.control_plane"},
           {R"("cp_trust":"trust on first use")", invalid, "body.cp_trust"},
           {R"("cp_mrtd":"abc")", invalid, "body.cp_mrtd"},
           {R"("cp_mrtd":")" + std::string(96, 'A') + R"(")", invalid, "body.cp_mrtd"},
           {R"("last_error":["x"])", wrong_type, "body.last_error"},
       }) {
    std::string const text = "{" + c.json + R"(,"workload":{"state":"idle"}})";
    auto r = api::parse_agent_health(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), c.code) << text << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(c.field), std::string::npos) << r.error().message();
  }
  for (std::string const workload : {R"({"state":"idle","detail":{}})",
                                     R"({"state":"idle","restarts":-1})",
                                     R"({"state":"idle","restarts":"1"})"}) {
    auto r = api::parse_agent_health(R"({"workload":)" + workload + "}");
    ASSERT_FALSE(r) << workload;
    EXPECT_EQ(r.error(), condition::invalid_input);
    EXPECT_NE(r.error().message().find("body.workload."), std::string::npos) << r.error().message();
  }
}

// ============================================================================================
// Every reader: truncation, corruption, non-objects, duplicates, unknown fields
// ============================================================================================

// A reader seen only as accept/reject. An accepted document must be stable: what to_json writes
// for it reads back to the same message.
using Reader = ee::result<void> (*)(std::string_view);

template <auto Parse>
ee::result<void> read_stable(std::string_view text) {
  auto r = Parse(text);
  if (!r) return r.error();
  auto const once = api::to_json(*r);
  auto again = Parse(once);
  if (!again) {
    ADD_FAILURE() << "accepted, but its to_json is rejected: " << again.error().message();
  } else {
    EXPECT_EQ(api::to_json(*again), once);
  }
  return {};
}

struct ReaderCase {
  char const* name;
  Reader read;
  std::string valid;
};

std::vector<ReaderCase> readers() {
  return {
      {"challenge", read_stable<&api::parse_challenge>, api::to_json(challenge())},
      {"register_request", read_stable<&api::parse_register_request>, text(modern_register())},
      {"legacy_register_request", read_stable<&api::parse_register_request>,
       text(legacy_register())},
      {"register_response", read_stable<&api::parse_register_response>,
       api::to_json(register_response())},
      {"heartbeat_request", read_stable<&api::parse_heartbeat_request>,
       api::to_json(heartbeat_with_evidence())},
      {"heartbeat_response", read_stable<&api::parse_heartbeat_response>,
       api::to_json(api::HeartbeatResponse{false, true, 60})},
      {"agent_deploy_request", read_stable<&api::parse_agent_deploy_request>,
       text(deploy_request())},
      {"agent_undeploy_request", read_stable<&api::parse_agent_undeploy_request>,
       api::to_json(api::AgentUndeployRequest{"dep-1"})},
      {"agent_deploy_response", read_stable<&api::parse_agent_deploy_response>,
       api::to_json(api::AgentDeployResponse{"dep-1", "running"})},
      {"agent_health", read_stable<&api::parse_agent_health>, api::to_json(agent_health())},
  };
}

TEST(AllReaders, AcceptTheirValidDocument) {
  for (auto const& c : readers()) EXPECT_TRUE(accepted(c.read(c.valid))) << c.name;
}

TEST(AllReaders, RejectEveryTruncation) {
  for (auto const& c : readers()) {
    std::string_view const doc = c.valid;
    for (std::size_t n = 0; n < doc.size(); ++n) {
      auto r = c.read(doc.substr(0, n));
      ASSERT_FALSE(r) << c.name << ": prefix of " << n << " bytes accepted";
      EXPECT_EQ(r.error(), condition::invalid_input) << c.name << " " << n;
    }
  }
}

TEST(AllReaders, SurviveEveryOneByteCorruption) {
  char const replacements[] = {'\0', '"', '\\', '{', '}', '[',    ',',
                               ':',  'x', '0',  '-', ' ', '\x7f', '\xff'};
  for (auto const& c : readers()) {
    for (std::size_t i = 0; i < c.valid.size(); ++i) {
      for (char const b : replacements) {
        std::string doc = c.valid;
        doc[i] = b;
        auto r = c.read(doc);
        if (!r) {
          EXPECT_EQ(r.error(), condition::invalid_input) << c.name << " @" << i;
        }
      }
      std::string dropped = c.valid;
      dropped.erase(i, 1);
      auto r = c.read(dropped);
      if (!r) {
        EXPECT_EQ(r.error(), condition::invalid_input) << c.name << " -" << i;
      }
    }
  }
}

TEST(AllReaders, RejectNonObjectDocuments) {
  for (auto const& c : readers()) {
    for (std::string const& doc :
         Strings{"[]", "null", "\"{}\"", "0", "false", "[" + c.valid + "]"})
      EXPECT_TRUE(fails_with(c.read(doc), ee::errc::wrong_type, "body")) << c.name << " " << doc;
    for (std::string const& doc : Strings{"", "{", "nul", c.valid + c.valid, c.valid + " x"})
      EXPECT_TRUE(fails_with(c.read(doc), ee::errc::invalid_json, "JSON")) << c.name << " " << doc;
  }
}

TEST(AllReaders, RejectDuplicateKeys) {
  for (auto const& c : readers()) {
    auto const o = bj::parse(c.valid).as_object();
    ASSERT_FALSE(o.empty()) << c.name;
    auto const& first = *o.begin();
    std::string const repeat =
        "{" + bj::serialize(bj::value(first.key())) + ":" + bj::serialize(first.value()) + ",";
    EXPECT_TRUE(
        fails_with(c.read(repeat + c.valid.substr(1)), ee::errc::duplicate_json_key, "repeats"))
        << c.name;
  }
}

TEST(AllReaders, IgnoreUnknownFields) {
  for (auto const& c : readers()) {
    auto const doc = R"({"x_future":{"list":[1,2.5,"three",null,true]},"v2":"")" +
                     std::string(c.valid.size() > 2 ? "," : "") + c.valid.substr(1);
    EXPECT_TRUE(accepted(c.read(doc))) << c.name << ": " << doc;
  }
}

TEST(AllReaders, RejectInvalidUtf8) {
  for (auto const& c : readers()) {
    auto const doc = "{\"x\":\"\xc3\x28\","s + c.valid.substr(1);
    EXPECT_TRUE(fails_with(c.read(doc), ee::errc::invalid_json, "JSON")) << c.name;
  }
}

}  // namespace
