// ee-cp: the easyenclave control plane. Binds flags and environment to ee::cp::Config, installs
// the log sink, starts ee::cp::ControlPlane and serves until SIGINT/SIGTERM.
#include <easyenclave/cp/config.hpp>
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/version.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

namespace {

// Exit codes shared by the programs (STYLE.md): 0 ok, 1 rejected, 2 usage, 3 upstream or I/O.
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ee-cp: the easyenclave control plane", "ee-cp"};
  app.set_version_flag("--version", std::string(ee::version()));
  app.get_formatter()->column_width(44);
  ee::cp::Config c;
  std::string log_level = "info";
  std::string log_format = "text";

  // Each flag has an environment variable; flags win. Defaults are shown by --help.
  auto opt = [&app](std::string const& flag, auto& field, std::string const& env, std::string const& help,
                    std::string const& group) {
    return app.add_option(flag, field, help)->envname(env)->capture_default_str()->group(group);
  };
  std::string const server = "Server", policy = "Attestation policy", dcap = "Local DCAP",
                    tokens = "Token issuers", cf = "Cloudflare", timing = "Timings";
  opt("--listen", c.listen, "EE_LISTEN", "HOST:PORT to serve the API on (port 0: any free port)", server);
  opt("--threads", c.threads, "EE_THREADS", "Server threads", server);
  opt("--max-connections", c.max_connections, "EE_MAX_CONNECTIONS", "Open connections at most, more get 503 (0: 3/4 of the descriptor limit, at most 1024)", server);
  opt("--rate-limit-anonymous-per-minute", c.rate_limit_anonymous_per_minute, "EE_RATE_LIMIT_ANONYMOUS_PER_MINUTE", "Requests a minute per client address on anonymous routes, more get 429 (0: no limit)", server);
  opt("--rate-limit-anonymous-burst", c.rate_limit_anonymous_burst, "EE_RATE_LIMIT_ANONYMOUS_BURST", "Requests a client address may send at once on anonymous routes", server);
  opt("--trusted-proxy", c.trusted_proxies, "EE_TRUSTED_PROXIES", "Peer address or prefix whose CF-Connecting-IP/X-Forwarded-For names the client (127.0.0.1 behind a tunnel; repeat or comma-separate)", server)
      ->delimiter(',');
  opt("--db", c.db, "EE_DB", "SQLite database file (a cache agents rebuild); empty: in memory, --dev only", server);
  opt("--admin-token", c.admin_token, "EE_ADMIN_TOKEN", "Bearer token of the admin routes (empty: admin off)", server);
  opt("--signing-key", c.signing_key_file, "EE_SIGNING_KEY_FILE", "PEM file of the CP's P-256 key, created if missing (empty: new key per run)", server);
  opt("--ca-file", c.ca_file, "EE_CA_FILE", "Extra PEM CA file for outbound HTTPS", server);
  opt("--log-level", log_level, "EE_LOG_LEVEL", "trace|debug|info|warn|error", server);
  opt("--log-format", log_format, "EE_LOG_FORMAT", "text|json", server);
  app.add_flag("--dev", c.dev, "Development mode: allow the simulator root, a nonce mode other than required and no trusted MRTD (then every MRTD is trusted)")
      ->envname("EE_DEV")->group(server);

  opt("--trusted-mrtd", c.trusted_mrtds, "EE_TRUSTED_MRTDS", "Trusted agent MRTD, 96 hex (repeat, or comma-separated)", policy)
      ->delimiter(',');
  opt("--nonce-mode", c.nonce_mode, "EE_NONCE_MODE", "required|optional|disabled", policy);
  opt("--appraisal", c.appraisal, "EE_APPRAISAL", "Evidence accepted: any|ita|local", policy);
  opt("--tcb-mode", c.tcb_mode, "EE_TCB_MODE", "strict|warn|disabled", policy);
  opt("--allowed-tcb", c.allowed_tcb_statuses, "EE_ALLOWED_TCB_STATUSES", "Allowed TCB statuses (comma-separated)", policy)
      ->delimiter(',');
  app.add_flag("--allow-debug-td", c.allow_debug_td, "Admit TDs with the debug attribute")->envname("EE_ALLOW_DEBUG_TD")->group(policy);
  opt("--owner-proof-mode", c.owner_proof_mode, "EE_OWNER_PROOF_MODE", "Agents prove their owner with a bootstrap token: required|optional|disabled (empty: required; optional with --dev)", policy);
  opt("--agent-network", c.agent_networks, "EE_AGENT_NETWORKS", "Where agents without a tunnel may be reached at their agent_url: CIDR or host name (*.suffix), repeat or comma-separated (empty: tunnels only; --dev: any)", policy)
      ->delimiter(',');

  opt("--quote-root", c.quote_root_file, "EE_QUOTE_ROOT", "Root CA file for PCK chains (empty: Intel SGX Root CA)", dcap);
  opt("--collateral", c.collateral_file, "EE_COLLATERAL", "Fixed collateral bundle file (empty: fetch from --pccs-url)", dcap);
  opt("--pccs-url", c.pccs_url, "EE_PCCS_URL", "Intel PCS or a PCCS", dcap);
  opt("--simulator-dir", c.simulator_dir, "EE_SIMULATOR_DIR", "Trust this quote simulator's root and collateral (dev)", dcap);
  opt("--quote-provider", c.quote_provider, "EE_QUOTE_PROVIDER", "The CP's own quotes: none|tsm|simulator", dcap);

  opt("--ita-jwks-url", c.ita_jwks_url, "EE_ITA_JWKS_URL", "Intel Trust Authority signing keys", tokens);
  opt("--ita-issuer", c.ita_issuers, "EE_ITA_ISSUERS", "Accepted ITA token issuers (comma-separated)", tokens)->delimiter(',');
  opt("--github-jwks-url", c.github_jwks_url, "EE_GITHUB_JWKS_URL", "GitHub Actions OIDC signing keys", tokens);
  opt("--github-issuer", c.github_issuer, "EE_GITHUB_ISSUER", "GitHub Actions OIDC issuer", tokens);
  opt("--github-audience", c.github_audience, "EE_GITHUB_AUDIENCE", "Audience deploy and publish tokens must carry", tokens);

  opt("--cf-api-base", c.cloudflare_api_base, "CLOUDFLARE_API_BASE", "Cloudflare API base URL", cf);
  opt("--cf-api-token", c.cloudflare_api_token, "CLOUDFLARE_API_TOKEN", "Cloudflare API token (prefer the environment)", cf);
  opt("--cf-account-id", c.cloudflare_account_id, "CLOUDFLARE_ACCOUNT_ID", "Cloudflare account id", cf);
  opt("--cf-zone-id", c.cloudflare_zone_id, "CLOUDFLARE_ZONE_ID", "Cloudflare zone id", cf);
  opt("--domain", c.domain, "EE_DOMAIN", "Domain agents' hostnames live under", cf);
  opt("--instance-id", c.instance_id, "EE_CP_INSTANCE_ID", "Tells this CP's tunnels apart on a shared account", cf);

  opt("--nonce-ttl", c.nonce_ttl, "EE_NONCE_TTL_SECONDS", "Challenge lifetime, seconds", timing);
  opt("--heartbeat-interval", c.heartbeat_interval, "EE_HEARTBEAT_INTERVAL_SECONDS", "Agent heartbeat interval, seconds", timing);
  opt("--reattestation-interval", c.reattestation_interval, "EE_REATTESTATION_INTERVAL_SECONDS", "Fresh evidence every, seconds", timing);
  opt("--signature-window", c.signature_window, "EE_SIGNATURE_WINDOW_SECONDS", "Accepted clock skew of signed requests, seconds", timing);
  opt("--agent-stale-hours", c.agent_stale_hours, "EE_AGENT_STALE_HOURS", "Remove agents silent this long, hours", timing);
  opt("--deploy-timeout", c.deploy_timeout, "EE_DEPLOY_TIMEOUT_SECONDS", "Fail deployments not running after, seconds", timing);
  opt("--maintenance-interval", c.maintenance_interval, "EE_MAINTENANCE_INTERVAL_SECONDS", "Background task interval, seconds", timing);
  opt("--reregistration-grace", c.reregistration_grace, "EE_REREGISTRATION_GRACE_SECONDS", "Silence after which another key may take a vm_name without proof, seconds (0: 3 heartbeat intervals)", timing);
  opt("--health-scrape-interval", c.health_scrape_interval, "EE_HEALTH_SCRAPE_INTERVAL_SECONDS", "Agent health scrape interval, seconds (0: off)", timing);

  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    // --help and --version exit 0; every other parse problem is a usage error (exit 2).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  ee::log::Level level{};
  ee::log::Format format{};
  if (!ee::log::parse_level(log_level, level) || !ee::log::parse_format(log_format, format)) {
    std::cerr << "ee-cp: --log-level must be trace|debug|info|warn|error and --log-format text|json\n";
    return kExitUsage;
  }
  ee::log::set_level(level);
  ee::log::set_sink(ee::log::make_stderr_sink(format));

  auto options = ee::cp::make_options(c);
  if (!options) {
    std::cerr << "ee-cp: " << options.error().message() << " (" << options.error().id() << ")\n";
    return options.error() == ee::condition::invalid_input ? kExitUsage : kExitIo;
  }
  auto cp = ee::cp::ControlPlane::start(std::move(*options));
  if (!cp) {
    std::cerr << "ee-cp: " << cp.error().message() << " (" << cp.error().id() << ")\n";
    return cp.error() == ee::condition::invalid_input ? kExitUsage : kExitIo;
  }
  // One JSON line on stdout tells scripts (make demo, tests) where the API is, even with port 0.
  std::cout << R"({"event":"listening","url":")" << (*cp)->url() << R"(","public_key":")" << (*cp)->public_key()
            << R"("})" << std::endl;
  (*cp)->wait_for_signal();
  return 0;
}
