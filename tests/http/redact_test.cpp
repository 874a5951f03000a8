#include "http/redact.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using ee::http::format_headers;
using ee::http::is_sensitive_header;
using ee::http::redact_url;

TEST(RedactHeader, CredentialHeadersAreSensitiveInAnyCase) {
  for (auto name : {"Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization",
                    "Cookie", "Set-Cookie", "x-api-key", "X-Api-Key"}) {
    EXPECT_TRUE(is_sensitive_header(name)) << name;
  }
}

TEST(RedactHeader, EveryCloudflareHeaderIsSensitive) {
  for (auto name :
       {"Cf-Access-Client-Id", "CF-Access-Client-Secret", "cf-ray", "Cf-Connecting-Ip"}) {
    EXPECT_TRUE(is_sensitive_header(name)) << name;
  }
}

TEST(RedactHeader, NamesMentioningTokenSecretOrKeyAreSensitive) {
  for (auto name : {"X-Auth-Token", "X-Client-Secret", "Idempotency-Key", "X-GitHub-TOKEN",
                    "Ocp-Apim-Subscription-Key"}) {
    EXPECT_TRUE(is_sensitive_header(name)) << name;
  }
}

TEST(RedactHeader, OrdinaryHeadersAreNotSensitive) {
  for (auto name : {"Host", "Content-Type", "Content-Length", "User-Agent", "Accept",
                    "Keep-Alive", "Connection", "X-Request-Id", "Scf-Thing"}) {
    EXPECT_FALSE(is_sensitive_header(name)) << name;
  }
}

TEST(RedactHeader, FormatHeadersHidesSecretsAndKeepsTheRest) {
  boost::beast::http::fields fields;
  fields.set(boost::beast::http::field::authorization, "Bearer s3cret-token");
  fields.set(boost::beast::http::field::content_type, "application/json");
  fields.set("Cf-Access-Client-Secret", "s3cret-cf");
  fields.set("X-Api-Key", "s3cret-key");
  auto const text = format_headers(fields);
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_NE(text.find("Authorization: <redacted>"), std::string::npos) << text;
  EXPECT_NE(text.find("Content-Type: application/json"), std::string::npos) << text;
  EXPECT_NE(text.find("Cf-Access-Client-Secret: <redacted>"), std::string::npos) << text;
}

TEST(RedactHeader, FormatHeadersKeepsLinesShortAndSingleLine) {
  boost::beast::http::fields fields;
  fields.set("X-Long", std::string(1000, 'a'));
  fields.set("X-Odd", std::string("a\x01z"));
  auto const text = format_headers(fields);
  EXPECT_LT(text.size(), 300u);
  EXPECT_NE(text.find("a?z"), std::string::npos) << text;
}

TEST(RedactUrl, StripsQueryFragmentAndUserinfo) {
  EXPECT_EQ(redact_url("https://api.example.com/v1/x?api_key=s3cret#frag"),
            "https://api.example.com/v1/x");
  EXPECT_EQ(redact_url("https://user:pw@host.test:8443/p?q"), "https://host.test:8443/p");
  EXPECT_EQ(redact_url("http://host.test"), "http://host.test");
  EXPECT_EQ(redact_url("http://a@b@host.test/x"), "http://host.test/x");
}

TEST(RedactUrl, HandlesInputThatIsNotAUrl) {
  EXPECT_EQ(redact_url("/relative/path?token=1"), "/relative/path");
  EXPECT_EQ(redact_url(""), "");
  EXPECT_EQ(redact_url("no scheme at all"), "no scheme at all");
}

}  // namespace
