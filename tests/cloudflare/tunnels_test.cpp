// The Cloudflare tunnel provider against the in-process Cloudflare stand-in over real loopback
// HTTP: what exists at "Cloudflare" after ensure/remove, rollback of a failed ensure, races with
// another creator, concurrent callers; label_for; the stand-in's own behaviour; and the
// ee-fake-cloudflare program.
#include <easyenclave/block_on.hpp>
#include <easyenclave/cloudflare/tunnels.hpp>
#include <easyenclave/http/https_client.hpp>

#include "cloudflare/fresh.hpp"
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "fakes/fake_cloudflare.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using boost::beast::http::verb;
using ee::cloudflare::errc;
using ee::cloudflare::Settings;
using ee::cloudflare::Tunnel;
using ee::test::FakeCloudflare;
using namespace std::chrono_literals;

constexpr char kDomain[] = "agents.example.com";

std::shared_ptr<ee::http::Client> https() { return ee::http::make_https_client().value(); }

struct Cf {
  std::unique_ptr<FakeCloudflare> fake = FakeCloudflare::start().value();
  std::shared_ptr<ee::http::Client> http = https();

  Settings settings() const {
    Settings s;
    s.api_base = fake->url();
    s.api_token = fake->api_token();
    s.account_id = fake->account_id();
    s.zone_id = fake->zone_id();
    s.domain = kDomain;
    s.instance_id = "test";
    return s;
  }
  std::shared_ptr<ee::cloudflare::TunnelProvider> provider() const {
    return ee::cloudflare::make_cloudflare_tunnels(http, settings());
  }
  ee::cloudflare::Client client() const { return ee::cloudflare::Client(http, settings()); }
  std::string tunnels_path() const { return "/accounts/" + fake->account_id() + "/cfd_tunnel"; }
  std::string records_path() const { return "/zones/" + fake->zone_id() + "/dns_records"; }
};

template <class T>
T run(boost::asio::awaitable<T> task) {
  return ee::block_on(std::move(task));
}

// One raw request to the stand-in, for what the client never sends.
ee::http::Response raw(verb method, std::string const& url, std::string const& token,
                       std::string body = {}) {
  ee::http::Request request{method, url, 11};
  if (!token.empty()) request.set(boost::beast::http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.set(boost::beast::http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return ee::block_on(https()->send(std::move(request))).value();
}

std::int64_t first_error_code(ee::http::Response const& response) {
  auto doc = boost::json::parse(response.body());
  return doc.at("errors").at(0).at("code").as_int64();
}

// ---- ensure ----------------------------------------------------------------------------------

TEST(CloudflareTunnels, EnsureCreatesTheTunnelItsIngressAndAProxiedCname) {
  Cf cf;
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_TRUE(ee::detail::is_uuid(t->id)) << t->id;
  EXPECT_EQ(t->name, "ee-test-web");
  EXPECT_EQ(t->hostname, "web.agents.example.com");

  ASSERT_EQ(cf.fake->live_tunnel_count(), 1u);
  auto const stored = cf.fake->tunnel(t->id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->name, "ee-test-web");
  EXPECT_EQ(stored->config_src, "cloudflare");

  auto const ingress = cf.fake->ingress(t->id);
  ASSERT_TRUE(ingress);
  ASSERT_EQ(ingress->size(), 3u);
  // The agent API's own paths to the agent, everything else on the hostname to the workload.
  EXPECT_EQ((*ingress)[0].hostname, "web.agents.example.com");
  EXPECT_EQ((*ingress)[0].path, "^/api/(health|logs|stats|metrics|deploy|undeploy)$");
  EXPECT_EQ((*ingress)[0].service, "http://127.0.0.1:8081");
  EXPECT_EQ((*ingress)[1].hostname, "web.agents.example.com");
  EXPECT_EQ((*ingress)[1].path, "");
  EXPECT_EQ((*ingress)[1].service, "http://127.0.0.1:8080");
  EXPECT_EQ((*ingress)[2].hostname, "");
  EXPECT_EQ((*ingress)[2].service, "http_status:404");

  auto const records = cf.fake->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, t->dns_record_id);
  EXPECT_EQ(records[0].type, "CNAME");
  EXPECT_EQ(records[0].name, "web.agents.example.com");
  EXPECT_EQ(records[0].content, t->id + ".cfargotunnel.com");
  EXPECT_TRUE(records[0].proxied);
  EXPECT_EQ(records[0].ttl, 1);

  // The token is what cloudflared runs with: base64 of {"a": account, "t": tunnel, "s": secret}.
  auto const decoded = ee::detail::base64_decode(t->token);
  ASSERT_TRUE(decoded);
  auto const token = boost::json::parse(ee::detail::as_chars(*decoded));
  EXPECT_EQ(token.at("a").as_string(), cf.fake->account_id());
  EXPECT_EQ(token.at("t").as_string(), t->id);
  EXPECT_EQ(token.at("s").as_string(), stored->secret);
}

TEST(CloudflareTunnels, EnsureTwiceReusesTheTunnelAndTheRecord) {
  Cf cf;
  auto provider = cf.provider();
  auto first = run(provider->ensure("web"));
  ASSERT_TRUE(first) << first.error().message();
  auto second = run(provider->ensure("web"));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->dns_record_id, first->dns_record_id);
  EXPECT_EQ(second->token, first->token);
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
  EXPECT_EQ(cf.fake->dns_record_count(), 1u);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.tunnels_path()), 1u);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.records_path()), 1u);
  // A second provider (a restarted control plane) finds the same pieces.
  auto third = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(third->id, first->id);
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
}

TEST(CloudflareTunnels, EnsureKeepsDifferentLabelsAndInstancesApart) {
  Cf cf;
  auto a = run(cf.provider()->ensure("web"));
  auto b = run(cf.provider()->ensure("api"));
  auto s = cf.settings();
  s.instance_id = "other";
  s.domain = "Other.Example.COM";
  auto c = run(ee::cloudflare::make_cloudflare_tunnels(cf.http, s)->ensure("web"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(c->name, "ee-other-web");
  EXPECT_EQ(c->hostname, "web.other.example.com");
  EXPECT_EQ(std::set<std::string>({a->id, b->id, c->id}).size(), 3u);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 3u);
  EXPECT_EQ(cf.fake->dns_record_count(), 3u);
}

TEST(CloudflareTunnels, EnsureReusesAnExistingTunnelAndRecord) {
  Cf cf;
  auto const id = cf.fake->add_tunnel("ee-test-web");
  auto const record =
      cf.fake->add_record("CNAME", "web.agents.example.com", id + ".cfargotunnel.com", true);
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->dns_record_id, record);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.tunnels_path()), 0u);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.records_path()), 0u);
  EXPECT_EQ(cf.fake->count_requests(verb::put, cf.records_path() + "/" + record), 0u);
  EXPECT_TRUE(cf.fake->ingress(id));  // the ingress is (re)written every time
}

TEST(CloudflareTunnels, EnsureCorrectsACnamePointingElsewhere) {
  Cf cf;
  auto const stale = cf.fake->add_record("CNAME", "Web.Agents.Example.com", "old.cfargotunnel.com");
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->dns_record_id, stale);
  auto const records = cf.fake->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].content, t->id + ".cfargotunnel.com");
  EXPECT_TRUE(records[0].proxied);
  EXPECT_EQ(cf.fake->count_requests(verb::put, cf.records_path() + "/" + stale), 1u);

  // Right target but not proxied: corrected too (an unproxied tunnel CNAME does not route).
  Cf other;
  auto const id = other.fake->add_tunnel("ee-test-web");
  auto const unproxied =
      other.fake->add_record("CNAME", "web.agents.example.com", id + ".cfargotunnel.com", false);
  auto u = run(other.provider()->ensure("web"));
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->dns_record_id, unproxied);
  EXPECT_TRUE(other.fake->records().at(0).proxied);
}

TEST(CloudflareTunnels, EnsureFailsWhenAnotherRecordTypeHoldsTheName) {
  Cf cf;
  cf.fake->add_record("A", "web.agents.example.com", "192.0.2.1");
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::record_exists);
  EXPECT_EQ(t.error(), ee::condition::conflict);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 0u);  // the tunnel it created was rolled back
  EXPECT_EQ(cf.fake->dns_record_count(), 1u);   // the A record is not ours to touch
}

TEST(CloudflareTunnels, EnsureTakesTheTokenFromTheCreate) {
  Cf cf;
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(cf.fake->count_requests(verb::get, cf.tunnels_path() + "/" + t->id + "/token"), 0u);
  // A reused tunnel's comes from GET .../token, and is the same.
  auto again = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(cf.fake->count_requests(verb::get, cf.tunnels_path() + "/" + t->id + "/token"), 1u);
  EXPECT_EQ(again->token, t->token);
}

// ensure_new: the same pieces as ensure, created before anything is looked up.
TEST(CloudflareTunnels, EnsureNewCreatesEverythingInThreeCalls) {
  Cf cf;
  auto t = run(ee::cloudflare::ensure_new(cf.provider(), "web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->name, "ee-test-web");
  EXPECT_EQ(t->hostname, "web.agents.example.com");
  auto const log = cf.fake->request_log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], "POST " + cf.tunnels_path());
  EXPECT_EQ(log[1], "PUT " + cf.tunnels_path() + "/" + t->id + "/configurations");
  EXPECT_EQ(log[2], "POST " + cf.records_path());

  auto const stored = cf.fake->tunnel(t->id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->config_src, "cloudflare");
  auto const ingress = cf.fake->ingress(t->id);
  ASSERT_TRUE(ingress);
  ASSERT_EQ(ingress->size(), 3u);
  EXPECT_EQ((*ingress)[0].service, "http://127.0.0.1:8081");
  EXPECT_EQ((*ingress)[1].service, "http://127.0.0.1:8080");
  EXPECT_EQ((*ingress)[2].service, "http_status:404");
  auto const records = cf.fake->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, t->dns_record_id);
  EXPECT_EQ(records[0].content, t->id + ".cfargotunnel.com");
  EXPECT_TRUE(records[0].proxied);
  auto const decoded = ee::detail::base64_decode(t->token);
  ASSERT_TRUE(decoded);
  auto const token = boost::json::parse(ee::detail::as_chars(*decoded));
  EXPECT_EQ(token.at("t").as_string(), t->id);
  EXPECT_EQ(token.at("s").as_string(), stored->secret);

  // And ensure finds what ensure_new made.
  auto again = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->id, t->id);
  EXPECT_EQ(again->dns_record_id, t->dns_record_id);
  EXPECT_EQ(again->token, t->token);
}

TEST(CloudflareTunnels, EnsureNewAdoptsAnExistingTunnelAndCorrectsItsRecord) {
  Cf cf;
  auto const id = cf.fake->add_tunnel("ee-test-web");
  auto const stale = cf.fake->add_record("CNAME", "web.agents.example.com", "old.cfargotunnel.com");
  auto t = run(ee::cloudflare::ensure_new(cf.provider(), "web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->id, id);  // the create got 409 (code 1013); the lookup found it
  EXPECT_EQ(t->dns_record_id, stale);
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
  auto const records = cf.fake->records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].content, id + ".cfargotunnel.com");
  EXPECT_TRUE(records[0].proxied);
  auto const decoded = ee::detail::base64_decode(t->token);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(boost::json::parse(ee::detail::as_chars(*decoded)).at("t").as_string(), id);
  for (auto const& entry : cf.fake->request_log())
    EXPECT_FALSE(entry.starts_with("DELETE")) << entry;  // nothing of someone else's is undone
}

TEST(CloudflareTunnels, EnsureNewRollsBackWhenAnotherRecordTypeHoldsTheName) {
  Cf cf;
  cf.fake->add_record("A", "web.agents.example.com", "192.0.2.1");
  auto t = run(ee::cloudflare::ensure_new(cf.provider(), "web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::record_exists);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 0u);  // the tunnel it created was rolled back
  EXPECT_EQ(cf.fake->dns_record_count(), 1u);   // the A record is not ours to touch
  // A failed create of the tunnel creates nothing.
  Cf other;
  other.fake->fail_next(verb::post, other.tunnels_path(), 500);
  auto u = run(ee::cloudflare::ensure_new(other.provider(), "web"));
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(), errc::unavailable);
  EXPECT_TRUE(other.fake->tunnels().empty());
}

// An http::Client that runs a hook before forwarding, so a test can act as "another process"
// between the provider's lookup and its create.
class HookedClient : public ee::http::Client {
 public:
  HookedClient(std::shared_ptr<ee::http::Client> inner,
               std::function<void(ee::http::Request const&)> hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}
  boost::asio::awaitable<ee::result<ee::http::Response>> send(
      ee::http::Request request, ee::http::RequestOptions options) override {
    hook_(request);
    co_return co_await inner_->send(std::move(request), options);
  }

 private:
  std::shared_ptr<ee::http::Client> inner_;
  std::function<void(ee::http::Request const&)> hook_;
};

TEST(CloudflareTunnels, EnsureSettlesOnWhatAConcurrentCreatorMade) {
  Cf cf;
  std::string theirs;
  auto hooked = std::make_shared<HookedClient>(cf.http, [&](ee::http::Request const& request) {
    if (request.method() != verb::post) return;
    std::string_view const target = request.target();
    if (target.ends_with("/cfd_tunnel") && theirs.empty())
      theirs = cf.fake->add_tunnel("ee-test-web");
    if (target.ends_with("/dns_records") && cf.fake->dns_record_count() == 0)
      cf.fake->add_record("CNAME", "web.agents.example.com", "theirs.example.net");
  });
  auto t = run(ee::cloudflare::make_cloudflare_tunnels(hooked, cf.settings())->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->id, theirs);  // the create got 409 (code 1013); the second lookup found theirs
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
  auto const records = cf.fake->records();
  ASSERT_EQ(records.size(), 1u);  // the create got 81053; their record was corrected
  EXPECT_EQ(records[0].id, t->dns_record_id);
  EXPECT_EQ(records[0].content, theirs + ".cfargotunnel.com");
  EXPECT_TRUE(records[0].proxied);
}

// ---- Rollback --------------------------------------------------------------------------------

TEST(CloudflareTunnels, AFailedStepRollsBackTheTunnelItCreated) {
  struct Step {
    verb method;
    std::string prefix;  // below the account/zone path
    bool zone;
    unsigned status;
    ee::cloudflare::errc expected;
  };
  // No token step: a create's answer carries the token (EnsureTakesTheTokenFromTheCreate).
  std::vector<Step> const steps = {
      {verb::put, "/", false, 400, errc::api_error},    // ingress
      {verb::get, "", true, 503, errc::unavailable},    // CNAME lookup
      {verb::post, "", true, 500, errc::unavailable},   // CNAME create
      {verb::post, "", true, 403, errc::unauthorized},  // CNAME create
  };
  for (auto const& step : steps) {
    Cf cf;
    auto const base = step.zone ? cf.records_path() : cf.tunnels_path();
    cf.fake->fail_next(step.method, base + step.prefix, step.status);
    auto t = run(cf.provider()->ensure("web"));
    ASSERT_FALSE(t) << base << step.prefix;
    EXPECT_EQ(t.error(), step.expected) << t.error().message();
    EXPECT_EQ(cf.fake->live_tunnel_count(), 0u) << base << step.prefix;
    ASSERT_EQ(cf.fake->tunnels().size(), 1u);
    EXPECT_TRUE(cf.fake->tunnels()[0].deleted_at.has_value());
    EXPECT_EQ(cf.fake->dns_record_count(), 0u);
    auto const id = cf.fake->tunnels()[0].id;
    EXPECT_EQ(cf.fake->count_requests(verb::delete_, cf.tunnels_path() + "/" + id), 1u);
    // And the next ensure starts afresh.
    auto again = run(cf.provider()->ensure("web"));
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_NE(again->id, id);
    EXPECT_EQ(cf.fake->live_tunnel_count(), 1u);
  }
}

TEST(CloudflareTunnels, AFailedLookupCreatesNothing) {
  Cf cf;
  cf.fake->fail_next(verb::get, cf.tunnels_path(), 500);
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::unavailable);
  EXPECT_TRUE(cf.fake->tunnels().empty());
  cf.fake->fail_next(verb::post, cf.tunnels_path(), 500);
  t = run(cf.provider()->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_TRUE(cf.fake->tunnels().empty());
}

TEST(CloudflareTunnels, AFailureDoesNotDeleteAReusedTunnel) {
  Cf cf;
  auto const id = cf.fake->add_tunnel("ee-test-web");
  cf.fake->fail_next(verb::post, cf.records_path(), 500);
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::unavailable);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 1u);
  EXPECT_FALSE(cf.fake->tunnel(id)->deleted_at);
  for (auto const& entry : cf.fake->request_log())
    EXPECT_FALSE(entry.starts_with("DELETE")) << entry;
}

TEST(CloudflareTunnels, WhenRollbackFailsTheOriginalErrorIsReported) {
  Cf cf;
  cf.fake->fail_next(verb::post, cf.records_path(), 500, 10001);
  cf.fake->fail_next(verb::delete_, cf.tunnels_path() + "/", 400, 7777, 1);  // the tunnel delete
  auto t = run(cf.provider()->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::unavailable);
  EXPECT_NE(t.error().message().find("create CNAME"), std::string::npos) << t.error().message();
  EXPECT_EQ(t.error().message().find("7777"), std::string::npos) << t.error().message();
  // The tunnel is left behind, and the next ensure adopts it.
  ASSERT_EQ(cf.fake->live_tunnel_count(), 1u);
  auto const left = cf.fake->tunnels()[0].id;
  auto again = run(cf.provider()->ensure("web"));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->id, left);
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
}

// ---- remove ----------------------------------------------------------------------------------

TEST(CloudflareTunnels, RemoveDeletesTheRecordTheConnectionsAndTheTunnel) {
  Cf cf;
  auto provider = cf.provider();
  auto t = run(provider->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_TRUE(cf.fake->simulate_connection(t->id));
  ASSERT_TRUE(cf.fake->simulate_connection(t->id));
  auto removed = run(provider->remove(*t));
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(cf.fake->live_tunnel_count(), 0u);
  EXPECT_EQ(cf.fake->dns_record_count(), 0u);
  EXPECT_TRUE(cf.fake->tunnel(t->id)->connections.empty());
  auto const log = cf.fake->request_log();
  auto const tunnel_path = cf.tunnels_path() + "/" + t->id;
  std::vector<std::string> const tail(log.end() - 3, log.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"DELETE " + cf.records_path() + "/" + t->dns_record_id,
                                            "DELETE " + tunnel_path + "/connections",
                                            "DELETE " + tunnel_path}));
}

TEST(CloudflareTunnels, RemoveOfMissingPiecesSucceeds) {
  Cf cf;
  auto provider = cf.provider();
  auto t = run(provider->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_TRUE(run(provider->remove(*t)));
  auto again = run(provider->remove(*t));  // everything already gone
  EXPECT_TRUE(again) << again.error().message();
  Tunnel never;
  never.id = "9a3f5a8e-0000-4000-8000-000000000000";
  never.name = "ee-test-ghost";
  never.dns_record_id = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(run(provider->remove(never)));
  auto const before = cf.fake->request_count();
  EXPECT_TRUE(run(provider->remove(Tunnel{})));  // nothing to delete: no request
  EXPECT_EQ(cf.fake->request_count(), before);
}

TEST(CloudflareTunnels, ARemoveThatFailsReportsItAndCanBeRetried) {
  Cf cf;
  auto provider = cf.provider();
  auto t = run(provider->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  // The first DELETE under the tunnel's path is its connections, the second the tunnel.
  cf.fake->fail_next(verb::delete_, cf.tunnels_path() + "/" + t->id, 500, 10001, 1);
  auto removed = run(provider->remove(*t));
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error(), errc::unavailable);
  EXPECT_EQ(cf.fake->dns_record_count(), 0u);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 1u);
  auto retried = run(provider->remove(*t));
  ASSERT_TRUE(retried) << retried.error().message();
  EXPECT_EQ(cf.fake->live_tunnel_count(), 0u);
}

TEST(CloudflareTunnels, RemoveWithInvalidIdsSendsNothing) {
  Cf cf;
  Tunnel t;
  t.id = "../../zones/x";
  auto removed = run(cf.provider()->remove(t));
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error(), errc::invalid_id);
  t = Tunnel{};
  t.dns_record_id = "a/b";
  EXPECT_EQ(run(cf.provider()->remove(t)).error(), errc::invalid_id);
  EXPECT_EQ(cf.fake->request_count(), 0u);
}

// ---- Concurrency -----------------------------------------------------------------------------

TEST(CloudflareTunnels, ConcurrentEnsureFromThreadsCreatesOneTunnel) {
  Cf cf;
  auto provider = cf.provider();
  constexpr std::size_t kCallers = 20;
  std::vector<ee::result<Tunnel>> results(kCallers);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kCallers; ++i)
    threads.emplace_back([&, i] { results[i] = run(provider->ensure("web")); });
  for (auto& thread : threads) thread.join();
  for (auto const& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->id, results[0]->id);
    EXPECT_EQ(r->dns_record_id, results[0]->dns_record_id);
  }
  EXPECT_EQ(cf.fake->tunnels().size(), 1u);
  EXPECT_EQ(cf.fake->dns_record_count(), 1u);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.tunnels_path()), 1u);
  EXPECT_EQ(cf.fake->count_requests(verb::post, cf.records_path()), 1u);
}

TEST(CloudflareTunnels, ConcurrentEnsureCoroutinesCreateOneTunnelPerLabel) {
  Cf cf;
  auto provider = cf.provider();
  std::vector<std::string> const labels = {"web", "api", "db", "cache"};
  constexpr std::size_t kPerLabel = 5;
  boost::asio::io_context context;
  std::mutex mutex;
  std::map<std::string, std::set<std::string>> ids;
  std::atomic<std::size_t> failures{0};
  for (std::size_t i = 0; i < kPerLabel; ++i) {
    for (auto const& label : labels) {
      boost::asio::co_spawn(
          context,
          [&, label]() -> boost::asio::awaitable<void> {
            auto t = co_await provider->ensure(label);
            if (!t) {
              ++failures;
              co_return;
            }
            std::lock_guard lock(mutex);
            ids[label].insert(t->id);
          },
          boost::asio::detached);
    }
  }
  std::thread helper([&] { context.run(); });
  context.run();
  helper.join();
  EXPECT_EQ(failures.load(), 0u);
  ASSERT_EQ(ids.size(), labels.size());
  for (auto const& [label, seen] : ids) EXPECT_EQ(seen.size(), 1u) << label;
  EXPECT_EQ(cf.fake->tunnels().size(), labels.size());
  EXPECT_EQ(cf.fake->dns_record_count(), labels.size());
}

// ---- Settings and labels ---------------------------------------------------------------------

TEST(CloudflareTunnels, BadSettingsAreNotConfiguredAndSendNothing) {
  Cf cf;
  std::vector<std::pair<std::string, std::function<void(Settings&)>>> const mutations = {
      {"no token", [](Settings& s) { s.api_token.clear(); }},
      {"no account", [](Settings& s) { s.account_id.clear(); }},
      {"no zone", [](Settings& s) { s.zone_id.clear(); }},
      {"no domain", [](Settings& s) { s.domain.clear(); }},
      {"domain with a space", [](Settings& s) { s.domain = "exa mple.com"; }},
      {"domain with an empty label", [](Settings& s) { s.domain = "a..example.com"; }},
      {"domain with a trailing dot", [](Settings& s) { s.domain = "example.com."; }},
      {"domain label with a leading dash", [](Settings& s) { s.domain = "-a.example.com"; }},
      {"domain too long", [](Settings& s) { s.domain = std::string(180, 'a') + ".example.com"; }},
      {"empty instance", [](Settings& s) { s.instance_id.clear(); }},
      {"upper-case instance", [](Settings& s) { s.instance_id = "CP"; }},
      {"instance with a dot", [](Settings& s) { s.instance_id = "c.p"; }},
      {"instance with a leading dash", [](Settings& s) { s.instance_id = "-cp"; }},
      {"instance too long", [](Settings& s) { s.instance_id = std::string(21, 'c'); }},
      {"no origin", [](Settings& s) { s.origin_service.clear(); }},
  };
  for (auto const& [why, mutate] : mutations) {
    auto s = cf.settings();
    mutate(s);
    auto provider = ee::cloudflare::make_cloudflare_tunnels(cf.http, s);
    auto t = run(provider->ensure("web"));
    ASSERT_FALSE(t) << why;
    EXPECT_EQ(t.error(), errc::not_configured) << why;
    EXPECT_EQ(t.error(), ee::condition::invalid_input) << why;
    Tunnel existing;
    existing.id = "9a3f5a8e-0000-4000-8000-000000000000";
    EXPECT_EQ(run(provider->remove(existing)).error(), errc::not_configured) << why;
  }
  EXPECT_EQ(cf.fake->request_count(), 0u);
}

TEST(CloudflareTunnels, InvalidLabelsAreRefusedWithoutARequest) {
  Cf cf;
  auto provider = cf.provider();
  std::vector<std::string> const labels = {"",          "-web",     "web-",
                                           "Web",       "we_b",     "web.example",
                                           "w\xc3\xa9", "web/../x", std::string(64, 'a')};
  for (auto const& label : labels) {
    auto t = run(provider->ensure(label));
    ASSERT_FALSE(t) << label;
    EXPECT_EQ(t.error(), errc::invalid_label) << label;
  }
  EXPECT_EQ(cf.fake->request_count(), 0u);
  auto longest = run(provider->ensure(std::string(63, 'a')));
  ASSERT_TRUE(longest) << longest.error().message();
  EXPECT_EQ(longest->hostname, std::string(63, 'a') + "." + kDomain);
}

TEST(CloudflareTunnels, ABadTokenIsUnauthorized) {
  Cf cf;
  auto s = cf.settings();
  s.api_token = "not-the-token";
  auto t = run(ee::cloudflare::make_cloudflare_tunnels(cf.http, s)->ensure("web"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::unauthorized);
  EXPECT_EQ(t.error().message().find("not-the-token"), std::string::npos);
  EXPECT_TRUE(cf.fake->tunnels().empty());
}

std::string hash8(std::string_view vm_name) {
  auto const digest = ee::detail::sha256(ee::detail::as_bytes(vm_name));
  return ee::detail::hex_encode(std::span(digest).first(4));
}

bool is_label(std::string const& label) {
  if (label.empty() || label.size() > 40 || label.front() == '-' || label.back() == '-')
    return false;
  for (char c : label)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

TEST(CloudflareLabel, KeepsAlreadyCleanNames) {
  using ee::cloudflare::label_for;
  EXPECT_EQ(label_for("web"), "web");
  EXPECT_EQ(label_for("web-01"), "web-01");
  EXPECT_EQ(label_for("deadbeef"), "deadbeef");    // 8 hex without a dash is not the hashed shape
  EXPECT_EQ(label_for("a-deadbee"), "a-deadbee");  // 7 hex: not the hashed shape either
  EXPECT_EQ(label_for(std::string(40, 'a')), std::string(40, 'a'));
}

TEST(CloudflareLabel, HashesNamesItHadToChange) {
  using ee::cloudflare::label_for;
  EXPECT_EQ(label_for("Web-01"), "web-01-" + hash8("Web-01"));
  EXPECT_EQ(label_for("my_vm.prod"), "my-vm-prod-" + hash8("my_vm.prod"));
  EXPECT_EQ(label_for("-web-"), "web-" + hash8("-web-"));
  EXPECT_EQ(label_for("caf\xc3\xa9"), "caf-" + hash8("caf\xc3\xa9"));
  // Distinct names that sanitize alike get distinct labels.
  EXPECT_NE(label_for("web_01"), label_for("web.01"));
  EXPECT_NE(label_for("Web"), label_for("web"));
}

TEST(CloudflareLabel, ShortensLongNames) {
  using ee::cloudflare::label_for;
  auto const long_name = std::string(41, 'a');
  EXPECT_EQ(label_for(long_name), std::string(31, 'a') + "-" + hash8(long_name));
  EXPECT_EQ(label_for(long_name).size(), 40u);
  // A cut that ends in '-' is trimmed before the suffix.
  auto const dashed = std::string(30, 'b') + "-" + std::string(20, 'c');
  EXPECT_EQ(label_for(dashed), std::string(30, 'b') + "-" + hash8(dashed));
  auto const huge = std::string(5000, 'x');
  EXPECT_EQ(label_for(huge), std::string(31, 'x') + "-" + hash8(huge));
}

TEST(CloudflareLabel, NamesThatLookHashedAreHashed) {
  using ee::cloudflare::label_for;
  // Nobody can pick the label another name was hashed to.
  auto const hashed = label_for("Web-01");
  EXPECT_NE(label_for(hashed), hashed);
  EXPECT_EQ(label_for(hashed), hashed + "-" + hash8(hashed));
  EXPECT_EQ(label_for("web-deadbeef"), "web-deadbeef-" + hash8("web-deadbeef"));
  EXPECT_EQ(label_for("a-01234567"), "a-01234567-" + hash8("a-01234567"));
}

TEST(CloudflareLabel, EmptyAndSymbolOnlyNamesBecomeAgent) {
  using ee::cloudflare::label_for;
  EXPECT_EQ(label_for(""), "agent-" + hash8(""));
  EXPECT_EQ(label_for("---"), "agent-" + hash8("---"));
  EXPECT_EQ(label_for("__"), "agent-" + hash8("__"));
  EXPECT_NE(label_for("---"), label_for("__"));
}

TEST(CloudflareLabel, AlwaysGivesAValidLabel) {
  std::vector<std::string> const names = {"",
                                          "a",
                                          "A",
                                          "-",
                                          "a-",
                                          "0",
                                          "x.y.z",
                                          "ABC_def-123",
                                          "\xff\xfe",
                                          std::string(100, '-'),
                                          std::string(39, 'z') + "-",
                                          "agent-00000000"};
  for (auto const& name : names) {
    auto const label = ee::cloudflare::label_for(name);
    EXPECT_TRUE(is_label(label)) << "'" << name << "' -> '" << label << "'";
    EXPECT_EQ(ee::cloudflare::label_for(name), label);  // deterministic
  }
}

// ---- The stand-in itself ---------------------------------------------------------------------

TEST(FakeCloudflare, RefusesOtherTokensAccountsAndZones) {
  Cf cf;
  auto const base = cf.fake->url();
  auto const tunnels = base + cf.tunnels_path();
  auto no_token = raw(verb::get, tunnels, "");
  EXPECT_EQ(no_token.result_int(), 403u);
  EXPECT_EQ(first_error_code(no_token), 10000);
  auto wrong_token = raw(verb::get, tunnels, "nope");
  EXPECT_EQ(wrong_token.result_int(), 403u);
  EXPECT_EQ(first_error_code(wrong_token), 10000);
  auto other_account = raw(verb::get, base + "/accounts/other/cfd_tunnel", cf.fake->api_token());
  EXPECT_EQ(other_account.result_int(), 403u);
  auto other_zone = raw(verb::get, base + "/zones/other/dns_records", cf.fake->api_token());
  EXPECT_EQ(other_zone.result_int(), 404u);
  auto ok = raw(verb::get, tunnels, cf.fake->api_token());
  EXPECT_EQ(ok.result_int(), 200u);
  auto const doc = boost::json::parse(ok.body());
  EXPECT_EQ(doc.at("success").as_bool(), true);
  EXPECT_TRUE(doc.at("errors").as_array().empty());
  EXPECT_TRUE(doc.at("messages").as_array().empty());
  EXPECT_TRUE(doc.at("result").as_array().empty());
  EXPECT_EQ(cf.fake->request_count(), 5u);
}

TEST(FakeCloudflare, ListsArePagedAndFiltered) {
  Cf cf;
  for (int i = 0; i < 5; ++i) cf.fake->add_record("TXT", "t.example.com", "v" + std::to_string(i));
  cf.fake->add_record("CNAME", "c.example.com", "x.example.net");
  auto const url = cf.fake->url() + cf.records_path();
  auto page =
      raw(verb::get, url + "?type=TXT&name=T.example.com&per_page=2&page=3", cf.fake->api_token());
  ASSERT_EQ(page.result_int(), 200u) << page.body();
  auto doc = boost::json::parse(page.body());
  EXPECT_EQ(doc.at("result").as_array().size(), 1u);
  auto const& info = doc.at("result_info");
  EXPECT_EQ(info.at("page").as_int64(), 3);
  EXPECT_EQ(info.at("per_page").as_int64(), 2);
  EXPECT_EQ(info.at("count").as_int64(), 1);
  EXPECT_EQ(info.at("total_count").as_int64(), 5);
  EXPECT_EQ(info.at("total_pages").as_int64(), 3);
  auto beyond = raw(verb::get, url + "?per_page=2&page=99", cf.fake->api_token());
  EXPECT_TRUE(boost::json::parse(beyond.body()).at("result").as_array().empty());
  EXPECT_EQ(raw(verb::get, url + "?per_page=0", cf.fake->api_token()).result_int(), 400u);
  EXPECT_EQ(raw(verb::get, url + "?page=x", cf.fake->api_token()).result_int(), 400u);

  // The client pages through them: 60 same-named tunnels (seeded; the API would refuse that) are
  // two pages of 50; deleted ones are filtered out by is_deleted=false.
  for (int i = 0; i < 60; ++i) cf.fake->add_tunnel("dup");
  auto const dead = cf.fake->add_tunnel("dup");
  ASSERT_TRUE(run(cf.client().delete_tunnel(dead)));
  auto found = run(cf.client().find_tunnels("dup"));
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->size(), 60u);
  EXPECT_EQ(cf.fake->count_requests(verb::get, cf.tunnels_path()), 2u);
}

TEST(FakeCloudflare, TunnelNamesAreUniqueAmongLiveTunnels) {
  Cf cf;
  auto client = cf.client();
  auto first = run(client.create_tunnel("n"));
  ASSERT_TRUE(first) << first.error().message();
  auto second = run(client.create_tunnel("n"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::record_exists);
  EXPECT_NE(second.error().message().find("code 1013"), std::string::npos);
  ASSERT_TRUE(run(client.delete_tunnel(first->id)));
  auto third = run(client.create_tunnel("n"));  // a deleted tunnel's name is free again
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_NE(third->id, first->id);
  auto deleted = raw(verb::get, cf.fake->url() + cf.tunnels_path() + "?name=n&is_deleted=true",
                     cf.fake->api_token());
  auto const doc = boost::json::parse(deleted.body());
  ASSERT_EQ(doc.at("result").as_array().size(), 1u);
  EXPECT_EQ(doc.at("result").at(0).at("id").as_string(), first->id);
  EXPECT_TRUE(doc.at("result").at(0).at("deleted_at").is_string());
}

TEST(FakeCloudflare, ATunnelWithConnectionsIsNotDeleted) {
  Cf cf;
  auto client = cf.client();
  auto t = run(client.create_tunnel("n"));
  ASSERT_TRUE(t);
  ASSERT_TRUE(cf.fake->simulate_connection(t->id));
  auto refused = run(client.delete_tunnel(t->id));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::api_error);
  EXPECT_NE(refused.error().message().find("code 1022"), std::string::npos);
  EXPECT_EQ(cf.fake->live_tunnel_count(), 1u);
  ASSERT_TRUE(run(client.delete_connections(t->id)));
  ASSERT_TRUE(run(client.delete_tunnel(t->id)));
  EXPECT_EQ(cf.fake->live_tunnel_count(), 0u);
  EXPECT_FALSE(cf.fake->simulate_connection(t->id));
  // Deleted or unknown tunnels are 404s.
  EXPECT_EQ(run(client.delete_tunnel(t->id)).error(), errc::not_found);
  EXPECT_EQ(run(client.delete_connections(t->id)).error(), errc::not_found);
  EXPECT_EQ(run(client.tunnel_token(t->id)).error(), errc::api_error);
}

TEST(FakeCloudflare, TheLastIngressRuleMustMatchEverything) {
  Cf cf;
  auto t = run(cf.client().create_tunnel("n"));
  ASSERT_TRUE(t);
  auto const url = cf.fake->url() + cf.tunnels_path() + "/" + t->id + "/configurations";
  auto bad = raw(verb::put, url, cf.fake->api_token(),
                 R"({"config":{"ingress":[{"hostname":"a.example.com","service":"http://x"}]}})");
  EXPECT_EQ(bad.result_int(), 400u);
  auto with_path = raw(verb::put, url, cf.fake->api_token(),
                       R"({"config":{"ingress":[{"path":"/x","service":"http://x"}]}})");
  EXPECT_EQ(with_path.result_int(), 400u);
  auto not_json = raw(verb::put, url, cf.fake->api_token(), "{");
  EXPECT_EQ(not_json.result_int(), 400u);
  EXPECT_FALSE(cf.fake->ingress(t->id));
  auto good = raw(verb::put, url, cf.fake->api_token(),
                  R"({"config":{"ingress":[{"hostname":"a.example.com","service":"http://x"},)"
                  R"({"service":"http_status:404"}]}})");
  EXPECT_EQ(good.result_int(), 200u) << good.body();
  ASSERT_TRUE(cf.fake->ingress(t->id));
  EXPECT_EQ(cf.fake->ingress(t->id)->size(), 2u);
  auto stored = raw(verb::get, url, cf.fake->api_token());
  auto const doc = boost::json::parse(stored.body());
  EXPECT_EQ(doc.at("result").at("config").at("ingress").at(0).at("hostname").as_string(),
            "a.example.com");
}

TEST(FakeCloudflare, DnsRecordsConflictAndMissingOnesAre81044) {
  Cf cf;
  auto client = cf.client();
  auto made = run(client.create_cname("x.example.com", "a.cfargotunnel.com"));
  ASSERT_TRUE(made) << made.error().message();
  auto again = run(client.create_cname("X.example.com", "b.cfargotunnel.com"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::record_exists);
  EXPECT_NE(again.error().message().find("code 81053"), std::string::npos);
  auto gone =
      raw(verb::delete_, cf.fake->url() + cf.records_path() + "/0123abcd", cf.fake->api_token());
  EXPECT_EQ(gone.result_int(), 404u);
  EXPECT_EQ(first_error_code(gone), 81044);
  EXPECT_EQ(run(client.delete_dns_record("0123abcd")).error(), errc::not_found);
  EXPECT_EQ(run(client.update_cname("0123abcd", "y.example.com", "t")).error(), errc::not_found);
  auto updated = run(client.update_cname(made->id, "x.example.com", "c.cfargotunnel.com"));
  ASSERT_TRUE(updated) << updated.error().message();
  EXPECT_EQ(cf.fake->records().at(0).content, "c.cfargotunnel.com");
  ASSERT_TRUE(run(client.delete_dns_record(made->id)));
  EXPECT_EQ(cf.fake->dns_record_count(), 0u);
}

TEST(FakeCloudflare, InjectedFailuresHitTheChosenRequest) {
  Cf cf;
  auto client = cf.client();
  cf.fake->fail_next(verb::get, cf.tunnels_path(), 502, 10001, 1);  // the second list
  EXPECT_TRUE(run(client.find_tunnels("a")));
  auto second = run(client.find_tunnels("a"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::unavailable);
  EXPECT_TRUE(run(client.find_tunnels("a")));  // used up
  cf.fake->fail_next(verb::post, cf.tunnels_path(), 429, 10013);
  auto limited = run(client.create_tunnel("a"));
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error(), errc::api_error);
  EXPECT_NE(limited.error().message().find("code 10013"), std::string::npos);
  EXPECT_TRUE(cf.fake->tunnels().empty());
}

TEST(FakeCloudflare, RefusesMalformedOptions) {
  EXPECT_FALSE(FakeCloudflare::start({.api_token = ""}));
  EXPECT_FALSE(FakeCloudflare::start({.api_token = "a b"}));
  EXPECT_FALSE(FakeCloudflare::start({.account_id = "a/b"}));
  EXPECT_FALSE(FakeCloudflare::start({.zone_id = ""}));
}

// ---- The program -----------------------------------------------------------------------------

TEST(FakeCloudflareProgram, ServesTheApiAndStopsOnSigterm) {
  auto const program = ee::test::program("ee-fake-cloudflare").string();
  ee::test::Process fake({program, "--port", "0", "--api-token", "prog-token", "--account-id",
                          "acct-1", "--zone-id", "zone-1"});
  auto const url = ee::test::listening_url(fake);
  ASSERT_FALSE(url.empty()) << fake.err();
  EXPECT_TRUE(url.ends_with("/client/v4")) << url;
  // The listening line also names the account and zone the stand-in serves.
  auto const line = boost::json::parse(fake.out().substr(0, fake.out().find('\n')));
  EXPECT_EQ(line.at("account_id").as_string(), "acct-1");
  EXPECT_EQ(line.at("zone_id").as_string(), "zone-1");
  Settings s;
  s.api_base = url;
  s.api_token = "prog-token";
  s.account_id = "acct-1";
  s.zone_id = "zone-1";
  s.domain = kDomain;
  auto provider = ee::cloudflare::make_cloudflare_tunnels(https(), s);
  auto t = run(provider->ensure("web"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->name, "ee-cp-web");
  EXPECT_TRUE(run(provider->remove(*t)));
  fake.signal(SIGTERM);
  EXPECT_EQ(fake.wait(10s), 0);

  EXPECT_EQ(ee::test::run({program, "--bogus", "1"}).exit_code, 2);
  EXPECT_EQ(ee::test::run({program, "--port", "http"}).exit_code, 2);
  EXPECT_EQ(ee::test::run({program, "--port", "70000"}).exit_code, 2);
  EXPECT_EQ(ee::test::run({program, "--account-id", "a/b"}).exit_code, 2);
}

}  // namespace
