// embed-agent: the easyenclave agent runtime inside your own program, with your own workload
// engine.
//
// `ee-agent` runs what the control plane deploys as an OCI image under podman. An embedder can
// keep everything else the agent does (attestation with a key bound into the quote, registration,
// signed heartbeats, the CP-signed agent API) and swap only the engine: implement
// ee::agent::WorkloadRuntime and hand it to ee::agent::AgentRuntime. Here the engine is
// `InProcessWorkload`: it "runs" a deployed app by serving it from this very process with the
// library's HTTP server. A real engine would start a VM, a WebAssembly module or a unikernel.
//
// Quotes come from the TDX simulator, so this runs on any Linux machine; the control plane must
// trust the same simulator directory (`ee-cp --dev --simulator-dir DIR`, or examples/custom-cp).
//
//   embed-agent --cp-url URL [--listen HOST:PORT] [--workload-port PORT] [--owner github:org/NAME]
//               [--datacenter CLOUD:ZONE] [--node-size SIZE] [--vm-name NAME]
//               [--simulator-dir DIR] [--state-dir DIR]
#include <easyenclave/agent/runtime.hpp>
#include <easyenclave/agent/workload.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace {

namespace bhttp = boost::beast::http;

// --- the workload engine ----------------------------------------------------------------------

// The app this engine runs: it answers GET / with who it is. A handler is a coroutine that returns
// a response or an ee::Error (which the server turns into a JSON error body with its status).
boost::asio::awaitable<ee::result<ee::http::Response>> serve_app(std::string greeting,
                                                                 ee::http::RequestContext&) {
  ee::http::Response response{bhttp::status::ok, 11};
  response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::move(greeting);
  response.prepare_payload();
  co_return response;
}

// The agent calls run() and stop() from one worker thread of its own (they may block: a real
// engine pulls images there), and status() from any thread at any time (heartbeats, /api/health),
// so the state sits behind a mutex.
class InProcessWorkload final : public ee::agent::WorkloadRuntime {
 public:
  explicit InProcessWorkload(std::uint16_t port) : port_(port) {}

  ee::result<void> run(ee::agent::WorkloadSpec const& spec) override {
    if (auto stopped = stop(); !stopped) return stopped;  // a deploy replaces whatever runs
    set(ee::agent::WorkloadState::starting, spec, "starting on port " + std::to_string(port_));

    // The image reference is the app's identity here: nothing is fetched, but the agent reports
    // its digest in heartbeats, and the CP only calls a deployment "running" when that digest is
    // the one its catalog pinned ("name@sha256:..." -> "sha256:...").
    std::string const greeting = "hello from " + spec.app_name + " " + spec.version + " (" +
                                 spec.image + "), served in-process by embed-agent\n";
    ee::http::Router router;
    // Plain lambda calling a coroutine function with its state by value: a coroutine lambda with
    // captures would refer to a lambda object it does not own.
    router.get("/", [greeting](ee::http::RequestContext& ctx) { return serve_app(greeting, ctx); });
    ee::http::ServerOptions options;
    options.host = "127.0.0.1";  // the agent (and in production the tunnel) is the only way in
    options.port = port_;
    auto server = ee::http::Server::start(std::move(router), options);
    if (!server) {
      set(ee::agent::WorkloadState::failed, spec, server.error().message());
      return server.error();
    }
    std::lock_guard lock(mutex_);
    server_ = std::move(*server);
    status_.state = ee::agent::WorkloadState::running;
    status_.image_digest = spec.image.substr(spec.image.find('@') + 1);
    status_.detail = "serving on 127.0.0.1:" + std::to_string(port_);
    return {};
  }

  ee::result<void> stop() override {
    std::unique_ptr<ee::http::Server> server;
    {
      std::lock_guard lock(mutex_);
      server = std::move(server_);
      if (server) status_.state = ee::agent::WorkloadState::stopped;
    }
    if (server) server->stop();  // outside the lock: stop() waits for requests in flight
    return {};
  }

  ee::agent::WorkloadStatus status() override {
    std::lock_guard lock(mutex_);
    return status_;
  }

  std::string_view name() const noexcept override { return "in-process"; }

 private:
  void set(ee::agent::WorkloadState state, ee::agent::WorkloadSpec const& spec,
           std::string detail) {
    std::lock_guard lock(mutex_);
    status_ = {.state = state,
               .deployment_id = spec.deployment_id,
               .image = spec.image,
               .image_digest = {},
               .detail = std::move(detail),
               .since = std::chrono::system_clock::now(),
               .restarts = 0};
  }

  std::uint16_t const port_;
  std::mutex mutex_;
  ee::agent::WorkloadStatus status_{};
  std::unique_ptr<ee::http::Server> server_{};
};

// --- the program ------------------------------------------------------------------------------

// "--name value" pairs over defaults; nothing else is accepted.
bool parse_flags(int argc, char** argv, std::map<std::string, std::string>& flags) {
  for (int i = 1; i < argc; i += 2) {
    std::string const name = argv[i];
    if (name.size() < 3 || name.rfind("--", 0) != 0 || !flags.contains(name.substr(2)) ||
        i + 1 >= argc) {
      return false;
    }
    flags[name.substr(2)] = argv[i + 1];
  }
  return !flags["cp-url"].empty();
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags{
      {"cp-url", ""},
      {"listen", "127.0.0.1:8081"},
      {"workload-port", "8080"},
      {"owner", "github:org/octo-org"},
      {"datacenter", "local:lab"},
      {"node-size", "tiny"},
      {"vm-name", "embed-agent-1"},
      {"simulator-dir", "/tmp/ee-sim"},
      {"state-dir", "/tmp/embed-agent"},
  };
  if (!parse_flags(argc, argv, flags)) {
    std::cerr << "usage: embed-agent --cp-url URL [--listen HOST:PORT] [--workload-port PORT]\n"
                 "         [--owner github:org/NAME] [--datacenter CLOUD:ZONE] [--node-size SIZE]\n"
                 "         [--vm-name NAME] [--simulator-dir DIR] [--state-dir DIR]\n";
    return 2;
  }
  auto listen = ee::http::parse_host_port(flags["listen"]);
  auto workload = ee::http::parse_host_port("127.0.0.1:" + flags["workload-port"]);
  if (!listen || !workload) {
    std::cerr << "embed-agent: --listen and --workload-port need HOST:PORT and a port number\n";
    return 2;
  }
  // The library logs nowhere until the program installs a sink.
  ee::log::set_sink(ee::log::make_stderr_sink(ee::log::Format::text));

  // Evidence: a simulated TDX platform shared, through its directory, with the control plane that
  // trusts it. In a real TD, use
  // ee::tdx::make_tsm_provider() (configfs-tsm) instead.
  auto simulator = ee::tdx::Simulator::load_or_create(flags["simulator-dir"]);
  if (!simulator) {
    std::cerr << "embed-agent: " << simulator.error().message() << "\n";
    return 3;
  }

  ee::agent::Options options;
  options.cp_url = flags["cp-url"];
  options.vm_name = flags["vm-name"];
  options.owner = flags["owner"];  // who may deploy here: a GitHub org or user
  options.node_size = flags["node-size"];
  options.datacenter = flags["datacenter"];
  options.quotes = ee::tdx::make_simulator_provider(*simulator);
  // The engine swap: everything the CP deploys to this agent goes to InProcessWorkload.
  options.workload = std::make_shared<InProcessWorkload>(workload->port);
  // Requests to the agent's address on paths that are not its API go to the workload.
  options.workload_url = "http://127.0.0.1:" + std::to_string(workload->port);
  options.state_dir = flags["state-dir"];
  options.server.host = listen->host;
  options.server.port = listen->port;
  // Without a Cloudflare tunnel (dev) the CP calls the agent's API at this URL, so it must be a
  // fixed port; with port 0 the agent registers but the CP cannot deploy to it.
  if (listen->port != 0) options.agent_url = "http://" + ee::http::to_string(*listen);

  auto agent = ee::agent::AgentRuntime::start(std::move(options));
  if (!agent) {
    std::cerr << "embed-agent: " << agent.error().message() << " (" << agent.error().id() << ")\n";
    return agent.error() == ee::condition::invalid_input ? 2 : 3;
  }
  // One JSON line on stdout, as the project's programs print, tells scripts where the API is.
  std::cout << R"({"event":"listening","url":")" << (*agent)->url() << R"(","public_key":")"
            << (*agent)->public_key() << R"("})" << std::endl;
  if ((*agent)->wait_registered(std::chrono::seconds(30))) {
    std::cout << R"({"event":"registered","agent_id":")" << (*agent)->status().agent_id << R"("})"
              << std::endl;
  } else {
    std::cerr << "embed-agent: not registered yet: " << (*agent)->status().last_error << "\n";
  }
  (*agent)->wait_for_signal();  // SIGINT/SIGTERM: stop the loop, the API and the workload's server
  return 0;
}
