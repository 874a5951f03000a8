#include <easyenclave/settings.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace {

using ee::settings::Environment;
using ee::settings::FlagValues;
using ee::settings::Registry;
using ee::settings::Settings;
using ee::settings::Source;
using ee::settings::Spec;
using ee::settings::Type;

constexpr std::array kSpecs{
    Spec{.name = "listen", .env = "EE_LISTEN", .flag = "listen", .type = Type::text,
         .default_value = "127.0.0.1:8080", .group = "server", .help = "Where to serve"},
    Spec{.name = "threads", .env = "EE_THREADS", .flag = "threads", .type = Type::integer, .default_value = "2",
         .group = "server", .help = "Server threads", .min = 1, .max = 64},
    Spec{.name = "dev", .env = "EE_DEV", .flag = "dev", .type = Type::boolean, .default_value = "false",
         .group = "server", .help = "Development mode", .storable = false},
    Spec{.name = "heartbeat_interval", .env = "EE_HEARTBEAT_INTERVAL", .flag = "heartbeat-interval",
         .type = Type::seconds, .default_value = "30", .group = "timings", .help = "Heartbeat interval", .min = 1,
         .max = 86400, .reloadable = true, .env_aliases = "EE_HEARTBEAT_INTERVAL_SECONDS"},
    Spec{.name = "trusted_mrtds", .env = "EE_TRUSTED_MRTDS", .flag = "trusted-mrtd", .type = Type::list,
         .group = "policy", .help = "Trusted MRTDs"},
    Spec{.name = "nonce_mode", .env = "EE_NONCE_MODE", .flag = "nonce-mode", .type = Type::text,
         .default_value = "required", .group = "policy", .help = "Nonce mode",
         .choices = "required|optional|disabled", .reloadable = true},
    Spec{.name = "admin_token", .env = "EE_ADMIN_TOKEN", .flag = "admin-token", .type = Type::text,
         .group = "server", .help = "Admin bearer token", .secret = true},
};

Registry const& registry() {
  static Registry const r = Registry::create(kSpecs).value();
  return r;
}

Settings resolve(FlagValues flags = {}, std::map<std::string, std::string, std::less<>> env = {}) {
  return Settings::resolve(registry(), flags, ee::settings::fixed_environment(std::move(env))).value();
}

TEST(SettingsRegistry, DefaultsApplyWhenNothingElseIsGiven) {
  auto s = resolve();
  EXPECT_EQ(s.text("listen"), "127.0.0.1:8080");
  EXPECT_EQ(s.integer("threads"), 2);
  EXPECT_FALSE(s.boolean("dev"));
  EXPECT_EQ(s.seconds("heartbeat_interval"), std::chrono::seconds(30));
  EXPECT_TRUE(s.list("trusted_mrtds").empty());
  EXPECT_EQ(s.value("threads").source, Source::default_value);
}

TEST(SettingsRegistry, DatabaseWinsOverFlagsWhichWinOverEnvironmentWhichWinsOverDefaults) {
  auto s = resolve({{"threads", "8"}}, {{"EE_THREADS", "4"}, {"EE_LISTEN", "0.0.0.0:9000"}});
  EXPECT_EQ(s.integer("threads"), 8);
  EXPECT_EQ(s.value("threads").source, Source::flag);
  EXPECT_EQ(s.value("threads").origin, "--threads");
  EXPECT_EQ(s.text("listen"), "0.0.0.0:9000");
  EXPECT_EQ(s.value("listen").source, Source::environment);
  EXPECT_EQ(s.value("listen").origin, "EE_LISTEN");

  auto db = s.with_database({{"threads", "16"}});
  EXPECT_EQ(db.integer("threads"), 16);
  EXPECT_EQ(db.value("threads").source, Source::database);
  // The settings it was made from are unchanged: a reader holding them sees one consistent set.
  EXPECT_EQ(s.integer("threads"), 8);
}

TEST(SettingsRegistry, ValuesAreNormalizedToOneShownForm) {
  auto s = resolve({{"dev", "YES"}, {"heartbeat_interval", "5m"}, {"trusted_mrtds", " a , ,b,"}});
  EXPECT_EQ(s.text("dev"), "true");
  EXPECT_EQ(s.text("heartbeat_interval"), "300");
  EXPECT_EQ(s.text("trusted_mrtds"), "a,b");
  EXPECT_EQ(s.list("trusted_mrtds"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(resolve({{"heartbeat_interval", "1h"}}).seconds("heartbeat_interval"), std::chrono::hours(1));
  EXPECT_EQ(resolve({{"heartbeat_interval", "45s"}}).seconds("heartbeat_interval"), std::chrono::seconds(45));
}

TEST(SettingsRegistry, AnEmptyNumberOrSwitchIsNotGivenButAnEmptyTextIs) {
  auto s = resolve({{"threads", ""}}, {{"EE_DEV", ""}, {"EE_HEARTBEAT_INTERVAL", ""}, {"EE_LISTEN", ""}});
  EXPECT_EQ(s.integer("threads"), 2);
  EXPECT_EQ(s.value("threads").source, Source::default_value);
  EXPECT_FALSE(s.boolean("dev"));
  EXPECT_EQ(s.seconds("heartbeat_interval"), std::chrono::seconds(30));
  EXPECT_EQ(s.text("listen"), "");
  EXPECT_EQ(s.value("listen").source, Source::environment);
}

TEST(SettingsRegistry, AnEarlierVariableNameIsStillRead) {
  auto s = resolve({}, {{"EE_HEARTBEAT_INTERVAL_SECONDS", "60"}});
  EXPECT_EQ(s.seconds("heartbeat_interval"), std::chrono::seconds(60));
  EXPECT_EQ(s.value("heartbeat_interval").origin, "EE_HEARTBEAT_INTERVAL_SECONDS");
  // The current name wins over the earlier one.
  auto both = resolve({}, {{"EE_HEARTBEAT_INTERVAL_SECONDS", "60"}, {"EE_HEARTBEAT_INTERVAL", "90"}});
  EXPECT_EQ(both.seconds("heartbeat_interval"), std::chrono::seconds(90));
}

TEST(SettingsRegistry, AKeysVariablesAreItsCurrentNameThenTheEarlierOnes) {
  EXPECT_EQ(ee::settings::variables(*registry().find("heartbeat_interval")),
            (std::vector<std::string_view>{"EE_HEARTBEAT_INTERVAL", "EE_HEARTBEAT_INTERVAL_SECONDS"}));
  EXPECT_EQ(ee::settings::variables(*registry().find("listen")), (std::vector<std::string_view>{"EE_LISTEN"}));
  EXPECT_TRUE(ee::settings::variables(Spec{.name = "no_variable"}).empty());
}

TEST(SettingsRegistry, BadValuesNameWhereTheyCameFromAndWhatTheKeyTakes) {
  auto env = ee::settings::fixed_environment({{"EE_THREADS", "many"}});
  auto r = Settings::resolve(registry(), {}, env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), ee::errc::invalid_value);
  EXPECT_NE(r.error().message().find("EE_THREADS"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("from 1 to 64"), std::string::npos) << r.error().message();

  auto flag = Settings::resolve(registry(), {{"threads", "65"}}, {});
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error(), ee::errc::out_of_range);
  EXPECT_NE(flag.error().message().find("--threads"), std::string::npos) << flag.error().message();

  auto choice = Settings::resolve(registry(), {{"nonce_mode", "sometimes"}}, {});
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message().find("required|optional|disabled"), std::string::npos);
}

TEST(SettingsRegistry, MalformedValuesOfEveryTypeAreRefused) {
  auto const& r = registry();
  auto check = [&r](char const* name, std::string_view value) {
    return Registry::normalize(*r.find(name), value).has_value();
  };
  for (auto bad : {"", "x", "1x", "--1", "1 2", "99999999999999999999999", "0x10", "3.5"}) {
    if (std::string_view(bad).empty()) continue;  // empty means unset, below
    EXPECT_FALSE(check("threads", bad)) << bad;
  }
  for (auto bad : {"maybe", "2", "tru", "falsey"}) EXPECT_FALSE(check("dev", bad)) << bad;
  for (auto bad : {"1w", "m", "5mm", "-", "9223372036854775807d", "0", "86401", "-5s"}) {
    EXPECT_FALSE(check("heartbeat_interval", bad)) << bad;
  }
  EXPECT_FALSE(check("listen", std::string("a\nb")));
  EXPECT_FALSE(check("listen", std::string(4097, 'a')));
  EXPECT_FALSE(check("trusted_mrtds", std::string("a,\x01")));
  // Empty is "unset" for every type, but not one of a key's choices unless its default is empty.
  for (auto name : {"threads", "dev", "heartbeat_interval", "trusted_mrtds", "listen"}) EXPECT_TRUE(check(name, ""));
  EXPECT_FALSE(check("nonce_mode", ""));
}

TEST(SettingsRegistry, ATextKeyMayAllowLongerValuesThanTheUsual4096) {
  constexpr Spec argv{.name = "command", .env = "EE_COMMAND", .flag = "command", .help = "argv", .max = 10000};
  constexpr Spec plain{.name = "name", .env = "EE_NAME", .flag = "name", .help = "a name"};
  EXPECT_TRUE(Registry::normalize(argv, std::string(10000, 'a')));
  auto longer = Registry::normalize(argv, std::string(10001, 'a'));
  ASSERT_FALSE(longer);
  EXPECT_NE(longer.error().message().find("at most 10000 characters"), std::string::npos);
  EXPECT_TRUE(Registry::normalize(plain, std::string(4096, 'a')));
  EXPECT_FALSE(Registry::normalize(plain, std::string(4097, 'a')));
}

TEST(SettingsRegistry, WithoutEmptyAVariableSetToNothingIsUnset) {
  auto const env = ee::settings::without_empty(ee::settings::fixed_environment({{"EE_LISTEN", ""}, {"EE_THREADS", "3"}}));
  EXPECT_FALSE(env("EE_LISTEN"));
  EXPECT_EQ(env("EE_THREADS"), "3");
  auto s = Settings::resolve(registry(), {}, env).value();
  EXPECT_EQ(s.text("listen"), "127.0.0.1:8080");
  EXPECT_EQ(s.value("listen").source, Source::default_value);
  EXPECT_FALSE(ee::settings::without_empty(nullptr)("EE_LISTEN"));
}

TEST(SettingsRegistry, ASecretIsNeverRepeated) {
  auto r = Registry::normalize(*registry().find("admin_token"), std::string("s3cr3t\x01"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find("s3cr3t"), std::string::npos) << r.error().message();
  auto s = resolve({}, {{"EE_ADMIN_TOKEN", "s3cr3t"}});
  EXPECT_EQ(s.text("admin_token"), "s3cr3t");
  EXPECT_EQ(s.shown("admin_token"), "set");
  EXPECT_EQ(resolve().shown("admin_token"), "unset");
  EXPECT_EQ(ee::settings::markdown_table(registry()).find("s3cr3t"), std::string::npos);
}

TEST(SettingsRegistry, DatabaseRowsThatNoLongerApplyAreSkippedAndNamed) {
  std::vector<std::string> skipped;
  auto s = resolve().with_database(
      {{"threads", "1000"}, {"retired_key", "1"}, {"listen", "0.0.0.0:1"}, {"dev", "true"}}, &skipped);
  EXPECT_EQ(s.integer("threads"), 2);
  EXPECT_EQ(s.text("listen"), "0.0.0.0:1");
  EXPECT_FALSE(s.boolean("dev"));  // a mode is never taken from the database
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped[0].find("dev: set only by flag or environment"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("retired_key"), std::string::npos);
  EXPECT_NE(skipped[2].find("threads"), std::string::npos);
}

TEST(SettingsRegistry, ReadingAKeyAsAnotherTypeOrAnUnknownKeyIsAProgrammingError) {
  auto s = resolve();
  EXPECT_THROW(s.integer("listen"), std::logic_error);
  EXPECT_THROW(s.value("no_such_key"), std::out_of_range);
}

TEST(SettingsRegistry, TablesAreCheckedWhenCreated) {
  auto refused = [](Spec spec) { return !Registry::create(std::span<Spec const>(&spec, 1)); };
  EXPECT_TRUE(refused(Spec{.name = "Bad-Name"}));
  EXPECT_TRUE(refused(Spec{.name = "ok", .flag = "Bad_Flag"}));
  EXPECT_TRUE(refused(Spec{.name = "ok", .env = "lower"}));
  EXPECT_TRUE(refused(Spec{.name = "ok", .type = Type::integer, .default_value = "x"}));
  EXPECT_TRUE(refused(Spec{.name = "ok", .type = Type::boolean, .default_value = "yes"}));  // written "true"
  EXPECT_TRUE(refused(Spec{.name = "ok", .type = Type::integer, .min = 5, .max = 1}));
  std::array twice{Spec{.name = "a", .env = "EE_A"}, Spec{.name = "b", .env = "EE_A"}};
  EXPECT_FALSE(Registry::create(twice));
  std::array same_name{Spec{.name = "a"}, Spec{.name = "a"}};
  EXPECT_FALSE(Registry::create(same_name));
}

TEST(SettingsRegistry, TheDocumentationTableListsEveryKeyOfAGroup) {
  auto const table = ee::settings::markdown_table(registry(), "timings");
  EXPECT_NE(table.find("`heartbeat_interval` | `--heartbeat-interval` | `EE_HEARTBEAT_INTERVAL` | `30` |"),
            std::string::npos)
      << table;
  EXPECT_EQ(table.find("threads"), std::string::npos);
  EXPECT_NE(ee::settings::markdown_table(registry()).find("(`required`, `optional`, `disabled`)"), std::string::npos);
}

}  // namespace
