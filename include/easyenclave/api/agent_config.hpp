#pragma once
/// @file The agent's configuration schema: its settings, their names in a file, the environment and
/// flags, and their checks. The agent loads it (agent/config.hpp); a launcher writes it (`ee
/// launch`), so both sides of the boot configuration share one definition.
///
/// Keys the agent does not know are reported (`parse_agent_config`'s `unknown_keys`), not
/// silently ignored, and not refused either, so an older agent boots with a newer launcher's
/// config.
///
/// | key | environment | default | meaning |
/// |---|---|---|---|
/// | mode | EE_MODE | agent | `agent` or `cp-bootstrap` |
/// | cp_url | EE_CP_URL | | the control plane; required in agent mode |
/// | owner | EE_OWNER | | `github:org/NAME` or `github:user/NAME`; required in agent mode |
/// | node_size | EE_NODE_SIZE | tiny | |
/// | datacenter | EE_DATACENTER | | `CLOUD:ZONE`; required in agent mode |
/// | vm_name | EE_VM_NAME | the hostname | |
/// | agent_url | EE_AGENT_URL | | where the CP reaches the API without a tunnel (dev) |
/// | appraisal | EE_APPRAISAL | quote | `quote` (raw quote, DCAP at the CP) or `ita` |
/// | ita_url | EE_ITA_URL | https://api.trustauthority.intel.com | |
/// | ita_api_key | ITA_API_KEY | | secret; required with appraisal `ita` |
/// | quote_provider | EE_QUOTE_PROVIDER | tsm | `tsm` (configfs-tsm) or `simulator` (dev) |
/// | simulator_dir | EE_SIMULATOR_DIR | | the simulator's state (provider `simulator`) |
/// | state_dir | EE_STATE_DIR | /data/ee-agent | |
/// | key_file | EE_KEY_FILE | /run/easyenclave/agent-key.pem | the key across restarts, on a tmpfs/ramfs, 0600; empty: in memory only |
/// | key_file_allow_disk | EE_KEY_FILE_ALLOW_DISK | false | development: allow key_file off tmpfs/ramfs |
/// | cp_mrtd | EE_CP_MRTD | | the CP's MRTD (96 hex): attest the CP first; empty: trust on first use |
/// | cp_rtmr0..cp_rtmr3 | EE_CP_RTMR0..EE_CP_RTMR3 | | the CP's expected RTMRs (96 hex), with cp_mrtd |
/// | cp_appraisal | EE_CP_APPRAISAL | dcap | `dcap` (local, Intel collateral) or `ita` (needs ita_api_key) |
/// | cp_allowed_tcb_statuses | EE_CP_ALLOWED_TCB_STATUSES | ["UpToDate"] | the CP platform's accepted TCB statuses (list) |
/// | cp_quote_root_file | EE_CP_QUOTE_ROOT_FILE | | dcap: root of the CP's PCK chain; empty: Intel SGX Root CA |
/// | cp_collateral_file | EE_CP_COLLATERAL_FILE | | dcap: fixed collateral bundle; empty: fetched |
/// | cp_pccs_url | EE_CP_PCCS_URL | https://api.trustedservices.intel.com | dcap: Intel PCS or a PCCS |
/// | ita_jwks_url | EE_ITA_JWKS_URL | https://portal.trustauthority.intel.com/certs | cp_appraisal ita: ITA's key set |
/// | listen | EE_LISTEN | 127.0.0.1:8081 | the agent API (not the workload's port) |
/// | workload_port | EE_WORKLOAD_PORT | 8080 | the workload's port (others only in dev) |
/// | cloudflared | EE_CLOUDFLARED | cloudflared | |
/// | tunnel_token | EE_TUNNEL_TOKEN | | cp-bootstrap's pre-configured token; secret |
/// | bootstrap_token | EE_BOOTSTRAP_TOKEN | | the owner's bootstrap token, sent at registration; secret |
/// | workload_runtime | EE_WORKLOAD_RUNTIME | podman | `podman` or `process` |
/// | podman | EE_PODMAN | podman | |
/// | process_command | EE_PROCESS_COMMAND | | argv of the process runtime (list) |
/// | cp_command | EE_CP_COMMAND | ["ee-cp"] | argv of ee-cp in cp-bootstrap mode (list) |
/// | cp_env | EE_CP_ENV | {} | cp-bootstrap: environment for ee-cp (object of strings; secrets) |
/// | cp_ca_file | EE_CP_CA_FILE | | extra PEM CA for the CP's and ITA's TLS |
/// | register_retry_min | EE_REGISTER_RETRY_MIN | 1 | seconds, first retry |
/// | register_retry_max | EE_REGISTER_RETRY_MAX | 60 | seconds, backoff cap |
/// | refused_retry | EE_REFUSED_RETRY | 300 | seconds between attempts after a 4xx refusal |
/// | reattestation_interval | EE_REATTESTATION_INTERVAL | 3600 | seconds, at least 60 |
/// | log_buffer_bytes | EE_LOG_BUFFER_BYTES | 4194304 | 64 KiB to 1 GiB |
///
/// Intervals are at most 7 days (604800 s). An environment variable set to the empty string
/// counts as unset, as CLI11 treats the environment of the other programs.
///
/// In a file or a boot configuration, strings are JSON strings, lists JSON arrays of strings,
/// numbers JSON integers and booleans JSON true/false. In the environment and flags every value is
/// text: lists are a JSON array or words separated by spaces, numbers are decimal, booleans
/// `true` or `false`.
#include <easyenclave/error.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ee::api {

/// The settings, as the table above describes them. Plain data: `parse_agent_config` and
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

  friend bool operator==(AgentConfig const&, AgentConfig const&) = default;
};

/// A setting: its key (in files, and as `--key-with-dashes` in ee-agent), its environment
/// variable and a line of help.
struct ConfigKey {
  std::string_view name{};
  std::string_view env{};
  std::string_view help{};
};

/// Every setting, in the order of the table above. The views refer to static storage.
/// Never throws (except bad_alloc). Thread-safe.
std::vector<ConfigKey> agent_config_keys();

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
/// environment variable or a flag carries it.
/// @returns api::errc::invalid_agent_config for an unknown key or a list or number that does not
///          parse; `config` is unchanged then. Never throws (except bad_alloc).
/// The JSON object of the keys of `config` that differ from the defaults, compactly: what a
/// launcher writes for the agent, and `parse_agent_config` reads back to the same config.
/// Never throws (except bad_alloc).
std::string agent_config_json(AgentConfig const& config);

result<void> apply_agent_config_value(std::string_view key, std::string_view value,
                                      AgentConfig& config);

/// Checks that the whole configuration is usable and normalises it: known modes and kinds;
/// the formats of owner, node size, datacenter, vm name (api/agents.hpp), URLs and the listen
/// address; what each mode, appraisal, provider and runtime requires; interval and size ranges.
/// Fills `vm_name` from the hostname when empty and drops trailing '/' from `cp_url`.
/// @returns api::errc::invalid_agent_config naming the key (and its environment variable when that is
///          the usual way to set it). Never echoes a secret. Never throws (except bad_alloc).
result<void> validate_agent_config(AgentConfig& config);

}  // namespace ee::api
