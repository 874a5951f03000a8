// The deploy route's messages (api/deploy.hpp). Like every reader in api/: one strict parse,
// each field read with its type and checked, the field named on error, its value never echoed.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/deploy.hpp>

#include "detail/json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <set>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;
namespace bj = boost::json;
using json::ObjectReader;

constexpr json::ParseLimits kLimits{.max_bytes = 64 * 1024, .max_depth = 8};
constexpr std::size_t kMaxToken = 128;

Error invalid(std::string_view field, std::string_view rule) {
  return Error(errc::invalid_field, std::string(field) + ": " + std::string(rule));
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// 1-128 characters of [A-Za-z0-9] and `extra`, starting with a letter or digit: ids, app names
// and versions as the catalog and the stores have them.
bool is_token(std::string_view s, std::string_view extra) {
  return !s.empty() && s.size() <= kMaxToken && is_alnum(s.front()) &&
         std::all_of(s.begin(), s.end(), [extra](char c) { return is_alnum(c) || extra.find(c) != extra.npos; });
}

result<std::string> token(ObjectReader const& r, std::string_view key, std::string_view extra, bool required) {
  auto value = r.optional_string(key);
  if (!value) return value.error();
  if (!*value) {
    if (required) return r.field_error(key, ee::errc::missing_field, "required field is missing");
    return std::string();
  }
  // An optional field written empty (a dry run's deployment id) is absent.
  if (!required && (*value)->empty()) return std::string();
  if (!is_token(**value, extra)) {
    return r.field_error(key, ee::errc::invalid_value,
                         "must be 1-128 characters of [A-Za-z0-9" + std::string(extra) +
                             "] starting with a letter or digit");
  }
  return std::move(**value);
}

constexpr std::string_view kIdExtra = "._-";
constexpr std::string_view kVersionExtra = "._+-";

void put_if(bj::object& o, std::string_view key, std::string const& value) {
  if (!value.empty()) o[key] = value;
}

}  // namespace

std::string to_json(DeployRequest const& r) {
  bj::object o;
  o["app_name"] = r.app_name;
  o["version"] = r.version;
  put_if(o, "agent_id", r.agent_id);
  if (!r.agent_ids.empty()) {
    bj::array ids;
    for (auto const& id : r.agent_ids) ids.emplace_back(id);
    o["agent_ids"] = std::move(ids);
  }
  put_if(o, "node_size", r.node_size);
  put_if(o, "datacenter", r.datacenter);
  if (r.dry_run) o["dry_run"] = true;
  return json::serialize(o);
}

result<DeployRequest> parse_deploy_request(std::string_view text) {
  auto doc = json::parse(text, kLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  DeployRequest out;
  auto app = token(r, "app_name", kIdExtra, true);
  if (!app) return app.error();
  out.app_name = std::move(*app);
  auto version = token(r, "version", kVersionExtra, true);
  if (!version) return version.error();
  out.version = std::move(*version);
  auto agent = token(r, "agent_id", kIdExtra, false);
  if (!agent) return agent.error();
  out.agent_id = std::move(*agent);

  if (auto const* present = doc->as_object().if_contains("agent_ids"); present != nullptr && !present->is_null()) {
    auto list = r.string_array("agent_ids");
    if (!list) return list.error();
    if (list->empty() || list->size() > kMaxDeployAgents) {
      return r.field_error("agent_ids", ee::errc::invalid_value,
                           "must list 1-" + std::to_string(kMaxDeployAgents) + " agent ids");
    }
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto const field = r.path() + ".agent_ids[" + std::to_string(i) + "]";
      auto const& id = (*list)[i];
      if (!is_token(id, kIdExtra)) {
        return invalid(field, "must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit");
      }
      if (!seen.insert(id).second) return invalid(field, "repeats an earlier agent id");
    }
    out.agent_ids = std::move(*list);
    if (!out.agent_id.empty()) {
      return r.field_error("agent_ids", ee::errc::invalid_value, "give agent_id or agent_ids, not both");
    }
  }
  for (auto [key, field, check] : {std::tuple{"node_size", &out.node_size, &check_node_size},
                                   std::tuple{"datacenter", &out.datacenter, &check_datacenter}}) {
    auto value = r.optional_string(key);
    if (!value) return value.error();
    if (*value) {
      if (auto ok = check(**value, r.path() + "." + key); !ok) return ok.error();
      *field = std::move(**value);
    }
  }
  auto dry_run = r.optional_boolean("dry_run");
  if (!dry_run) return dry_run.error();
  out.dry_run = dry_run->value_or(false);
  return out;
}

std::string to_json(DeployResponse const& r) {
  bj::object o;
  o["deployment_id"] = r.deployment_id;
  o["agent_id"] = r.agent_id;
  o["status"] = r.status;
  put_if(o, "rollout_id", r.rollout_id);
  bj::array steps;
  for (auto const& step : r.steps) {
    bj::object s;
    s["deployment_id"] = step.deployment_id;
    s["agent_id"] = step.agent_id;
    s["status"] = step.status;
    put_if(s, "replaces", step.replaces);
    steps.push_back(std::move(s));
  }
  o["steps"] = std::move(steps);
  return json::serialize(o);
}

result<DeployResponse> parse_deploy_response(std::string_view text) {
  auto doc = json::parse(text, kLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  auto const& r = *reader;
  DeployResponse out;
  auto agent = token(r, "agent_id", kIdExtra, true);
  if (!agent) return agent.error();
  out.agent_id = std::move(*agent);
  // A dry run answers with no deployment id.
  for (auto [key, field] : {std::pair{"deployment_id", &out.deployment_id}, std::pair{"rollout_id", &out.rollout_id}}) {
    auto value = token(r, key, kIdExtra, false);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  auto status = token(r, "status", "_", true);
  if (!status) return status.error();
  out.status = std::move(*status);
  auto steps = r.array("steps");
  if (!steps) return steps.error();
  if ((*steps)->size() > kMaxDeployAgents) {
    return r.field_error("steps", ee::errc::invalid_value, "lists more than " + std::to_string(kMaxDeployAgents) + " steps");
  }
  std::size_t index = 0;
  for (auto const& item : **steps) {
    auto step_reader = ObjectReader::from(item, r.path() + ".steps[" + std::to_string(index++) + "]");
    if (!step_reader) return step_reader.error();
    DeployStep step;
    auto deployment = token(*step_reader, "deployment_id", kIdExtra, false);
    if (!deployment) return deployment.error();
    step.deployment_id = std::move(*deployment);
    auto step_agent = token(*step_reader, "agent_id", kIdExtra, true);
    if (!step_agent) return step_agent.error();
    step.agent_id = std::move(*step_agent);
    auto step_status = token(*step_reader, "status", "_", true);
    if (!step_status) return step_status.error();
    step.status = std::move(*step_status);
    auto replaces = token(*step_reader, "replaces", kIdExtra, false);
    if (!replaces) return replaces.error();
    step.replaces = std::move(*replaces);
    out.steps.push_back(std::move(step));
  }
  return out;
}

}  // namespace ee::api
