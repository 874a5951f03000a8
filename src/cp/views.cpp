// The CP's public views of the registry's records, as the api/ types clients read
// (api/catalog.hpp): this file only chooses what each record shows; the JSON is theirs. What is
// not here is not public: tunnel ids, DNS record ids and (never stored anyway) tunnel tokens stay
// inside the CP.
#include "cp/agent_listing.hpp"
#include "cp/agents.hpp"
#include "cp/services.hpp"

#include <easyenclave/api/catalog.hpp>
#include <easyenclave/registry/types.hpp>

#include "detail/json.hpp"

#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

api::AgentView agent_view(registry::AgentRecord const& a, TimePoint now) {
  api::AgentView v;
  fill_agent_view(v, a);
  v.seconds_since_heartbeat = seconds_since_heartbeat(a.last_heartbeat_at, now);
  return v;
}

api::AppVersionView version_view(registry::AppVersion const& r) {
  api::AppVersionView v;
  v.app_name = r.app_name;
  v.version = r.version;
  v.image = r.image;
  v.mrtd = r.mrtd;
  v.rtmrs = r.rtmrs;
  v.node_size = r.node_size;
  v.published_by = r.published_by;
  v.published_at = r.published_at;
  return v;
}

api::AppView app_view(registry::App const& a) {
  api::AppView v;
  v.name = a.name;
  v.description = a.description;
  v.owner_id = a.owner_id;
  v.source_repo = a.source_repo;
  v.owner = a.owner;
  v.created_at = a.created_at;
  return v;
}

api::DeploymentView deployment_view(registry::Deployment const& d) {
  api::DeploymentView v;
  v.deployment_id = d.id;
  v.app_name = d.app_name;
  v.version = d.version;
  v.agent_id = d.agent_id;
  v.image = d.image;
  v.status = std::string(registry::to_string(d.status));
  v.detail = d.detail;
  v.requested_by = d.requested_by;
  v.created_at = d.created_at;
  v.updated_at = d.updated_at;
  v.replaces = d.replaces;
  v.rollout_id = d.rollout_id;
  v.rollout_step = d.rollout_step;
  return v;
}

api::TrustedMeasurementView measurement_view(registry::TrustedMeasurement const& m) {
  api::TrustedMeasurementView v;
  v.mrtd = m.mrtd;
  v.type = m.kind;
  v.node_size = m.node_size;
  v.note = m.note;
  v.added_at = m.added_at;
  return v;
}

// One record at a time, so a listing of 100 000 agents never holds all their views at once.
template <class T, class F>
std::string array_json(std::vector<T> const& items, F view) {
  std::string out = "[";
  for (auto const& item : items) {
    if (out.size() > 1) out += ',';
    out += api::to_json(view(item));
  }
  out += ']';
  return out;
}

}  // namespace

// Assignments rather than a new view: the listing refills one view for every agent.
void fill_agent_view(api::AgentView& v, registry::AgentRecord const& a) {
  v.agent_id = a.id;
  v.vm_name = a.vm_name;
  v.owner = a.owner;
  // The owner's GitHub id when a bootstrap token proved the owner; "" while it is a claim.
  v.owner_id = a.owner_id;
  v.node_size = a.node_size;
  v.datacenter = a.datacenter;
  v.status = registry::agent_status(a);
  v.verified = a.verified;
  v.unverified_reason = a.unverified_reason;
  v.health = registry::to_string(a.health);
  v.hostname = a.hostname;
  // Where the agent says it serves without a tunnel (dev); self-reported, so clients still verify
  // what answers there (easyenclave.connect does).
  v.agent_url = a.agent_url;
  v.public_key = a.public_key;
  v.mrtd = a.attestation.mrtd;
  v.tcb_status = a.attestation.tcb_status;
  v.deployment_id = a.deployment_id;
  v.reported_status = a.reported_status;
  v.reported_digest = a.reported_digest;
  v.registered_at = a.registered_at;
  v.last_registered_at = a.last_registered_at;
  v.last_heartbeat_at = a.last_heartbeat_at;
}

std::int64_t seconds_since_heartbeat(TimePoint last_heartbeat_at, TimePoint now) {
  auto const since = std::chrono::duration_cast<std::chrono::seconds>(now - last_heartbeat_at).count();
  return since < 0 ? 0 : since;
}

std::string agent_json(registry::AgentRecord const& agent, TimePoint now) {
  return api::to_json(agent_view(agent, now));
}

std::string agents_json(std::vector<registry::AgentRecord> const& agents, TimePoint now) {
  return array_json(agents, [now](auto const& a) { return agent_view(a, now); });
}

std::string attestation_json(registry::AgentRecord const& agent) {
  auto const& a = agent.attestation;
  api::AgentAttestationView v;
  v.mrtd = a.mrtd;
  v.rtmrs = a.rtmrs;
  v.tcb_status = a.tcb_status;
  v.tcb_date = a.tcb_date.value_or(TimePoint{});
  v.advisory_ids = a.advisory_ids;
  v.appraised_by = a.appraised_by;
  v.appraised_at = a.appraised_at;
  v.report_data = a.report_data;
  v.agent_id = agent.id;
  v.vm_name = agent.vm_name;
  v.verified = agent.verified;
  v.unverified_reason = agent.unverified_reason;
  v.public_key = agent.public_key;
  return api::to_json(v);
}

std::string app_json(registry::App const& app, std::vector<registry::AppVersion> const* versions) {
  auto v = app_view(app);
  if (versions) {
    v.versions.emplace();
    v.versions->reserve(versions->size());
    for (auto const& version : *versions) v.versions->push_back(version_view(version));
  }
  return api::to_json(v);
}

std::string apps_json(std::vector<registry::App> const& apps) { return array_json(apps, app_view); }
std::string version_json(registry::AppVersion const& version) { return api::to_json(version_view(version)); }
std::string deployment_json(registry::Deployment const& d) { return api::to_json(deployment_view(d)); }

std::string deployment_json(registry::Deployment const& d, std::vector<registry::DeploymentChange> const& history) {
  auto v = deployment_view(d);
  v.history.emplace();
  v.history->reserve(history.size());
  for (auto const& c : history) {
    v.history->push_back({.status = std::string(registry::to_string(c.status)), .detail = c.detail, .at = c.at});
  }
  return api::to_json(v);
}
std::string deployments_json(std::vector<registry::Deployment> const& ds) {
  return array_json(ds, deployment_view);
}
std::string measurement_json(registry::TrustedMeasurement const& m) {
  return api::to_json(measurement_view(m));
}
std::string measurements_json(std::vector<registry::TrustedMeasurement> const& ms) {
  return array_json(ms, measurement_view);
}

std::string reset_json(ResetOutcome const& reset, TimePoint now) {
  // The views always parse: they are nested as values.
  auto nested = [](std::string const& text) {
    auto parsed = detail::json::parse(text);
    return parsed ? std::move(*parsed) : boost::json::value(nullptr);
  };
  boost::json::object out;
  out["agent"] = nested(agent_json(reset.agent, now));
  out["stopped_deployment"] = reset.stopped ? nested(deployment_json(*reset.stopped)) : boost::json::value(nullptr);
  out["agent_reached"] = reset.agent_reached;
  out["tunnel"] = reset.tunnel;
  return detail::json::serialize(out);
}

}  // namespace ee::cp
