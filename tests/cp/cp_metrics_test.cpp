// GET /metrics over a real CP: the operator's (admin token) on the API, anyone's on the separate
// listener; what registrations, attestations, heartbeats, tunnels, deployments and requests add;
// and that nothing a caller sends becomes a label (series stay bounded).
#include "cp/cp_harness.hpp"
#include "cp/counted_stores.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/registry/sqlite.hpp>

#include <boost/beast/http/verb.hpp>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace bhttp = boost::beast::http;
using ee::test::CpHarness;
using ee::test::EvidenceKind;
using ee::test::HarnessOptions;

// The value of the series `series` (name and labels exactly as rendered), or nullopt.
std::optional<double> value_of(std::string const& text, std::string const& series) {
  auto const at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  auto const start = at + 1 + series.size() + 1;
  return std::stod(text.substr(start, text.find('\n', start) - start));
}

std::string scrape(CpHarness& h) {
  auto r = h.call_bearer(bhttp::verb::get, "/metrics", h.admin_token());
  EXPECT_EQ(r.result(), bhttp::status::ok) << r.body();
  EXPECT_EQ(r[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  return r.body();
}

TEST(CpMetrics, OnlyTheOperatorReadsThemOnTheApi) {
  CpHarness h;
  EXPECT_EQ(h.call(bhttp::verb::get, "/metrics").result(), bhttp::status::unauthorized);
  EXPECT_EQ(h.call_bearer(bhttp::verb::get, "/metrics", "not-the-admin-token").result(), bhttp::status::unauthorized);
  auto const text = scrape(h);
  EXPECT_TRUE(value_of(text, "process_resident_memory_bytes").value_or(0) > 0) << text;
  EXPECT_TRUE(value_of(text, "process_open_fds").value_or(0) > 0) << text;
  // The refusals above are counted under the route's pattern with their status.
  EXPECT_EQ(value_of(text, R"(ee_http_requests_total{method="GET",route="/metrics",status="401"})"), 2) << text;
}

TEST(CpMetrics, RegistrationsAttestationsHeartbeatsAndTunnelsAreCountedByOutcome) {
  CpHarness h(HarnessOptions{.cloudflare = true});
  auto agent = h.agent("tdx-metrics-1");
  h.register_ok(agent);
  // A registration over a nonce the CP never issued: refused with its code.
  auto stranger = h.agent("tdx-metrics-2");
  auto refused = h.register_agent(stranger, h.registration(stranger, EvidenceKind::quote, std::string(64, 'a')));
  EXPECT_NE(refused.result(), bhttp::status::ok) << refused.body();
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  EXPECT_EQ(h.heartbeat(agent, hb).result(), bhttp::status::ok);

  auto const text = scrape(h);
  EXPECT_EQ(value_of(text, R"(ee_cp_registrations_total{outcome="ok"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_registrations_total{outcome="cp.unknown_nonce"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_attestations_total{evidence="quote",outcome="ok"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_attestations_total{evidence="quote",outcome="cp.unknown_nonce"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_heartbeats_total{outcome="ok"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_tunnel_operations_total{operation="ensure",outcome="ok"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_agents{status="idle"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_agents{status="down"})"), 0) << text;
  EXPECT_EQ(value_of(text, R"(ee_cp_deployments{status="running"})"), 0) << text;
  EXPECT_TRUE(value_of(text, R"(ee_http_request_duration_seconds_count{method="POST",route="/api/v1/agents/register"})"))
      << text;
}

TEST(CpMetrics, NothingACallerSendsBecomesALabel) {
  CpHarness h;
  auto agent = h.agent("tdx-metrics-label");
  h.register_ok(agent);
  h.call(bhttp::verb::get, "/no-such-path-5b1f0c");
  h.call(bhttp::verb::get, "/api/v1/agents/" + agent.agent_id);
  h.call(bhttp::verb::get, "/api/v1/agents/unknown-id-77aa");
  ee::http::Request odd{bhttp::verb::unknown, h.cp().url() + "/health", 11};
  odd.method_string("BREW");
  odd.set(bhttp::field::host, "localhost");
  (void)h.send(std::move(odd));

  auto const text = scrape(h);
  for (auto const* leaked : {"no-such-path-5b1f0c", "unknown-id-77aa", "BREW", "tdx-metrics-label"}) {
    EXPECT_EQ(text.find(leaked), std::string::npos) << leaked;
  }
  EXPECT_EQ(text.find(agent.agent_id), std::string::npos);
  EXPECT_EQ(value_of(text, R"(ee_http_requests_total{method="GET",route="unmatched",status="404"})"), 1) << text;
  EXPECT_EQ(value_of(text, R"(ee_http_requests_total{method="GET",route="/api/v1/agents/{id}",status="200"})"), 1)
      << text;
  EXPECT_TRUE(value_of(text, R"(ee_http_requests_total{method="other",route="/health",status="405"})") ||
              value_of(text, R"(ee_http_requests_total{method="other",route="unmatched",status="405"})"))
      << text;
}

TEST(CpMetrics, TheSeparateListenerServesOnlyMetricsToAnyone) {
  CpHarness h(HarnessOptions{.customize = [](ee::cp::Options& o) {
    ee::http::ServerOptions listener;
    listener.host = "127.0.0.1";
    listener.port = 0;
    o.metrics_server = listener;
  }});
  auto const endpoint = h.cp().metrics_endpoint();
  ASSERT_TRUE(endpoint);
  auto client = ee::http::make_https_client().value();
  auto const base = "http://127.0.0.1:" + std::to_string(endpoint->port());
  auto page = ee::block_on(client->send(ee::http::Request{bhttp::verb::get, base + "/metrics", 11}, {}));
  ASSERT_TRUE(page) << page.error().message();
  EXPECT_EQ(page->result(), bhttp::status::ok);
  EXPECT_NE(page->body().find("# TYPE ee_cp_registrations_total counter"), std::string::npos);
  auto other = ee::block_on(client->send(ee::http::Request{bhttp::verb::get, base + "/api/v1/agents", 11}, {}));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->result(), bhttp::status::not_found);
  auto health = ee::block_on(client->send(ee::http::Request{bhttp::verb::get, base + "/health", 11}, {}));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->result(), bhttp::status::not_found);
  // Without a listener there is no endpoint.
  CpHarness plain;
  EXPECT_FALSE(plain.cp().metrics_endpoint());
}

TEST(CpMetrics, EveryStatusWrittenIsCountedOnceWhateverTheCallSite) {
  auto stores = ee::registry::open_sqlite_stores(":memory:").value();
  ee::metrics::Registry registry;
  auto& changes = registry.counter("t_changes_total", "t", {"status"});
  auto counted = ee::cp::count_status_changes(stores.deployments, changes);

  ee::registry::AgentRecord agent;
  agent.id = "agent-1";
  agent.vm_name = "vm-1";
  ASSERT_TRUE(stores.agents->insert(agent));
  ee::registry::Deployment d;
  d.id = "dep-1";
  d.agent_id = agent.id;
  d.app_name = "hello";
  d.version = "1.0.0";
  d.status = ee::registry::DeploymentStatus::pending;
  ASSERT_TRUE(counted->insert_holding(d, ""));
  auto const now = std::chrono::system_clock::now();
  ASSERT_TRUE(counted->set_status_if(d.id, ee::registry::DeploymentStatus::pending,
                                     ee::registry::DeploymentStatus::running, "", now));
  // A compare-and-set that loses writes nothing and counts nothing.
  EXPECT_FALSE(counted->set_status_if(d.id, ee::registry::DeploymentStatus::pending,
                                      ee::registry::DeploymentStatus::failed, "", now));
  ASSERT_TRUE(counted->set_status(d.id, ee::registry::DeploymentStatus::stopped, "", now));
  EXPECT_TRUE(counted->get(d.id));  // reads pass through

  EXPECT_EQ(changes.with({"pending"}).value(), 1u);
  EXPECT_EQ(changes.with({"running"}).value(), 1u);
  EXPECT_EQ(changes.with({"failed"}).value(), 0u);
  EXPECT_EQ(changes.with({"stopped"}).value(), 1u);
}

std::string source_file(std::string const& relative) {
  std::ifstream in(std::string(EE_SOURCE_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in) << relative;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The families a render declares (its TYPE lines).
std::set<std::string> families_of(std::string const& text) {
  std::set<std::string> names;
  std::regex const type_line("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ");
  for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it) names.insert((*it)[1]);
  return names;
}

TEST(CpMetrics, TheDocsAndTheDashboardNameExactlyWhatTheCpServes) {
  CpHarness h;
  auto const served = families_of(scrape(h));
  ASSERT_TRUE(served.count("ee_cp_registrations_total"));

  // docs/operations.md's Metrics table lists every family (the process ones in one row).
  auto const ops = source_file("docs/operations.md");
  for (auto const& name : served) EXPECT_NE(ops.find("`" + name + "`"), std::string::npos) << name;

  // Every metric a dashboard query uses is one the CP serves.
  auto const dashboard = boost::json::parse(source_file("docs/grafana-dashboard.json"));
  std::regex const metric("\\b((?:ee|process)_[a-z_]+)");
  std::size_t queries = 0;
  for (auto const& panel : dashboard.at("panels").as_array()) {
    for (auto const& target : panel.at("targets").as_array()) {
      std::string const expr(target.at("expr").as_string());
      ++queries;
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end; it != end; ++it) {
        auto name = (*it)[1].str();
        for (std::string suffix : {"_bucket", "_count", "_sum"}) {
          if (name.ends_with(suffix) && !served.count(name)) name.resize(name.size() - suffix.size());
        }
        EXPECT_TRUE(served.count(name)) << name << " in " << expr;
      }
    }
  }
  EXPECT_GT(queries, 10u);
}

}  // namespace
