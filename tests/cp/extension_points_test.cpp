// The control plane's extension points for embedders (cp::Options::admit and extra_routes), over
// real HTTP against the harness: an admission hook sees the checked registration and can refuse
// it with a reason the agent reads; an extra route is served and listed beside the built-in ones
// but cannot replace one.
#include "cp/cp_harness.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/error.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace {

using ee::test::CpHarness;
using ee::test::HarnessOptions;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;

// The hook the examples/custom-cp program installs, reduced: only one datacenter is admitted.
ee::result<void> only_lab_datacenter(ee::cp::Admission const& admission) {
  if (admission.request.datacenter == "local:lab") return {};
  return ee::Error(ee::cp::errc::admission_refused,
                   "datacenter '" + admission.request.datacenter +
                       "' is not admitted here (expected local:lab)");
}

TEST(CpAdmissionHook, RefusesWithItsCodeAndReasonAndStoresNothing) {
  CpHarness h(
      HarnessOptions{.customize = [](ee::cp::Options& o) { o.admit = only_lab_datacenter; }});
  auto agent = h.agent("vm-elsewhere");
  agent.datacenter = "gcp:us-central1-a";
  auto refused = h.register_agent(agent, h.registration(agent));
  ASSERT_EQ(refused.result(), bhttp::status::forbidden) << refused.body();
  auto doc = bj::parse(refused.body());
  EXPECT_EQ(doc.at("code").as_string(), "cp.admission_refused");
  EXPECT_NE(std::string(doc.at("message").as_string()).find("'gcp:us-central1-a' is not admitted"),
            std::string::npos)
      << refused.body();
  auto listed = h.call(bhttp::verb::get, "/api/v1/agents?vm_name=vm-elsewhere");
  EXPECT_EQ(bj::parse(listed.body()).as_array().size(), 0u) << listed.body();

  auto lab = h.agent("vm-lab");
  lab.datacenter = "local:lab";
  h.register_ok(lab);
  EXPECT_FALSE(lab.agent_id.empty());
}

TEST(CpAdmissionHook, SeesTheCheckedRequestAndAppraisalAfterTheBuiltInChecks) {
  std::mutex mutex;
  std::vector<std::string> seen;  // vm_name and MRTD of every registration the hook was asked about
  CpHarness h(HarnessOptions{.customize = [&](ee::cp::Options& o) {
    o.admit = [&](ee::cp::Admission const& a) -> ee::result<void> {
      std::lock_guard lock(mutex);
      seen.push_back(a.request.vm_name + " " + ee::hex_encode(a.appraisal.mr_td));
      return {};
    };
  }});
  auto agent = h.agent("vm-hooked");
  h.register_ok(agent);
  // A registration the built-in checks refuse (a nonce this CP never issued) never reaches it.
  auto stranger = h.agent("vm-stranger");
  auto forged = h.register_agent(
      stranger, h.registration(stranger, ee::test::EvidenceKind::quote, std::string(64, 'a')));
  EXPECT_EQ(forged.result(), bhttp::status::unauthorized) << forged.body();

  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "vm-hooked " + ee::hex_encode(CpHarness::trusted_mrtd()));
}

// A handler as embedders write them: a plain lambda that calls a coroutine function taking its
// state by value (a coroutine lambda with captures would refer to a lambda object it does not own).
boost::asio::awaitable<ee::result<ee::http::Response>> hello(
    std::shared_ptr<std::atomic<int>> calls, ee::http::RequestContext& ctx) {
  ++*calls;
  co_return ee::http::json_response(bhttp::status::ok,
                                    R"({"hello":")" + std::string(ctx.path()) + "\"}");
}

ee::http::Handler hello_handler(std::shared_ptr<std::atomic<int>> calls) {
  return [calls](ee::http::RequestContext& ctx) { return hello(calls, ctx); };
}

TEST(CpExtraRoutes, AreServedAndListedBesideTheBuiltInOnes) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  CpHarness h(HarnessOptions{.customize = [calls](ee::cp::Options& o) {
    o.extra_routes.push_back({.method = bhttp::verb::get, .pattern = "/api/v1/hello",
                              .access = ee::cp::Access::anyone, .handler = hello_handler(calls)});
  }});
  auto hello = h.call(bhttp::verb::get, "/api/v1/hello");
  ASSERT_EQ(hello.result(), bhttp::status::ok) << hello.body();
  EXPECT_EQ(bj::parse(hello.body()).at("hello").as_string(), "/api/v1/hello");
  EXPECT_EQ(calls->load(), 1);
  // The server's own rules apply to it: a request id, and 405 for another method.
  EXPECT_FALSE(hello["X-Request-Id"].empty());
  EXPECT_EQ(h.call(bhttp::verb::post, "/api/v1/hello").result(), bhttp::status::method_not_allowed);
  // The built-in routes still answer.
  EXPECT_EQ(h.call(bhttp::verb::get, "/health").result(), bhttp::status::ok);

  auto const routes = h.cp().routes();
  auto const listed = std::find_if(routes.begin(), routes.end(), [](ee::cp::RouteInfo const& r) {
    return r.method == bhttp::verb::get && r.pattern == "/api/v1/hello";
  });
  ASSERT_NE(listed, routes.end());
  EXPECT_EQ(listed->access, ee::cp::Access::anyone);
}

TEST(CpExtraRoutes, AreAdmittedByTheirDeclaredAccessBeforeTheHandlerRuns) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  CpHarness h(HarnessOptions{.customize = [calls](ee::cp::Options& o) {
    o.extra_routes.push_back({.method = bhttp::verb::get, .pattern = "/api/v1/operator-hello",
                              .access = ee::cp::Access::admin, .handler = hello_handler(calls)});
  }});
  auto anonymous = h.call(bhttp::verb::get, "/api/v1/operator-hello");
  EXPECT_EQ(anonymous.result(), bhttp::status::unauthorized) << anonymous.body();
  auto workflow = h.call_bearer(bhttp::verb::get, "/api/v1/operator-hello", h.github_token());
  EXPECT_EQ(workflow.result(), bhttp::status::unauthorized) << workflow.body();
  EXPECT_EQ(calls->load(), 0);
  auto admin = h.call_bearer(bhttp::verb::get, "/api/v1/operator-hello", h.admin_token());
  EXPECT_EQ(admin.result(), bhttp::status::ok) << admin.body();
  EXPECT_EQ(calls->load(), 1);
}

TEST(CpExtraRoutes, CannotDeclareARuleWhoseSubjectThePatternLacks) {
  ee::cp::Options options;
  options.dev = true;
  options.background_tasks = false;
  options.extra_routes.push_back({.method = bhttp::verb::get, .pattern = "/api/v1/mine",
                                  .access = ee::cp::Access::owner_of_agent,
                                  .handler = hello_handler(std::make_shared<std::atomic<int>>(0))});
  auto cp = ee::cp::ControlPlane::start(std::move(options));
  ASSERT_FALSE(cp);
  EXPECT_EQ(cp.error(), ee::http::errc::invalid_route);
  EXPECT_NE(cp.error().message().find("/api/v1/mine"), std::string::npos) << cp.error().message();
}

TEST(CpExtraRoutes, CannotReplaceABuiltInRoute) {
  ee::cp::Options options;
  options.dev = true;
  options.background_tasks = false;
  options.extra_routes.push_back({.method = bhttp::verb::get, .pattern = "/health",
                                  .access = ee::cp::Access::anyone,
                                  .handler = hello_handler(std::make_shared<std::atomic<int>>(0))});
  auto cp = ee::cp::ControlPlane::start(std::move(options));
  ASSERT_FALSE(cp);
  EXPECT_EQ(cp.error(), ee::http::errc::invalid_route);
  EXPECT_NE(cp.error().message().find("/health"), std::string::npos) << cp.error().message();
}

}  // namespace
