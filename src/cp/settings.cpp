// Settings -> Options: every value checked and named when wrong (the keys themselves are in
// setting_registry.cpp).
#include <easyenclave/cp/settings.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/http/rate_limit.hpp>
#include <easyenclave/registry/postgres.hpp>
#include <easyenclave/registry/sqlite.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "cp/agent_networks.hpp"
#include "cp/secrets.hpp"
#include "detail/ascii.hpp"
#include "detail/log.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

namespace ee::cp {
namespace {

Error bad(std::string_view setting, std::string const& what) {
  return Error(ee::errc::invalid_value, std::string(setting) + ": " + what);
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

result<void> apply_policy(settings::Settings const& c, AttestationPolicy& policy) {
  // The registry has checked every choice; these parse what it admitted.
  policy.nonce_mode = parse_nonce_mode(c.text("nonce_mode")).value();
  policy.appraisal = parse_appraisal_mode(c.text("appraisal")).value();
  auto const& tcb_mode = c.text("tcb_mode");
  policy.tcb_mode = tcb_mode == "warn"       ? tdx::Policy::TcbMode::warn
                    : tcb_mode == "disabled" ? tdx::Policy::TcbMode::disabled
                                             : tdx::Policy::TcbMode::strict;
  policy.allowed_tcb_statuses.clear();
  for (auto const& name : c.list("allowed_tcb_statuses")) {
    auto status = tdx::parse_tcb_status(name);
    if (!status) return bad("allowed_tcb_statuses", "unknown TCB status '" + name + "'");
    policy.allowed_tcb_statuses.push_back(*status);
  }
  policy.allow_debug = c.boolean("allow_debug_td");
  return {};
}

result<void> apply_ownership(settings::Settings const& c, Options& o) {
  if (auto const& mode = c.text("owner_proof_mode"); !mode.empty()) o.owner_proof_mode = parse_owner_proof_mode(mode).value();
  auto networks = c.list("agent_networks");
  for (auto const& network : networks) {
    if (auto r = check_agent_network(network); !r) return r.error().with_context("agent_networks");
  }
  o.agent_networks = std::move(networks);
  return {};
}

// The admin password is hashed here, once: the CP keeps only the Argon2id hash in memory.
result<void> apply_logins(settings::Settings const& c, Options& o) {
  auto& logins = o.logins;
  auto const& password = c.text("admin_password");
  auto const& hash = c.text("admin_password_hash");
  if (!password.empty() && !hash.empty()) {
    return Error(ee::errc::invalid_value, "admin_password and admin_password_hash: set one, not both");
  }
  if (!hash.empty()) {
    if (!hash.starts_with("$argon2id$v=19$")) {
      return Error(ee::errc::invalid_value, "admin_password_hash: not an Argon2id (v=19) PHC string");
    }
    logins.admin_password_hash = hash;
  }
  if (!password.empty()) {
    auto hashed = hash_secret(password, Argon2Params{});
    if (!hashed) return hashed.error().with_context("admin_password");
    logins.admin_password_hash = std::move(*hashed);
  }
  for (auto const& login : c.list("admin_github_logins")) {
    if (!api::is_github_login(login)) {
      return Error(ee::errc::invalid_value, "admin_github_logins: '" + login + "' is not a GitHub login");
    }
    logins.admin_github_logins.push_back(detail::ascii_lowercase(login));
  }
  logins.github.client_id = c.text("github_oauth_client_id");
  logins.github.client_secret = c.text("github_oauth_client_secret");
  logins.github.redirect_uri = c.text("github_oauth_redirect_uri");
  logins.github.web_url = c.text("github_web_url");
  logins.github.api_url = c.text("github_api_url");
  if (!logins.github.client_id.empty() &&
      (logins.github.client_secret.empty() || logins.github.redirect_uri.empty())) {
    return Error(ee::errc::invalid_value,
                 "github_oauth_client_id is set: set github_oauth_client_secret and github_oauth_redirect_uri too");
  }
  logins.session_ttl = c.seconds("session_ttl");
  auto& sign_in = o.server.rate_limits["sign_in"];
  sign_in.per_minute = static_cast<std::size_t>(c.integer("rate_limit_sign_in_per_minute"));
  sign_in.burst = static_cast<std::size_t>(c.integer("rate_limit_sign_in_burst"));
  return {};
}

result<void> apply_attestation_sources(settings::Settings const& c, Options& o) {
  std::shared_ptr<tdx::Simulator> simulator;
  if (auto const& dir = c.text("simulator_dir"); !dir.empty()) {
    auto sim = tdx::Simulator::load_or_create(dir);
    if (!sim) return sim.error().with_context("simulator_dir");
    simulator = std::move(*sim);
    o.quote_root = simulator->root();
    o.collateral = std::make_shared<tdx::Collateral const>(simulator->collateral());
  }
  if (auto const& file = c.text("quote_root"); !file.empty()) {
    auto root = tdx::TrustedRoot::from_file(file);
    if (!root) return root.error().with_context("quote_root");
    o.quote_root = std::move(*root);
  }
  if (auto const& file = c.text("collateral"); !file.empty()) {
    auto collateral = tdx::load_collateral_file(file);
    if (!collateral) return collateral.error().with_context("collateral");
    o.collateral = std::make_shared<tdx::Collateral const>(std::move(*collateral));
  }
  if (auto const& pccs = c.text("pccs_url"); !o.collateral && !pccs.empty()) {
    tdx::FetcherOptions fetcher;
    fetcher.api_base = pccs;
    fetcher.now = o.now;
    o.collateral_fetcher = std::make_shared<tdx::CollateralFetcher>(o.http, fetcher);
  }

  auto const& provider = c.text("quote_provider");
  if (provider == "simulator") {
    if (!simulator) return bad("quote_provider", "simulator needs simulator_dir");
    o.quote_provider = tdx::make_simulator_provider(simulator);
  } else if (provider == "tsm") {
    auto tsm = tdx::make_tsm_provider();
    if (!tsm) return tsm.error().with_context("quote_provider tsm");
    o.quote_provider = std::move(*tsm);
  }
  return {};
}

result<void> apply_cloudflare(settings::Settings const& c, Options& o) {
  cloudflare::Settings cf;
  cf.api_base = c.text("cloudflare_api_base");
  cf.api_token = c.text("cloudflare_api_token");
  cf.account_id = c.text("cloudflare_account_id");
  cf.zone_id = c.text("cloudflare_zone_id");
  cf.domain = c.text("domain");
  cf.instance_id = c.text("instance_id");
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

result<settings::Settings> with_stored_settings(settings::Settings const& given, registry::Stores const& stores) {
  if (!stores.settings) return given;
  auto rows = stores.settings->list();
  if (!rows) return rows.error().with_context("stored settings");
  std::map<std::string, std::string, std::less<>> values;
  for (auto const& row : *rows) values[row.name] = row.value;
  std::vector<std::string> skipped;
  auto merged = given.with_database(values, &skipped);
  for (auto const& why : skipped) detail::log::warn("cp", "stored setting not applied: ", why);
  return merged;
}

result<Options> make_options(settings::Settings const& given) {
  Options o;
  // The database and the mode come only from flags and the environment (they are not storable).
  o.dev = given.boolean("dev");
  auto const& db = given.text("db");
  if (db.empty() && !o.dev) return bad("db", "a database path is required outside --dev");
  // A PostgreSQL URL selects the engine whose stores replicas share, the nonces, the replay guard
  // and the leases included; anything else is a SQLite file, with nonces and the replay guard in
  // this process's memory.
  auto stores = registry::is_postgres_url(db)
                    ? registry::open_postgres_stores(
                          db, {.pool_size = static_cast<std::size_t>(given.integer("db_pool_size"))})
                    : registry::open_sqlite_stores(db.empty() ? std::filesystem::path(":memory:")
                                                              : std::filesystem::path(db));
  if (!stores) return stores.error().with_context("db");
  o.stores = std::move(*stores);
  o.settings = given;
  auto effective = with_stored_settings(given, o.stores);
  if (!effective) return effective.error();
  auto const& c = *effective;

  auto address = http::parse_host_port(c.text("listen"));
  if (!address) return address.error().with_context("listen");
  o.server.host = address->host;
  o.server.port = address->port;
  o.server.threads = static_cast<std::size_t>(c.integer("threads"));
  o.console = c.boolean("console");
  if (auto const& text = c.text("metrics_listen"); !text.empty()) {
    auto metrics_address = http::parse_host_port(text);
    if (!metrics_address) return metrics_address.error().with_context("metrics_listen");
    http::ServerOptions metrics_server;
    metrics_server.host = metrics_address->host;
    metrics_server.port = metrics_address->port;
    metrics_server.rate_limits.clear();  // the scraper is the one client
    o.metrics_server = std::move(metrics_server);
  }
  o.server.max_connections = static_cast<std::size_t>(c.integer("max_connections"));
  auto& anonymous = o.server.rate_limits["anonymous"];
  anonymous.per_minute = static_cast<std::size_t>(c.integer("rate_limit_anonymous_per_minute"));
  anonymous.burst = static_cast<std::size_t>(c.integer("rate_limit_anonymous_burst"));
  auto& account_creation = o.server.rate_limits["account_creation"];
  account_creation.per_minute = static_cast<std::size_t>(c.integer("rate_limit_account_creation_per_minute"));
  account_creation.burst = static_cast<std::size_t>(c.integer("rate_limit_account_creation_burst"));
  o.accounts.admin_only_creation = c.boolean("accounts_admin_only");
  o.accounts.argon2_memory_kib = static_cast<std::uint32_t>(c.integer("argon2_memory_kib"));
  o.accounts.argon2_iterations = static_cast<std::uint32_t>(c.integer("argon2_iterations"));
  o.accounts.argon2_parallelism = static_cast<std::uint32_t>(c.integer("argon2_parallelism"));
  auto proxies = c.list("trusted_proxies");
  if (auto parsed = http::AddressSet::parse(proxies); !parsed) return parsed.error().with_context("trusted_proxies");
  o.server.trusted_proxies = std::move(proxies);
  o.admin_token = c.text("admin_token");

  http::HttpsOptions https;
  https.extra_ca_file = c.text("ca_file");
  auto client = http::make_https_client(https);
  if (!client) return client.error().with_context("outbound HTTPS client");
  o.http = std::move(*client);

  if (auto const& file = c.text("signing_key_file"); !file.empty()) {
    auto key = load_or_create_key(file);
    if (!key) return key.error().with_context("signing_key_file");
    o.signing_key = std::move(*key);
  }
  for (auto const& text : c.list("trusted_mrtds")) {
    auto m = trusted_mrtd(text);
    if (!m) return m.error();
    o.trusted_mrtds.push_back(std::move(*m));
  }
  if (auto r = apply_policy(c, o.policy); !r) return r.error();
  if (auto r = apply_attestation_sources(c, o); !r) return r.error();
  if (auto r = apply_cloudflare(c, o); !r) return r.error();
  if (auto r = apply_ownership(c, o); !r) return r.error();
  if (auto r = apply_logins(c, o); !r) return r.error();

  o.ita_jwks_url = c.text("ita_jwks_url");
  o.ita_issuers = c.list("ita_issuers");
  o.github_jwks_url = c.text("github_jwks_url");
  o.github_issuer = c.text("github_issuer");
  o.github_audience = c.text("github_audience");

  o.timings.nonce_ttl = c.seconds("nonce_ttl");
  o.timings.heartbeat_interval = c.seconds("heartbeat_interval");
  o.timings.reattestation_interval = c.seconds("reattestation_interval");
  o.timings.signature_window = c.seconds("signature_window");
  o.timings.agent_stale_after = std::chrono::hours(c.integer("agent_stale_hours"));
  o.timings.deploy_timeout = c.seconds("deploy_timeout");
  o.timings.maintenance_interval = c.seconds("maintenance_interval");
  o.timings.health_scrape_interval = c.seconds("health_scrape_interval");
  o.timings.reregistration_grace = c.seconds("reregistration_grace");
  return o;
}

}  // namespace ee::cp
