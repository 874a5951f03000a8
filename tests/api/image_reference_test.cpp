// Image references: the parts of accepted references, their one spelling, and every malformed
// reference refused naming the part at fault without quoting the text.
#include <easyenclave/api/image_reference.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using ee::api::ImageReference;
using namespace std::string_literals;

std::string const kDigest = "sha256:" + std::string(64, 'a');

// Refused with api.invalid_field, a message "image: ..." that mentions `part`.
testing::AssertionResult refused(std::string const& text, std::string const& part) {
  auto const r = ImageReference::parse(text);
  if (r) return testing::AssertionFailure() << "accepted as " << r->to_string();
  auto const& message = r.error().message();
  if (!(r.error() == ee::api::errc::invalid_field))
    return testing::AssertionFailure() << "wrong error " << r.error().id();
  if (!(r.error() == ee::condition::invalid_input))
    return testing::AssertionFailure() << "not invalid_input";
  if (!message.starts_with("image: "))
    return testing::AssertionFailure() << "'" << message << "' does not name the field";
  if (message.find(part) == std::string::npos)
    return testing::AssertionFailure() << "'" << message << "' does not mention " << part;
  return testing::AssertionSuccess();
}

TEST(ImageReference, SplitsRegistryRepositoryTagAndDigest) {
  struct Case {
    std::string text, registry, repository, tag, digest;
  };
  Case const cases[] = {
      {"app", "", "app", "", ""},
      {"library/nginx:1.27", "", "library/nginx", "1.27", ""},
      {"ghcr.io/acme/app@" + kDigest, "ghcr.io", "acme/app", "", kDigest},
      {"registry.local:5000/a/b:v1.2@" + kDigest, "registry.local:5000", "a/b", "v1.2", kDigest},
      {"localhost/app:latest", "localhost", "app", "latest", ""},
      {"localhost:5000", "", "localhost", "5000", ""},  // a tag, as Docker reads it
      {"127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "", ""},
      {"[::1]:5000/app:_x", "[::1]:5000", "app", "_x", ""},
      {"[fd00::1]/app", "[fd00::1]", "app", "", ""},
      {"Registry.Example/app", "Registry.Example", "app", "", ""},
      {"a__b/c--d/e.f_g:V-1.0_x", "", "a__b/c--d/e.f_g", "V-1.0_x", ""},
      {"my-registry.io/x", "my-registry.io", "x", "", ""},
  };
  for (auto const& c : cases) {
    auto const r = ImageReference::parse(c.text);
    ASSERT_TRUE(r) << c.text << ": " << r.error().message();
    EXPECT_EQ(r->registry(), c.registry) << c.text;
    EXPECT_EQ(r->repository(), c.repository) << c.text;
    EXPECT_EQ(r->tag(), c.tag) << c.text;
    EXPECT_EQ(r->digest(), c.digest) << c.text;
    EXPECT_EQ(r->pinned(), !c.digest.empty()) << c.text;
    EXPECT_EQ(r->name(), c.registry.empty() ? c.repository : c.registry + "/" + c.repository);
    // One spelling: to_string gives back the text, and parses to an equal reference.
    EXPECT_EQ(r->to_string(), c.text);
    EXPECT_EQ(ImageReference::parse(r->to_string()).value(), *r);
  }
}

TEST(ImageReference, NamesUpTo255CharactersAndTagsUpTo128) {
  EXPECT_TRUE(ImageReference::parse(std::string(255, 'i') + "@" + kDigest));
  EXPECT_TRUE(ImageReference::parse("reg.io/" + std::string(248, 'i') + ":" + std::string(128, 't') +
                                    "@" + kDigest));
  EXPECT_TRUE(refused(std::string(256, 'i') + "@" + kDigest, "name"));
  EXPECT_TRUE(refused("reg.io/" + std::string(249, 'i'), "name"));
  EXPECT_TRUE(refused("app:" + std::string(129, 't'), "tag"));
  EXPECT_TRUE(refused(std::string(100, 'a') + "/" + std::string(1000, 'b'), "at most"));
}

TEST(ImageReference, RefusesMalformedReferencesNamingThePart) {
  struct Case {
    std::string text, part;
  };
  Case const cases[] = {
      {"", "empty"},
      {"@" + kDigest, "repository name"},
      {":tag", "repository name"},
      // The repository: lower case, components of alphanumerics joined by one separator.
      {"App", "lower case"},
      {"ghcr.io/Acme/app", "lower case"},
      {"Acme/app", "lower case"},  // no '.' or ':': a repository component, not a registry
      {"-app", "repository"},
      {"app-", "repository"},
      {".app", "repository"},
      {"a..b", "repository"},
      {"a___b", "repository"},
      {"a-_b", "repository"},
      {"/app", "repository"},
      {"app/", "repository"},
      {"a//b", "repository"},
      {"ghcr.io/", "repository"},
      {"a pp", "repository"},
      {"app\n", "repository"},
      {"\xc3\xa9", "repository"},
      // The registry.
      {"-reg.io/app", "registry"},
      {"reg-.io/app", "registry"},
      {"reg..io/app", "registry"},
      {"reg.io:/app", "registry"},
      {"reg.io:0/app", "registry"},
      {"reg.io:65536/app", "registry"},
      {"reg.io:x/app", "registry"},
      {"reg.io:-1/app", "registry"},
      {"[::1/app", "registry"},
      {"[]/app", "registry"},
      {"[zz::1]/app", "registry"},
      {"[::1]x/app", "registry"},
      {"re_g.io/app", "registry"},
      // The tag.
      {"app:", "tag"},
      {"app:-x", "tag"},
      {"app:.x", "tag"},
      {"app:a+b", "tag"},
      {"app:a:b", "repository"},  // the first ':' ends a name that is not one
      // The digest.
      {"app@", "digest"},
      {"app@latest", "digest"},
      {"app@sha256:" + std::string(63, 'a'), "digest"},
      {"app@sha256:" + std::string(65, 'a'), "digest"},
      {"app@sha256:" + std::string(64, 'A'), "digest"},
      {"app@sha256:" + std::string(63, 'a') + "g", "digest"},
      {"app@sha512:" + std::string(128, 'a'), "digest"},
      {"app@@" + kDigest, "digest"},
      {"app@" + kDigest + "@" + kDigest, "digest"},
      {"app@x@" + kDigest, "digest"},
      {"app@" + kDigest + "\n", "digest"},
  };
  for (auto const& c : cases) EXPECT_TRUE(refused(c.text, c.part)) << c.text;
}

TEST(ImageReference, PinnedNeedsTheDigest) {
  auto pinned = ImageReference::parse_pinned("ghcr.io/acme/app:1@" + kDigest);
  ASSERT_TRUE(pinned) << pinned.error().message();
  EXPECT_EQ(pinned->digest(), kDigest);
  for (auto const& text : {"ghcr.io/acme/app"s, "ghcr.io/acme/app:latest"s, "app:sha256"s}) {
    auto const r = ImageReference::parse_pinned(text, "body.image");
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().message().starts_with("body.image: must be pinned by digest"))
        << r.error().message();
  }
  // A malformed reference is refused for what is wrong with it, before the missing digest.
  auto const bad = ImageReference::parse_pinned("Acme/app");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("lower case"), std::string::npos);
}

TEST(ImageReference, ErrorsNameTheGivenFieldAndNeverQuoteTheText) {
  std::string const secret = "hunter2-secret";
  for (auto const& text : {secret + "!", "ghcr.io/" + secret + "/A", secret + ":" + secret + "+",
                           secret + "@" + secret, std::string(300, 'x') + secret}) {
    auto const r = ImageReference::parse(text, "body.versions[1].image");
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().message().starts_with("body.versions[1].image: ")) << r.error().message();
    EXPECT_EQ(r.error().message().find(secret), std::string::npos) << r.error().message();
  }
}

TEST(ImageReference, EveryPrefixOfAReferenceParsesOrIsRefused) {
  // No prefix crashes or reads past the end; the ones that parse spell themselves.
  auto const full = "registry.local:5000/acme/app-x__y:v1.2@" + kDigest;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    auto const r = ImageReference::parse(std::string_view(full).substr(0, n));
    if (r) {
      EXPECT_EQ(r->to_string(), full.substr(0, n));
    }
  }
}

}  // namespace
