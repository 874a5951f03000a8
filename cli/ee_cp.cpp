// ee-cp: the easyenclave control plane. Parses flags and environment, installs the log sink,
// starts ee::cp::ControlPlane and serves until SIGINT/SIGTERM.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

// Exit codes shared by the programs (STYLE.md): 0 ok, 1 rejected, 2 usage, 3 upstream or I/O.
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ee-cp: the easyenclave control plane", "ee-cp"};
  std::string listen = "127.0.0.1:8080";
  std::size_t threads = 2;
  std::string log_level = "info";
  std::string log_format = "text";
  bool dev = false;
  app.set_version_flag("--version", std::string(ee::version()));
  app.add_option("--listen", listen, "HOST:PORT to serve the API on (port 0: any free port)")
      ->envname("EE_LISTEN")->capture_default_str();
  app.add_option("--threads", threads, "Server threads")->envname("EE_THREADS")->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->envname("EE_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json")->envname("EE_LOG_FORMAT")->capture_default_str();
  app.add_flag("--dev", dev, "Development mode: allow local stand-ins")->envname("EE_DEV");
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

  auto address = ee::http::parse_host_port(listen);
  if (!address) {
    std::cerr << "ee-cp: --listen: " << address.error().message() << "\n";
    return kExitUsage;
  }
  ee::cp::Options options;
  options.server.host = address->host;
  options.server.port = address->port;
  options.server.threads = threads;
  options.dev = dev;

  auto cp = ee::cp::ControlPlane::start(std::move(options));
  if (!cp) {
    std::cerr << "ee-cp: " << cp.error().message() << " (" << cp.error().id() << ")\n";
    return cp.error() == ee::condition::invalid_input ? kExitUsage : kExitIo;
  }
  // One JSON line on stdout tells scripts (make demo, tests) where the API is, even with port 0.
  auto const ep = (*cp)->endpoint();
  std::cout << R"({"event":"listening","url":"http://)" << ee::http::to_string({ep.address().to_string(), ep.port()})
            << R"("})" << std::endl;
  (*cp)->wait_for_signal();
  return 0;
}
