#pragma once
/// @file The agent's configuration schema: its settings, their names in a file, the environment and
/// flags, and their checks. The agent loads it (agent/config.hpp); a launcher writes it (`ee
/// launch`), so both sides of the boot configuration share one definition.
///
/// Every key is one `settings::Spec` of `agent_setting_registry()` (settings.hpp): its name (the
/// key in a file or boot configuration), flag, environment variable (and earlier names), type,
/// bounds or choices, default, group and whether it is secret. `ee-agent --help` is generated from
/// it, and the ee-agent table of docs/operations.md is checked against it
/// (tests/api/agent_settings_test.cpp); that table is the reference, not a copy here.
///
/// Keys the agent does not know are reported (`parse_agent_config`'s `unknown_keys`), not
/// silently ignored, and not refused either, so an older agent boots with a newer launcher's
/// config.
///
/// In a file or a boot configuration, strings are JSON strings, lists JSON arrays of strings,
/// numbers (integers and seconds) JSON integers and booleans JSON true/false. In the environment
/// and flags every value is text, read as the registry reads it (`settings::Registry::normalize`:
/// durations may carry a unit, "5m"; booleans are true|false, 1|0, yes|no, on|off).
/// `cp_allowed_tcb_statuses` is comma-separated (as ee-cp's lists), and also takes words
/// separated by spaces or a JSON array (earlier forms); the argv keys `process_command` and
/// `cp_command` are a JSON array or words separated by spaces; `cp_env` is a JSON object of
/// strings. An environment variable set to the empty string counts as unset.
#include <easyenclave/error.hpp>
#include <easyenclave/settings.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

/// The settings of `agent_setting_registry()`, typed. Plain data: `parse_agent_config` and
/// `apply_agent_config_value` check types, `validate_agent_config` checks values.
struct AgentConfig {
  std::string mode = "agent";  ///< "agent" or "cp-bootstrap"
  std::string cp_url{};        ///< "https://cp.example.com"; a trailing '/' is dropped
  std::string owner{};         ///< "github:org/NAME" or "github:user/NAME"
  std::string node_size = "tiny";
  std::string datacenter{};         ///< "CLOUD:ZONE"
  std::string vm_name{};            ///< empty: the hostname (filled by validate_agent_config)
  std::string agent_url{};          ///< dev: the API's URL for a CP that cannot use a tunnel
  std::string appraisal = "quote";  ///< "quote" (DCAP at the CP) or "ita" (and a token)
  std::string ita_url = "https://api.trustauthority.intel.com";
  std::string ita_api_key{};           ///< secret: never logged, never in an error message
  std::string quote_provider = "tsm";  ///< "tsm" (configfs-tsm) or "simulator"
  std::string simulator_dir{};
  std::string state_dir = "/data/ee-agent";
  /// Keeps the agent's key across restarts of its process; its directory must be on a tmpfs or
  /// ramfs (/run is one in the image). Empty: the key lives only in the process.
  std::string key_file = "/run/easyenclave/agent-key.pem";
  bool key_file_allow_disk = false;  ///< development only: a host could read the key
  /// The control plane's expected MRTD (96 hex): the agent attests the CP before trusting its
  /// key. Empty: trust on first use. The RTMRs are checked when set.
  std::string cp_mrtd{};
  std::string cp_rtmr0{}, cp_rtmr1{}, cp_rtmr2{}, cp_rtmr3{};
  std::string cp_appraisal = "dcap";  ///< "dcap" (here) or "ita" (needs ita_api_key)
  std::vector<std::string> cp_allowed_tcb_statuses{"UpToDate"};
  std::string cp_quote_root_file{};  ///< empty: the Intel SGX Root CA
  std::string cp_collateral_file{};  ///< empty: fetched from cp_pccs_url
  std::string cp_pccs_url = "https://api.trustedservices.intel.com";
  std::string ita_jwks_url = "https://portal.trustauthority.intel.com/certs";
  /// The agent API. Loopback by default: the tunnel's ingress reaches it there and nothing else
  /// needs to; port 8081 because the workload owns 127.0.0.1:8080.
  std::string listen = "127.0.0.1:8081";
  /// Where the workload serves on loopback. The tunnel's ingress sends to 8080, so another port
  /// is for development, where several agents share one machine.
  std::int64_t workload_port = 8080;
  std::string cloudflared = "cloudflared";
  std::string tunnel_token{};  ///< cp-bootstrap only (agents get theirs from the CP); secret
  std::string bootstrap_token{};  ///< the owner's proof at registration (ee launch --bootstrap-token); secret
  std::string workload_runtime = "podman";  ///< "podman" or "process"
  std::string podman = "podman";
  std::vector<std::string> process_command{};    ///< the process runtime's argv
  std::vector<std::string> cp_command{"ee-cp"};  ///< cp-bootstrap: ee-cp's argv
  /// cp-bootstrap: environment for ee-cp on top of the agent's own (its settings and secrets,
  /// CLOUDFLARE_*, ITA_API_KEY, ...; what `ee launch --cp` hands over on the config drive).
  std::map<std::string, std::string> cp_env{};
  std::string cp_ca_file{};              ///< extra PEM CA bundle for outbound TLS
  std::int64_t register_retry_min = 1;   ///< seconds
  std::int64_t register_retry_max = 60;  ///< seconds
  std::int64_t refused_retry = 300;      ///< seconds; after a refusal retrying cannot fix soon
  std::int64_t reattestation_interval = 3600;  ///< seconds
  std::int64_t log_buffer_bytes = 4 * 1024 * 1024;
  std::string log_level = "info";   ///< trace|debug|info|warn|error
  std::string log_format = "text";  ///< text|json

  friend bool operator==(AgentConfig const&, AgentConfig const&) = default;
};

/// The control plane's URL, one key wherever it is read: the agent's `cp_url`, `ee launch
/// --cp-url` (launcher/settings.hpp) and the client's default (client/settings.hpp) copy this
/// spec, so its name, flag and variable (`EE_CP_URL`) are defined once. Constant data.
inline constexpr settings::Spec kCpUrlSetting{.name = "cp_url", .env = "EE_CP_URL", .flag = "cp-url",
                                              .group = "registration",
                                              .help = "The control plane, absolute http(s) URL"};

/// Every key of the agent, checked once: constant data. The defaults are `AgentConfig`'s member
/// initialisers (a test holds them equal). Never throws. Thread-safe.
settings::Registry const& agent_setting_registry();

/// The title of a group of `agent_setting_registry()` for help and docs ("Registration").
std::string_view agent_setting_group_title(std::string_view group) noexcept;

/// The configuration a JSON document describes: the defaults, with each key of the object set.
/// The text must be one strict JSON object (RFC 8259, no repeated keys, at most 256 KiB); each
/// known key's value must have its type (string, integer, array of strings). Values are not yet
/// checked: that is `validate_agent_config`. Keys the agent does not know are appended to
/// `unknown_keys` (not an error; the caller reports them).
/// @returns api::errc::invalid_agent_config naming the key and the type expected, or saying the text
///          is not a JSON object. Never echoes a value. Never throws (except bad_alloc).
///          Thread-safe; `unknown_keys` is written only by this call.
result<AgentConfig> parse_agent_config(std::string_view json,
                                       std::vector<std::string>& unknown_keys);

/// Sets the setting `key` (a config key such as "cp_url") of `config` from text, as an
/// environment variable or a flag carries it, read by the registry's rules for the key's type.
/// @returns api::errc::invalid_agent_config for an unknown key ("unknown setting 'KEY'") or a
///          value the key does not take, naming the key and what it takes (a secret's value is
///          never repeated); `config` is unchanged then. Never throws (except bad_alloc).
result<void> apply_agent_config_value(std::string_view key, std::string_view value,
                                      AgentConfig& config);

/// Sets in `config` every key of `settings` (resolved over `agent_setting_registry()`) whose value
/// came from a flag or the environment; keys at their default keep what `config` has (the boot
/// configuration's value, or the default). So flag > environment > `config` > default.
/// @returns api::errc::invalid_agent_config naming the flag or variable and the key (a list,
///          argv or object that does not parse). Never throws (except bad_alloc).
result<void> apply_agent_settings(settings::Settings const& settings, AgentConfig& config);

/// The JSON object of the keys of `config` that differ from the defaults, compactly: what a
/// launcher writes for the agent, and `parse_agent_config` reads back to the same config.
/// Never throws (except bad_alloc).
std::string agent_config_json(AgentConfig const& config);

/// Checks that the whole configuration is usable and normalises it: every key against its
/// registry entry (choices, bounds; text trimmed); known modes and kinds;
/// the formats of owner, node size, datacenter, vm name (api/agents.hpp), URLs and the listen
/// address; what each mode, appraisal, provider and runtime requires; interval and size ranges.
/// Fills `vm_name` from the hostname when empty and drops trailing '/' from `cp_url`.
/// @returns api::errc::invalid_agent_config naming the key (and its environment variable when that is
///          the usual way to set it). Never echoes a secret. Never throws (except bad_alloc).
result<void> validate_agent_config(AgentConfig& config);

}  // namespace ee::api
