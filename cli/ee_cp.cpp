// ee-cp: the easyenclave control plane. Its flags come from the control plane's settings
// registry (ee::cp::setting_registry), resolved flag > environment > default; it installs the log
// sink, starts ee::cp::ControlPlane and serves until SIGINT/SIGTERM.
#include "setting_flags.hpp"

#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/cp/settings.hpp>
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
  CLI::App app{"ee-cp: the easyenclave control plane. Every flag has an environment variable; flags win.", "ee-cp"};
  app.set_version_flag("--version", std::string(ee::version()));
  app.get_formatter()->column_width(44);
  ee::cli::SettingFlags flags(app, ee::cp::setting_registry(), ee::cp::setting_group_title);

  try {
    app.parse(argc, argv);
  } catch (CLI::ParseError const& e) {
    // --help and --version exit 0; every other parse problem is a usage error (exit 2).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  auto settings =
      ee::settings::Settings::resolve(ee::cp::setting_registry(), flags.values(), ee::settings::process_environment());
  if (!settings) {
    std::cerr << "ee-cp: " << settings.error().message() << " (" << settings.error().id() << ")\n";
    return kExitUsage;
  }
  ee::log::Level level{};
  ee::log::Format format{};
  // The registry admits only names these parse; checked all the same, so a new name in the table
  // without a parser here fails loudly.
  if (!ee::log::parse_level(settings->text("log_level"), level) ||
      !ee::log::parse_format(settings->text("log_format"), format)) {
    std::cerr << "ee-cp: log_level must be trace|debug|info|warn|error and log_format text|json\n";
    return kExitUsage;
  }
  ee::log::set_level(level);
  ee::log::set_sink(ee::log::make_stderr_sink(format));

  auto options = ee::cp::make_options(*settings);
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
