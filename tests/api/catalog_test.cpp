// The CP's public views and the catalog's request bodies: round trips, the documented fields
// each required with its type, formats and bounds, and errors that name the field.
#include <easyenclave/api/catalog.hpp>

#include "detail/time.hpp"

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace {

namespace api = ee::api;
namespace bj = boost::json;
using namespace std::chrono_literals;

api::TimePoint const kAt{std::chrono::seconds{1'760'000'000}};  // 2025-10-09T08:53:20Z
std::string const kDigest = "sha256:" + std::string(64, 'c');
std::string const kHex96(96, 'a');
std::string const kHex96b(96, 'b');

api::AgentView agent() {
  api::AgentView a;
  a.agent_id = "3f0e2a4c-9b1d-4c7e-8f20-6a5d1c2b3e4f";
  a.vm_name = "tdx-a1";
  a.owner = "github:org/acme";
  a.owner_id = "123456";
  a.node_size = "standard";
  a.datacenter = "gcp:us-central1-a";
  a.status = "deployed";
  a.verified = true;
  a.health = "up";
  a.hostname = "tdx-a1.agents.example.com";
  a.agent_url = "http://10.0.0.5:8081";
  a.public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE";
  a.mrtd = kHex96;
  a.tcb_status = "UpToDate";
  a.deployment_id = "7c1d-1";
  a.reported_status = "running";
  a.reported_digest = kDigest;
  a.registered_at = kAt;
  a.last_registered_at = kAt + 60s;
  a.last_heartbeat_at = kAt + 120s;
  a.seconds_since_heartbeat = 12;
  return a;
}

api::AgentAttestationView attestation() {
  api::AgentAttestationView a;
  a.mrtd = kHex96;
  a.rtmrs = {kHex96, kHex96b, kHex96, ""};
  a.tcb_status = "OutOfDate";
  a.tcb_date = kAt;
  a.advisory_ids = {"INTEL-SA-00837", "INTEL-SA-00960"};
  a.appraised_by = "local_dcap";
  a.appraised_at = kAt + 1s;
  a.report_data = std::string(128, 'd');
  a.agent_id = "agent-1";
  a.vm_name = "tdx-a1";
  a.verified = false;
  a.unverified_reason = "digest mismatch";
  a.public_key = "MFkw";
  return a;
}

api::AppVersionView version(std::string v = "1.0.0") {
  api::AppVersionView out;
  out.app_name = "hello";
  out.version = std::move(v);
  out.image = "ghcr.io/acme/hello@" + kDigest;
  out.mrtd = kHex96;
  out.rtmrs = {"", "", kHex96b, ""};
  out.node_size = "tiny";
  out.published_by = "acme/hello";
  out.published_at = kAt;
  return out;
}

api::AppView app(bool with_versions) {
  api::AppView a;
  a.name = "hello";
  a.description = "Hello world";
  a.owner_id = "123456";
  a.source_repo = "acme/hello";
  a.owner = "acme";
  a.created_at = kAt;
  if (with_versions) a.versions = std::vector<api::AppVersionView>{version(), version("2.0.0")};
  return a;
}

api::DeploymentView deployment(bool rollout) {
  api::DeploymentView d;
  d.deployment_id = "7c1d-1";
  d.app_name = "hello";
  d.version = "1.0.0";
  d.agent_id = "3f0e-1";
  d.image = "ghcr.io/acme/hello@" + kDigest;
  d.status = "running";
  d.detail = "";
  d.requested_by = "acme/hello";
  d.created_at = kAt;
  d.updated_at = kAt + 40s;
  if (rollout) {
    d.replaces = "6b0c-1";
    d.rollout_id = "r-1";
    d.rollout_step = 2;
  }
  return d;
}

api::TrustedMeasurementView measurement() {
  api::TrustedMeasurementView m;
  m.mrtd = kHex96;
  m.type = "agent";
  m.node_size = "";
  m.note = "tdvf 2025-01";
  m.added_at = kAt;
  return m;
}

api::PublishRequest publish() {
  api::PublishRequest p;
  p.name = "hello";
  p.description = "Hello world";
  p.source_repo = "acme/hello";
  p.version.version = "1.0.0";
  p.version.image = "ghcr.io/acme/hello@" + kDigest;
  p.version.mrtd = kHex96;
  p.version.rtmrs = {"", "", kHex96b, ""};
  p.version.node_size = "tiny";
  return p;
}

// --- helpers -----------------------------------------------------------------------------------

std::string with(std::string const& json, std::string const& key, bj::value v) {
  auto doc = bj::parse(json).as_object();
  doc[key] = std::move(v);
  return bj::serialize(doc);
}
bj::value jstr(std::string const& v) { return bj::value(bj::string_view(v.data(), v.size())); }
std::string with(std::string const& json, std::string const& key, std::string const& v) {
  return with(json, key, jstr(v));
}
std::string with(std::string const& json, std::string const& key, char const* v) {
  return with(json, key, bj::value(bj::string_view(v)));
}
std::string without(std::string const& json, std::string const& key) {
  auto doc = bj::parse(json).as_object();
  doc.erase(key);
  return bj::serialize(doc);
}
std::vector<std::string> keys(std::string const& json) {
  std::vector<std::string> out;
  auto const doc = bj::parse(json);
  for (auto const& kv : doc.as_object()) out.emplace_back(kv.key());
  return out;
}

template <class T>
testing::AssertionResult refused_naming(ee::result<T> const& r, std::string const& field) {
  if (r) return testing::AssertionFailure() << "accepted";
  auto const& message = r.error().message();
  if (!(r.error() == ee::condition::invalid_input))
    return testing::AssertionFailure() << r.error().id() << " is not invalid_input";
  if (message.find(field) == std::string::npos)
    return testing::AssertionFailure() << "'" << message << "' does not name " << field;
  return testing::AssertionSuccess();
}

// Every documented key is required (but `optional`), and a value of another JSON type is refused
// naming the key.
template <class T>
void check_fields(std::string const& json, std::function<ee::result<T>(std::string const&)> parse,
                  std::set<std::string> const& optional) {
  ASSERT_TRUE(parse(json)) << parse(json).error().message();
  for (auto const& key : keys(json)) {
    auto const missing = parse(without(json, key));
    if (optional.contains(key)) {
      EXPECT_TRUE(missing) << key << ": " << missing.error().message();
    } else {
      EXPECT_TRUE(refused_naming(missing, "body." + key)) << key;
    }
    // Another type: an object is never a field's type here.
    EXPECT_TRUE(refused_naming(parse(with(json, key, bj::object{{"x", 1}})), "body." + key)) << key;
  }
  // Unknown fields are ignored: a newer CP may add some.
  EXPECT_TRUE(parse(with(json, "added_later", "x")));
  EXPECT_FALSE(parse("[]"));
  EXPECT_FALSE(parse("{"));
  // Every prefix of the text is refused or read; none crashes.
  for (std::size_t n = 0; n < json.size(); ++n) (void)parse(json.substr(0, n));
}

// --- agents ----------------------------------------------------------------------------------

TEST(AgentView, RoundTripsInTheDocumentedShape) {
  auto const json = api::to_json(agent());
  EXPECT_EQ(json.substr(0, 62), R"({"agent_id":"3f0e2a4c-9b1d-4c7e-8f20-6a5d1c2b3e4f","vm_name":")");
  auto parsed = api::parse_agent_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_EQ(parsed->last_heartbeat_at, kAt + 120s);
  EXPECT_EQ(bj::parse(json).at("last_heartbeat_at").as_string(), "2025-10-09T08:55:20Z");
  EXPECT_FALSE(bj::parse(json).as_object().contains("unverified_reason"));
}

// to_json writes agents field by field (listings write 100 000 of them): it must be exactly
// what serialising the documented object gives, in the documented order.
TEST(AgentView, IsWrittenExactlyAsTheDocumentedObjectSerialises) {
  auto reference = [](api::AgentView const& a) {
    auto time = [](api::TimePoint t) { return t == api::TimePoint{} ? bj::value(nullptr) : bj::value(ee::detail::format_rfc3339(t)); };
    bj::object o;
    o["agent_id"] = a.agent_id;
    o["vm_name"] = a.vm_name;
    o["owner"] = a.owner;
    o["owner_id"] = a.owner_id;
    o["node_size"] = a.node_size;
    o["datacenter"] = a.datacenter;
    o["status"] = a.status;
    o["verified"] = a.verified;
    if (!a.verified) o["unverified_reason"] = a.unverified_reason;
    o["health"] = a.health;
    o["hostname"] = a.hostname;
    o["agent_url"] = a.agent_url;
    o["public_key"] = a.public_key;
    o["mrtd"] = a.mrtd;
    o["tcb_status"] = a.tcb_status;
    o["deployment_id"] = a.deployment_id.empty() ? bj::value(nullptr) : bj::value(a.deployment_id);
    o["reported_status"] = a.reported_status;
    o["reported_digest"] = a.reported_digest;
    o["registered_at"] = time(a.registered_at);
    o["last_registered_at"] = time(a.last_registered_at);
    o["last_heartbeat_at"] = time(a.last_heartbeat_at);
    o["seconds_since_heartbeat"] = a.seconds_since_heartbeat;
    return bj::serialize(o);
  };
  auto a = agent();
  EXPECT_EQ(api::to_json(a), reference(a));
  a.verified = false;
  a.unverified_reason = "quote \"failed\"\n\x01";
  a.deployment_id.clear();
  a.registered_at = {};
  a.hostname = "caf\xc3\xa9.example.com";
  EXPECT_EQ(api::to_json(a), reference(a));
}

TEST(AgentView, EmptyDeploymentAndUnsetTimesAreNullAndAnUnverifiedAgentSaysWhy) {
  auto a = agent();
  a.deployment_id.clear();
  a.registered_at = {};
  a.verified = false;
  a.status = "unverified";
  a.unverified_reason = "re-attestation failed";
  auto const json = api::to_json(a);
  auto const doc = bj::parse(json);
  EXPECT_TRUE(doc.at("deployment_id").is_null());
  EXPECT_TRUE(doc.at("registered_at").is_null());
  EXPECT_EQ(doc.at("unverified_reason").as_string(), "re-attestation failed");
  auto parsed = api::parse_agent_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_TRUE(parsed->deployment_id.empty());
  EXPECT_EQ(parsed->registered_at, api::TimePoint{});
  // Legacy agents: no owner, no key.
  a.owner.clear();
  a.public_key.clear();
  a.owner_id.clear();
  EXPECT_TRUE(api::parse_agent_view(api::to_json(a)));
}

TEST(AgentView, EveryFieldIsRequiredWithItsType) {
  check_fields<api::AgentView>(api::to_json(agent()), [](auto const& t) { return api::parse_agent_view(t); },
                               {"unverified_reason"});
}

TEST(AgentView, RefusesMalformedValuesNamingTheField) {
  auto const json = api::to_json(agent());
  std::vector<std::pair<std::string, bj::value>> const cases = {
      {"agent_id", bj::value("")},
      {"agent_id", bj::value("a/b")},
      {"vm_name", bj::value("-x")},
      {"owner", bj::value("acme")},
      {"owner_id", bj::value("12a")},
      {"node_size", bj::value("Huge")},
      {"datacenter", bj::value("gcp")},
      {"status", bj::value("busy")},
      {"health", bj::value("fine")},
      {"hostname", jstr(std::string(254, 'h'))},
      {"public_key", jstr(std::string(4097, 'k'))},
      {"mrtd", bj::value("abc")},
      {"reported_digest", bj::value("sha256:x")},
      {"registered_at", bj::value("yesterday")},
      {"last_heartbeat_at", bj::value(12)},
      {"seconds_since_heartbeat", bj::value(-1)},
      {"seconds_since_heartbeat", bj::value(1.5)},
      {"verified", bj::value("true")},
  };
  for (auto const& [key, value] : cases) {
    EXPECT_TRUE(refused_naming(api::parse_agent_view(with(json, key, value)), "body." + key))
        << key << " = " << bj::serialize(value);
  }
}

TEST(AgentView, ListsRoundTripAndNameTheElement) {
  auto b = agent();
  b.agent_id = "other";
  std::vector<api::AgentView> const list{agent(), b};
  auto const json = api::to_json(list);
  auto parsed = api::parse_agent_views(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_EQ(api::to_json(std::vector<api::AgentView>{}), "[]");
  EXPECT_TRUE(api::parse_agent_views("[]").value().empty());
  auto const broken = "[" + api::to_json(agent()) + "," + without(api::to_json(b), "vm_name") + "]";
  EXPECT_TRUE(refused_naming(api::parse_agent_views(broken), "body[1].vm_name"));
  EXPECT_TRUE(refused_naming(api::parse_agent_views("{}"), "body"));
  EXPECT_TRUE(refused_naming(api::parse_agent_views("[1]"), "body[0]"));
}

TEST(AgentAttestationView, RoundTripsAndRequiresItsFields) {
  auto const json = api::to_json(attestation());
  auto parsed = api::parse_agent_attestation_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_EQ(parsed->advisory_ids, attestation().advisory_ids);
  EXPECT_EQ(parsed->unverified_reason, "digest mismatch");
  check_fields<api::AgentAttestationView>(
      json, [](auto const& t) { return api::parse_agent_attestation_view(t); }, {"unverified_reason"});
  EXPECT_TRUE(refused_naming(api::parse_agent_attestation_view(with(json, "rtmrs", bj::array{kHex96})), "body.rtmrs"));
  EXPECT_TRUE(refused_naming(
      api::parse_agent_attestation_view(with(json, "rtmrs", bj::array{kHex96, "xyz", kHex96, kHex96})),
      "body.rtmrs[1]"));
  EXPECT_TRUE(refused_naming(api::parse_agent_attestation_view(with(json, "report_data", "00")), "body.report_data"));
  bj::array many;
  for (int i = 0; i < 257; ++i) many.emplace_back("INTEL-SA-1");
  EXPECT_TRUE(refused_naming(api::parse_agent_attestation_view(with(json, "advisory_ids", many)), "body.advisory_ids"));
  EXPECT_TRUE(refused_naming(api::parse_agent_attestation_view(with(json, "advisory_ids", bj::array{1})),
                             "body.advisory_ids"));
}

// --- apps and versions -----------------------------------------------------------------------

TEST(AppView, RoundTripsWithAndWithoutVersions) {
  for (bool with_versions : {true, false}) {
    auto const json = api::to_json(app(with_versions));
    EXPECT_EQ(bj::parse(json).as_object().contains("versions"), with_versions);
    auto parsed = api::parse_app_view(json);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(api::to_json(*parsed), json);
    EXPECT_EQ(parsed->versions.has_value(), with_versions);
  }
  auto const none = api::to_json([] {
    auto a = app(false);
    a.versions.emplace();
    return a;
  }());
  EXPECT_EQ(bj::parse(none).at("versions").as_array().size(), 0u);
  EXPECT_TRUE(api::parse_app_view(none).value().versions.value().empty());
}

TEST(AppView, EveryFieldIsRequiredWithItsType) {
  check_fields<api::AppView>(api::to_json(app(true)), [](auto const& t) { return api::parse_app_view(t); },
                             {"versions"});
  auto const json = api::to_json(app(true));
  EXPECT_TRUE(refused_naming(api::parse_app_view(with(json, "name", "Hello_App")), "body.name"));
  EXPECT_TRUE(refused_naming(api::parse_app_view(with(json, "source_repo", "hello")), "body.source_repo"));
  EXPECT_TRUE(refused_naming(api::parse_app_view(with(json, "description", std::string(1025, 'd'))),
                             "body.description"));
  // A malformed version is named by its index.
  auto doc = bj::parse(json).as_object();
  doc["versions"].as_array()[1].as_object()["image"] = "ghcr.io/acme/hello:latest";
  EXPECT_TRUE(refused_naming(api::parse_app_view(bj::serialize(doc)), "body.versions[1].image"));
}

TEST(AppVersionView, RoundTripsWithUnpinnedRtmrsAsNull) {
  auto const json = api::to_json(version());
  auto const rtmrs = bj::parse(json).at("rtmrs").as_array();
  ASSERT_EQ(rtmrs.size(), 4u);
  EXPECT_TRUE(rtmrs[0].is_null());
  EXPECT_EQ(rtmrs[2].as_string(), kHex96b);
  auto parsed = api::parse_app_version_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_EQ(parsed->rtmrs, version().rtmrs);
  check_fields<api::AppVersionView>(json, [](auto const& t) { return api::parse_app_version_view(t); }, {});
  for (auto const& [key, value] : std::vector<std::pair<std::string, bj::value>>{
           {"image", bj::value("ghcr.io/acme/hello")},
           {"image", jstr("ghcr.io/Acme/hello@" + kDigest)},
           {"mrtd", jstr(std::string(95, 'a'))},
           {"mrtd", jstr(std::string(96, 'g'))},
           {"rtmrs", bj::value(bj::array{nullptr, nullptr, nullptr})},
           {"rtmrs", bj::value(bj::array{nullptr, 1, nullptr, nullptr})},
           {"version", bj::value("1 0")},
           {"node_size", bj::value("Huge!")},
           {"published_at", bj::value("2025-13-01T00:00:00Z")},
       }) {
    EXPECT_TRUE(refused_naming(api::parse_app_version_view(with(json, key, value)), "body." + key))
        << key << " = " << bj::serialize(value);
  }
}

TEST(AppView, ListsRoundTrip) {
  std::vector<api::AppView> const list{app(false), app(false)};
  auto parsed = api::parse_app_views(api::to_json(list));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), api::to_json(list));
}

// --- deployments ------------------------------------------------------------------------------

TEST(DeploymentView, RoundTripsAndShowsRolloutFieldsOnlyInARollout) {
  for (bool rollout : {false, true}) {
    auto const json = api::to_json(deployment(rollout));
    auto const doc = bj::parse(json).as_object();
    EXPECT_EQ(doc.contains("replaces"), rollout);
    EXPECT_EQ(doc.contains("rollout_id"), rollout);
    EXPECT_EQ(doc.contains("rollout_step"), rollout);
    auto parsed = api::parse_deployment_view(json);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(api::to_json(*parsed), json);
    EXPECT_EQ(parsed->rollout_step, rollout ? 2 : 0);
  }
  // The shape docs/api.md shows, fields in its order.
  EXPECT_EQ(api::to_json(deployment(true)),
            R"({"deployment_id":"7c1d-1","app_name":"hello","version":"1.0.0","agent_id":"3f0e-1",)"
            R"("image":"ghcr.io/acme/hello@)" + kDigest + R"(","status":"running","detail":"",)"
            R"("requested_by":"acme/hello","created_at":"2025-10-09T08:53:20Z",)"
            R"("updated_at":"2025-10-09T08:54:00Z","replaces":"6b0c-1","rollout_id":"r-1","rollout_step":2})");
}

TEST(DeploymentView, EveryFieldIsRequiredWithItsType) {
  check_fields<api::DeploymentView>(api::to_json(deployment(true)),
                                    [](auto const& t) { return api::parse_deployment_view(t); },
                                    {"replaces", "rollout_id"});  // rollout_step comes with rollout_id
  auto const json = api::to_json(deployment(true));
  EXPECT_TRUE(refused_naming(api::parse_deployment_view(with(json, "status", "done")), "body.status"));
  EXPECT_TRUE(refused_naming(api::parse_deployment_view(with(json, "rollout_step", -1)), "body.rollout_step"));
  EXPECT_TRUE(refused_naming(api::parse_deployment_view(with(json, "replaces", "a b")), "body.replaces"));
  EXPECT_TRUE(refused_naming(api::parse_deployment_view(with(json, "image", "app@sha256:1")), "body.image"));
  EXPECT_TRUE(refused_naming(api::parse_deployment_view(with(json, "detail", std::string(4097, 'd'))), "body.detail"));
  auto list = api::parse_deployment_views(api::to_json(std::vector<api::DeploymentView>{deployment(false), deployment(true)}));
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(list->size(), 2u);
}

TEST(DeploymentView, AHistoryRoundTripsAndEachEntryIsChecked) {
  auto d = deployment(false);
  EXPECT_EQ(api::to_json(d).find("history"), std::string::npos) << "lists carry no history";
  d.history = std::vector<api::DeploymentChangeView>{
      {.status = "pending", .detail = "", .at = d.created_at},
      {.status = "failed", .detail = "image pull failed", .at = d.updated_at}};
  auto const json = api::to_json(d);
  EXPECT_NE(json.find(R"("history":[{"status":"pending","detail":"","at":"2025-10-09T08:53:20Z"},)"), std::string::npos) << json;
  auto parsed = api::parse_deployment_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_TRUE(parsed->history.has_value());
  ASSERT_EQ(parsed->history->size(), 2u);
  EXPECT_EQ((*parsed->history)[1].detail, "image pull failed");
  EXPECT_EQ(api::to_json(*parsed), json);
  // An empty history is a history; null or absent is none.
  d.history.emplace();
  EXPECT_TRUE(api::parse_deployment_view(api::to_json(d)).value().history.has_value());
  EXPECT_FALSE(api::parse_deployment_view(with(api::to_json(d), "history", bj::value(nullptr))).value().history.has_value());
  // Each entry is checked like the deployment's own fields.
  auto bad_entry = [&](std::string entry) {
    auto text = api::to_json(deployment(false));
    text.insert(text.size() - 1, R"(,"history":[)" + entry + "]");
    return api::parse_deployment_view(text);
  };
  EXPECT_TRUE(bad_entry(R"({"status":"pending","detail":"","at":"2025-10-09T08:53:20Z"})"));
  EXPECT_TRUE(refused_naming(bad_entry(R"({"status":"done","detail":"","at":"2025-10-09T08:53:20Z"})"), "history[0].status"));
  EXPECT_TRUE(refused_naming(bad_entry(R"({"status":"pending","detail":"","at":"yesterday"})"), "history[0].at"));
  EXPECT_TRUE(refused_naming(bad_entry(R"({"status":"pending","at":"2025-10-09T08:53:20Z"})"), "history[0].detail"));
  EXPECT_TRUE(refused_naming(bad_entry(R"("pending")"), "history[0]"));
  EXPECT_FALSE(bad_entry(R"({"status":"pending","detail":")" + std::string(4097, 'd') + R"(","at":"2025-10-09T08:53:20Z"})"));
  std::string many;
  for (int i = 0; i < 1001; ++i) many += std::string(i ? "," : "") + R"({"status":"running","detail":"","at":"2025-10-09T08:53:20Z"})";
  EXPECT_TRUE(refused_naming(bad_entry(many), "history"));
}

// --- trusted measurements ---------------------------------------------------------------------

TEST(TrustedMeasurementView, RoundTripsAndRequiresItsFields) {
  auto const json = api::to_json(measurement());
  EXPECT_EQ(json, R"({"mrtd":")" + kHex96 + R"(","type":"agent","node_size":"","note":"tdvf 2025-01",)"
                  R"("added_at":"2025-10-09T08:53:20Z"})");
  auto parsed = api::parse_trusted_measurement_view(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  check_fields<api::TrustedMeasurementView>(
      json, [](auto const& t) { return api::parse_trusted_measurement_view(t); }, {});
  EXPECT_TRUE(refused_naming(api::parse_trusted_measurement_view(with(json, "type", "root")), "body.type"));
  auto list = api::parse_trusted_measurement_views("[" + json + "]");
  ASSERT_TRUE(list) << list.error().message();
  EXPECT_EQ(api::to_json(*list), "[" + json + "]");
}

// --- publish and version bodies -------------------------------------------------------------

TEST(PublishRequest, RoundTripsEveryField) {
  auto const json = api::to_json(publish());
  auto parsed = api::parse_publish_request(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_EQ(parsed->version.rtmrs, publish().version.rtmrs);
  // Optional parts left out, and written as the earlier form with nulls.
  auto minimal = publish();
  minimal.description.clear();
  minimal.version.rtmrs = {};
  minimal.version.node_size.clear();
  auto const short_json = api::to_json(minimal);
  EXPECT_FALSE(bj::parse(short_json).as_object().contains("rtmrs"));
  EXPECT_EQ(api::to_json(api::parse_publish_request(short_json).value()), short_json);
  auto nulls = api::parse_publish_request(
      with(with(with(short_json, "rtmrs", bj::value(nullptr)), "node_size", ""), "description", bj::value(nullptr)));
  ASSERT_TRUE(nulls) << nulls.error().message();
  EXPECT_EQ(api::to_json(*nulls), short_json);
}

TEST(PublishRequest, MeasurementsAreLowerCased) {
  auto upper = publish();
  upper.version.mrtd = std::string(96, 'A');
  upper.version.rtmrs = {std::string(96, 'B'), "", "", ""};
  auto parsed = api::parse_publish_request(api::to_json(upper));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->version.mrtd, kHex96);
  EXPECT_EQ(parsed->version.rtmrs[0], kHex96b);
}

TEST(PublishRequest, MalformedBodiesAreRefusedNamingTheFieldWithTheCodesTheRouteAnswers) {
  auto const json = api::to_json(publish());
  struct Case {
    std::string body;
    std::string field;
    std::string id;
  };
  std::string const m(96, 'a');
  Case const cases[] = {
      {without(json, "name"), "body.name", "core.missing_field"},
      {without(json, "source_repo"), "body.source_repo", "core.missing_field"},
      {without(json, "version"), "body.version", "core.missing_field"},
      {without(json, "image"), "body.image", "core.missing_field"},
      {without(json, "mrtd"), "body.mrtd", "core.missing_field"},
      {with(json, "name", "Hello_App"), "body.name", "core.invalid_value"},
      {with(json, "name", std::string(64, 'a')), "body.name", "core.invalid_value"},
      {with(json, "source_repo", "hello"), "body.source_repo", "core.invalid_value"},
      {with(json, "source_repo", std::string(40, 'o') + "/r"), "body.source_repo", "core.invalid_value"},
      {with(json, "description", std::string(1025, 'd')), "body.description", "core.out_of_range"},
      {with(json, "version", std::string(65, '1')), "body.version", "core.invalid_value"},
      {with(json, "image", "ghcr.io/acme/hello:latest"), "body.image", "api.invalid_field"},
      {with(json, "image", "ghcr.io/acme/hello@sha256:" + std::string(64, 'A')), "body.image", "api.invalid_field"},
      {with(json, "mrtd", "abc"), "body.mrtd", "core.invalid_value"},
      {with(json, "rtmrs", bj::array{nullptr, nullptr, nullptr}), "body.rtmrs", "core.invalid_value"},
      {with(json, "rtmrs", bj::array{m, m, m, m, m}), "body.rtmrs", "core.invalid_value"},
      {with(json, "rtmrs", bj::array{nullptr, "00", nullptr, nullptr}), "body.rtmrs[1]", "core.invalid_value"},
      {with(json, "rtmrs", bj::array{nullptr, 1, nullptr, nullptr}), "body.rtmrs[1]", "core.wrong_type"},
      {with(json, "rtmrs", "none"), "body.rtmrs", "core.wrong_type"},
      {with(json, "node_size", "Huge!"), "body.node_size", "api.invalid_field"},
      {with(json, "name", 7), "body.name", "core.wrong_type"},
      {"{", "", "core.invalid_json"},
      {"[]", "body", "core.wrong_type"},
  };
  for (auto const& c : cases) {
    auto const r = api::parse_publish_request(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().id(), c.id) << c.body << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(c.field), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(api::parse_publish_request(std::string(70 * 1024, ' ') + json));  // over the body limit
}

TEST(VersionRequest, IsThePublishBodysVersionPart) {
  auto const p = publish();
  auto const json = api::to_json(p.version);
  EXPECT_EQ(keys(json), (std::vector<std::string>{"version", "image", "mrtd", "rtmrs", "node_size"}));
  auto parsed = api::parse_version_request(json);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(api::to_json(*parsed), json);
  EXPECT_TRUE(refused_naming(api::parse_version_request(without(json, "image")), "body.image"));
  // Publish fields in a version body are ignored.
  EXPECT_TRUE(api::parse_version_request(with(json, "name", "Not An App Name")));
}

}  // namespace
