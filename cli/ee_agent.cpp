// ee-agent: the easyenclave agent inside a TDX VM. Loads the configuration (file, kernel command
// line, environment, flags: ee::agent::load_agent_config), installs a log sink that feeds both
// stderr and the agent's log buffer, starts ee::agent::AgentRuntime and serves until SIGTERM.
#include <easyenclave/agent/config.hpp>
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>

extern char** environ;

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
      "ee-agent: the easyenclave agent (attests, registers, runs one workload, heartbeats)",
      "ee-agent"};
  app.set_version_flag("--version", std::string(ee::version()));
  app.get_formatter()->column_width(44);
  ee::agent::ConfigSources sources;
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--config", sources.file_path, "Configuration file (JSON); used when it exists")
      ->capture_default_str();
  app.add_option("--cmdline", sources.cmdline_path,
                 "Kernel command line with easyenclave.config(z)=, when no file")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->envname("EE_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json")
      ->envname("EE_LOG_FORMAT")
      ->capture_default_str();
  // One flag per setting, named after its key; --provider and --workload are the short forms.
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> given;
  for (auto const& key : ee::agent::agent_config_keys()) {
    std::string const name(key.name);
    std::string flag = "--" + name;
    for (char& c : flag) c = c == '_' ? '-' : c;
    if (name == "quote_provider") flag += ",--provider";
    if (name == "workload_runtime") flag += ",--workload";
    given[name] = app.add_option(flag, values[name],
                                 std::string(key.help) + " [env " + std::string(key.env) + "]");
  }
  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  for (auto const& [name, option] : given) {
    if (option->count() > 0) sources.flags[name] = values[name];
  }
  for (char** e = environ; *e != nullptr; ++e) {
    std::string const entry(*e);
    auto const eq = entry.find('=');
    if (eq != std::string::npos) sources.env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }

  ee::log::Level level{};
  ee::log::Format format{};
  if (!ee::log::parse_level(log_level, level) || !ee::log::parse_format(log_format, format)) {
    std::cerr
        << "ee-agent: --log-level must be trace|debug|info|warn|error and --log-format text|json\n";
    return kExitUsage;
  }
  ee::log::set_level(level);
  auto const stderr_sink = ee::log::make_stderr_sink(format);

  auto loaded = ee::agent::load_agent_config(sources);
  if (!loaded) return fail("configuration", loaded.error());
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
