// Config (flags and environment) → Options: every value checked and named when wrong.
#include <easyenclave/cp/config.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/http/rate_limit.hpp>
#include <easyenclave/registry/sqlite.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "cp/agent_networks.hpp"
#include "detail/log.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace ee::cp {
namespace {

Error bad(std::string_view setting, std::string const& what) {
  return Error(ee::errc::invalid_value, std::string(setting) + ": " + what);
}

result<std::chrono::seconds> positive_seconds(std::string_view setting, std::int64_t value, std::int64_t unit = 1) {
  if (value <= 0 || value > 10LL * 365 * 24 * 3600 / unit) return bad(setting, "must be a positive number");
  return std::chrono::seconds(value * unit);
}

result<registry::TrustedMeasurement> trusted_mrtd(std::string const& text) {
  std::string mrtd(text);
  std::transform(mrtd.begin(), mrtd.end(), mrtd.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (mrtd.size() != 96 || !hex_decode(mrtd)) return bad("trusted_mrtd", "must be 96 hex characters");
  registry::TrustedMeasurement m;
  m.mrtd = std::move(mrtd);
  m.kind = "agent";
  m.note = "configured at start";
  return m;
}

result<api::SigningKey> load_or_create_key(std::filesystem::path const& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto pem = read_file(path, 64 * 1024);
    if (!pem) return pem.error();
    auto key = api::SigningKey::from_pem(*pem);
    if (!key) return key.error().with_context(path.string());
    return key;
  }
  auto key = api::SigningKey::generate();
  if (!key) return key.error();
  if (auto r = write_file_atomic(path, key->private_key_pem(), 0600); !r) return r.error();
  detail::log::info("cp", "created signing key file=", path.string());
  return key;
}

result<void> apply_policy(Config const& c, AttestationPolicy& policy) {
  auto nonce_mode = parse_nonce_mode(c.nonce_mode);
  if (!nonce_mode) return bad("nonce_mode", "must be required, optional or disabled");
  policy.nonce_mode = *nonce_mode;
  auto appraisal = parse_appraisal_mode(c.appraisal);
  if (!appraisal) return bad("appraisal", "must be any, ita or local");
  policy.appraisal = *appraisal;
  if (c.tcb_mode == "strict") {
    policy.tcb_mode = tdx::Policy::TcbMode::strict;
  } else if (c.tcb_mode == "warn") {
    policy.tcb_mode = tdx::Policy::TcbMode::warn;
  } else if (c.tcb_mode == "disabled") {
    policy.tcb_mode = tdx::Policy::TcbMode::disabled;
  } else {
    return bad("tcb_mode", "must be strict, warn or disabled");
  }
  policy.allowed_tcb_statuses.clear();
  for (auto const& name : c.allowed_tcb_statuses) {
    auto status = tdx::parse_tcb_status(name);
    if (!status) return bad("allowed_tcb_statuses", "unknown TCB status '" + name + "'");
    policy.allowed_tcb_statuses.push_back(*status);
  }
  policy.allow_debug = c.allow_debug_td;
  return {};
}

result<void> apply_ownership(Config const& c, Options& o) {
  if (!c.owner_proof_mode.empty()) {
    auto mode = parse_owner_proof_mode(c.owner_proof_mode);
    if (!mode) return bad("owner_proof_mode", "must be required, optional or disabled");
    o.owner_proof_mode = *mode;
  }
  for (auto const& network : c.agent_networks) {
    if (auto r = check_agent_network(network); !r) return r.error().with_context("agent_networks");
  }
  o.agent_networks = c.agent_networks;
  return {};
}

result<void> apply_attestation_sources(Config const& c, Options& o) {
  std::shared_ptr<tdx::Simulator> simulator;
  if (!c.simulator_dir.empty()) {
    auto sim = tdx::Simulator::load_or_create(c.simulator_dir);
    if (!sim) return sim.error().with_context("simulator_dir");
    simulator = std::move(*sim);
    o.quote_root = simulator->root();
    o.collateral = std::make_shared<tdx::Collateral const>(simulator->collateral());
  }
  if (!c.quote_root_file.empty()) {
    auto root = tdx::TrustedRoot::from_file(c.quote_root_file);
    if (!root) return root.error().with_context("quote_root");
    o.quote_root = std::move(*root);
  }
  if (!c.collateral_file.empty()) {
    auto collateral = tdx::load_collateral_file(c.collateral_file);
    if (!collateral) return collateral.error().with_context("collateral");
    o.collateral = std::make_shared<tdx::Collateral const>(std::move(*collateral));
  }
  if (!o.collateral && !c.pccs_url.empty()) {
    tdx::FetcherOptions fetcher;
    fetcher.api_base = c.pccs_url;
    fetcher.now = o.now;
    o.collateral_fetcher = std::make_shared<tdx::CollateralFetcher>(o.http, fetcher);
  }

  if (c.quote_provider == "simulator") {
    if (!simulator) return bad("quote_provider", "simulator needs simulator_dir");
    o.quote_provider = tdx::make_simulator_provider(simulator);
  } else if (c.quote_provider == "tsm") {
    auto tsm = tdx::make_tsm_provider();
    if (!tsm) return tsm.error().with_context("quote_provider tsm");
    o.quote_provider = std::move(*tsm);
  } else if (c.quote_provider != "none") {
    return bad("quote_provider", "must be none, tsm or simulator");
  }
  return {};
}

result<void> apply_cloudflare(Config const& c, Options& o) {
  cloudflare::Settings cf;
  cf.api_base = c.cloudflare_api_base;
  cf.api_token = c.cloudflare_api_token;
  cf.account_id = c.cloudflare_account_id;
  cf.zone_id = c.cloudflare_zone_id;
  cf.domain = c.domain;
  cf.instance_id = c.instance_id;
  bool const any = !cf.api_token.empty() || !cf.account_id.empty() || !cf.zone_id.empty() || !cf.domain.empty();
  if (!any) {
    detail::log::info("cp", "no Cloudflare settings: agents get no tunnel and are reached at their agent_url");
    return {};
  }
  if (!cf.configured()) {
    return bad("cloudflare", "set all of CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_ZONE_ID and EE_DOMAIN, or none");
  }
  bool const instance_ok = !cf.instance_id.empty() && cf.instance_id.size() <= 20 &&
                           std::all_of(cf.instance_id.begin(), cf.instance_id.end(), [](char ch) {
                             return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
                           });
  if (!instance_ok) return bad("instance_id", "must be 1-20 of [a-z0-9-]");
  o.tunnels = cloudflare::make_cloudflare_tunnels(o.http, std::move(cf));
  return {};
}

}  // namespace

result<Options> make_options(Config const& c) {
  Options o;
  o.dev = c.dev;
  auto address = http::parse_host_port(c.listen);
  if (!address) return address.error().with_context("listen");
  o.server.host = address->host;
  o.server.port = address->port;
  if (c.threads == 0 || c.threads > 64) return bad("threads", "must be 1-64");
  o.server.threads = c.threads;
  if (c.max_connections > 1'000'000) return bad("max_connections", "must be 0 (automatic) to 1000000");
  o.server.max_connections = c.max_connections;
  if (c.rate_limit_anonymous_per_minute > 1'000'000) {
    return bad("rate_limit_anonymous_per_minute", "must be 0 (no limit) to 1000000");
  }
  if (c.rate_limit_anonymous_per_minute > 0 &&
      (c.rate_limit_anonymous_burst == 0 || c.rate_limit_anonymous_burst > 1'000'000)) {
    return bad("rate_limit_anonymous_burst", "must be 1 to 1000000");
  }
  auto& anonymous = o.server.rate_limits["anonymous"];
  anonymous.per_minute = c.rate_limit_anonymous_per_minute;
  anonymous.burst = c.rate_limit_anonymous_burst;
  if (auto proxies = http::AddressSet::parse(c.trusted_proxies); !proxies) {
    return proxies.error().with_context("trusted_proxies");
  }
  o.server.trusted_proxies = c.trusted_proxies;
  o.admin_token = c.admin_token;

  http::HttpsOptions https;
  https.extra_ca_file = c.ca_file;
  auto client = http::make_https_client(https);
  if (!client) return client.error().with_context("outbound HTTPS client");
  o.http = std::move(*client);

  if (c.db.empty() && !c.dev) return bad("db", "a database path is required outside --dev");
  auto stores = registry::open_sqlite_stores(c.db.empty() ? std::filesystem::path(":memory:") : std::filesystem::path(c.db));
  if (!stores) return stores.error().with_context("db");
  o.stores = std::move(*stores);

  if (!c.signing_key_file.empty()) {
    auto key = load_or_create_key(c.signing_key_file);
    if (!key) return key.error().with_context("signing_key_file");
    o.signing_key = std::move(*key);
  }
  for (auto const& text : c.trusted_mrtds) {
    auto m = trusted_mrtd(text);
    if (!m) return m.error();
    o.trusted_mrtds.push_back(std::move(*m));
  }
  if (auto r = apply_policy(c, o.policy); !r) return r.error();
  if (auto r = apply_attestation_sources(c, o); !r) return r.error();
  if (auto r = apply_cloudflare(c, o); !r) return r.error();
  if (auto r = apply_ownership(c, o); !r) return r.error();

  o.ita_jwks_url = c.ita_jwks_url;
  o.ita_issuers = c.ita_issuers;
  o.github_jwks_url = c.github_jwks_url;
  o.github_issuer = c.github_issuer;
  o.github_audience = c.github_audience;

  struct Timing {
    char const* name;
    std::int64_t value;
    std::chrono::seconds* out;
    std::int64_t unit;
  };
  for (auto t : {Timing{"nonce_ttl", c.nonce_ttl, &o.timings.nonce_ttl, 1},
                 Timing{"heartbeat_interval", c.heartbeat_interval, &o.timings.heartbeat_interval, 1},
                 Timing{"reattestation_interval", c.reattestation_interval, &o.timings.reattestation_interval, 1},
                 Timing{"signature_window", c.signature_window, &o.timings.signature_window, 1},
                 Timing{"agent_stale_hours", c.agent_stale_hours, &o.timings.agent_stale_after, 3600},
                 Timing{"deploy_timeout", c.deploy_timeout, &o.timings.deploy_timeout, 1},
                 Timing{"maintenance_interval", c.maintenance_interval, &o.timings.maintenance_interval, 1}}) {
    auto value = positive_seconds(t.name, t.value, t.unit);
    if (!value) return value.error();
    *t.out = *value;
  }
  if (c.health_scrape_interval < 0) return bad("health_scrape_interval", "must be 0 (off) or positive");
  o.timings.health_scrape_interval = std::chrono::seconds(c.health_scrape_interval);
  if (c.reregistration_grace < 0) return bad("reregistration_grace", "must be 0 (three heartbeat intervals) or positive");
  o.timings.reregistration_grace = std::chrono::seconds(c.reregistration_grace);
  return o;
}

}  // namespace ee::cp
