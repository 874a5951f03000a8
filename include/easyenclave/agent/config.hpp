#pragma once
/// @file The agent's configuration and where it comes from.
///
/// The base document is the first that exists of: the config file (`--config`, default
/// `/etc/easyenclave/agent.json`), then the boot configuration on the kernel command line
/// (`easyenclave.configz=` / `easyenclave.config=`, api/boot_config.hpp, what `ee launch`
/// writes). Environment variables override the base, and flags override the environment. Keys
/// the agent does not know are reported (`LoadedConfig::unknown_keys`), not silently ignored.
///
/// | key | environment | default | meaning |
/// |---|---|---|---|
/// | mode | EE_MODE | agent | `agent` or `cp-bootstrap` |
/// | cp_url | EE_CP_URL | | the control plane (agent mode) |
/// | owner | EE_OWNER | | `github:org/NAME` or `github:user/NAME` |
/// | node_size | EE_NODE_SIZE | tiny | |
/// | datacenter | EE_DATACENTER | | `CLOUD:ZONE` |
/// | vm_name | EE_VM_NAME | the hostname | |
/// | agent_url | EE_AGENT_URL | | where the CP reaches the API without a tunnel (dev) |
/// | appraisal | EE_APPRAISAL | quote | `quote` (raw quote, DCAP at the CP) or `ita` (and a token) |
/// | ita_url | EE_ITA_URL | https://api.trustauthority.intel.com | |
/// | ita_api_key | ITA_API_KEY | | secret; required with appraisal `ita` |
/// | quote_provider | EE_QUOTE_PROVIDER | tsm | `tsm` (configfs-tsm) or `simulator` (dev) |
/// | simulator_dir | EE_SIMULATOR_DIR | | the simulator's state (provider `simulator`) |
/// | state_dir | EE_STATE_DIR | /data/ee-agent | |
/// | listen | EE_LISTEN | 127.0.0.1:8081 | the agent API; the tunnel's ingress points here |
/// | cloudflared | EE_CLOUDFLARED | cloudflared | |
/// | tunnel_token | EE_TUNNEL_TOKEN | | cp-bootstrap's pre-configured token; secret |
/// | workload_runtime | EE_WORKLOAD_RUNTIME | podman | `podman` or `process` |
/// | podman | EE_PODMAN | podman | |
/// | process_command | EE_PROCESS_COMMAND | | argv of the process runtime (list) |
/// | cp_command | EE_CP_COMMAND | ["ee-cp"] | argv of ee-cp in cp-bootstrap mode (list) |
/// | cp_ca_file | EE_CP_CA_FILE | | extra PEM CA for the CP's and ITA's TLS |
/// | register_retry_min, register_retry_max | EE_REGISTER_RETRY_MIN, ..._MAX | 1, 60 | seconds |
/// | refused_retry | EE_REFUSED_RETRY | 300 | seconds between attempts after a refusal |
/// | reattestation_interval | EE_REATTESTATION_INTERVAL | 3600 | seconds |
/// | log_buffer_bytes | EE_LOG_BUFFER_BYTES | 4194304 | |
///
/// Lists are JSON arrays of strings in files; in the environment and flags a JSON array too, or
/// words separated by spaces.
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/error.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ee::agent {

struct AgentConfig {
  std::string mode = "agent";
  std::string cp_url{};
  std::string owner{};
  std::string node_size = "tiny";
  std::string datacenter{};
  std::string vm_name{};
  std::string agent_url{};
  std::string appraisal = "quote";
  std::string ita_url = "https://api.trustauthority.intel.com";
  std::string ita_api_key{};
  std::string quote_provider = "tsm";
  std::string simulator_dir{};
  std::string state_dir = "/data/ee-agent";
  std::string listen = "127.0.0.1:8081";
  std::string cloudflared = "cloudflared";
  std::string tunnel_token{};
  std::string workload_runtime = "podman";
  std::string podman = "podman";
  std::vector<std::string> process_command{};
  std::vector<std::string> cp_command{"ee-cp"};
  std::string cp_ca_file{};
  std::int64_t register_retry_min = 1;
  std::int64_t register_retry_max = 60;
  std::int64_t refused_retry = 300;
  std::int64_t reattestation_interval = 3600;
  std::int64_t log_buffer_bytes = 4 * 1024 * 1024;
};

/// A setting: its key (in files, and as `--key-with-dashes` in ee-agent), its environment
/// variable and a line of help.
struct ConfigKey {
  std::string_view name{};
  std::string_view env{};
  std::string_view help{};
};
/// Every setting, in the order of the table above.
std::vector<ConfigKey> agent_config_keys();

/// Sets the keys of the JSON object `json` on `config` (strict JSON; each value is type-checked,
/// not yet validated: see `validate_agent_config`). Unknown keys are appended to `unknown_keys`.
/// @returns agent::errc::invalid_config naming the key and what was expected. Never throws
///          (except bad_alloc).
result<void> apply_agent_config_json(std::string_view json, AgentConfig& config,
                                     std::vector<std::string>& unknown_keys);

/// Sets one key from text (an environment variable's or a flag's value).
/// @returns agent::errc::invalid_config for an unknown key or a value of the wrong form.
result<void> apply_agent_config_value(std::string_view key, std::string_view value, AgentConfig& config);

/// The whole configuration is usable: known modes and kinds, formats (owner, node size,
/// datacenter, vm name, URLs, listen address), what each mode and runtime requires, positive
/// intervals. Fills `vm_name` from the hostname when empty.
/// @returns agent::errc::invalid_config naming the key. Never throws (except bad_alloc).
result<void> validate_agent_config(AgentConfig& config);

struct ConfigSources {
  std::string file_path = "/etc/easyenclave/agent.json";
  std::string cmdline_path = "/proc/cmdline";
  /// Environment variables (the process's, typically); only the table's names are read.
  std::map<std::string, std::string> env{};
  /// Flag values by config key (`cp_url`, not `--cp-url`).
  std::map<std::string, std::string> flags{};
};

struct LoadedConfig {
  AgentConfig config{};
  std::string base{};  ///< "file", "cmdline" or "none"
  std::vector<std::string> unknown_keys{};
};

/// Reads the sources in their order of precedence and validates the result.
/// @returns agent::errc::invalid_config (naming the source and key), api::errc::invalid_boot_config
///          for a malformed command-line config, the file's read errors. Never throws (except
///          bad_alloc).
result<LoadedConfig> load_agent_config(ConfigSources const& sources);

/// The runtime options `config` describes: the quote provider, the workload runtime and the log
/// buffer they share, the ITA client settings, the outbound HTTPS client (with `cp_ca_file`).
/// @returns the providers' and the client's errors. Never throws (except bad_alloc).
result<Options> make_agent_options(AgentConfig const& config);

}  // namespace ee::agent
