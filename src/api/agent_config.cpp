// The agent's configuration schema (api/agent_config.hpp). One table of keys drives the JSON
// reader, the environment and the flags, so a key cannot be known to one source and not to
// another. The agent loads it (agent/config.hpp); the launcher writes it.
#include <easyenclave/api/agent_config.hpp>

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/address.hpp>
#include <easyenclave/tdx/policy.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "detail/json.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include <unistd.h>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;

// A config is a few hundred bytes; the bound keeps a wrong document from being parsed whole.
constexpr std::size_t kMaxConfigBytes = 256 * 1024;
// Intervals are turned into timer durations; a week bounds them far from any overflow.
constexpr std::int64_t kMaxIntervalSeconds = 7 * 24 * 3600;

enum class Kind { text, list, number, map, boolean };

struct Key {
  std::string_view name;
  std::string_view env;
  std::string_view help;
  Kind kind;
  std::string AgentConfig::* text = nullptr;
  std::vector<std::string> AgentConfig::* list = nullptr;
  std::int64_t AgentConfig::* number = nullptr;
  std::map<std::string, std::string> AgentConfig::* map = nullptr;
  bool AgentConfig::* boolean = nullptr;
};

constexpr Key text(std::string_view name, std::string_view env, std::string_view help,
                   std::string AgentConfig::* member) {
  return {name, env, help, Kind::text, member, nullptr, nullptr, nullptr};
}
constexpr Key list(std::string_view name, std::string_view env, std::string_view help,
                   std::vector<std::string> AgentConfig::* member) {
  return {name, env, help, Kind::list, nullptr, member, nullptr, nullptr};
}
constexpr Key number(std::string_view name, std::string_view env, std::string_view help,
                     std::int64_t AgentConfig::* member) {
  return {name, env, help, Kind::number, nullptr, nullptr, member, nullptr};
}
constexpr Key map(std::string_view name, std::string_view env, std::string_view help,
                  std::map<std::string, std::string> AgentConfig::* member) {
  return {name, env, help, Kind::map, nullptr, nullptr, nullptr, member};
}
constexpr Key boolean(std::string_view name, std::string_view env, std::string_view help,
                      bool AgentConfig::* member) {
  return {name, env, help, Kind::boolean, nullptr, nullptr, nullptr, nullptr, member};
}

using C = AgentConfig;
constexpr std::array kKeys = {
    text("mode", "EE_MODE", "agent | cp-bootstrap", &C::mode),
    text("cp_url", "EE_CP_URL", "the control plane, https://... (agent mode)", &C::cp_url),
    text("owner", "EE_OWNER", "github:org/NAME or github:user/NAME", &C::owner),
    text("node_size", "EE_NODE_SIZE", "node size label (tiny, standard, llm, ...)", &C::node_size),
    text("datacenter", "EE_DATACENTER", "CLOUD:ZONE", &C::datacenter),
    text("vm_name", "EE_VM_NAME", "default: the hostname", &C::vm_name),
    text("agent_url", "EE_AGENT_URL", "where the CP reaches this API without a tunnel (dev)",
         &C::agent_url),
    text("appraisal", "EE_APPRAISAL",
         "quote (raw quote, DCAP at the CP) | ita (Intel Trust Authority token)", &C::appraisal),
    text("ita_url", "EE_ITA_URL", "Intel Trust Authority API", &C::ita_url),
    text("ita_api_key", "ITA_API_KEY",
         "Intel Trust Authority API key (secret; prefer the environment)", &C::ita_api_key),
    text("quote_provider", "EE_QUOTE_PROVIDER", "tsm (configfs-tsm) | simulator (dev)",
         &C::quote_provider),
    text("simulator_dir", "EE_SIMULATOR_DIR", "the simulator's state (provider simulator)",
         &C::simulator_dir),
    text("state_dir", "EE_STATE_DIR", "keeps the registration (0700)", &C::state_dir),
    text("key_file", "EE_KEY_FILE",
         "keeps the agent's key across restarts, on a tmpfs (0600); empty: in memory only",
         &C::key_file),
    boolean("key_file_allow_disk", "EE_KEY_FILE_ALLOW_DISK",
            "dev: allow key_file off tmpfs/ramfs (true|false)", &C::key_file_allow_disk),
    text("cp_mrtd", "EE_CP_MRTD",
         "the CP's MRTD (96 hex): attest the CP before trusting its key; empty: trust on first use",
         &C::cp_mrtd),
    text("cp_rtmr0", "EE_CP_RTMR0", "the CP's expected RTMR0 (96 hex; with cp_mrtd)", &C::cp_rtmr0),
    text("cp_rtmr1", "EE_CP_RTMR1", "the CP's expected RTMR1 (96 hex; with cp_mrtd)", &C::cp_rtmr1),
    text("cp_rtmr2", "EE_CP_RTMR2", "the CP's expected RTMR2 (96 hex; with cp_mrtd)", &C::cp_rtmr2),
    text("cp_rtmr3", "EE_CP_RTMR3", "the CP's expected RTMR3 (96 hex; with cp_mrtd)", &C::cp_rtmr3),
    text("cp_appraisal", "EE_CP_APPRAISAL",
         "how the CP's quote is appraised: dcap (here, Intel collateral) | ita", &C::cp_appraisal),
    list("cp_allowed_tcb_statuses", "EE_CP_ALLOWED_TCB_STATUSES",
         "TCB statuses accepted of the CP's platform (list; default UpToDate)",
         &C::cp_allowed_tcb_statuses),
    text("cp_quote_root_file", "EE_CP_QUOTE_ROOT_FILE",
         "dcap: PEM/DER root of the CP's PCK chain (default: Intel SGX Root CA)",
         &C::cp_quote_root_file),
    text("cp_collateral_file", "EE_CP_COLLATERAL_FILE",
         "dcap: fixed collateral bundle (JSON); empty: fetched from cp_pccs_url",
         &C::cp_collateral_file),
    text("cp_pccs_url", "EE_CP_PCCS_URL", "dcap: Intel PCS or a PCCS for the CP's collateral",
         &C::cp_pccs_url),
    text("ita_jwks_url", "EE_ITA_JWKS_URL",
         "cp_appraisal ita: Intel Trust Authority's token signing keys", &C::ita_jwks_url),
    text("listen", "EE_LISTEN", "HOST:PORT of the agent API (not the workload's port)", &C::listen),
    number("workload_port", "EE_WORKLOAD_PORT",
           "the workload's port on 127.0.0.1 (8080; the tunnel's ingress sends there)",
           &C::workload_port),
    text("cloudflared", "EE_CLOUDFLARED", "the cloudflared binary", &C::cloudflared),
    text("tunnel_token", "EE_TUNNEL_TOKEN",
         "cp-bootstrap: the pre-configured tunnel token (secret)", &C::tunnel_token),
    text("bootstrap_token", "EE_BOOTSTRAP_TOKEN",
         "the owner's bootstrap token, proving the owner at registration (secret)", &C::bootstrap_token),
    text("workload_runtime", "EE_WORKLOAD_RUNTIME", "podman | process", &C::workload_runtime),
    text("podman", "EE_PODMAN", "the podman binary", &C::podman),
    list("process_command", "EE_PROCESS_COMMAND",
         "argv of the process runtime (JSON array, or words)", &C::process_command),
    list("cp_command", "EE_CP_COMMAND", "cp-bootstrap: argv of ee-cp (JSON array, or words)",
         &C::cp_command),
    map("cp_env", "EE_CP_ENV", "cp-bootstrap: environment for ee-cp (JSON object of strings)",
        &C::cp_env),
    text("cp_ca_file", "EE_CP_CA_FILE", "extra PEM CA for outbound TLS (CP, ITA)", &C::cp_ca_file),
    number("register_retry_min", "EE_REGISTER_RETRY_MIN", "seconds before the first retry",
           &C::register_retry_min),
    number("register_retry_max", "EE_REGISTER_RETRY_MAX", "seconds, the backoff's cap",
           &C::register_retry_max),
    number("refused_retry", "EE_REFUSED_RETRY", "seconds between attempts after a refusal",
           &C::refused_retry),
    number("reattestation_interval", "EE_REATTESTATION_INTERVAL", "seconds between fresh evidence",
           &C::reattestation_interval),
    number("log_buffer_bytes", "EE_LOG_BUFFER_BYTES", "cap of the log ring buffer",
           &C::log_buffer_bytes),
};

Key const* find_key(std::string_view name) {
  for (auto const& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Error invalid(std::string text) { return Error(errc::invalid_agent_config, std::move(text)); }

// Messages name the key and what was expected, never the value: it may be a secret.
result<std::int64_t> parse_number(std::string_view key, std::string_view text) {
  std::int64_t value = 0;
  auto const* const end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) {
    return invalid(std::string(key) + ": expected a whole number");
  }
  return value;
}

result<std::vector<std::string>> strings_of(std::string_view key, json::bj::value const& value) {
  auto const wrong = [&] { return invalid(std::string(key) + ": expected an array of strings"); };
  if (!value.is_array()) return wrong();
  std::vector<std::string> out;
  for (auto const& item : value.as_array()) {
    if (!item.is_string()) return wrong();
    out.emplace_back(item.as_string());
  }
  return out;
}

// An object of strings whose names are environment variable names ([A-Za-z_][A-Za-z0-9_]*).
result<std::map<std::string, std::string>> string_map_of(std::string_view key,
                                                         json::bj::value const& value) {
  auto const wrong = [&] {
    return invalid(std::string(key) + ": expected an object of strings named like variables");
  };
  if (!value.is_object()) return wrong();
  std::map<std::string, std::string> out;
  for (auto const& [name, item] : value.as_object()) {
    bool const ok_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                         });
    if (!ok_name || !item.is_string()) return wrong();
    out.emplace(std::string(name), std::string(item.as_string()));
  }
  return out;
}

// A list as text: a JSON array when it starts with '[', else words separated by spaces (no
// quoting: a word with a space needs the JSON form).
result<std::vector<std::string>> parse_list(std::string_view key, std::string_view text) {
  if (text.starts_with('[')) {
    auto doc = json::parse(text, {.max_bytes = kMaxConfigBytes});
    if (!doc) return invalid(std::string(key) + ": expected a JSON array of strings");
    return strings_of(key, *doc);
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

result<void> set_from_json(Key const& key, json::bj::value const& value, AgentConfig& config) {
  std::string const name(key.name);
  switch (key.kind) {
    case Kind::text:
      if (!value.is_string()) return invalid(name + ": expected a string");
      config.*(key.text) = std::string(value.as_string());
      return {};
    case Kind::list: {
      auto items = strings_of(key.name, value);
      if (!items) return items.error();
      config.*(key.list) = std::move(*items);
      return {};
    }
    case Kind::map: {
      auto items = string_map_of(key.name, value);
      if (!items) return items.error();
      config.*(key.map) = std::move(*items);
      return {};
    }
    case Kind::boolean:
      if (!value.is_bool()) return invalid(name + ": expected true or false");
      config.*(key.boolean) = value.as_bool();
      return {};
    case Kind::number:
      // Boost.JSON keeps integers that fit in int64 as int64, larger ones as uint64.
      if (value.is_uint64()) return invalid(name + ": out of range");
      if (!value.is_int64()) return invalid(name + ": expected a whole number");
      config.*(key.number) = value.as_int64();
      return {};
  }
  return {};
}

bool is_http_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "http" || url->scheme() == "https") &&
         !url->encoded_host().empty() && !url->has_userinfo() && !url->has_query() &&
         !url->has_fragment();
}

result<void> one_of(std::string_view key, std::string const& value,
                    std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (value == a) return {};
  }
  std::string names;
  for (auto a : allowed) names += (names.empty() ? "" : " | ") + std::string(a);
  return invalid(std::string(key) + ": must be " + names);
}

// The wire format checks (api/agents.hpp) name the field already; only the code changes.
result<void> check_field(result<void> checked) {
  if (!checked) return invalid(checked.error().message());
  return {};
}

result<void> check_interval(std::string_view key, std::int64_t value, std::int64_t min) {
  if (value < min || value > kMaxIntervalSeconds) {
    return invalid(std::string(key) + ": must be from " + std::to_string(min) + " to " +
                   std::to_string(kMaxIntervalSeconds) + " seconds");
  }
  return {};
}

// A measurement register as configured: 96 hex characters (48 bytes).
result<tdx::Measurement> measurement(std::string_view key, std::string const& text) {
  auto bytes = hex_decode(text);
  tdx::Measurement m{};
  if (!bytes || bytes->size() != m.size()) {
    return invalid(std::string(key) + ": must be 96 hex characters (48 bytes)");
  }
  std::copy(bytes->begin(), bytes->end(), m.begin());
  return m;
}

// The settings of the CP's attestation (cp_mrtd and the rest), checked in agent mode only.
result<void> validate_cp_attestation(AgentConfig const& c) {
  if (auto ok = one_of("cp_appraisal", c.cp_appraisal, {"dcap", "ita"}); !ok) return ok;
  std::pair<std::string_view, std::string const*> const rtmrs[] = {{"cp_rtmr0", &c.cp_rtmr0},
                                                                   {"cp_rtmr1", &c.cp_rtmr1},
                                                                   {"cp_rtmr2", &c.cp_rtmr2},
                                                                   {"cp_rtmr3", &c.cp_rtmr3}};
  if (c.cp_mrtd.empty()) {
    for (auto const& [key, value] : rtmrs) {
      if (!value->empty()) return invalid(std::string(key) + ": needs cp_mrtd (EE_CP_MRTD)");
    }
    return {};
  }
  if (auto m = measurement("cp_mrtd", c.cp_mrtd); !m) return m.error();
  for (auto const& [key, value] : rtmrs) {
    if (value->empty()) continue;
    if (auto m = measurement(key, *value); !m) return m.error();
  }
  if (c.cp_allowed_tcb_statuses.empty()) {
    return invalid("cp_allowed_tcb_statuses: name at least one TCB status");
  }
  for (auto const& name : c.cp_allowed_tcb_statuses) {
    if (!tdx::parse_tcb_status(name)) {
      return invalid("cp_allowed_tcb_statuses: unknown TCB status '" + name + "'");
    }
  }
  if (c.cp_appraisal == "ita") {
    if (c.ita_api_key.empty()) {
      return invalid("ita_api_key (ITA_API_KEY): required with cp_appraisal ita");
    }
    if (!is_http_url(c.ita_url)) return invalid("ita_url: must be an absolute http(s) URL");
    if (!is_http_url(c.ita_jwks_url)) {
      return invalid("ita_jwks_url: must be an absolute http(s) URL");
    }
  } else if (c.cp_collateral_file.empty() && !is_http_url(c.cp_pccs_url)) {
    return invalid("cp_pccs_url: must be an absolute http(s) URL");
  }
  return {};
}

std::string hostname() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return {};
  return name.data();
}

// The checks that depend on the mode: what registration needs, and what cp-bootstrap needs.
result<void> validate_mode(AgentConfig& c) {
  if (c.mode == "cp-bootstrap") {
    if (c.cp_command.empty() || c.cp_command.front().empty()) {
      return invalid("cp_command (EE_CP_COMMAND): required in cp-bootstrap mode");
    }
    // Not sent anywhere in this mode, but a malformed value is still a mistake worth naming.
    if (!c.owner.empty()) {
      if (auto ok = check_field(api::check_owner(c.owner)); !ok) return ok;
    }
    if (!c.datacenter.empty()) {
      if (auto ok = check_field(api::check_datacenter(c.datacenter)); !ok) return ok;
    }
    return check_field(api::check_node_size(c.node_size));
  }
  while (c.cp_url.ends_with('/')) c.cp_url.pop_back();
  if (c.cp_url.empty()) return invalid("cp_url (EE_CP_URL, --cp-url): required in agent mode");
  if (!is_http_url(c.cp_url)) return invalid("cp_url: must be an absolute http(s) URL");
  if (c.owner.empty()) return invalid("owner (EE_OWNER, --owner): required in agent mode");
  if (auto ok = check_field(api::check_owner(c.owner)); !ok) return ok;
  if (auto ok = check_field(api::check_node_size(c.node_size)); !ok) return ok;
  if (c.datacenter.empty()) {
    return invalid("datacenter (EE_DATACENTER, --datacenter): required in agent mode");
  }
  if (auto ok = check_field(api::check_datacenter(c.datacenter)); !ok) return ok;
  if (auto ok = validate_cp_attestation(c); !ok) return ok;
  if (c.workload_runtime == "process" && c.process_command.empty()) {
    return invalid("process_command: required with the process workload runtime");
  }
  if (c.workload_runtime == "podman" && c.podman.empty()) {
    return invalid("podman: required with the podman workload runtime");
  }
  return {};
}

}  // namespace

std::vector<ConfigKey> agent_config_keys() {
  std::vector<ConfigKey> out;
  out.reserve(kKeys.size());
  for (auto const& k : kKeys) out.push_back({.name = k.name, .env = k.env, .help = k.help});
  return out;
}

result<AgentConfig> parse_agent_config(std::string_view text,
                                       std::vector<std::string>& unknown_keys) {
  auto doc = json::parse(text, {.max_bytes = kMaxConfigBytes});
  if (!doc) return invalid("not JSON: " + doc.error().message());
  if (!doc->is_object()) return invalid("the configuration must be a JSON object");
  AgentConfig config;
  for (auto const& [name, value] : doc->as_object()) {
    auto const* key = find_key(name);
    if (key == nullptr) {
      unknown_keys.emplace_back(name);
      continue;
    }
    if (auto ok = set_from_json(*key, value, config); !ok) return ok.error();
  }
  return config;
}

result<void> apply_agent_config_value(std::string_view name, std::string_view value,
                                      AgentConfig& config) {
  auto const* key = find_key(name);
  if (key == nullptr) return invalid("unknown setting '" + std::string(name) + "'");
  switch (key->kind) {
    case Kind::text:
      config.*(key->text) = std::string(value);
      return {};
    case Kind::list: {
      auto items = parse_list(key->name, value);
      if (!items) return items.error();
      config.*(key->list) = std::move(*items);
      return {};
    }
    case Kind::number: {
      auto n = parse_number(key->name, value);
      if (!n) return n.error();
      config.*(key->number) = *n;
      return {};
    }
    case Kind::boolean:
      if (value != "true" && value != "false") {
        return invalid(std::string(key->name) + ": expected true or false");
      }
      config.*(key->boolean) = value == "true";
      return {};
    case Kind::map: {
      auto doc = json::parse(value, {.max_bytes = kMaxConfigBytes});
      if (!doc) return invalid(std::string(key->name) + ": expected a JSON object of strings");
      auto items = string_map_of(key->name, *doc);
      if (!items) return items.error();
      config.*(key->map) = std::move(*items);
      return {};
    }
  }
  return {};
}

std::string agent_config_json(AgentConfig const& config) {
  AgentConfig const defaults;
  json::bj::object out;
  for (auto const& key : kKeys) {
    std::string const name(key.name);
    switch (key.kind) {
      case Kind::text:
        if (config.*(key.text) != defaults.*(key.text)) out[name] = config.*(key.text);
        break;
      case Kind::list:
        if (config.*(key.list) != defaults.*(key.list)) {
          json::bj::array items;
          for (auto const& item : config.*(key.list)) items.emplace_back(item);
          out[name] = std::move(items);
        }
        break;
      case Kind::number:
        if (config.*(key.number) != defaults.*(key.number)) out[name] = config.*(key.number);
        break;
      case Kind::boolean:
        if (config.*(key.boolean) != defaults.*(key.boolean)) out[name] = config.*(key.boolean);
        break;
      case Kind::map:
        if (config.*(key.map) != defaults.*(key.map)) {
          json::bj::object items;
          for (auto const& [k, v] : config.*(key.map)) items[k] = v;
          out[name] = std::move(items);
        }
        break;
    }
  }
  return json::serialize(out);
}

result<void> validate_agent_config(AgentConfig& c) {
  if (auto ok = one_of("mode", c.mode, {"agent", "cp-bootstrap"}); !ok) return ok;
  if (auto ok = one_of("appraisal", c.appraisal, {"quote", "ita"}); !ok) return ok;
  if (auto ok = one_of("quote_provider", c.quote_provider, {"tsm", "simulator"}); !ok) return ok;
  if (auto ok = one_of("workload_runtime", c.workload_runtime, {"podman", "process"}); !ok) {
    return ok;
  }
  auto listen = http::parse_host_port(c.listen);
  if (!listen) return invalid("listen: " + listen.error().message());
  if (c.workload_port < 1 || c.workload_port > 65535) {
    return invalid("workload_port: must be from 1 to 65535");
  }
  if (listen->port == c.workload_port) {
    return invalid("listen: port " + std::to_string(c.workload_port) +
                   " is the workload's (workload_port); the agent API needs another");
  }
  if (!c.vm_name.empty()) {
    if (auto ok = check_field(api::check_vm_name(c.vm_name)); !ok) return ok;
  } else {
    c.vm_name = hostname();
    if (auto ok = check_field(api::check_vm_name(c.vm_name)); !ok) {
      return invalid("vm_name (EE_VM_NAME, --vm-name) is not set and the hostname will not do: " +
                     ok.error().message());
    }
  }
  if (!c.agent_url.empty() && !is_http_url(c.agent_url)) {
    return invalid("agent_url: must be an absolute http(s) URL");
  }
  if (c.appraisal == "ita") {
    if (c.ita_api_key.empty()) {
      return invalid("ita_api_key (ITA_API_KEY): required with appraisal ita");
    }
    if (!is_http_url(c.ita_url)) return invalid("ita_url: must be an absolute http(s) URL");
  }
  if (c.quote_provider == "simulator" && c.simulator_dir.empty()) {
    return invalid("simulator_dir: required with the simulator quote provider");
  }
  if (c.state_dir.empty()) return invalid("state_dir: must not be empty");
  if (!c.key_file.empty() && !std::filesystem::path(c.key_file).is_absolute()) {
    return invalid("key_file: must be an absolute path (or empty: the key in memory only)");
  }
  if (c.cloudflared.empty()) return invalid("cloudflared: must not be empty");
  if (auto ok = check_interval("register_retry_min", c.register_retry_min, 1); !ok) return ok;
  if (auto ok = check_interval("register_retry_max", c.register_retry_max, 1); !ok) return ok;
  if (c.register_retry_max < c.register_retry_min) {
    return invalid("register_retry_max: must not be less than register_retry_min");
  }
  if (auto ok = check_interval("refused_retry", c.refused_retry, 1); !ok) return ok;
  // Fresh evidence costs a quote and perhaps an ITA call; more often than a minute is a mistake.
  if (auto ok = check_interval("reattestation_interval", c.reattestation_interval, 60); !ok) {
    return ok;
  }
  if (c.log_buffer_bytes < 64 * 1024 || c.log_buffer_bytes > 1024LL * 1024 * 1024) {
    return invalid("log_buffer_bytes: must be from 64 KiB to 1 GiB");
  }
  return validate_mode(c);
}

}  // namespace ee::api
