#pragma once
/// @file The control plane's settings as flags and environment give them (strings, numbers,
/// lists), and their translation into `cp::Options`: opening the database, loading or creating
/// the signing key, reading roots and collateral, building the Cloudflare provider. `ee-cp` binds
/// its flags to a `Config` and calls `make_options`; an embedder may do the same.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/error.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ee::cp {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::size_t threads = 2;
  /// Open connections at most; 0: automatic (`http::ServerOptions::max_connections`).
  std::size_t max_connections = 0;
  /// Requests a minute per client address on the anonymous routes (0: no limit), and the burst
  /// a client may send at once.
  std::size_t rate_limit_anonymous_per_minute = 600;
  std::size_t rate_limit_anonymous_burst = 120;
  /// Peers whose CF-Connecting-IP / X-Forwarded-For name the client ("127.0.0.1" behind a
  /// Cloudflare tunnel). Empty: the client is the socket's peer.
  std::vector<std::string> trusted_proxies{};
  /// SQLite file. Empty: in memory, allowed only with `dev`.
  std::string db{};
  bool dev = false;
  std::string admin_token{};
  /// PEM file of the CP's P-256 key; created (mode 0600) when missing. Empty: a fresh key per run.
  std::string signing_key_file{};

  // Attestation policy.
  std::vector<std::string> trusted_mrtds{};  ///< 96 hex chars each
  std::string nonce_mode = "required";       ///< required | optional | disabled
  std::string appraisal = "any";             ///< any | ita | local
  std::string tcb_mode = "strict";           ///< strict | warn | disabled
  std::vector<std::string> allowed_tcb_statuses{"UpToDate"};
  bool allow_debug_td = false;
  /// required | optional | disabled; empty: required, or optional with `dev`.
  std::string owner_proof_mode{};
  /// CIDRs or host names where agent_urls may be reached outside dev (Options::agent_networks).
  std::vector<std::string> agent_networks{};

  // Local DCAP.
  std::string quote_root_file{};   ///< PEM/DER root for PCK chains. Empty: Intel SGX Root CA.
  std::string collateral_file{};   ///< fixed collateral (PCS bundle JSON). Empty: fetched from pccs_url.
  std::string pccs_url = "https://api.trustedservices.intel.com";
  /// The simulator's state directory (dev): its root and collateral are trusted for quotes, and
  /// it serves the CP's own quote when quote_provider is "simulator".
  std::string simulator_dir{};
  std::string quote_provider = "none";  ///< none | tsm | simulator

  // Token issuers.
  std::string ita_jwks_url = "https://portal.trustauthority.intel.com/certs";
  std::vector<std::string> ita_issuers{"Intel Trust Authority", "https://portal.trustauthority.intel.com"};
  std::string github_jwks_url = "https://token.actions.githubusercontent.com/.well-known/jwks";
  std::string github_issuer = "https://token.actions.githubusercontent.com";
  std::string github_audience = "easyenclave";

  // Cloudflare (all four of token, account, zone and domain, or none).
  std::string cloudflare_api_base = "https://api.cloudflare.com/client/v4";
  std::string cloudflare_api_token{};
  std::string cloudflare_account_id{};
  std::string cloudflare_zone_id{};
  std::string domain{};
  std::string instance_id = "cp";

  /// Extra PEM CA file trusted by the outbound HTTPS client (a private PCCS, a test CA).
  std::string ca_file{};

  // Timings, in seconds (agent_stale_hours in hours, as EE_AGENT_STALE_HOURS).
  std::int64_t nonce_ttl = 300;
  std::int64_t heartbeat_interval = 30;
  std::int64_t reattestation_interval = 3600;
  std::int64_t signature_window = 300;
  std::int64_t agent_stale_hours = 24;
  std::int64_t deploy_timeout = 600;
  std::int64_t maintenance_interval = 60;
  std::int64_t health_scrape_interval = 60;
  std::int64_t reregistration_grace = 0;  ///< 0: three heartbeat intervals
};

/// Builds the Options `config` describes.
/// @returns errc::invalid_value naming the setting for a malformed value (an unknown mode, a
///          bad MRTD, partial Cloudflare settings, no --db outside dev); the errors of opening the
///          database, reading files and loading the simulator. Never throws (except bad_alloc).
result<Options> make_options(Config const& config);

}  // namespace ee::cp
