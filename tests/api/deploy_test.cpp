// The deploy route's messages: round trips, and every malformed body refused naming its field.
#include <easyenclave/api/deploy.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using ee::api::parse_deploy_request;
using ee::api::parse_deploy_response;

TEST(DeployRequest, RoundTripsEveryField) {
  ee::api::DeployRequest r;
  r.app_name = "hello";
  r.version = "2.0.0+build.1";
  r.agent_ids = {"a-1", "a-2"};
  r.node_size = "tiny";
  r.datacenter = "gcp:us-central1-a";
  r.dry_run = true;
  auto parsed = parse_deploy_request(ee::api::to_json(r));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->app_name, r.app_name);
  EXPECT_EQ(parsed->version, r.version);
  EXPECT_EQ(parsed->agent_ids, r.agent_ids);
  EXPECT_EQ(parsed->node_size, r.node_size);
  EXPECT_EQ(parsed->datacenter, r.datacenter);
  EXPECT_TRUE(parsed->dry_run);
  EXPECT_EQ(ee::api::to_json(*parsed), ee::api::to_json(r));
}

TEST(DeployRequest, TheEarlierFormWithOneAgentOrNoneStillParses) {
  auto one = parse_deploy_request(R"({"app_name":"hello","version":"1.0.0","agent_id":"0b7e-4a"})");
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(one->agent_id, "0b7e-4a");
  EXPECT_TRUE(one->agent_ids.empty());
  auto none = parse_deploy_request(R"({"app_name":"hello","version":"1.0.0","agent_ids":null,"dry_run":null})");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_TRUE(none->agent_id.empty());
  EXPECT_FALSE(none->dry_run);
}

TEST(DeployRequest, MalformedBodiesAreRefusedNamingTheField) {
  std::string many = "[";
  for (int i = 0; i <= 100; ++i) many += (i ? ",\"a-" : "\"a-") + std::to_string(i) + "\"";
  many += "]";
  struct Case {
    std::string body;
    std::string field;
  };
  Case const cases[] = {
      {R"({"version":"1"})", "body.app_name"},
      {R"({"app_name":"hello"})", "body.version"},
      {R"({"app_name":"","version":"1"})", "body.app_name"},
      {R"({"app_name":"-x","version":"1"})", "body.app_name"},
      {R"({"app_name":"hello","version":"1 0"})", "body.version"},
      {R"({"app_name":"hello","version":")" + std::string(129, '1') + "\"}", "body.version"},
      {R"({"app_name":"hello","version":"1","agent_id":"a/b"})", "body.agent_id"},
      {R"({"app_name":"hello","version":"1","agent_ids":[]})", "body.agent_ids"},
      {R"({"app_name":"hello","version":"1","agent_ids":"a-1"})", "body.agent_ids"},
      {R"({"app_name":"hello","version":"1","agent_ids":[1]})", "body.agent_ids"},
      {R"({"app_name":"hello","version":"1","agent_ids":["a-1","a-1"]})", "body.agent_ids[1]"},
      {R"({"app_name":"hello","version":"1","agent_ids":["a-1",""]})", "body.agent_ids[1]"},
      {R"({"app_name":"hello","version":"1","agent_ids":)" + many + "}", "body.agent_ids"},
      {R"({"app_name":"hello","version":"1","agent_id":"a-1","agent_ids":["a-2"]})", "body.agent_ids"},
      {R"({"app_name":"hello","version":"1","node_size":"Tiny size"})", "body.node_size"},
      {R"({"app_name":"hello","version":"1","datacenter":"no spaces here"})", "body.datacenter"},
      {R"({"app_name":"hello","version":"1","dry_run":"yes"})", "body.dry_run"},
      {R"(["hello"])", "body"},
      {R"({"app_name":"hello","version":"1")", ""},
  };
  for (auto const& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 120));
    auto parsed = parse_deploy_request(c.body);
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message().find(c.field), std::string::npos) << parsed.error().message();
  }
}

TEST(DeployResponse, RoundTripsAndRefusesMalformedAnswers) {
  ee::api::DeployResponse r;
  r.deployment_id = "d-1";
  r.agent_id = "a-1";
  r.status = "deploying";
  r.rollout_id = "r-1";
  r.steps = {{"d-1", "a-1", "deploying", "d-0"}, {"d-2", "a-2", "queued", ""}};
  auto parsed = parse_deploy_response(ee::api::to_json(r));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(ee::api::to_json(*parsed), ee::api::to_json(r));
  ASSERT_EQ(parsed->steps.size(), 2u);
  EXPECT_EQ(parsed->steps[0].replaces, "d-0");

  EXPECT_FALSE(parse_deploy_response(R"({"deployment_id":"d","status":"deploying","steps":[]})"));
  EXPECT_FALSE(parse_deploy_response(R"({"deployment_id":"d","agent_id":"a","status":"deploying"})"));
  EXPECT_FALSE(parse_deploy_response(R"({"deployment_id":"d","agent_id":"a","status":"x","steps":[{"agent_id":"a"}]})"));
  EXPECT_FALSE(parse_deploy_response(R"({"deployment_id":"d","agent_id":"a","status":"x","steps":[7]})"));
  auto dry = parse_deploy_response(R"({"deployment_id":"","agent_id":"a","status":"dry_run","steps":[]})");
  ASSERT_TRUE(dry) << dry.error().message();
  EXPECT_TRUE(dry->deployment_id.empty());
}

}  // namespace
