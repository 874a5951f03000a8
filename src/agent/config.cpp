// Where the agent's configuration comes from (config.hpp): the config file or the boot
// configuration on the kernel command line as the base, then the environment and flags resolved
// over the settings registry of api/agent_config.hpp; and the runtime options a validated
// configuration describes.
#include <easyenclave/agent/config.hpp>

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/error.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <algorithm>
#include <filesystem>

namespace ee::agent {
namespace {

Error invalid(std::string text) { return Error(errc::invalid_config, std::move(text)); }

// A measurement register of a validated configuration (96 hex characters).
tdx::Measurement measurement(std::string const& hex) {
  tdx::Measurement m{};
  if (auto bytes = hex_decode(hex); bytes && bytes->size() == m.size()) {
    std::copy(bytes->begin(), bytes->end(), m.begin());
  }
  return m;
}

// What the agent requires of the CP's attestation (validated settings, cp_mrtd set).
result<CpAttestationPolicy> cp_attestation_policy(AgentConfig const& c,
                                                  std::shared_ptr<http::Client> const& http) {
  CpAttestationPolicy p;
  p.policy.allowed_mrtds.push_back(measurement(c.cp_mrtd));
  std::string const* const rtmrs[] = {&c.cp_rtmr0, &c.cp_rtmr1, &c.cp_rtmr2, &c.cp_rtmr3};
  for (std::size_t i = 0; i < 4; ++i) {
    if (!rtmrs[i]->empty()) p.policy.expected_rtmrs[i] = measurement(*rtmrs[i]);
  }
  p.policy.allowed_tcb_statuses.clear();
  for (auto const& name : c.cp_allowed_tcb_statuses) {
    p.policy.allowed_tcb_statuses.push_back(*tdx::parse_tcb_status(name));
  }
  if (c.cp_appraisal == "ita") {
    p.appraiser = CpAttestationPolicy::Appraiser::ita;
    p.ita.base_url = c.ita_url;
    p.ita.api_key = c.ita_api_key;
    p.ita_jwks_url = c.ita_jwks_url;
    return p;
  }
  if (!c.cp_quote_root_file.empty()) {
    auto root = tdx::TrustedRoot::from_file(c.cp_quote_root_file);
    if (!root) return root.error().with_context("cp_quote_root_file");
    // The simulator's root makes any simulator quote genuine: only an agent that is itself a
    // simulation (development, CI) may trust it, as ee-cp trusts it only in --dev.
    if (root->common_name() == tdx::kSimulatorRootName && c.quote_provider != "simulator") {
      return invalid("cp_quote_root_file: the simulator's test root is trusted only with the "
                     "simulator quote provider (development)");
    }
    p.root = std::move(*root);
  }
  if (!c.cp_collateral_file.empty()) {
    auto collateral = tdx::load_collateral_file(c.cp_collateral_file);
    if (!collateral) return collateral.error().with_context("cp_collateral_file");
    p.collateral = std::make_shared<tdx::Collateral const>(std::move(*collateral));
  } else {
    tdx::FetcherOptions fetcher;
    fetcher.api_base = c.cp_pccs_url;
    p.collateral_fetcher = std::make_shared<tdx::CollateralFetcher>(http, fetcher);
  }
  return p;
}

}  // namespace

result<LoadedConfig> load_agent_config(ConfigSources const& sources) {
  LoadedConfig out;
  out.base = "none";
  auto base = read_boot_config(sources);
  if (!base) return base.error();
  if (*base) {
    auto const& [text, source] = **base;
    auto config = parse_agent_config(text, out.unknown_keys);
    if (!config) {
      auto const where = source == "file"           ? "config file " + sources.file_path
                         : source == "config-drive" ? "config drive " + sources.config_drive_path
                         : source == "cmdline"      ? std::string("kernel command line boot configuration")
                         : source == "gce"          ? std::string("GCE metadata ee-config")
                                                    : std::string("Azure IMDS userData");
      return config.error().with_context(where);
    }
    out.config = std::move(*config);
    out.base = source;
  }
  // A flag is the program's own doing (ee-agent generates its flags from the registry): a key
  // outside it is a programming error, named.
  for (auto const& [name, value] : sources.flags) {
    if (api::agent_setting_registry().find(name) == nullptr) {
      return Error(api::errc::invalid_agent_config, "unknown setting '" + name + "'").with_context("flag");
    }
  }
  // Empty counts as unset, as the agent has always read its environment.
  auto const env = settings::without_empty(sources.env);
  auto resolved = settings::Settings::resolve(api::agent_setting_registry(), sources.flags, env);
  if (!resolved) return Error(api::errc::invalid_agent_config, resolved.error().message());
  if (auto ok = api::apply_agent_settings(*resolved, out.config); !ok) return ok.error();
  if (auto ok = validate_agent_config(out.config); !ok) return ok.error();
  return out;
}
result<Options> make_agent_options(AgentConfig const& c) {
  Options o;
  o.mode = c.mode == "cp-bootstrap" ? Mode::cp_bootstrap : Mode::agent;
  o.cp_url = c.cp_url;
  o.vm_name = c.vm_name;
  o.owner = c.owner;
  o.node_size = c.node_size;
  o.datacenter = c.datacenter;
  o.agent_url = c.agent_url;
  o.logs = std::make_shared<LogBuffer>(static_cast<std::size_t>(c.log_buffer_bytes));

  http::HttpsOptions https;
  https.extra_ca_file = c.cp_ca_file;
  https.user_agent = "ee-agent";
  auto client = http::make_https_client(https);
  if (!client) return client.error().with_context("outbound HTTPS client");
  o.http = std::move(*client);
  if (o.mode == Mode::agent && !c.cp_mrtd.empty()) {
    auto policy = cp_attestation_policy(c, o.http);
    if (!policy) return policy.error();
    o.cp_attestation = std::move(*policy);
  }


  if (c.quote_provider == "simulator") {
    auto simulator = tdx::Simulator::load_or_create(c.simulator_dir);
    if (!simulator) return simulator.error().with_context("simulator " + c.simulator_dir);
    o.quotes = tdx::make_simulator_provider(*simulator);
  } else {
    auto tsm = tdx::make_tsm_provider();
    if (!tsm) return tsm.error().with_context("configfs-tsm");
    o.quotes = std::move(*tsm);
  }
  if (c.appraisal == "ita") {
    jwt::ItaClientOptions ita;
    ita.base_url = c.ita_url;
    ita.api_key = c.ita_api_key;
    o.ita = ita;
    o.send_quote = false;
  }
  o.key_file = c.key_file;
  o.key_file_allow_disk = c.key_file_allow_disk;
  if (o.mode == Mode::agent) {
    auto const port = static_cast<std::uint16_t>(c.workload_port);  // validated: 1..65535
    o.workload_url = "http://127.0.0.1:" + std::to_string(port);
    if (c.workload_runtime == "process") {
      o.workload =
          make_process_runtime({.command = c.process_command, .logs = o.logs, .port = port});
    } else {
      PodmanOptions podman;
      podman.podman = c.podman;
      podman.logs = o.logs;
      podman.host_port = port;
      o.workload = make_podman_runtime(std::move(podman));
    }
  }
  o.cloudflared = c.cloudflared;
  o.tunnel_token = c.tunnel_token;
  o.bootstrap_token = c.bootstrap_token;
  o.cp_command = c.cp_command;
  o.cp_env = c.cp_env;
  o.state_dir = c.state_dir;
  auto listen = http::parse_host_port(c.listen);
  if (!listen) return invalid("listen: " + listen.error().message());
  o.server.host = listen->host;
  o.server.port = listen->port;
  o.timings.retry_min = std::chrono::seconds(c.register_retry_min);
  o.timings.retry_max = std::chrono::seconds(c.register_retry_max);
  o.timings.refused_retry = std::chrono::seconds(c.refused_retry);
  o.timings.reattestation_interval = std::chrono::seconds(c.reattestation_interval);
  return o;
}

}  // namespace ee::agent
