// Public JSON forms of the registry's records. What is not here is not public: tunnel ids, DNS
// record ids and (never stored anyway) tunnel tokens stay inside the CP.
#include "cp/services.hpp"

#include <easyenclave/registry/types.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace bj = boost::json;

bj::value time_value(TimePoint t) {
  if (t == TimePoint{}) return nullptr;
  return bj::value(detail::format_rfc3339(t));
}

bj::array strings(auto const& values) {
  bj::array out;
  for (auto const& v : values) out.emplace_back(v);
  return out;
}

bj::object attestation_object(registry::AttestationRecord const& a) {
  bj::object o;
  o["mrtd"] = a.mrtd;
  o["rtmrs"] = strings(a.rtmrs);
  o["tcb_status"] = a.tcb_status;
  o["tcb_date"] = a.tcb_date ? time_value(*a.tcb_date) : bj::value(nullptr);
  o["advisory_ids"] = strings(a.advisory_ids);
  o["appraised_by"] = a.appraised_by;
  o["appraised_at"] = time_value(a.appraised_at);
  o["report_data"] = a.report_data;
  return o;
}

bj::object agent_object(registry::AgentRecord const& a, TimePoint now) {
  bj::object o;
  o["agent_id"] = a.id;
  o["vm_name"] = a.vm_name;
  o["owner"] = a.owner;
  // The owner's GitHub id when a bootstrap token proved the owner; "" while it is a claim.
  o["owner_id"] = a.owner_id;
  o["node_size"] = a.node_size;
  o["datacenter"] = a.datacenter;
  o["status"] = std::string(registry::agent_status(a));
  o["verified"] = a.verified;
  if (!a.verified) o["unverified_reason"] = a.unverified_reason;
  o["health"] = std::string(registry::to_string(a.health));
  o["hostname"] = a.hostname;
  // Where the agent says it serves without a tunnel (dev); self-reported, so clients still verify
  // what answers there (easyenclave.connect does).
  o["agent_url"] = a.agent_url;
  o["public_key"] = a.public_key;
  o["mrtd"] = a.attestation.mrtd;
  o["tcb_status"] = a.attestation.tcb_status;
  o["deployment_id"] = a.deployment_id.empty() ? bj::value(nullptr) : bj::value(a.deployment_id);
  o["reported_status"] = a.reported_status;
  o["reported_digest"] = a.reported_digest;
  o["registered_at"] = time_value(a.registered_at);
  o["last_registered_at"] = time_value(a.last_registered_at);
  o["last_heartbeat_at"] = time_value(a.last_heartbeat_at);
  auto const since =
      std::chrono::duration_cast<std::chrono::seconds>(now - a.last_heartbeat_at).count();
  o["seconds_since_heartbeat"] = since < 0 ? 0 : since;
  return o;
}

bj::object app_object(registry::App const& a) {
  bj::object o;
  o["name"] = a.name;
  o["description"] = a.description;
  o["owner_id"] = a.owner_id;
  o["source_repo"] = a.source_repo;
  o["owner"] = a.owner;
  o["created_at"] = time_value(a.created_at);
  return o;
}

bj::object version_object(registry::AppVersion const& v) {
  bj::object o;
  o["app_name"] = v.app_name;
  o["version"] = v.version;
  o["image"] = v.image;
  o["mrtd"] = v.mrtd;
  bj::array rtmrs;
  for (auto const& r : v.rtmrs) rtmrs.emplace_back(r.empty() ? bj::value(nullptr) : bj::value(r));
  o["rtmrs"] = std::move(rtmrs);
  o["node_size"] = v.node_size;
  o["published_by"] = v.published_by;
  o["published_at"] = time_value(v.published_at);
  return o;
}

bj::object deployment_object(registry::Deployment const& d) {
  bj::object o;
  o["deployment_id"] = d.id;
  o["app_name"] = d.app_name;
  o["version"] = d.version;
  o["agent_id"] = d.agent_id;
  o["image"] = d.image;
  o["status"] = std::string(registry::to_string(d.status));
  o["detail"] = d.detail;
  o["requested_by"] = d.requested_by;
  o["created_at"] = time_value(d.created_at);
  o["updated_at"] = time_value(d.updated_at);
  return o;
}

bj::object measurement_object(registry::TrustedMeasurement const& m) {
  bj::object o;
  o["mrtd"] = m.mrtd;
  o["type"] = m.kind;
  o["node_size"] = m.node_size;
  o["note"] = m.note;
  o["added_at"] = time_value(m.added_at);
  return o;
}

// Serialised one item at a time: a listing of 100 000 agents never holds a DOM of all of them
// beside the records and the text.
template <class T, class F>
std::string array_json(std::vector<T> const& items, F to_object) {
  std::string out = "[";
  for (auto const& item : items) {
    if (out.size() > 1) out += ',';
    out += detail::json::serialize(to_object(item));
  }
  out += ']';
  return out;
}

}  // namespace

std::string agent_json(registry::AgentRecord const& agent, TimePoint now) {
  return detail::json::serialize(agent_object(agent, now));
}

std::string agents_json(std::vector<registry::AgentRecord> const& agents, TimePoint now) {
  return array_json(agents, [now](auto const& a) { return agent_object(a, now); });
}

std::string attestation_json(registry::AgentRecord const& agent) {
  auto o = attestation_object(agent.attestation);
  o["agent_id"] = agent.id;
  o["vm_name"] = agent.vm_name;
  o["verified"] = agent.verified;
  if (!agent.verified) o["unverified_reason"] = agent.unverified_reason;
  o["public_key"] = agent.public_key;
  return detail::json::serialize(o);
}

std::string app_json(registry::App const& app, std::vector<registry::AppVersion> const* versions) {
  auto o = app_object(app);
  if (versions) {
    bj::array vs;
    for (auto const& v : *versions) vs.emplace_back(version_object(v));
    o["versions"] = std::move(vs);
  }
  return detail::json::serialize(o);
}

std::string apps_json(std::vector<registry::App> const& apps) {
  return array_json(apps, app_object);
}
std::string version_json(registry::AppVersion const& version) {
  return detail::json::serialize(version_object(version));
}
std::string deployment_json(registry::Deployment const& d) {
  return detail::json::serialize(deployment_object(d));
}
std::string deployments_json(std::vector<registry::Deployment> const& ds) {
  return array_json(ds, deployment_object);
}
std::string measurement_json(registry::TrustedMeasurement const& m) {
  return detail::json::serialize(measurement_object(m));
}
std::string measurements_json(std::vector<registry::TrustedMeasurement> const& ms) {
  return array_json(ms, measurement_object);
}

}  // namespace ee::cp
