// The control plane's settings registry: every key ee-cp takes. Kept apart from settings.cpp
// (which turns settings into Options) so that what only checks values links only the core.
#include <easyenclave/cp/settings.hpp>

#include <array>

namespace ee::cp {
namespace {

using settings::Spec;
using settings::Type;

constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 3600;

// Every key of ee-cp. Names are the keys of the admin settings routes and of docs/operations.md;
// the variables ending in _SECONDS are the names earlier releases read, still accepted. Paths,
// addresses and modes of the machine that runs ee-cp are not portable: `ee launch --cp` does not
// hand them from the launching shell to the CP's VM.
constexpr std::array kSpecs{
    // server
    Spec{.name = "listen", .env = "EE_LISTEN", .flag = "listen", .default_value = "127.0.0.1:8080", .group = "server",
         .help = "HOST:PORT to serve the API on (port 0: any free port)", .portable = false},
    Spec{.name = "metrics_listen", .env = "EE_METRICS_LISTEN", .flag = "metrics-listen", .group = "server",
         .help = "HOST:PORT of a second listener serving only GET /metrics to anyone, for a Prometheus on a private "
                 "network (empty: none; /metrics on the API needs the admin token)",
         .portable = false},
    Spec{.name = "console", .env = "EE_CONSOLE", .flag = "console", .type = Type::boolean, .default_value = "true",
         .group = "server", .help = "Serve the read-only web console at / (docs/console.md)"},
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
    // Secret: a PostgreSQL URL may hold the database password.
    Spec{.name = "db", .env = "EE_DB", .flag = "db", .group = "server",
         .help = "SQLite database file (a cache agents rebuild), or a postgres:// or postgresql:// URL of a PostgreSQL "
                 "database that replicas share; empty: in memory, --dev only",
         .secret = true, .storable = false, .portable = false},
    Spec{.name = "db_pool_size", .env = "EE_DB_POOL_SIZE", .flag = "db-pool-size", .type = Type::integer,
         .default_value = "4", .group = "server",
         .help = "Connections to a PostgreSQL database at most (unused with SQLite)", .min = 1, .max = 1000,
         .storable = false},
    Spec{.name = "admin_token", .env = "EE_ADMIN_TOKEN", .flag = "admin-token", .group = "server",
         .help = "Bearer token of the admin routes (empty: admin off)", .secret = true},
    Spec{.name = "signing_key_file", .env = "EE_SIGNING_KEY_FILE", .flag = "signing-key", .group = "server",
         .help = "PEM file of the CP's P-256 key, created if missing (empty: new key per run)", .portable = false},
    Spec{.name = "ca_file", .env = "EE_CA_FILE", .flag = "ca-file", .group = "server",
         .help = "Extra PEM CA file for outbound HTTPS", .portable = false},
    Spec{.name = "log_level", .env = "EE_LOG_LEVEL", .flag = "log-level", .default_value = "info", .group = "server",
         .help = "Log level", .choices = "trace|debug|info|warn|error"},
    Spec{.name = "log_format", .env = "EE_LOG_FORMAT", .flag = "log-format", .default_value = "text",
         .group = "server", .help = "Log format", .choices = "text|json"},
    Spec{.name = "dev", .env = "EE_DEV", .flag = "dev", .type = Type::boolean, .default_value = "false",
         .group = "server",
         .help = "Development mode: allow the simulator root, a nonce mode other than required and no trusted MRTD "
                 "(then every MRTD is trusted)",
         .storable = false, .portable = false},
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
         .help = "Root CA file for PCK chains (empty: Intel SGX Root CA)", .portable = false},
    Spec{.name = "collateral", .env = "EE_COLLATERAL", .flag = "collateral", .group = "dcap",
         .help = "Fixed collateral bundle file (empty: fetch from pccs_url)", .portable = false},
    Spec{.name = "pccs_url", .env = "EE_PCCS_URL", .flag = "pccs-url",
         .default_value = "https://api.trustedservices.intel.com", .group = "dcap", .help = "Intel PCS or a PCCS"},
    Spec{.name = "simulator_dir", .env = "EE_SIMULATOR_DIR", .flag = "simulator-dir", .group = "dcap",
         .help = "Trust this quote simulator's root and collateral (dev)", .portable = false},
    Spec{.name = "quote_provider", .env = "EE_QUOTE_PROVIDER", .flag = "quote-provider", .default_value = "none",
         .group = "dcap", .help = "The CP's own quotes", .choices = "none|tsm|simulator", .portable = false},
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
    // sign-in (people's sessions: the admin password, GitHub OAuth)
    Spec{.name = "admin_password", .env = "CP_ADMIN_PASSWORD", .flag = "admin-password", .group = "sign_in",
         .help = "Admin password for POST /admin/login, hashed with Argon2id at start (prefer the environment)",
         .max = 1024, .secret = true, .storable = false},
    Spec{.name = "admin_password_hash", .env = "CP_ADMIN_PASSWORD_HASH", .flag = "admin-password-hash",
         .group = "sign_in", .help = "The admin password's Argon2id PHC string, instead of the password ($argon2id$v=19$...)",
         .secret = true},
    Spec{.name = "admin_github_logins", .env = "ADMIN_GITHUB_LOGINS", .flag = "admin-github-login", .type = Type::list,
         .group = "sign_in", .help = "GitHub logins whose GitHub sign-in is an admin session (repeat, or comma-separated)"},
    Spec{.name = "github_oauth_client_id", .env = "GITHUB_OAUTH_CLIENT_ID", .flag = "github-oauth-client-id",
         .group = "sign_in", .help = "GitHub OAuth app's client id (empty: no GitHub sign-in)"},
    Spec{.name = "github_oauth_client_secret", .env = "GITHUB_OAUTH_CLIENT_SECRET",
         .flag = "github-oauth-client-secret", .group = "sign_in",
         .help = "GitHub OAuth app's client secret (prefer the environment)", .secret = true},
    Spec{.name = "github_oauth_redirect_uri", .env = "GITHUB_OAUTH_REDIRECT_URI", .flag = "github-oauth-redirect-uri",
         .group = "sign_in", .help = "The OAuth app's callback URL: https://<this CP>/auth/github/callback"},
    Spec{.name = "github_web_url", .env = "EE_GITHUB_WEB_URL", .flag = "github-web-url",
         .default_value = "https://github.com", .group = "sign_in",
         .help = "GitHub's web origin (authorize page, token exchange)"},
    Spec{.name = "github_api_url", .env = "EE_GITHUB_API_URL", .flag = "github-api-url",
         .default_value = "https://api.github.com", .group = "sign_in", .help = "GitHub's REST API (/user, /user/orgs)"},
    Spec{.name = "session_ttl", .env = "EE_SESSION_TTL", .flag = "session-ttl", .type = Type::seconds,
         .default_value = "86400", .group = "sign_in", .help = "How long a sign-in session lasts", .min = 300,
         .max = 30 * 86'400},
    Spec{.name = "rate_limit_sign_in_per_minute", .env = "EE_RATE_LIMIT_SIGN_IN_PER_MINUTE",
         .flag = "rate-limit-sign-in-per-minute", .type = Type::integer, .default_value = "30", .group = "sign_in",
         .help = "Sign-in requests a minute per client address, more get 429 (0: no limit)", .min = 0,
         .max = 1'000'000},
    Spec{.name = "rate_limit_sign_in_burst", .env = "EE_RATE_LIMIT_SIGN_IN_BURST", .flag = "rate-limit-sign-in-burst",
         .type = Type::integer, .default_value = "10", .group = "sign_in",
         .help = "Sign-in requests a client address may send at once", .min = 1, .max = 1'000'000},
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
    // accounts: the Argon2id minimums are OWASP's for Argon2id (m=19 MiB, t=2, p=1)
    Spec{.name = "accounts_admin_only", .env = "EE_ACCOUNTS_ADMIN_ONLY", .flag = "accounts-admin-only",
         .type = Type::boolean, .default_value = "false", .group = "accounts",
         .help = "Only the admin may create accounts (POST /api/v1/accounts)"},
    Spec{.name = "rate_limit_account_creation_per_minute", .env = "EE_RATE_LIMIT_ACCOUNT_CREATION_PER_MINUTE",
         .flag = "rate-limit-account-creation-per-minute", .type = Type::integer, .default_value = "2",
         .group = "accounts", .help = "Account creations a minute per client address, more get 429 (0: no limit)",
         .min = 0, .max = 1'000'000},
    Spec{.name = "rate_limit_account_creation_burst", .env = "EE_RATE_LIMIT_ACCOUNT_CREATION_BURST",
         .flag = "rate-limit-account-creation-burst", .type = Type::integer, .default_value = "5", .group = "accounts",
         .help = "Account creations a client address may send at once", .min = 1, .max = 1'000'000},
    Spec{.name = "argon2_memory_kib", .env = "EE_ARGON2_MEMORY_KIB", .flag = "argon2-memory-kib", .type = Type::integer,
         .default_value = "19456", .group = "accounts", .help = "Argon2id memory of new API key hashes, KiB",
         .min = 19456, .max = 1'048'576},
    Spec{.name = "argon2_iterations", .env = "EE_ARGON2_ITERATIONS", .flag = "argon2-iterations", .type = Type::integer,
         .default_value = "2", .group = "accounts", .help = "Argon2id passes of new API key hashes", .min = 2,
         .max = 64},
    Spec{.name = "argon2_parallelism", .env = "EE_ARGON2_PARALLELISM", .flag = "argon2-parallelism",
         .type = Type::integer, .default_value = "1", .group = "accounts",
         .help = "Argon2id lanes of new API key hashes", .min = 1, .max = 16},
};

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
  if (group == "sign_in") return "Sign-in";
  if (group == "timings") return "Timings";
  if (group == "accounts") return "Accounts";
  return group;
}

}  // namespace ee::cp
