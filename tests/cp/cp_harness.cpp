#include "cp/cp_harness.hpp"

#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/registry/sqlite.hpp>

#include <boost/beast/http/field.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include <sys/resource.h>

namespace ee::test {
namespace {
namespace bhttp = boost::beast::http;

// A harness process is the CP, every client of it and the Cloudflare stand-in at once, so each
// connection costs it two descriptors (a real CP pays one). Under the usual soft limit of 1024,
// 200 concurrent registrations ran out; the hard limit is what the process may use.
void allow_the_descriptors_of_every_party() {
  static bool const raised = [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
    rlim_t const wanted = std::min<rlim_t>(limit.rlim_max, 65536);
    if (limit.rlim_cur >= wanted) return true;
    limit.rlim_cur = wanted;
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
  }();
  (void)raised;
}
}  // namespace

tdx::Measurement CpHarness::trusted_mrtd() {
  tdx::Measurement m{};
  m.fill(0xa1);
  return m;
}

tdx::Measurement CpHarness::other_mrtd() {
  tdx::Measurement m{};
  m.fill(0xb2);
  return m;
}

std::string CpHarness::image(char digest_fill) {
  return "registry.example/octo-org/hello@sha256:" + std::string(64, digest_fill);
}

CpHarness::CpHarness(HarnessOptions options) : options_(std::move(options)) {
  allow_the_descriptors_of_every_party();
  tdx::SimulatorOptions sim;
  sim.mr_td = trusted_mrtd();
  simulator_ = tdx::Simulator::create(sim).value();

  FakeItaOptions ita;
  ita.root = simulator_->root();
  ita.collateral = std::make_shared<tdx::Collateral const>(simulator_->collateral());
  ita_ = FakeIta::start(std::move(ita)).value();
  github_ = FakeGithubIssuer::start().value();
  if (options_.cloudflare) cloudflare_ = FakeCloudflare::start({}).value();
  client_ = http::make_https_client().value();
  stores_ = registry::open_sqlite_stores(":memory:").value();
  cp_key_ = api::SigningKey::generate().value();
  start_cp();
}

CpHarness::~CpHarness() {
  if (cp_) cp_->stop();
}

void CpHarness::start_cp() {
  cp::Options o;
  o.dev = true;  // the simulator root is trusted: only dev mode allows that
  o.now = [this] { return now(); };
  o.stores = stores_;
  o.http = client_;
  o.signing_key = cp_key_;
  o.admin_token = admin_token_;
  o.background_tasks = false;
  o.server.threads = 2;
  o.quote_root = simulator_->root();
  o.collateral = std::make_shared<tdx::Collateral const>(simulator_->collateral());
  o.ita_jwks_url = ita_->jwks_url();
  o.ita_issuers = {"Intel Trust Authority"};
  o.github_jwks_url = github_->jwks_url();
  registry::TrustedMeasurement m;
  m.mrtd = hex_encode(trusted_mrtd());
  m.kind = "agent";
  m.note = "the simulator's";
  o.trusted_mrtds = {m};
  if (cloudflare_) {
    cloudflare::Settings cf;
    cf.api_base = cloudflare_->url();
    cf.api_token = cloudflare_->api_token();
    cf.account_id = cloudflare_->account_id();
    cf.zone_id = cloudflare_->zone_id();
    cf.domain = "agents.example.com";
    cf.instance_id = "test";
    o.tunnels = cloudflare::make_cloudflare_tunnels(client_, cf);
  }
  if (options_.customize) options_.customize(o);
  cp_ = cp::ControlPlane::start(std::move(o)).value();
}

void CpHarness::restart(bool wipe_database) {
  cp_->stop();
  cp_.reset();
  if (wipe_database) stores_ = registry::open_sqlite_stores(":memory:").value();
  start_cp();
}

std::chrono::system_clock::time_point CpHarness::now() const {
  return std::chrono::system_clock::now() + std::chrono::seconds(offset_.load());
}

http::Response CpHarness::send(http::Request request) {
  auto response = block_on(client_->send(std::move(request)));
  if (!response) throw std::runtime_error("request failed: " + response.error().message());
  return std::move(*response);
}

http::Response CpHarness::call(bhttp::verb method, std::string const& path, std::string body,
                               std::map<std::string, std::string> const& headers) {
  http::Request request{method, cp_->url() + path, 11};
  for (auto const& [name, value] : headers) request.set(name, value);
  if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return send(std::move(request));
}

http::Response CpHarness::call_bearer(bhttp::verb method, std::string const& path, std::string const& token,
                                      std::string body) {
  return call(method, path, std::move(body), {{"Authorization", "Bearer " + token}});
}

std::string CpHarness::challenge(std::string const& vm_name) {
  auto response = call(bhttp::verb::get, "/api/v1/agents/challenge" + (vm_name.empty() ? "" : "?vm_name=" + vm_name));
  if (response.result() != bhttp::status::ok) throw std::runtime_error("challenge: " + response.body());
  return api::parse_challenge(response.body()).value().nonce;
}

TestAgent CpHarness::agent(std::string vm_name) {
  TestAgent a{.vm_name = std::move(vm_name), .key = api::SigningKey::generate().value()};
  a.api = FakeAgentApi::start();
  return a;
}

tdx::ReportData CpHarness::report_data(std::string const& nonce_hex, api::PublicKey const& key) {
  tdx::ReportData rd{};
  auto nonce = hex_decode(nonce_hex).value();
  std::copy(nonce.begin(), nonce.end(), rd.begin());
  auto digest = key.sha256();
  std::copy(digest.begin(), digest.end(), rd.begin() + 32);
  return rd;
}

std::vector<std::uint8_t> CpHarness::quote(tdx::ReportData const& rd, std::optional<tdx::Measurement> mrtd) {
  auto report = simulator_->td_report(rd);
  if (mrtd) report.mr_td = *mrtd;
  return simulator_->quote(report).value();
}

api::RegisterRequest CpHarness::registration(TestAgent const& agent, EvidenceKind kind,
                                             std::optional<std::string> nonce, std::optional<tdx::Measurement> mrtd) {
  api::RegisterRequest r;
  r.vm_name = agent.vm_name;
  r.owner = agent.owner;
  r.node_size = agent.node_size;
  r.datacenter = agent.datacenter;
  r.nonce = nonce ? *nonce : challenge();
  r.public_key = agent.key.public_key().base64();
  r.agent_url = agent.api ? agent.api->url() : "";
  auto q = quote(report_data(r.nonce, agent.key.public_key()), mrtd);
  if (kind != EvidenceKind::ita_token) r.quote_b64 = base64_encode(q);
  if (kind != EvidenceKind::quote) {
    jwt::ItaClientOptions ita;
    ita.base_url = ita_->url();
    ita.api_key = ita_->api_key();
    jwt::ItaClient client(client_, ita);
    r.intel_ta_token = block_on(client.attest(q)).value();
  }
  return r;
}

http::Response CpHarness::register_agent(TestAgent& agent, api::RegisterRequest const& request) {
  auto response = call(bhttp::verb::post, "/api/v1/agents/register", api::to_json(request));
  if (response.result() == bhttp::status::ok) {
    auto parsed = api::parse_register_response(response.body()).value();
    agent.agent_id = parsed.agent_id;
    if (agent.api) agent.api->trust_cp_key(parsed.cp_public_key);
  }
  return response;
}

void CpHarness::register_ok(TestAgent& agent, EvidenceKind kind) {
  auto response = register_agent(agent, registration(agent, kind));
  ASSERT_EQ(response.result(), bhttp::status::ok) << response.body();
}

http::Request CpHarness::signed_heartbeat(TestAgent const& agent, api::HeartbeatRequest const& hb,
                                          std::chrono::seconds skew, api::SigningKey const* signer) {
  auto const target = "/api/v1/agents/" + agent.agent_id + "/heartbeat";
  http::Request origin{bhttp::verb::post, target, 11};
  origin.body() = api::to_json(hb);
  api::sign_request(origin, signer ? *signer : agent.key, now() + skew).value();
  http::Request request{bhttp::verb::post, cp_->url() + target, 11};
  request.set(bhttp::field::content_type, "application/json");
  for (auto name : {api::kTimestampHeader, api::kSignatureHeader}) request.set(name, origin[name]);
  request.body() = origin.body();
  request.prepare_payload();
  return request;
}

http::Response CpHarness::heartbeat(TestAgent const& agent, api::HeartbeatRequest const& hb, std::chrono::seconds skew,
                                    api::SigningKey const* signer) {
  return send(signed_heartbeat(agent, hb, skew, signer));
}

std::string CpHarness::github_token(std::string const& repository, std::string audience) {
  GithubTokenRequest request;
  request.repository = repository;
  request.audience = std::move(audience);
  return github_->mint(request);
}

http::Response CpHarness::publish(std::string const& token, std::string const& name, std::string const& version,
                                  std::optional<tdx::Measurement> mrtd, std::string image_ref,
                                  std::string const& source_repo) {
  auto const body = R"({"name":")" + name + R"(","description":"test app","source_repo":")" + source_repo +
                    R"(","version":")" + version + R"(","image":")" + (image_ref.empty() ? image() : image_ref) +
                    R"(","mrtd":")" + hex_encode(mrtd.value_or(trusted_mrtd())) + R"("})";
  return call_bearer(bhttp::verb::post, "/api/v1/apps", token, body);
}

}  // namespace ee::test
