// The agent's configuration schema (api/agent_config.hpp). One table of keys, each a settings::Spec
// bound to its AgentConfig member, drives the JSON reader, the environment, the flags and their
// help, so a key cannot be known to one source and not to another. The agent loads it
// (agent/config.hpp); the launcher writes it.
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
#include <filesystem>

#include <unistd.h>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;
using settings::Spec;
using settings::Type;

// A config is a few hundred bytes; the bound keeps a wrong document from being parsed whole.
constexpr std::size_t kMaxConfigBytes = 256 * 1024;
// The longest argv or cp_env a flag or variable may carry: what a whole config may hold.
constexpr std::int64_t kMaxValueChars = static_cast<std::int64_t>(kMaxConfigBytes);
// Intervals are turned into timer durations; a week bounds them far from any overflow.
constexpr std::int64_t kMaxIntervalSeconds = 7 * 24 * 3600;

// How a key's value sits in AgentConfig, and so how a file writes it: text and numbers as
// themselves, booleans as true/false, `list` (a registry list) and `argv` as arrays of strings,
// `map` as an object of strings.
enum class Kind { text, number, boolean, list, argv, map };

using C = AgentConfig;

// A registry entry and the member it sets.
struct Key {
  constexpr Key(Spec s, std::string C::*m) : spec(s), kind(Kind::text), text(m) {}
  constexpr Key(Spec s, std::int64_t C::*m) : spec(s), kind(Kind::number), number(m) {}
  constexpr Key(Spec s, bool C::*m) : spec(s), kind(Kind::boolean), boolean(m) {}
  constexpr Key(Spec s, std::vector<std::string> C::*m, Kind k) : spec(s), kind(k), list(m) {}
  constexpr Key(Spec s, std::map<std::string, std::string> C::*m) : spec(s), kind(Kind::map), map(m) {}

  Spec spec;
  Kind kind;
  std::string C::*text = nullptr;
  std::int64_t C::*number = nullptr;
  bool C::*boolean = nullptr;
  std::vector<std::string> C::*list = nullptr;
  std::map<std::string, std::string> C::*map = nullptr;
};

// Every key of the agent, in the order of its help and of docs/operations.md. Variables are EE_
// and the key in capitals (ITA_API_KEY is the deployment's existing secret name); where ee-cp has
// the same setting the variable is ee-cp's, with ee-cp's earlier names. The registry's
// `storable`, `reloadable` and `portable` mean nothing to the agent (no database; nothing hands
// its settings on), so they keep their defaults.
constexpr std::array kKeys{
    // registration
    Key{Spec{.name = "mode", .env = "EE_MODE", .flag = "mode", .default_value = "agent", .group = "registration",
             .help = "agent (register with a CP) or cp-bootstrap (run ee-cp and its tunnel)",
             .choices = "agent|cp-bootstrap"},
        &C::mode},
    Key{kCpUrlSetting, &C::cp_url},
    Key{Spec{.name = "owner", .env = "EE_OWNER", .flag = "owner", .group = "registration",
             .help = "github:org/NAME or github:user/NAME (agent mode)"},
        &C::owner},
    Key{Spec{.name = "node_size", .env = "EE_NODE_SIZE", .flag = "node-size", .default_value = "tiny",
             .group = "registration", .help = "Node size label (tiny, standard, llm, ...)"},
        &C::node_size},
    Key{Spec{.name = "datacenter", .env = "EE_DATACENTER", .flag = "datacenter", .group = "registration",
             .help = "CLOUD:ZONE (agent mode)"},
        &C::datacenter},
    Key{Spec{.name = "vm_name", .env = "EE_VM_NAME", .flag = "vm-name", .group = "registration",
             .help = "This VM's name, unique per CP (empty: the hostname)"},
        &C::vm_name},
    Key{Spec{.name = "agent_url", .env = "EE_AGENT_URL", .flag = "agent-url", .group = "registration",
             .help = "Where the CP reaches this API without a tunnel (development)"},
        &C::agent_url},
    Key{Spec{.name = "bootstrap_token", .env = "EE_BOOTSTRAP_TOKEN", .flag = "bootstrap-token",
             .group = "registration", .help = "The owner's bootstrap token, proving the owner at registration",
             .secret = true},
        &C::bootstrap_token},
    // attestation
    Key{Spec{.name = "appraisal", .env = "EE_APPRAISAL", .flag = "appraisal", .default_value = "quote",
             .group = "attestation",
             .help = "Evidence sent: the raw quote (DCAP at the CP) or an Intel Trust Authority token",
             .choices = "quote|ita"},
        &C::appraisal},
    Key{Spec{.name = "ita_url", .env = "EE_ITA_URL", .flag = "ita-url",
             .default_value = "https://api.trustauthority.intel.com", .group = "attestation",
             .help = "Intel Trust Authority API"},
        &C::ita_url},
    Key{Spec{.name = "ita_api_key", .env = "ITA_API_KEY", .flag = "ita-api-key", .group = "attestation",
             .help = "Intel Trust Authority API key (prefer the environment)", .secret = true},
        &C::ita_api_key},
    Key{Spec{.name = "quote_provider", .env = "EE_QUOTE_PROVIDER", .flag = "quote-provider", .default_value = "tsm",
             .group = "attestation", .help = "Where quotes come from: configfs-tsm, or the simulator (development)",
             .choices = "tsm|simulator"},
        &C::quote_provider},
    Key{Spec{.name = "simulator_dir", .env = "EE_SIMULATOR_DIR", .flag = "simulator-dir", .group = "attestation",
             .help = "The simulator's state (provider simulator)"},
        &C::simulator_dir},
    // cp_attestation
    Key{Spec{.name = "cp_mrtd", .env = "EE_CP_MRTD", .flag = "cp-mrtd", .group = "cp_attestation",
             .help = "The CP's MRTD (96 hex): attest the CP before trusting its key (empty: trust on first use)"},
        &C::cp_mrtd},
    Key{Spec{.name = "cp_rtmr0", .env = "EE_CP_RTMR0", .flag = "cp-rtmr0", .group = "cp_attestation",
             .help = "The CP's expected RTMR0 (96 hex; with cp_mrtd)"},
        &C::cp_rtmr0},
    Key{Spec{.name = "cp_rtmr1", .env = "EE_CP_RTMR1", .flag = "cp-rtmr1", .group = "cp_attestation",
             .help = "The CP's expected RTMR1 (96 hex; with cp_mrtd)"},
        &C::cp_rtmr1},
    Key{Spec{.name = "cp_rtmr2", .env = "EE_CP_RTMR2", .flag = "cp-rtmr2", .group = "cp_attestation",
             .help = "The CP's expected RTMR2 (96 hex; with cp_mrtd)"},
        &C::cp_rtmr2},
    Key{Spec{.name = "cp_rtmr3", .env = "EE_CP_RTMR3", .flag = "cp-rtmr3", .group = "cp_attestation",
             .help = "The CP's expected RTMR3 (96 hex; with cp_mrtd)"},
        &C::cp_rtmr3},
    Key{Spec{.name = "cp_appraisal", .env = "EE_CP_APPRAISAL", .flag = "cp-appraisal", .default_value = "dcap",
             .group = "cp_attestation", .help = "How the CP's quote is appraised: here with Intel collateral, or ITA",
             .choices = "dcap|ita"},
        &C::cp_appraisal},
    Key{Spec{.name = "cp_allowed_tcb_statuses", .env = "EE_CP_ALLOWED_TCB_STATUSES",
             .flag = "cp-allowed-tcb-statuses", .type = Type::list, .default_value = "UpToDate",
             .group = "cp_attestation", .help = "TCB statuses accepted of the CP's platform (comma-separated)"},
        &C::cp_allowed_tcb_statuses, Kind::list},
    Key{Spec{.name = "cp_quote_root_file", .env = "EE_CP_QUOTE_ROOT_FILE", .flag = "cp-quote-root-file",
             .group = "cp_attestation", .help = "dcap: root of the CP's PCK chain (empty: Intel SGX Root CA)"},
        &C::cp_quote_root_file},
    Key{Spec{.name = "cp_collateral_file", .env = "EE_CP_COLLATERAL_FILE", .flag = "cp-collateral-file",
             .group = "cp_attestation", .help = "dcap: fixed collateral bundle (empty: fetched from cp_pccs_url)"},
        &C::cp_collateral_file},
    Key{Spec{.name = "cp_pccs_url", .env = "EE_CP_PCCS_URL", .flag = "cp-pccs-url",
             .default_value = "https://api.trustedservices.intel.com", .group = "cp_attestation",
             .help = "dcap: Intel PCS or a PCCS for the CP's collateral"},
        &C::cp_pccs_url},
    Key{Spec{.name = "ita_jwks_url", .env = "EE_ITA_JWKS_URL", .flag = "ita-jwks-url",
             .default_value = "https://portal.trustauthority.intel.com/certs", .group = "cp_attestation",
             .help = "cp_appraisal ita: Intel Trust Authority's token signing keys"},
        &C::ita_jwks_url},
    // runtime
    Key{Spec{.name = "listen", .env = "EE_LISTEN", .flag = "listen", .default_value = "127.0.0.1:8081",
             .group = "runtime", .help = "HOST:PORT of the agent API (not the workload's port)"},
        &C::listen},
    Key{Spec{.name = "state_dir", .env = "EE_STATE_DIR", .flag = "state-dir", .default_value = "/data/ee-agent",
             .group = "runtime", .help = "Keeps the registration (0700)"},
        &C::state_dir},
    Key{Spec{.name = "key_file", .env = "EE_KEY_FILE", .flag = "key-file",
             .default_value = "/run/easyenclave/agent-key.pem", .group = "runtime",
             .help = "Keeps the agent's key across restarts, on a tmpfs (0600); empty: in memory only"},
        &C::key_file},
    Key{Spec{.name = "key_file_allow_disk", .env = "EE_KEY_FILE_ALLOW_DISK", .flag = "key-file-allow-disk",
             .type = Type::boolean, .default_value = "false", .group = "runtime",
             .help = "Development: allow key_file off tmpfs/ramfs"},
        &C::key_file_allow_disk},
    Key{Spec{.name = "cp_ca_file", .env = "EE_CP_CA_FILE", .flag = "cp-ca-file", .group = "runtime",
             .help = "Extra PEM CA for outbound TLS (CP, ITA)"},
        &C::cp_ca_file},
    Key{Spec{.name = "log_buffer_bytes", .env = "EE_LOG_BUFFER_BYTES", .flag = "log-buffer-bytes",
             .type = Type::integer, .default_value = "4194304", .group = "runtime",
             .help = "Cap of the log ring buffer served at /api/logs", .min = 64 * 1024, .max = 1024LL * 1024 * 1024},
        &C::log_buffer_bytes},
    Key{Spec{.name = "log_level", .env = "EE_LOG_LEVEL", .flag = "log-level", .default_value = "info",
             .group = "runtime", .help = "Log level", .choices = "trace|debug|info|warn|error"},
        &C::log_level},
    Key{Spec{.name = "log_format", .env = "EE_LOG_FORMAT", .flag = "log-format", .default_value = "text",
             .group = "runtime", .help = "Log format", .choices = "text|json"},
        &C::log_format},
    // workload
    Key{Spec{.name = "workload_runtime", .env = "EE_WORKLOAD_RUNTIME", .flag = "workload-runtime",
             .default_value = "podman", .group = "workload", .help = "How the workload runs",
             .choices = "podman|process"},
        &C::workload_runtime},
    Key{Spec{.name = "workload_port", .env = "EE_WORKLOAD_PORT", .flag = "workload-port", .type = Type::integer,
             .default_value = "8080", .group = "workload",
             .help = "The workload's port on 127.0.0.1 (the tunnel's ingress sends to 8080)", .min = 1,
             .max = 65535},
        &C::workload_port},
    Key{Spec{.name = "podman", .env = "EE_PODMAN", .flag = "podman", .default_value = "podman", .group = "workload",
             .help = "The podman binary"},
        &C::podman},
    Key{Spec{.name = "process_command", .env = "EE_PROCESS_COMMAND", .flag = "process-command", .group = "workload",
             .help = "argv of the process runtime (JSON array, or words)", .max = kMaxValueChars},
        &C::process_command, Kind::argv},
    Key{Spec{.name = "cloudflared", .env = "EE_CLOUDFLARED", .flag = "cloudflared", .default_value = "cloudflared",
             .group = "workload", .help = "The cloudflared binary"},
        &C::cloudflared},
    // cp_bootstrap
    Key{Spec{.name = "tunnel_token", .env = "EE_TUNNEL_TOKEN", .flag = "tunnel-token", .group = "cp_bootstrap",
             .help = "cp-bootstrap: the CP's pre-configured tunnel token", .secret = true},
        &C::tunnel_token},
    Key{Spec{.name = "cp_command", .env = "EE_CP_COMMAND", .flag = "cp-command", .default_value = "ee-cp",
             .group = "cp_bootstrap", .help = "cp-bootstrap: argv of ee-cp (JSON array, or words)",
             .max = kMaxValueChars},
        &C::cp_command, Kind::argv},
    Key{Spec{.name = "cp_env", .env = "EE_CP_ENV", .flag = "cp-env", .group = "cp_bootstrap",
             .help = "cp-bootstrap: environment for ee-cp (JSON object of strings)", .max = kMaxValueChars,
             .secret = true},
        &C::cp_env},
    // timings
    Key{Spec{.name = "register_retry_min", .env = "EE_REGISTER_RETRY_MIN", .flag = "register-retry-min",
             .type = Type::seconds, .default_value = "1", .group = "timings",
             .help = "Before the first registration retry", .min = 1, .max = kMaxIntervalSeconds},
        &C::register_retry_min},
    Key{Spec{.name = "register_retry_max", .env = "EE_REGISTER_RETRY_MAX", .flag = "register-retry-max",
             .type = Type::seconds, .default_value = "60", .group = "timings",
             .help = "Cap of the registration backoff (at least register_retry_min)", .min = 1,
             .max = kMaxIntervalSeconds},
        &C::register_retry_max},
    Key{Spec{.name = "refused_retry", .env = "EE_REFUSED_RETRY", .flag = "refused-retry", .type = Type::seconds,
             .default_value = "300", .group = "timings", .help = "Between attempts after a refusal", .min = 1,
             .max = kMaxIntervalSeconds},
        &C::refused_retry},
    // Fresh evidence costs a quote and perhaps an ITA call; more often than a minute is a mistake.
    Key{Spec{.name = "reattestation_interval", .env = "EE_REATTESTATION_INTERVAL",
             .flag = "reattestation-interval", .type = Type::seconds, .default_value = "3600", .group = "timings",
             .help = "Fresh evidence at least every", .min = 60, .max = kMaxIntervalSeconds,
             .env_aliases = "EE_REATTESTATION_INTERVAL_SECONDS"},
        &C::reattestation_interval},
};

constexpr auto kSpecs = [] {
  std::array<Spec, kKeys.size()> out{};
  for (std::size_t i = 0; i < kKeys.size(); ++i) out[i] = kKeys[i].spec;
  return out;
}();

Key const* find_key(std::string_view name) {
  for (auto const& k : kKeys) {
    if (k.spec.name == name) return &k;
  }
  return nullptr;
}

Error invalid(std::string text) { return Error(errc::invalid_agent_config, std::move(text)); }

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

// Items of `text` split at any of `separators`, empty ones dropped.
std::vector<std::string> split_any(std::string_view text, std::string_view separators) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && separators.find(text[i]) != std::string_view::npos) ++i;
    auto const start = i;
    while (i < text.size() && separators.find(text[i]) == std::string_view::npos) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

// A list or argv as text: a JSON array when it starts with '[', else items separated by
// `separators` (no quoting: an argv word with a space needs the JSON form).
result<std::vector<std::string>> parse_list(std::string_view key, std::string_view text,
                                            std::string_view separators) {
  if (text.starts_with('[')) {
    auto doc = json::parse(text, {.max_bytes = kMaxConfigBytes});
    if (!doc) return invalid(std::string(key) + ": expected a JSON array of strings");
    return strings_of(key, *doc);
  }
  return split_any(text, separators);
}

// Sets `key`'s member from its value in the registry's shown form (normalized).
result<void> set_from_text(Key const& key, std::string const& shown, AgentConfig& config) {
  switch (key.kind) {
    case Kind::text:
      config.*(key.text) = shown;
      return {};
    case Kind::number: {
      if (shown.empty()) return invalid(std::string(key.spec.name) + ": expected a value");
      std::int64_t n = 0;
      std::from_chars(shown.data(), shown.data() + shown.size(), n);  // normalized: a number
      config.*(key.number) = n;
      return {};
    }
    case Kind::boolean:
      if (shown.empty()) return invalid(std::string(key.spec.name) + ": expected true or false");
      config.*(key.boolean) = shown == "true";
      return {};
    case Kind::list: {
      // Comma-separated as the registry writes it; words and a JSON array are the earlier forms.
      auto items = parse_list(key.spec.name, shown, ", ");
      if (!items) return items.error();
      config.*(key.list) = std::move(*items);
      return {};
    }
    case Kind::argv: {
      auto items = parse_list(key.spec.name, shown, " ");
      if (!items) return items.error();
      config.*(key.list) = std::move(*items);
      return {};
    }
    case Kind::map: {
      if (shown.empty()) {
        config.*(key.map) = {};
        return {};
      }
      auto doc = json::parse(shown, {.max_bytes = kMaxConfigBytes});
      if (!doc) return invalid(std::string(key.spec.name) + ": expected a JSON object of strings");
      auto items = string_map_of(key.spec.name, *doc);
      if (!items) return items.error();
      config.*(key.map) = std::move(*items);
      return {};
    }
  }
  return {};
}

result<void> set_from_json(Key const& key, json::bj::value const& value, AgentConfig& config) {
  std::string const name(key.spec.name);
  switch (key.kind) {
    case Kind::text:
      if (!value.is_string()) return invalid(name + ": expected a string");
      config.*(key.text) = std::string(value.as_string());
      return {};
    case Kind::list:
    case Kind::argv: {
      auto items = strings_of(key.spec.name, value);
      if (!items) return items.error();
      config.*(key.list) = std::move(*items);
      return {};
    }
    case Kind::map: {
      auto items = string_map_of(key.spec.name, value);
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

// A registry error as the agent's: the registry's message (the key, what it takes, never a
// secret's value) under api::errc::invalid_agent_config.
Error as_agent_error(Error const& e) { return invalid(e.message()); }

// Every scalar key's value in `c` checked against its registry entry, the way a flag's would be;
// text is stored trimmed. Lists, argv and cp_env are checked by their own rules.
result<void> check_against_registry(AgentConfig& c) {
  for (auto const& key : kKeys) {
    std::string value;
    switch (key.kind) {
      case Kind::text: value = c.*(key.text); break;
      case Kind::number: value = std::to_string(c.*(key.number)); break;
      case Kind::boolean:
      case Kind::list:
      case Kind::argv:
      case Kind::map: continue;
    }
    auto shown = settings::Registry::normalize(key.spec, value);
    if (!shown) return as_agent_error(shown.error());
    if (key.kind == Kind::text) c.*(key.text) = std::move(*shown);
  }
  return {};
}

bool is_http_url(std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  return url && (url->scheme() == "http" || url->scheme() == "https") &&
         !url->encoded_host().empty() && !url->has_userinfo() && !url->has_query() &&
         !url->has_fragment();
}

// The wire format checks (api/agents.hpp) name the field already; only the code changes.
result<void> check_field(result<void> checked) {
  if (!checked) return invalid(checked.error().message());
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

settings::Registry const& agent_setting_registry() {
  // The table is checked by its tests; a mistake in it is a programming error found at once.
  static settings::Registry const registry = settings::Registry::create(kSpecs).value();
  return registry;
}

std::string_view agent_setting_group_title(std::string_view group) noexcept {
  if (group == "registration") return "Registration";
  if (group == "attestation") return "Attestation";
  if (group == "cp_attestation") return "Attesting the control plane";
  if (group == "runtime") return "Runtime";
  if (group == "workload") return "Workload";
  if (group == "cp_bootstrap") return "cp-bootstrap";
  if (group == "timings") return "Timings";
  return group;
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
  auto shown = settings::Registry::normalize(key->spec, value);
  if (!shown) return as_agent_error(shown.error());
  AgentConfig changed = config;
  if (auto ok = set_from_text(*key, *shown, changed); !ok) return ok;
  config = std::move(changed);
  return {};
}

result<void> apply_agent_settings(settings::Settings const& settings, AgentConfig& config) {
  for (auto const& key : kKeys) {
    auto const& value = settings.value(key.spec.name);
    if (value.source == settings::Source::default_value) continue;
    if (auto ok = set_from_text(key, value.text, config); !ok) {
      return ok.error().with_context(value.origin);
    }
  }
  return {};
}

std::string agent_config_json(AgentConfig const& config) {
  AgentConfig const defaults;
  json::bj::object out;
  for (auto const& key : kKeys) {
    std::string const name(key.spec.name);
    switch (key.kind) {
      case Kind::text:
        if (config.*(key.text) != defaults.*(key.text)) out[name] = config.*(key.text);
        break;
      case Kind::list:
      case Kind::argv:
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
  // Choices, bounds and text rules come from the registry, so a value refused from a flag is
  // refused from a file too, with the same words.
  if (auto ok = check_against_registry(c); !ok) return ok;
  auto listen = http::parse_host_port(c.listen);
  if (!listen) return invalid("listen: " + listen.error().message());
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
  if (c.register_retry_max < c.register_retry_min) {
    return invalid("register_retry_max: must not be less than register_retry_min");
  }
  return validate_mode(c);
}

}  // namespace ee::api
