#pragma once
/// @file Where the agent's configuration comes from, and the runtime options it describes.
///
/// The settings themselves (their keys, environment variables, types, defaults and checks) are
/// the schema in api/agent_config.hpp, shared with the launcher that writes them.
///
/// The base document is the first source that exists: the config file (`--config`, default
/// `/etc/easyenclave/agent.json`), else the boot configuration on the kernel command line
/// (`easyenclave.configz=` / `easyenclave.config=`, decoded by api/boot_config.hpp, the codec
/// `ee launch` encodes with), else nothing (the defaults). Over the base, the flags and the
/// environment are resolved by `settings::Settings::resolve` over `api::agent_setting_registry()`
/// (flag > environment > default), and every key a flag or a variable set replaces the base's
/// value. So the precedence is flag > environment > base (file or boot configuration) > default:
/// the launcher-written base sits where a default would, and whoever starts the agent can still
/// override it. Keys the agent does not know are reported
/// (`LoadedConfig::unknown_keys`), not silently ignored, and not refused either, so an older agent
/// boots with a newer launcher's config.
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/api/agent_config.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/settings.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ee::agent {

// The schema's names, where the agent's callers have always found them.
using api::AgentConfig;
using api::agent_config_json;
using api::agent_setting_registry;
using api::apply_agent_config_value;
using api::parse_agent_config;
using api::validate_agent_config;

/// Where `load_agent_config` looks.
struct ConfigSources {
  /// The config file; when it exists it is the base and the command line is not read.
  std::string file_path = "/etc/easyenclave/agent.json";
  /// The kernel command line; read when there is no file. Empty: not read.
  std::string cmdline_path = "/proc/cmdline";
  /// Environment variables (`settings::process_environment()`, typically); only the registry's
  /// names are read, and one set to the empty string counts as unset. Empty: no environment.
  settings::Environment env{};
  /// Flag values by config key (`cp_url`, not `--cp-url`); an unknown key is an error.
  settings::FlagValues flags{};
  /// Where the image mounts the config drive `ee launch` attaches (ISO 9660, volume id
  /// EE_CONFIG): its `config.json` is read when there is no file. Empty: not read.
  std::string config_drive_path{};
  /// Cloud metadata, asked only when no file, config drive or command line holds a
  /// configuration, GCE first: the instance attribute `ee-config` (a JSON configuration, header
  /// `Metadata-Flavor: Google`), then Azure IMDS `userData` (base64 of a JSON configuration,
  /// header `Metadata: true`; Azure's customData is not served by IMDS). Empty: not asked. A
  /// server that does not answer, answers any status but 200 (another cloud's server at the
  /// same address) or an empty value holds none.
  std::string gce_metadata_url{};
  std::string azure_imds_url{};
  /// For each metadata request (link-local servers answer in milliseconds where they exist).
  std::chrono::milliseconds metadata_timeout{2000};
};

/// The metadata URLs ee-agent's --cloud-metadata sets.
inline constexpr char kGceMetadataUrl[] =
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/ee-config";
inline constexpr char kAzureImdsUrl[] =
    "http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text";

/// A configuration's text and where it came from.
struct BootConfigText {
  std::string json{};
  std::string source{};  ///< "file", "config-drive", "cmdline", "gce", "azure"
};

/// The one reader of the agent's base configuration, in one precedence: the config file, the
/// config drive, the kernel command line (easyenclave.config(z)=), GCE metadata, Azure IMDS; the
/// first that holds one wins and the rest are not read. Sources whose path or URL is empty are
/// skipped. Blocking (the metadata requests); call it before any io_context runs.
/// @returns std::nullopt when none holds a configuration; api::errc::invalid_boot_config for a
///          command line or an IMDS value that does not decode; read errors naming the file.
result<std::optional<BootConfigText>> read_boot_config(ConfigSources const& sources);

/// What `load_agent_config` found.
struct LoadedConfig {
  AgentConfig config{};
  std::string base{};  ///< read_boot_config's source, or "none"
  std::vector<std::string> unknown_keys{};  ///< keys of the base the agent does not know
};

/// Reads the base (file or command line), resolves flags and environment over it (flag >
/// environment > base > default) and validates the result.
/// @returns api::errc::invalid_agent_config naming the source and the key; api::errc::
///          invalid_boot_config for a malformed command-line configuration; the file's read
///          errors (core errc::io_error, errc::out_of_range above 256 KiB). Never throws (except
///          bad_alloc). Thread-safe when no one changes the files meanwhile.
result<LoadedConfig> load_agent_config(ConfigSources const& sources);

/// The runtime options `config` (validated) describes: the quote provider, the workload runtime
/// and the log buffer they share, the ITA client settings, the outbound HTTPS client (with
/// `cp_ca_file`), the API's address and the registration timings.
/// @returns the simulator's, configfs-tsm's and the HTTPS client's errors. Never throws (except
///          bad_alloc).
result<Options> make_agent_options(AgentConfig const& config);

}  // namespace ee::agent
