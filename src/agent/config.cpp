// The agent's configuration (config.hpp): one table of keys drives the JSON reader, the
// environment and the flags, so a key cannot be known to one source and not another.
#include <easyenclave/agent/config.hpp>

#include <easyenclave/agent/error.hpp>
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/boot_config.hpp>
#include <easyenclave/file.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "detail/json.hpp"

#include <boost/url/parse.hpp>

#include <array>
#include <charconv>
#include <filesystem>

#include <unistd.h>

namespace ee::agent {
namespace {

namespace json = ::ee::detail::json;

constexpr std::size_t kMaxConfigBytes = 256 * 1024;

enum class Kind { text, list, number };

struct Key {
  std::string_view name;
  std::string_view env;
  std::string_view help;
  Kind kind;
  std::string AgentConfig::*text = nullptr;
  std::vector<std::string> AgentConfig::*list = nullptr;
  std::int64_t AgentConfig::*number = nullptr;
};

constexpr Key text(std::string_view name, std::string_view env, std::string_view help,
                   std::string AgentConfig::*member) {
  return {name, env, help, Kind::text, member, nullptr, nullptr};
}
constexpr Key list(std::string_view name, std::string_view env, std::string_view help,
                   std::vector<std::string> AgentConfig::*member) {
  return {name, env, help, Kind::list, nullptr, member, nullptr};
}
constexpr Key number(std::string_view name, std::string_view env, std::string_view help,
                     std::int64_t AgentConfig::*member) {
  return {name, env, help, Kind::number, nullptr, nullptr, member};
}

const std::array kKeys = {
    text("mode", "EE_MODE", "agent | cp-bootstrap", &AgentConfig::mode),
    text("cp_url", "EE_CP_URL", "the control plane, https://... (agent mode)", &AgentConfig::cp_url),
    text("owner", "EE_OWNER", "github:org/NAME or github:user/NAME", &AgentConfig::owner),
    text("node_size", "EE_NODE_SIZE", "node size label (tiny, standard, llm, ...)", &AgentConfig::node_size),
    text("datacenter", "EE_DATACENTER", "CLOUD:ZONE", &AgentConfig::datacenter),
    text("vm_name", "EE_VM_NAME", "default: the hostname", &AgentConfig::vm_name),
    text("agent_url", "EE_AGENT_URL", "where the CP reaches this API without a tunnel (dev)", &AgentConfig::agent_url),
    text("appraisal", "EE_APPRAISAL", "quote (raw quote, DCAP at the CP) | ita (Intel Trust Authority token)", &AgentConfig::appraisal),
    text("ita_url", "EE_ITA_URL", "Intel Trust Authority API", &AgentConfig::ita_url),
    text("ita_api_key", "ITA_API_KEY", "Intel Trust Authority API key (secret; prefer the environment)", &AgentConfig::ita_api_key),
    text("quote_provider", "EE_QUOTE_PROVIDER", "tsm (configfs-tsm) | simulator (dev)", &AgentConfig::quote_provider),
    text("simulator_dir", "EE_SIMULATOR_DIR", "the simulator's state (provider simulator)", &AgentConfig::simulator_dir),
    text("state_dir", "EE_STATE_DIR", "keeps the registration (0700)", &AgentConfig::state_dir),
    text("listen", "EE_LISTEN", "HOST:PORT of the agent API", &AgentConfig::listen),
    text("cloudflared", "EE_CLOUDFLARED", "the cloudflared binary", &AgentConfig::cloudflared),
    text("tunnel_token", "EE_TUNNEL_TOKEN", "cp-bootstrap: the pre-configured tunnel token (secret)", &AgentConfig::tunnel_token),
    text("workload_runtime", "EE_WORKLOAD_RUNTIME", "podman | process", &AgentConfig::workload_runtime),
    text("podman", "EE_PODMAN", "the podman binary", &AgentConfig::podman),
    list("process_command", "EE_PROCESS_COMMAND", "argv of the process runtime (JSON array, or words)", &AgentConfig::process_command),
    list("cp_command", "EE_CP_COMMAND", "cp-bootstrap: argv of ee-cp (JSON array, or words)", &AgentConfig::cp_command),
    text("cp_ca_file", "EE_CP_CA_FILE", "extra PEM CA for outbound TLS (CP, ITA)", &AgentConfig::cp_ca_file),
    number("register_retry_min", "EE_REGISTER_RETRY_MIN", "seconds", &AgentConfig::register_retry_min),
    number("register_retry_max", "EE_REGISTER_RETRY_MAX", "seconds", &AgentConfig::register_retry_max),
    number("refused_retry", "EE_REFUSED_RETRY", "seconds between attempts after a refusal", &AgentConfig::refused_retry),
    number("reattestation_interval", "EE_REATTESTATION_INTERVAL", "seconds between fresh evidence", &AgentConfig::reattestation_interval),
    number("log_buffer_bytes", "EE_LOG_BUFFER_BYTES", "cap of the log ring buffer", &AgentConfig::log_buffer_bytes),
};

Key const* find_key(std::string_view name) {
  for (auto const& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

Error invalid(std::string text) { return Error(errc::invalid_config, std::move(text)); }

result<std::int64_t> parse_number(std::string_view key, std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return invalid(std::string(key) + ": expected a whole number");
  }
  return value;
}

result<std::vector<std::string>> parse_list(std::string_view key, std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    auto doc = json::parse(text, {.max_bytes = kMaxConfigBytes});
    if (!doc || !doc->is_array()) return invalid(std::string(key) + ": expected a JSON array of strings");
    std::vector<std::string> out;
    for (auto const& item : doc->as_array()) {
      if (!item.is_string()) return invalid(std::string(key) + ": expected a JSON array of strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    auto const start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

bool is_http_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "http" || url->scheme() == "https") && !url->encoded_host().empty() &&
         !url->has_userinfo() && !url->has_query() && !url->has_fragment();
}

result<void> one_of(std::string_view key, std::string const& value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (value == a) return {};
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : " | ") + std::string(a);
  return invalid(std::string(key) + ": must be " + list);
}

result<void> check_field(result<void> checked) {
  if (!checked) return invalid(checked.error().message());
  return {};
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

}  // namespace

std::vector<ConfigKey> agent_config_keys() {
  std::vector<ConfigKey> out;
  for (auto const& k : kKeys) out.push_back({k.name, k.env, k.help});
  return out;
}

result<void> apply_agent_config_json(std::string_view text, AgentConfig& config, std::vector<std::string>& unknown_keys) {
  auto doc = json::parse(text, {.max_bytes = kMaxConfigBytes});
  if (!doc) return invalid("not JSON: " + doc.error().message());
  if (!doc->is_object()) return invalid("the configuration must be a JSON object");
  for (auto const& [name, value] : doc->as_object()) {
    auto const* key = find_key(name);
    if (key == nullptr) {
      unknown_keys.emplace_back(name);
      continue;
    }
    std::string const key_name(key->name);
    switch (key->kind) {
      case Kind::text:
        if (!value.is_string()) return invalid(key_name + ": expected a string");
        config.*(key->text) = std::string(value.as_string());
        break;
      case Kind::list: {
        if (!value.is_array()) return invalid(key_name + ": expected an array of strings");
        std::vector<std::string> items;
        for (auto const& item : value.as_array()) {
          if (!item.is_string()) return invalid(key_name + ": expected an array of strings");
          items.emplace_back(item.as_string());
        }
        config.*(key->list) = std::move(items);
        break;
      }
      case Kind::number:
        if (!value.is_int64() && !value.is_uint64()) return invalid(key_name + ": expected a whole number");
        if (value.is_uint64() && value.as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) {
          return invalid(key_name + ": out of range");
        }
        config.*(key->number) = value.is_int64() ? value.as_int64() : static_cast<std::int64_t>(value.as_uint64());
        break;
    }
  }
  return {};
}

result<void> apply_agent_config_value(std::string_view name, std::string_view value, AgentConfig& config) {
  auto const* key = find_key(name);
  if (key == nullptr) return invalid("unknown setting '" + std::string(name) + "'");
  switch (key->kind) {
    case Kind::text: config.*(key->text) = std::string(value); break;
    case Kind::list: {
      auto items = parse_list(name, value);
      if (!items) return items.error();
      config.*(key->list) = std::move(*items);
      break;
    }
    case Kind::number: {
      auto n = parse_number(name, value);
      if (!n) return n.error();
      config.*(key->number) = *n;
      break;
    }
  }
  return {};
}

result<void> validate_agent_config(AgentConfig& c) {
  if (auto ok = one_of("mode", c.mode, {"agent", "cp-bootstrap"}); !ok) return ok;
  if (auto ok = one_of("appraisal", c.appraisal, {"quote", "ita"}); !ok) return ok;
  if (auto ok = one_of("quote_provider", c.quote_provider, {"tsm", "simulator"}); !ok) return ok;
  if (auto ok = one_of("workload_runtime", c.workload_runtime, {"podman", "process"}); !ok) return ok;
  if (auto listen = http::parse_host_port(c.listen); !listen) {
    return invalid("listen: " + listen.error().message());
  }
  if (c.vm_name.empty()) c.vm_name = hostname();
  if (auto ok = check_field(api::check_vm_name(c.vm_name)); !ok) return ok;
  if (!c.agent_url.empty() && !is_http_url(c.agent_url)) return invalid("agent_url: must be an absolute http(s) URL");
  if (c.appraisal == "ita") {
    if (c.ita_api_key.empty()) return invalid("ita_api_key (ITA_API_KEY): required with appraisal ita");
    if (!is_http_url(c.ita_url)) return invalid("ita_url: must be an absolute http(s) URL");
  }
  if (c.quote_provider == "simulator" && c.simulator_dir.empty()) {
    return invalid("simulator_dir: required with the simulator quote provider");
  }
  if (c.workload_runtime == "process" && c.process_command.empty()) {
    return invalid("process_command: required with the process workload runtime");
  }
  if (c.state_dir.empty()) return invalid("state_dir: must not be empty");
  if (c.register_retry_min < 1 || c.register_retry_max < c.register_retry_min) {
    return invalid("register_retry_min/register_retry_max: need 1 <= min <= max seconds");
  }
  if (c.refused_retry < 1) return invalid("refused_retry: must be at least 1 second");
  if (c.reattestation_interval < 60) return invalid("reattestation_interval: must be at least 60 seconds");
  if (c.log_buffer_bytes < 64 * 1024 || c.log_buffer_bytes > 1024LL * 1024 * 1024) {
    return invalid("log_buffer_bytes: must be from 64 KiB to 1 GiB");
  }
  if (c.mode == "cp-bootstrap") {
    if (c.cp_command.empty()) return invalid("cp_command: required in cp-bootstrap mode");
    return {};
  }
  while (!c.cp_url.empty() && c.cp_url.back() == '/') c.cp_url.pop_back();
  if (c.cp_url.empty()) return invalid("cp_url (EE_CP_URL, --cp-url): required in agent mode");
  if (!is_http_url(c.cp_url)) return invalid("cp_url: must be an absolute http(s) URL");
  if (auto ok = check_field(api::check_owner(c.owner)); !ok) return ok;
  if (auto ok = check_field(api::check_node_size(c.node_size)); !ok) return ok;
  if (auto ok = check_field(api::check_datacenter(c.datacenter)); !ok) return ok;
  return {};
}

result<LoadedConfig> load_agent_config(ConfigSources const& sources) {
  LoadedConfig out;
  out.base = "none";
  std::error_code ec;
  if (!sources.file_path.empty() && std::filesystem::exists(sources.file_path, ec)) {
    auto text = read_file(sources.file_path, kMaxConfigBytes);
    if (!text) return text.error();
    if (auto ok = apply_agent_config_json(*text, out.config, out.unknown_keys); !ok) {
      return ok.error().with_context("config file " + sources.file_path);
    }
    out.base = "file";
  } else if (!sources.cmdline_path.empty() && std::filesystem::exists(sources.cmdline_path, ec)) {
    auto cmdline = read_file(sources.cmdline_path, 64 * 1024);
    if (!cmdline) return cmdline.error();
    auto boot = api::decode_boot_config(*cmdline);
    if (!boot) return boot.error();
    if (*boot) {
      if (auto ok = apply_agent_config_json(**boot, out.config, out.unknown_keys); !ok) {
        return ok.error().with_context("kernel command line");
      }
      out.base = "cmdline";
    }
  }
  for (auto const& key : kKeys) {
    auto const it = sources.env.find(std::string(key.env));
    if (it == sources.env.end()) continue;
    if (auto ok = apply_agent_config_value(key.name, it->second, out.config); !ok) {
      return ok.error().with_context(std::string(key.env));
    }
  }
  for (auto const& [name, value] : sources.flags) {
    if (auto ok = apply_agent_config_value(name, value, out.config); !ok) return ok.error().with_context("flag");
  }
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
  if (o.mode == Mode::agent) {
    if (c.workload_runtime == "process") {
      o.workload = make_process_runtime({.command = c.process_command, .logs = o.logs});
    } else {
      PodmanOptions podman;
      podman.podman = c.podman;
      podman.logs = o.logs;
      o.workload = make_podman_runtime(std::move(podman));
    }
  }
  o.cloudflared = c.cloudflared;
  o.tunnel_token = c.tunnel_token;
  o.cp_command = c.cp_command;
  o.state_dir = c.state_dir;
  auto listen = http::parse_host_port(c.listen);
  if (!listen) return invalid("listen: " + listen.error().message());
  o.server.host = listen->host;
  o.server.port = listen->port;
  http::HttpsOptions https;
  https.extra_ca_file = c.cp_ca_file;
  https.user_agent = "ee-agent";
  auto client = http::make_https_client(https);
  if (!client) return client.error().with_context("outbound HTTPS client");
  o.http = std::move(*client);
  o.timings.retry_min = std::chrono::seconds(c.register_retry_min);
  o.timings.retry_max = std::chrono::seconds(c.register_retry_max);
  o.timings.refused_retry = std::chrono::seconds(c.refused_retry);
  o.timings.reattestation_interval = std::chrono::seconds(c.reattestation_interval);
  return o;
}

}  // namespace ee::agent
