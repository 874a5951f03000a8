// The admin settings routes over a real CP: stored values win over flags, environment and
// defaults; reloadable keys apply at once, others wait for a restart; secrets never come back.
#include "cp/cp_harness.hpp"
#include "support/log_capture.hpp"

#include <easyenclave/cp/settings.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using ee::test::CpHarness;
using ee::test::HarnessOptions;

// A harness whose CP keeps settings, made from the registry's defaults and the harness's admin
// token, as ee-cp's would be.
HarnessOptions with_settings() {
  return HarnessOptions{.customize = [](ee::cp::Options& o) {
    auto settings = ee::settings::Settings::resolve(
        ee::cp::setting_registry(), {{"admin_token", o.admin_token}, {"dev", "true"}}, ee::settings::fixed_environment({}));
    o.settings = settings.value();
    o.timings.heartbeat_interval = o.settings->seconds("heartbeat_interval");
  }};
}

bj::value body(ee::http::Response const& r) { return bj::parse(r.body()); }

ee::http::Response put(CpHarness& h, std::string const& key, std::string const& json) {
  return h.call_bearer(bhttp::verb::put, "/api/v1/admin/settings/" + key, h.admin_token(), json);
}

std::int64_t heartbeat_interval_told(CpHarness& h, ee::test::TestAgent const& agent) {
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  auto beat = h.heartbeat(agent, hb);
  EXPECT_EQ(beat.result(), bhttp::status::ok) << beat.body();
  return body(beat).at("heartbeat_interval_seconds").as_int64();
}

TEST(CpSettingsRoutes, ACpWithoutStoredSettingsSaysSo) {
  CpHarness h;
  auto r = h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings", h.admin_token());
  EXPECT_EQ(r.result(), bhttp::status::service_unavailable) << r.body();
  EXPECT_EQ(body(r).at("code").as_string(), "cp.settings_unavailable");
}

TEST(CpSettingsRoutes, ListsEveryKeyWithItsValueAndWhereItCameFrom) {
  CpHarness h(with_settings());
  auto r = h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings", h.admin_token());
  ASSERT_EQ(r.result(), bhttp::status::ok) << r.body();
  auto const list = body(r).as_array();
  EXPECT_EQ(list.size(), ee::cp::setting_registry().specs().size());
  bool seen_heartbeat = false;
  for (auto const& item : list) {
    auto const& o = item.as_object();
    if (o.at("name").as_string() == "heartbeat_interval") {
      seen_heartbeat = true;
      EXPECT_EQ(o.at("value").as_string(), "30");
      EXPECT_EQ(o.at("source").as_string(), "default");
      EXPECT_TRUE(o.at("reloadable").as_bool());
      EXPECT_EQ(o.at("env").as_string(), "EE_HEARTBEAT_INTERVAL");
    }
    if (o.at("name").as_string() == "admin_token") {
      EXPECT_EQ(o.at("value").as_string(), "set");
      EXPECT_FALSE(o.contains("default"));
    }
  }
  EXPECT_TRUE(seen_heartbeat);
  EXPECT_EQ(r.body().find(h.admin_token()), std::string::npos);

  auto timings = body(h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings?group=timings", h.admin_token()));
  EXPECT_FALSE(timings.as_array().empty());
  for (auto const& item : timings.as_array()) EXPECT_EQ(item.at("group").as_string(), "timings");
}

TEST(CpSettingsRoutes, AReloadableKeyAppliesAtOnceAndRevertsWhenDeleted) {
  CpHarness h(with_settings());
  auto agent = h.agent("vm-settings");
  h.register_ok(agent);
  EXPECT_EQ(heartbeat_interval_told(h, agent), 30);

  auto stored = put(h, "heartbeat_interval", R"({"value":"2m"})");
  ASSERT_EQ(stored.result(), bhttp::status::ok) << stored.body();
  EXPECT_EQ(body(stored).at("value").as_string(), "120");
  EXPECT_EQ(body(stored).at("source").as_string(), "database");
  EXPECT_EQ(body(stored).at("updated_by").as_string(), "admin");
  EXPECT_FALSE(body(stored).at("pending_restart").as_bool());
  EXPECT_EQ(heartbeat_interval_told(h, agent), 120);

  auto removed = h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/settings/heartbeat_interval", h.admin_token());
  ASSERT_EQ(removed.result(), bhttp::status::ok) << removed.body();
  EXPECT_EQ(body(removed).at("source").as_string(), "default");
  EXPECT_EQ(heartbeat_interval_told(h, agent), 30);
  auto again = h.call_bearer(bhttp::verb::delete_, "/api/v1/admin/settings/heartbeat_interval", h.admin_token());
  EXPECT_EQ(again.result(), bhttp::status::not_found) << again.body();
}

TEST(CpSettingsRoutes, AKeyThatIsNotReloadableWaitsForTheNextStart) {
  CpHarness h(with_settings());
  auto stored = put(h, "log_level", R"({"value":"debug"})");
  ASSERT_EQ(stored.result(), bhttp::status::ok) << stored.body();
  EXPECT_TRUE(body(stored).at("pending_restart").as_bool());
  EXPECT_FALSE(body(stored).at("reloadable").as_bool());
}

TEST(CpSettingsRoutes, BadChangesAreRefusedNamingWhatIsWrong) {
  CpHarness h(with_settings());
  auto unknown = put(h, "no_such_key", R"({"value":"1"})");
  EXPECT_EQ(unknown.result(), bhttp::status::not_found) << unknown.body();
  EXPECT_EQ(body(unknown).at("code").as_string(), "cp.unknown_setting");
  auto db = put(h, "db", R"({"value":"/tmp/x.db"})");
  EXPECT_EQ(db.result(), bhttp::status::bad_request) << db.body();
  EXPECT_EQ(body(db).at("code").as_string(), "cp.setting_not_storable");
  auto bad = put(h, "threads", R"({"value":"many"})");
  EXPECT_EQ(bad.result(), bhttp::status::bad_request) << bad.body();
  EXPECT_NE(bad.body().find("threads"), std::string::npos) << bad.body();
  auto range = put(h, "heartbeat_interval", R"({"value":"0"})");
  EXPECT_EQ(range.result(), bhttp::status::bad_request) << range.body();
  auto empty = put(h, "heartbeat_interval", R"({"value":""})");
  EXPECT_EQ(empty.result(), bhttp::status::bad_request) << empty.body();
  auto choice = put(h, "nonce_mode", R"({"value":"sometimes"})");
  EXPECT_EQ(choice.result(), bhttp::status::bad_request) << choice.body();
  for (auto const* malformed : {"", "[]", R"({"value":30})", R"({"value":"1","extra":1})", R"({"val":"1"})"}) {
    auto r = put(h, "threads", malformed);
    EXPECT_EQ(r.result(), bhttp::status::bad_request) << malformed << ": " << r.body();
  }
  // Nothing of it was stored.
  auto list = body(h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings", h.admin_token()));
  for (auto const& item : list.as_array()) {
    EXPECT_NE(item.at("source").as_string(), "database") << item.at("name").as_string();
  }
}

TEST(CpSettingsRoutes, AStoredSecretIsNeverShownNorLogged) {
  ee::test::LogCapture log;
  CpHarness h(with_settings());
  auto stored = put(h, "cloudflare_api_token", R"({"value":"cf-s3cret-value"})");
  ASSERT_EQ(stored.result(), bhttp::status::ok) << stored.body();
  EXPECT_EQ(body(stored).at("value").as_string(), "set");
  EXPECT_EQ(stored.body().find("cf-s3cret-value"), std::string::npos);
  auto one = h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings/cloudflare_api_token", h.admin_token());
  EXPECT_EQ(one.body().find("cf-s3cret-value"), std::string::npos);
  auto list = h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings", h.admin_token());
  EXPECT_EQ(list.body().find("cf-s3cret-value"), std::string::npos);
  // A malformed secret's refusal does not repeat it either.
  auto bad = put(h, "cloudflare_api_token", "{\"value\":\"s3cret\\u0001\"}");
  EXPECT_EQ(bad.result(), bhttp::status::bad_request);
  EXPECT_EQ(bad.body().find("s3cret"), std::string::npos) << bad.body();
  // The change is logged, by name only.
  EXPECT_EQ(log.matching({"setting stored name=cloudflare_api_token", "by=admin"}).size(), 1u);
  EXPECT_TRUE(log.matching({"s3cret"}).empty());
  EXPECT_TRUE(log.matching({"cf-s3cret-value"}).empty());
}

TEST(CpSettingsRoutes, OnlyTheOperatorMayReadOrChangeSettings) {
  CpHarness h(with_settings());
  auto anonymous = h.call(bhttp::verb::get, "/api/v1/admin/settings");
  EXPECT_EQ(anonymous.result(), bhttp::status::unauthorized);
  auto workflow = h.call_bearer(bhttp::verb::put, "/api/v1/admin/settings/heartbeat_interval", h.github_token(),
                                R"({"value":"1"})");
  EXPECT_EQ(workflow.result(), bhttp::status::unauthorized) << workflow.body();
  auto list = h.call_bearer(bhttp::verb::get, "/api/v1/admin/settings/heartbeat_interval", h.admin_token());
  EXPECT_EQ(body(list).at("source").as_string(), "default");
}

}  // namespace
