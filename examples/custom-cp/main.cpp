// custom-cp: your own control plane on libeasyenclave, with a route and an admission rule of its
// own.
//
// ee::cp::ControlPlane is the whole easyenclave control plane as an object: agent attestation and
// registration, heartbeats, the app catalog, deploys by GitHub identity. `ee-cp` is a thin main
// over it; this program is another. It keeps every built-in route and check and adds two things
// through cp::Options:
//   - `admit`: a hook that runs after the built-in checks at every registration. Here it admits
//     agents only from the datacenters given with --allow-datacenter.
//   - `extra_routes`: routes of its own on the same server. Here `GET /api/v1/hello` says which
//     datacenters are admitted and how many registrations the hook admitted and refused.
//
// It runs in development mode (an in-memory registry, simulator quotes trusted, any MRTD), so it
// needs no TDX, no Cloudflare and no database.
//
//   custom-cp --simulator-dir DIR [--listen HOST:PORT] [--allow-datacenter CLOUD:ZONE]...
//             [--github-jwks-url URL] [--heartbeat-interval SECONDS]
#include <easyenclave/api/agents.hpp>
#include <easyenclave/cp/settings.hpp>
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/cp/error.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/log.hpp>

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

// What the hook and the route share. The hook runs on the server's threads, concurrently for
// concurrent registrations, so the counters are atomic and the list is never changed after start.
struct Admissions {
  std::vector<std::string> allowed_datacenters;
  std::atomic<long> admitted{0};
  std::atomic<long> refused{0};
};

// The admission rule. It sees the registration after the nonce, the key binding and the
// attestation policy have passed (`admission.appraisal` holds the verified MRTD, RTMRs and TCB
// status), so it only adds business rules. Returning an error refuses the agent: the code's
// condition picks the HTTP status (admission_refused: 403) and the message reaches the agent.
ee::result<void> admit_by_datacenter(Admissions& admissions, ee::cp::Admission const& admission) {
  auto const& allowed = admissions.allowed_datacenters;
  std::string const& datacenter = admission.request.datacenter;
  if (std::find(allowed.begin(), allowed.end(), datacenter) != allowed.end()) {
    ++admissions.admitted;
    return {};
  }
  ++admissions.refused;
  std::string expected;
  for (auto const& d : allowed) expected += (expected.empty() ? "" : ", ") + d;
  return ee::Error(
      ee::cp::errc::admission_refused,
      "datacenter '" + datacenter + "' is not admitted here (expected one of: " + expected + ")");
}

// The extra route. Handlers are coroutines returning a response or an ee::Error; the server adds
// the request id, limits and error bodies as for the built-in routes.
boost::asio::awaitable<ee::result<ee::http::Response>> hello(std::shared_ptr<Admissions> admissions,
                                                             ee::http::RequestContext&) {
  // The datacenters were checked with api::check_datacenter at start, so they need no escaping.
  std::string list;
  for (auto const& d : admissions->allowed_datacenters)
    list += (list.empty() ? "\"" : ",\"") + d + "\"";
  co_return ee::http::json_response(
      boost::beast::http::status::ok,
      R"({"hello":"from custom-cp","allowed_datacenters":[)" + list + R"(],"admitted":)" +
          std::to_string(admissions->admitted.load()) + R"(,"refused":)" +
          std::to_string(admissions->refused.load()) + "}");
}

}  // namespace

int main(int argc, char** argv) {
  // Settings as ee-cp takes them (the control plane's settings registry), so cp::make_options
  // opens the in-memory registry, loads the simulator's root and collateral and fills every
  // default. Flags of its own first; the control plane's keys are named as ee-cp names them.
  ee::settings::FlagValues flags{{"dev", "true"}, {"listen", "127.0.0.1:8080"}};
  auto admissions = std::make_shared<Admissions>();
  bool usage_ok = argc % 2 == 1;  // "--flag value" pairs only
  for (int i = 1; usage_ok && i + 1 < argc; i += 2) {
    std::string const flag = argv[i], value = argv[i + 1];
    if (flag == "--allow-datacenter") {
      admissions->allowed_datacenters.push_back(value);
    } else if (flag == "--listen" || flag == "--simulator-dir" || flag == "--github-jwks-url" ||
               flag == "--heartbeat-interval") {
      auto name = flag.substr(2);
      std::replace(name.begin(), name.end(), '-', '_');
      flags[name] = value;
    } else {
      usage_ok = false;
    }
  }
  if (!usage_ok || !flags.contains("simulator_dir")) {
    std::cerr << "usage: custom-cp --simulator-dir DIR [--listen HOST:PORT] [--allow-datacenter "
                 "CLOUD:ZONE]...\n"
                 "         [--github-jwks-url URL] [--heartbeat-interval SECONDS]\n";
    return 2;
  }
  auto settings = ee::settings::Settings::resolve(ee::cp::setting_registry(), flags, {});
  if (!settings) {
    std::cerr << "custom-cp: " << settings.error().message() << "\n";
    return 2;
  }
  if (admissions->allowed_datacenters.empty())
    admissions->allowed_datacenters.push_back("local:lab");
  for (auto const& d : admissions->allowed_datacenters) {
    if (auto ok = ee::api::check_datacenter(d, "--allow-datacenter"); !ok) {
      std::cerr << "custom-cp: " << ok.error().message() << "\n";
      return 2;
    }
  }
  ee::log::set_sink(ee::log::make_stderr_sink(ee::log::Format::text));

  auto options = ee::cp::make_options(*settings);
  if (!options) {
    std::cerr << "custom-cp: " << options.error().message() << " (" << options.error().id()
              << ")\n";
    return 2;
  }
  // The two extension points. Both lambdas hold the shared state by shared_ptr, so it lives as
  // long as the control plane that calls them.
  options->admit = [admissions](ee::cp::Admission const& admission) {
    return admit_by_datacenter(*admissions, admission);
  };
  // Who may call the route is declared with it; the CP admits the request before the handler.
  // The handler is a plain lambda calling a coroutine function with its state by value: a
  // coroutine lambda with captures would refer to a lambda object it does not own.
  options->extra_routes.push_back(
      {.method = boost::beast::http::verb::get,
       .pattern = "/api/v1/hello",
       .access = ee::cp::Access::anyone,
       .handler = [admissions](ee::http::RequestContext& ctx) { return hello(admissions, ctx); }});

  auto cp = ee::cp::ControlPlane::start(std::move(*options));
  if (!cp) {
    std::cerr << "custom-cp: " << cp.error().message() << " (" << cp.error().id() << ")\n";
    return 3;
  }
  // One JSON line on stdout, as ee-cp prints, tells scripts where the API is (even with port 0).
  std::cout << R"({"event":"listening","url":")" << (*cp)->url() << R"("})" << std::endl;
  (*cp)->wait_for_signal();
  return 0;
}
