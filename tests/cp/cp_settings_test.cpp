// The control plane's settings registry: the table itself, its translation into Options, and
// docs/operations.md's ee-cp tables, which must list exactly its keys with their flags,
// variables and defaults.
#include <easyenclave/cp/settings.hpp>
#include <easyenclave/registry/sqlite.hpp>

#include "cp/live_settings.hpp"
#include "cp/secrets.hpp"
#include "support/settings_docs.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using ee::settings::FlagValues;
using ee::settings::Settings;

Settings resolve(FlagValues flags, std::map<std::string, std::string, std::less<>> env = {}) {
  return Settings::resolve(ee::cp::setting_registry(), flags, ee::settings::fixed_environment(std::move(env))).value();
}

TEST(CpSettings, TheRegistryHoldsEveryKeyEeCpTakes) {
  auto const& registry = ee::cp::setting_registry();
  for (auto name : {"listen", "db", "admin_token", "trusted_mrtds", "nonce_mode", "pccs_url", "github_audience",
                    "cloudflare_api_token", "heartbeat_interval", "health_scrape_interval", "log_level"}) {
    EXPECT_NE(registry.find(name), nullptr) << name;
  }
  for (auto name : {"admin_token", "cloudflare_api_token"}) EXPECT_TRUE(registry.find(name)->secret) << name;
  for (auto const& spec : registry.specs()) {
    EXPECT_NE(ee::cp::setting_group_title(spec.group), spec.group) << spec.name << " is in an untitled group";
  }
}

TEST(CpSettings, DefaultsInDevModeMakeOptions) {
  auto options = ee::cp::make_options(resolve({{"dev", "true"}}));
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_TRUE(options->dev);
  EXPECT_EQ(options->server.port, 8080);
  EXPECT_EQ(options->timings.heartbeat_interval, std::chrono::seconds(30));
  EXPECT_EQ(options->timings.agent_stale_after, std::chrono::hours(24));
  EXPECT_EQ(options->ita_issuers.size(), 2u);
}

TEST(CpSettings, ValuesReachTheOptionsTheyName) {
  auto options = ee::cp::make_options(resolve({{"dev", "true"}, {"heartbeat_interval", "2m"}, {"threads", "3"}},
                                              {{"EE_REATTESTATION_INTERVAL_SECONDS", "120"},
                                               {"EE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"},
                                               {"EE_ADMIN_TOKEN", "t0ken"}}));
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->timings.heartbeat_interval, std::chrono::minutes(2));
  EXPECT_EQ(options->timings.reattestation_interval, std::chrono::seconds(120));
  EXPECT_EQ(options->server.threads, 3u);
  EXPECT_EQ(options->server.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8"}));
  EXPECT_EQ(options->admin_token, "t0ken");
}

TEST(CpSettings, AccountSettingsReachTheOptionsAndArgonBelowOwaspIsRefused) {
  auto defaults = ee::cp::make_options(resolve({{"dev", "true"}}));
  ASSERT_TRUE(defaults) << defaults.error().message();
  EXPECT_FALSE(defaults->accounts.admin_only_creation);
  EXPECT_EQ(defaults->accounts.argon2_memory_kib, 19456u);
  EXPECT_EQ(defaults->accounts.argon2_iterations, 2u);
  EXPECT_EQ(defaults->accounts.argon2_parallelism, 1u);
  EXPECT_EQ(defaults->server.rate_limits.at("account_creation").per_minute, 2u);
  EXPECT_EQ(defaults->server.rate_limits.at("account_creation").burst, 5u);
  auto set = ee::cp::make_options(resolve({{"dev", "true"}, {"accounts_admin_only", "true"},
                                           {"argon2_memory_kib", "65536"}, {"argon2_iterations", "3"}},
                                          {{"EE_ARGON2_PARALLELISM", "2"},
                                           {"EE_RATE_LIMIT_ACCOUNT_CREATION_PER_MINUTE", "7"},
                                           {"EE_RATE_LIMIT_ACCOUNT_CREATION_BURST", "9"}}));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_TRUE(set->accounts.admin_only_creation);
  EXPECT_EQ(set->accounts.argon2_memory_kib, 65536u);
  EXPECT_EQ(set->accounts.argon2_iterations, 3u);
  EXPECT_EQ(set->accounts.argon2_parallelism, 2u);
  EXPECT_EQ(set->server.rate_limits.at("account_creation").per_minute, 7u);
  EXPECT_EQ(set->server.rate_limits.at("account_creation").burst, 9u);
  // Below OWASP's minimum for Argon2id: refused by name, whether flag or variable.
  auto const& registry = ee::cp::setting_registry();
  for (auto [name, value] : {std::pair{"argon2_memory_kib", "19455"}, {"argon2_iterations", "1"},
                             {"argon2_parallelism", "0"}, {"argon2_memory_kib", "4194304"}}) {
    auto r = Settings::resolve(registry, {{name, value}}, ee::settings::fixed_environment({}));
    ASSERT_FALSE(r) << name << "=" << value;
    EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().message();
  }
}

TEST(CpSettings, WhatTheRegistryCannotJudgeAloneIsRefusedByName) {
  auto no_db = ee::cp::make_options(resolve({}));
  ASSERT_FALSE(no_db);
  EXPECT_NE(no_db.error().message().find("db:"), std::string::npos) << no_db.error().message();
  auto bad_mrtd = ee::cp::make_options(resolve({{"dev", "true"}, {"trusted_mrtds", "abc"}}));
  ASSERT_FALSE(bad_mrtd);
  EXPECT_NE(bad_mrtd.error().message().find("trusted_mrtd"), std::string::npos);
  auto partial_cf = ee::cp::make_options(resolve({{"dev", "true"}}, {{"CLOUDFLARE_API_TOKEN", "x"}}));
  ASSERT_FALSE(partial_cf);
  EXPECT_NE(partial_cf.error().message().find("cloudflare"), std::string::npos);
  auto bad_tcb = ee::cp::make_options(resolve({{"dev", "true"}, {"allowed_tcb_statuses", "UpToDate,Fine"}}));
  ASSERT_FALSE(bad_tcb);
  EXPECT_NE(bad_tcb.error().message().find("Fine"), std::string::npos);
}

TEST(CpSettings, ExactlyTheKeysMarkedReloadableAreAppliedWhileRunning) {
  std::set<std::string> marked, applied;
  for (auto const& spec : ee::cp::setting_registry().specs()) {
    if (spec.reloadable) marked.emplace(spec.name);
  }
  for (auto key : ee::cp::reloaded_keys()) applied.emplace(key);
  EXPECT_EQ(marked, applied);
}

TEST(CpSettings, StoredSettingsApplyAtStartExceptTheDatabaseAndTheMode) {
  static int run = 0;
  auto const dir = std::filesystem::temp_directory_path() /
                   ("ee-cp-settings-" + std::to_string(::getpid()) + "-" + std::to_string(++run));
  std::filesystem::create_directories(dir);
  auto const db = (dir / "cp.db").string();
  {
    auto stores = ee::registry::open_sqlite_stores(db).value();
    auto const at = std::chrono::system_clock::now();
    for (auto [name, value] : {std::pair{"threads", "5"}, {"heartbeat_interval", "45"}, {"dev", "false"},
                               {"db", "/elsewhere.db"}}) {
      ASSERT_TRUE(stores.settings->put({.name = name, .value = value, .updated_by = "admin", .updated_at = at}));
    }
  }
  {
    auto options = ee::cp::make_options(resolve({{"db", std::string(db)}, {"dev", "true"}, {"threads", "2"}}));
    ASSERT_TRUE(options) << options.error().message();
    EXPECT_EQ(options->server.threads, 5u);  // the stored value wins over the flag
    EXPECT_EQ(options->timings.heartbeat_interval, std::chrono::seconds(45));
    EXPECT_TRUE(options->dev);
    // What the options were made from, before the database: the routes show both.
    ASSERT_TRUE(options->settings.has_value());
    EXPECT_EQ(options->settings->integer("threads"), 2);
  }  // the stores close before their files go
  std::filesystem::remove_all(dir);
}

TEST(CpSettings, OperationsGuideListsExactlyTheRegistrysKeys) {
  // ee-cp's tables name only the current variable (earlier names are in the text) and write
  // boolean defaults as on/off, so the rows are checked here rather than by
  // settings_table_problems.
  auto const text = ee::test::markdown_section(ee::test::read_source_file("docs/operations.md"), "## ee-cp");
  ASSERT_FALSE(text.empty());
  std::istringstream section(text);
  std::map<std::string, std::vector<std::string>> rows;  // setting -> cells
  std::string problems;
  for (std::string line; std::getline(section, line);) {
    if (!line.starts_with("| `")) continue;
    auto const c = ee::test::markdown_cells(line);
    if (c.size() != 5) {
      problems += "not five cells: " + line + "\n";
      continue;
    }
    auto const name = c[0].substr(1, c[0].size() - 2);
    if (!rows.emplace(name, c).second) problems += "listed twice: " + name + "\n";
  }
  auto const& registry = ee::cp::setting_registry();
  std::set<std::string> keys;
  for (auto const& spec : registry.specs()) {
    std::string const name(spec.name);
    keys.insert(name);
    auto const row = rows.find(name);
    if (row == rows.end()) {
      problems += "missing from docs/operations.md: " + name + "\n";
      continue;
    }
    auto const& c = row->second;
    if (c[1] != "`--" + std::string(spec.flag) + "`") problems += name + ": flag " + c[1] + "\n";
    if (c[2] != "`" + std::string(spec.env) + "`") problems += name + ": variable " + c[2] + "\n";
    if (spec.type == ee::settings::Type::boolean) {
      if (c[3] != (spec.default_value == "true" ? "on" : "off")) problems += name + ": default " + c[3] + "\n";
    } else if (!spec.default_value.empty() && !c[3].starts_with("`" + std::string(spec.default_value) + "`")) {
      problems += name + ": default " + c[3] + ", the registry's is " + std::string(spec.default_value) + "\n";
    }
  }
  for (auto const& [name, c] : rows) {
    if (!keys.contains(name)) problems += "in docs/operations.md but not a setting: " + name + "\n";
  }
  EXPECT_EQ(problems, "");
}

}  // namespace

namespace {

// A settings store whose next list() reads its rows, then waits until released: a background
// refresh caught between its read and its swap.
class GatedSettingStore final : public ee::registry::SettingStore {
 public:
  ee::result<std::vector<ee::registry::SettingRow>> list() override {
    std::unique_lock lock(mutex_);
    auto rows = rows_;
    if (hold_next_) {
      hold_next_ = false;
      held_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !held_; });
    }
    return rows;
  }
  ee::result<void> put(ee::registry::SettingRow const& row) override {
    std::lock_guard lock(mutex_);
    rows_.erase(std::remove_if(rows_.begin(), rows_.end(), [&](auto const& r) { return r.name == row.name; }),
                rows_.end());
    rows_.push_back(row);
    return {};
  }
  ee::result<void> remove(std::string const&) override { return {}; }

  void hold_next_list() {
    std::lock_guard lock(mutex_);
    hold_next_ = true;
  }
  void wait_until_held() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return held_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ee::registry::SettingRow> rows_;
  bool hold_next_ = false;
  bool held_ = false;
};

TEST(CpLiveSettings, ARefreshBegunBeforeAChangeNeverReplacesWhatTheChangesOwnRefreshRead) {
  auto store = std::make_shared<GatedSettingStore>();
  auto base = resolve({{"dev", "true"}});
  ee::cp::LiveSettings live(base, ee::cp::make_options(base).value().timings, store);
  ASSERT_TRUE(live.refresh());
  store->hold_next_list();
  std::thread background([&live] { (void)live.refresh(); });  // reads the old rows, then waits
  store->wait_until_held();
  ASSERT_TRUE(store->put({.name = "heartbeat_interval", .value = "120", .updated_by = "admin", .updated_at = {}}));
  ASSERT_TRUE(live.refresh());  // the change's own refresh
  EXPECT_EQ(live.current()->timings.heartbeat_interval, std::chrono::seconds(120));
  store->release();
  background.join();
  EXPECT_EQ(live.current()->timings.heartbeat_interval, std::chrono::seconds(120));
  // The next refresh reads the change again.
  ASSERT_TRUE(live.refresh());
  EXPECT_EQ(live.current()->settings.value("heartbeat_interval").source, ee::settings::Source::database);
}

}  // namespace

namespace {

TEST(CpSettings, SignInSettingsReachTheOptionsAndThePasswordIsKeptOnlyAsItsHash) {
  auto options = ee::cp::make_options(resolve({{"dev", "true"}, {"admin_github_logins", "Carol,dave-ops"}},
                                              {{"CP_ADMIN_PASSWORD", "hunter2 but longer"},
                                               {"GITHUB_OAUTH_CLIENT_ID", "Iv1.abc"},
                                               {"GITHUB_OAUTH_CLIENT_SECRET", "s3cret"},
                                               {"GITHUB_OAUTH_REDIRECT_URI", "https://cp.example.com/auth/github/callback"},
                                               {"EE_SESSION_TTL", "2h"},
                                               {"EE_RATE_LIMIT_SIGN_IN_PER_MINUTE", "5"}}));
  ASSERT_TRUE(options) << options.error().message();
  auto const& logins = options->logins;
  EXPECT_TRUE(logins.admin_password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
  EXPECT_EQ(logins.admin_password_hash.find("hunter2"), std::string::npos);
  EXPECT_TRUE(ee::cp::verify_secret("hunter2 but longer", logins.admin_password_hash));
  EXPECT_EQ(logins.admin_github_logins, (std::vector<std::string>{"carol", "dave-ops"}));
  EXPECT_EQ(logins.github.client_id, "Iv1.abc");
  EXPECT_EQ(logins.github.web_url, "https://github.com");
  EXPECT_EQ(logins.session_ttl, std::chrono::hours(2));
  EXPECT_EQ(options->server.rate_limits.at("sign_in").per_minute, 5u);
  EXPECT_EQ(options->server.rate_limits.at("sign_in").burst, 10u);
}

TEST(CpSettings, SignInSettingsThatCannotWorkAreRefusedByName) {
  auto both = ee::cp::make_options(resolve({{"dev", "true"}}, {{"CP_ADMIN_PASSWORD", "x"},
                                                               {"CP_ADMIN_PASSWORD_HASH", "$argon2id$v=19$m=19456,t=2,p=1$a$b"}}));
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message().find("set one, not both"), std::string::npos);
  auto not_argon2id = ee::cp::make_options(resolve({{"dev", "true"}}, {{"CP_ADMIN_PASSWORD_HASH", "$2b$12$bcrypt"}}));
  ASSERT_FALSE(not_argon2id);
  EXPECT_NE(not_argon2id.error().message().find("admin_password_hash"), std::string::npos);
  auto half_app = ee::cp::make_options(resolve({{"dev", "true"}}, {{"GITHUB_OAUTH_CLIENT_ID", "Iv1.abc"}}));
  ASSERT_FALSE(half_app);
  EXPECT_NE(half_app.error().message().find("github_oauth_client_secret"), std::string::npos);
  auto bad_login = ee::cp::make_options(resolve({{"dev", "true"}, {"admin_github_logins", "-nope"}}));
  ASSERT_FALSE(bad_login);
  EXPECT_NE(bad_login.error().message().find("admin_github_logins"), std::string::npos);
  auto short_ttl = Settings::resolve(ee::cp::setting_registry(), {{"session_ttl", "10"}}, ee::settings::fixed_environment({}));
  EXPECT_FALSE(short_ttl);
}

}  // namespace
