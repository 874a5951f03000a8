// The control plane's settings registry, and settings -> Options: every value checked and named
// when wrong.
#include <easyenclave/cp/settings.hpp>
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
#include <array>
#include <map>
#include <cctype>
#include <filesystem>

namespace ee::cp {
namespace {

using settings::Spec;
using settings::Type;

constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 3600;

// Every key of ee-cp. Names are the keys of the admin settings routes and of docs/operations.md;
// the variables ending in _SECONDS are the names earlier releases read, still accepted.
constexpr std::array kSpecs{
    // server
    Spec{.name = "listen", .env = "EE_LISTEN", .flag = "listen", .default_value = "127.0.0.1:8080", .group = "server",
         .help = "HOST:PORT to serve the API on (port 0: any free port)"},
    Spec{.name = "threads", .env = "EE_THREADS", .flag = "threads", .type = Type::integer, .default_value = "2",
         .group = "server", .help = "Server I/O threads", .min = 1, .max = 64},
    Spec{.name = "max_connections", .env = "EE_MAX_CONNECTIONS", .flag = "max-connections", .type = Type::integer,
         .default_value = "0", .group = "server",
         .help = "Open connections at most, more get 503 (0: 3/4 of the descriptor limit, at most 1024)", .min = 0,
         .max = 1'000'000},
    Spec{.name = "rate_limit_anonymous_per_minute", .env = "EE_RATE_LIMIT_ANONYMOUS_PER_MINUTE",
         .flag = "rate-limit-anonymous-per-minute", .type = Type::integer, .default_value = "600", .group = "server",
         .help = "Requests a minute per client address on anonymous routes, more get 429 (0: no limit)", .min = 0,
         .max = 1'000'000},
    Spec{.name = "rate_limit_anonymous_burst", .env = "EE_RATE_LIMIT_ANONYMOUS_BURST",
         .flag = "rate-limit-anonymous-burst", .type = Type::integer, .default_value = "120", .group = "server",
         .help = "Requests a client address may send at once on anonymous routes", .min = 1, .max = 1'000'000},
    Spec{.name = "trusted_proxies", .env = "EE_TRUSTED_PROXIES", .flag = "trusted-proxy", .type = Type::list,
         .group = "server",
         .help = "Peer address or prefix whose CF-Connecting-IP/X-Forwarded-For names the client (127.0.0.1 behind a "
                 "tunnel; repeat or comma-separate)"},
    Spec{.name = "db", .env = "EE_DB", .flag = "db", .group = "server",
         .help = "SQLite database file (a cache agents rebuild); empty: in memory, --dev only", .storable = false},
    Spec{.name = "admin_token", .env = "EE_ADMIN_TOKEN", .flag = "admin-token", .group = "server",
         .help = "Bearer token of the admin routes (empty: admin off)", .secret = true},
    Spec{.name = "signing_key_file", .env = "EE_SIGNING_KEY_FILE", .flag = "signing-key", .group = "server",
         .help = "PEM file of the CP's P-256 key, created if missing (empty: new key per run)"},
    Spec{.name = "ca_file", .env = "EE_CA_FILE", .flag = "ca-file", .group = "server",
         .help = "Extra PEM CA file for outbound HTTPS"},
    Spec{.name = "log_level", .env = "EE_LOG_LEVEL", .flag = "log-level", .default_value = "info", .group = "server",
         .help = "Log level", .choices = "trace|debug|info|warn|error"},
    Spec{.name = "log_format", .env = "EE_LOG_FORMAT", .flag = "log-format", .default_value = "text",
         .group = "server", .help = "Log format", .choices = "text|json"},
    Spec{.name = "dev", .env = "EE_DEV", .flag = "dev", .type = Type::boolean, .default_value = "false",
         .group = "server",
         .help = "Development mode: allow the simulator root, a nonce mode other than required and no trusted MRTD "
                 "(then every MRTD is trusted)",
         .storable = false},
    // policy
    Spec{.name = "trusted_mrtds", .env = "EE_TRUSTED_MRTDS", .flag = "trusted-mrtd", .type = Type::list,
         .group = "policy", .help = "Trusted agent MRTD, 96 hex (repeat, or comma-separated)"},
    Spec{.name = "nonce_mode", .env = "EE_NONCE_MODE", .flag = "nonce-mode", .default_value = "required",
         .group = "policy", .help = "Whether evidence must bind a CP nonce", .choices = "required|optional|disabled"},
    Spec{.name = "appraisal", .env = "EE_APPRAISAL", .flag = "appraisal", .default_value = "any", .group = "policy",
         .help = "Evidence accepted", .choices = "any|ita|local"},
    Spec{.name = "tcb_mode", .env = "EE_TCB_MODE", .flag = "tcb-mode", .default_value = "strict", .group = "policy",
         .help = "What a TCB status outside the allowed list does", .choices = "strict|warn|disabled"},
    Spec{.name = "allowed_tcb_statuses", .env = "EE_ALLOWED_TCB_STATUSES", .flag = "allowed-tcb", .type = Type::list,
         .default_value = "UpToDate", .group = "policy", .help = "Allowed TCB statuses (comma-separated)"},
    Spec{.name = "allow_debug_td", .env = "EE_ALLOW_DEBUG_TD", .flag = "allow-debug-td", .type = Type::boolean,
         .default_value = "false", .group = "policy", .help = "Admit TDs with the debug attribute"},
    Spec{.name = "owner_proof_mode", .env = "EE_OWNER_PROOF_MODE", .flag = "owner-proof-mode", .group = "policy",
         .help = "Agents prove their owner with a bootstrap token (empty: required; optional with --dev)",
         .choices = "required|optional|disabled"},
    Spec{.name = "agent_networks", .env = "EE_AGENT_NETWORKS", .flag = "agent-network", .type = Type::list,
         .group = "policy",
         .help = "Where agents without a tunnel may be reached at their agent_url: CIDR or host name (*.suffix), "
                 "repeat or comma-separated (empty: tunnels only; --dev: any)"},
    // dcap
    Spec{.name = "quote_root", .env = "EE_QUOTE_ROOT", .flag = "quote-root", .group = "dcap",
         .help = "Root CA file for PCK chains (empty: Intel SGX Root CA)"},
    Spec{.name = "collateral", .env = "EE_COLLATERAL", .flag = "collateral", .group = "dcap",
         .help = "Fixed collateral bundle file (empty: fetch from pccs_url)"},
    Spec{.name = "pccs_url", .env = "EE_PCCS_URL", .flag = "pccs-url",
         .default_value = "https://api.trustedservices.intel.com", .group = "dcap", .help = "Intel PCS or a PCCS"},
    Spec{.name = "simulator_dir", .env = "EE_SIMULATOR_DIR", .flag = "simulator-dir", .group = "dcap",
         .help = "Trust this quote simulator's root and collateral (dev)"},
    Spec{.name = "quote_provider", .env = "EE_QUOTE_PROVIDER", .flag = "quote-provider", .default_value = "none",
         .group = "dcap", .help = "The CP's own quotes", .choices = "none|tsm|simulator"},
    // tokens
    Spec{.name = "ita_jwks_url", .env = "EE_ITA_JWKS_URL", .flag = "ita-jwks-url",
         .default_value = "https://portal.trustauthority.intel.com/certs", .group = "tokens",
         .help = "Intel Trust Authority signing keys"},
    Spec{.name = "ita_issuers", .env = "EE_ITA_ISSUERS", .flag = "ita-issuer", .type = Type::list,
         .default_value = "Intel Trust Authority,https://portal.trustauthority.intel.com", .group = "tokens",
         .help = "Accepted ITA token issuers (comma-separated)"},
    Spec{.name = "github_jwks_url", .env = "EE_GITHUB_JWKS_URL", .flag = "github-jwks-url",
         .default_value = "https://token.actions.githubusercontent.com/.well-known/jwks", .group = "tokens",
         .help = "GitHub Actions OIDC signing keys"},
    Spec{.name = "github_issuer", .env = "EE_GITHUB_ISSUER", .flag = "github-issuer",
         .default_value = "https://token.actions.githubusercontent.com", .group = "tokens",
         .help = "GitHub Actions OIDC issuer"},
    Spec{.name = "github_audience", .env = "EE_GITHUB_AUDIENCE", .flag = "github-audience",
         .default_value = "easyenclave", .group = "tokens", .help = "Audience deploy and publish tokens must carry"},
    // cloudflare
    Spec{.name = "cloudflare_api_base", .env = "CLOUDFLARE_API_BASE", .flag = "cf-api-base",
         .default_value = "https://api.cloudflare.com/client/v4", .group = "cloudflare",
         .help = "Cloudflare API base URL"},
    Spec{.name = "cloudflare_api_token", .env = "CLOUDFLARE_API_TOKEN", .flag = "cf-api-token", .group = "cloudflare",
         .help = "Cloudflare API token (prefer the environment)", .secret = true},
    Spec{.name = "cloudflare_account_id", .env = "CLOUDFLARE_ACCOUNT_ID", .flag = "cf-account-id",
         .group = "cloudflare", .help = "Cloudflare account id"},
    Spec{.name = "cloudflare_zone_id", .env = "CLOUDFLARE_ZONE_ID", .flag = "cf-zone-id", .group = "cloudflare",
         .help = "Cloudflare zone id"},
    Spec{.name = "domain", .env = "EE_DOMAIN", .flag = "domain", .group = "cloudflare",
         .help = "Domain agents' hostnames live under"},
    Spec{.name = "instance_id", .env = "EE_CP_INSTANCE_ID", .flag = "instance-id", .default_value = "cp",
         .group = "cloudflare", .help = "Tells this CP's tunnels apart on a shared account"},
    // timings
    Spec{.name = "nonce_ttl", .env = "EE_NONCE_TTL", .flag = "nonce-ttl", .type = Type::seconds,
         .default_value = "300", .group = "timings", .help = "Challenge lifetime", .min = 1, .max = kTenYears,
         .env_aliases = "EE_NONCE_TTL_SECONDS"},
    Spec{.name = "heartbeat_interval", .env = "EE_HEARTBEAT_INTERVAL", .flag = "heartbeat-interval",
         .type = Type::seconds, .default_value = "30", .group = "timings", .help = "Agent heartbeat interval",
         .min = 1, .max = kTenYears, .reloadable = true, .env_aliases = "EE_HEARTBEAT_INTERVAL_SECONDS"},
    Spec{.name = "reattestation_interval", .env = "EE_REATTESTATION_INTERVAL", .flag = "reattestation-interval",
         .type = Type::seconds, .default_value = "3600", .group = "timings", .help = "Fresh evidence at least every",
         .min = 1, .max = kTenYears, .reloadable = true, .env_aliases = "EE_REATTESTATION_INTERVAL_SECONDS"},
    Spec{.name = "signature_window", .env = "EE_SIGNATURE_WINDOW", .flag = "signature-window", .type = Type::seconds,
         .default_value = "300", .group = "timings", .help = "Accepted clock skew of signed requests", .min = 1,
         .max = kTenYears, .reloadable = true, .env_aliases = "EE_SIGNATURE_WINDOW_SECONDS"},
    Spec{.name = "agent_stale_hours", .env = "EE_AGENT_STALE_HOURS", .flag = "agent-stale-hours",
         .type = Type::integer, .default_value = "24", .group = "timings",
         .help = "Remove agents silent this long, hours", .min = 1, .max = 87'600, .reloadable = true},
    Spec{.name = "deploy_timeout", .env = "EE_DEPLOY_TIMEOUT", .flag = "deploy-timeout", .type = Type::seconds,
         .default_value = "600", .group = "timings", .help = "Fail deployments not running after", .min = 1,
         .max = kTenYears, .reloadable = true, .env_aliases = "EE_DEPLOY_TIMEOUT_SECONDS"},
    Spec{.name = "maintenance_interval", .env = "EE_MAINTENANCE_INTERVAL", .flag = "maintenance-interval",
         .type = Type::seconds, .default_value = "60", .group = "timings", .help = "Background task interval",
         .min = 1, .max = kTenYears, .env_aliases = "EE_MAINTENANCE_INTERVAL_SECONDS"},
    Spec{.name = "reregistration_grace", .env = "EE_REREGISTRATION_GRACE", .flag = "reregistration-grace",
         .type = Type::seconds, .default_value = "0", .group = "timings",
         .help = "Silence after which another key may take a vm_name without proof (0: 3 heartbeat intervals)",
         .min = 0, .max = kTenYears, .reloadable = true, .env_aliases = "EE_REREGISTRATION_GRACE_SECONDS"},
    Spec{.name = "health_scrape_interval", .env = "EE_HEALTH_SCRAPE_INTERVAL", .flag = "health-scrape-interval",
         .type = Type::seconds, .default_value = "60", .group = "timings",
         .help = "Agent health scrape interval (0: off)", .min = 0, .max = kTenYears,
         .env_aliases = "EE_HEALTH_SCRAPE_INTERVAL_SECONDS"},
};


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

settings::Registry const& setting_registry() {
  // The table is checked by its tests; a mistake in it is a programming error found at once.
  static settings::Registry const registry = settings::Registry::create(kSpecs).value();
  return registry;
}

std::string_view setting_group_title(std::string_view group) noexcept {
  if (group == "server") return "Server";
  if (group == "policy") return "Attestation policy";
  if (group == "dcap") return "Local DCAP";
  if (group == "tokens") return "Token issuers";
  if (group == "cloudflare") return "Cloudflare";
  if (group == "timings") return "Timings";
  return group;
}

// `given` with what the admin settings routes stored over it: at start every stored key applies,
// reloadable or not.
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
  auto stores = registry::open_sqlite_stores(db.empty() ? std::filesystem::path(":memory:") : std::filesystem::path(db));
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
  o.server.max_connections = static_cast<std::size_t>(c.integer("max_connections"));
  auto& anonymous = o.server.rate_limits["anonymous"];
  anonymous.per_minute = static_cast<std::size_t>(c.integer("rate_limit_anonymous_per_minute"));
  anonymous.burst = static_cast<std::size_t>(c.integer("rate_limit_anonymous_burst"));
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
