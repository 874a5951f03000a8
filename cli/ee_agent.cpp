// ee-agent: the easyenclave agent inside a TDX VM. Its flags and --help come from the agent's
// settings registry (ee::api::agent_setting_registry); ee::agent::load_agent_config reads the
// base (config file, config drive, kernel command line or cloud metadata) and resolves flags and environment over it. It
// installs a log sink that feeds both stderr and the agent's log buffer, starts
// ee::agent::AgentRuntime and serves until SIGTERM.
#include "setting_flags.hpp"

#include <easyenclave/agent/config.hpp>
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/version.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

namespace {

// Exit codes shared by the programs (STYLE.md): 0 ok, 2 usage, 3 upstream or I/O.
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

int fail(char const* what, ee::Error const& e) {
  std::cerr << "ee-agent: " << what << ": " << e.message() << " (" << e.id() << ")\n";
  return e == ee::condition::invalid_input ? kExitUsage : kExitIo;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ee-agent: the easyenclave agent (attests, registers, runs one workload, heartbeats). "
      "Every setting has a flag and an environment variable; flags win over the environment, "
      "which wins over the config file or boot configuration.",
      "ee-agent"};
  app.set_version_flag("--version", std::string(ee::version()));
  app.get_formatter()->column_width(44);
  ee::agent::ConfigSources sources;
  // Where the base comes from: not settings (they have no variable, and no place in a file).
  app.add_option("--config", sources.file_path, "Configuration file (JSON); used when it exists")
      ->capture_default_str();
  app.add_option("--cmdline", sources.cmdline_path,
                 "Kernel command line with easyenclave.config(z)=, when no file")
      ->capture_default_str();
  app.add_option("--config-drive", sources.config_drive_path,
                 "Mounted config drive: its config.json, before the command line");
  bool cloud_metadata = false;
  app.add_flag("--cloud-metadata", cloud_metadata,
               "When nothing local holds a configuration, ask GCE metadata (ee-config), then "
               "Azure IMDS (userData)");
  app.add_option("--gce-metadata-url", sources.gce_metadata_url, "GCE metadata URL (tests)");
  app.add_option("--azure-imds-url", sources.azure_imds_url, "Azure IMDS URL (tests)");
  ee::cli::SettingFlags flags(app, ee::api::agent_setting_registry(), ee::api::agent_setting_group_title,
                              {.only = {},
                               .aliases = {{"quote_provider", "--provider"}, {"workload_runtime", "--workload"}}});
  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (cloud_metadata) {
    if (sources.gce_metadata_url.empty()) sources.gce_metadata_url = ee::agent::kGceMetadataUrl;
    if (sources.azure_imds_url.empty()) sources.azure_imds_url = ee::agent::kAzureImdsUrl;
  }
  sources.flags = flags.values();
  sources.env = ee::settings::process_environment();

  auto loaded = ee::agent::load_agent_config(sources);
  if (!loaded) return fail("configuration", loaded.error());
  ee::log::Level level{};
  ee::log::Format format{};
  // The registry admits only names these parse; checked all the same, so a new name in the table
  // without a parser here fails loudly.
  if (!ee::log::parse_level(loaded->config.log_level, level) ||
      !ee::log::parse_format(loaded->config.log_format, format)) {
    std::cerr << "ee-agent: log_level must be trace|debug|info|warn|error and log_format text|json\n";
    return kExitUsage;
  }
  ee::log::set_level(level);
  auto const stderr_sink = ee::log::make_stderr_sink(format);

  auto options = ee::agent::make_agent_options(loaded->config);
  if (!options) return fail("setup", options.error());
  // The agent's own log lines go to stderr and into the buffer the CP reads through /api/logs.
  auto const buffer = options->logs;
  ee::log::set_sink([stderr_sink, buffer](ee::log::Level l, std::string_view component,
                                          std::string_view message) {
    stderr_sink(l, component, message);
    buffer->append("agent", std::string(component) + ": " + std::string(message));
  });
  for (auto const& key : loaded->unknown_keys) {
    std::cerr << "ee-agent: unknown configuration key '" << key
              << "' (ignored; see ee-agent --help)\n";
  }

  auto agent = ee::agent::AgentRuntime::start(std::move(*options));
  if (!agent) return fail("start", agent.error());
  // One JSON line on stdout tells scripts and tests where the API is.
  std::cout << R"({"event":"listening","url":")" << (*agent)->url() << R"(","config":")"
            << loaded->base << R"(","public_key":")" << (*agent)->public_key() << R"("})"
            << std::endl;
  (*agent)->wait_for_signal();
  return 0;
}
