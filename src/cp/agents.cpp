// Agents joining and staying: registration (the attestation gate, then who may hold a vm_name,
// owner proof, tunnel, record) and heartbeats (liveness, re-attestation with fresh evidence, the
// workload's progress). The routes in routes/agents.cpp parse and render; this is what they call.
#include "cp/agents.hpp"

#include "cloudflare/fresh.hpp"
#include "cp/deployments.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/crypto.hpp"
#include "detail/log.hpp"

namespace ee::cp {
namespace {

namespace asio = boost::asio;

// Reasons an agent is unverified, by origin: a later successful re-attestation clears only
// its own kind; an MRTD change or a digest mismatch stays until an operator removes the agent.
constexpr std::string_view kReattestationReason = "re-attestation failed: ";
constexpr std::string_view kMrtdChangedReason = "MRTD changed: ";

bool clears_on_attestation(std::string const& reason) { return reason.starts_with(kReattestationReason); }

// Who may take over an existing vm_name. Names are public (GET /agents), and anyone who boots
// the public agent image on a TDX host has a trusted MRTD: without these rules such an outsider
// could register under a victim's vm_name and receive its id, tunnel token and deployment.
struct Continuity {
  /// The owner id the new record keeps: proven by a token, or carried over from the recorded
  /// agent when the same key (or the recorded key's signature) vouches for the new registration.
  std::string owner_id{};
};

result<Continuity> check_continuity(Services& s, std::optional<registry::AgentRecord> const& existing,
                                    api::RegisterRequest const& req, std::string const& new_key,
                                    std::optional<registry::BootstrapToken> const& token, TimePoint now) {
  Continuity out;
  if (!existing) {
    if (token) out.owner_id = token->owner_id;
    return out;
  }
  auto const& was = *existing;
  if (api::owner_login(was.owner) != api::owner_login(req.owner)) {
    return Error(errc::vm_name_taken, "vm_name '" + req.vm_name +
                                          "' is registered to another owner; moving a VM to another owner takes "
                                          "an admin's DELETE /api/v1/admin/agents/{id} first");
  }
  if (token && !was.owner_id.empty() && token->owner_id != was.owner_id) {
    return Error(errc::vm_name_taken, "vm_name '" + req.vm_name + "' is registered to GitHub account id " + was.owner_id +
                                          "; the bootstrap token is of id " + token->owner_id);
  }
  bool const same_key = !was.public_key.empty() && was.public_key == new_key;
  bool signed_by_recorded = false;
  if (!same_key && !was.public_key.empty() && !req.continuity_signature.empty()) {
    auto recorded = s.agent_keys.get(was.public_key);
    auto signature = base64_decode(req.continuity_signature);
    auto const message = api::continuity_message(req);
    signed_by_recorded = recorded && signature &&
                         recorded->verify(detail::as_bytes(message), *signature);
    if (!signed_by_recorded) {
      return Error(errc::vm_name_taken, "continuity_signature is not the recorded key's signature over this registration");
    }
  }
  if (!same_key && !signed_by_recorded && !token) {
    auto const silent = now - was.last_heartbeat_at;
    if (auto const grace = s.reregistration_grace(); silent <= grace) {
      auto const wait = std::chrono::duration_cast<std::chrono::seconds>(grace - silent).count() + 1;
      return Error(errc::vm_name_taken,
                   "vm_name '" + req.vm_name +
                       "' is registered with another key and that agent is still heartbeating; prove continuity "
                       "(continuity_signature by the recorded key, or the owner's bootstrap_token) or retry after " +
                       std::to_string(wait) + " s of its silence");
    }
  }
  if (token) {
    out.owner_id = token->owner_id;
  } else if (same_key || signed_by_recorded) {
    out.owner_id = was.owner_id;
  }
  return out;
}

// Holds a vm_name's registration slot for the life of one registration.
class RegistrationSlot {
 public:
  RegistrationSlot(Services& s, std::string vm_name) : s_(s), vm_name_(std::move(vm_name)) {
    std::lock_guard lock(s_.registering_mutex);
    held_ = s_.registering.insert(vm_name_).second;
  }
  ~RegistrationSlot() {
    if (!held_) return;
    std::lock_guard lock(s_.registering_mutex);
    s_.registering.erase(vm_name_);
  }
  RegistrationSlot(RegistrationSlot const&) = delete;
  RegistrationSlot& operator=(RegistrationSlot const&) = delete;
  bool held() const noexcept { return held_; }

 private:
  Services& s_;
  std::string vm_name_;
  bool held_ = false;
};

asio::awaitable<result<api::RegisterResponse>> admit(Services& s, api::RegisterRequest const& req,
                                                     std::optional<api::PublicKey> const& key) {
  // Named, not a braced temporary: GCC 12 destroys aggregate temporaries in co_await twice.
  Evidence const evidence{req.nonce, req.intel_ta_token, req.quote_b64};
  auto pass = co_await pass_attestation_gate(s, evidence, req.vm_name, key, req.node_size);
  if (!pass) co_return pass.error();
  if (s.options.admit) {
    if (auto r = s.options.admit(Admission{req, pass->appraisal()}); !r) co_return r.error();
  }
  auto const& attestation = pass->record();

  // Only now, with genuine evidence in hand, may a registration hold its vm_name: a flood of
  // bogus registrations for a victim's name never gets this far.
  RegistrationSlot slot(s, req.vm_name);
  if (!slot.held()) {
    co_return Error(errc::vm_name_taken, "a registration of vm_name '" + req.vm_name + "' is in progress; retry");
  }
  auto found = co_await s.store([&s, &name = req.vm_name] { return s.stores.agents->find_by_vm_name(name); });
  if (!found && found.error() != registry::errc::not_found) co_return found.error();
  std::optional<registry::AgentRecord> existing;
  if (found) existing = std::move(*found);
  if (existing && !existing->attestation.mrtd.empty() && existing->attestation.mrtd != attestation.mrtd) {
    co_return Error(errc::mrtd_changed, "agent '" + req.vm_name + "' registered with MRTD " +
                                            existing->attestation.mrtd + "; this evidence has " + attestation.mrtd);
  }

  // A token proves what the record cannot: a new vm_name, or a key the recorded one did not
  // vouch for. Agents send theirs with every registration; it is read, and a use spent, only
  // when it is needed, so an agent's restarts do not use up its token.
  auto const new_key = key ? key->base64() : std::string();
  bool const vouched = existing && !existing->public_key.empty() && !existing->owner_id.empty() &&
                       (existing->public_key == new_key || !req.continuity_signature.empty());
  std::optional<registry::BootstrapToken> token;
  if (s.owner_proof_mode != OwnerProofMode::disabled && !req.bootstrap_token.empty() && !vouched) {
    auto valid = co_await find_bootstrap_token(s, req.bootstrap_token, req);
    if (!valid) co_return valid.error();
    token = std::move(*valid);
  }
  auto const now = s.now();
  auto continuity = check_continuity(s, existing, req, new_key, token, now);
  if (!continuity) co_return continuity.error();
  if (s.owner_proof_mode == OwnerProofMode::required && continuity->owner_id.empty()) {
    co_return Error(errc::owner_proof_required,
                    "this control plane admits an agent only with its owner's bootstrap_token (POST "
                    "/api/v1/owners/bootstrap-tokens, then ee launch --bootstrap-token)");
  }

  cloudflare::Tunnel tunnel;
  if (s.tunnels) {
    // A vm_name with no record has most likely no tunnel either: the provider creates before it
    // looks (a CP whose database was wiped still gets the agent's tunnel back, with more calls).
    auto const label = cloudflare::label_for(req.vm_name);
    result<cloudflare::Tunnel> ensured = Error(errc::vm_name_taken);  // replaced just below
    if (existing) {
      ensured = co_await s.tunnels->ensure(label);
    } else {
      ensured = co_await cloudflare::ensure_new(s.tunnels, label);
    }
    s.metrics.tunnel_operations.with({"ensure", outcome_of(ensured)}).inc();
    if (!ensured) co_return ensured.error().with_context("tunnel");
    tunnel = std::move(*ensured);
  }
  if (token) {
    // The compare-and-set that keeps a one-time token one-time when two agents race with it.
    auto used = co_await s.store([&s, &id = token->id, &now] { return s.stores.bootstrap_tokens->use(id, now); });
    if (!used) {
      if (used.error() == registry::errc::conflict || used.error() == registry::errc::not_found) {
        co_return Error(errc::bootstrap_token_invalid, "bootstrap token " + token->id + " was used up or revoked meanwhile");
      }
      co_return used.error();
    }
  }

  registry::AgentRecord rec;
  if (existing) {
    rec = *existing;
  } else {
    auto id = detail::uuid_v4();
    if (!id) co_return id.error();
    rec.id = std::move(*id);
    rec.registered_at = now;
  }
  rec.vm_name = req.vm_name;
  rec.owner = req.owner;
  rec.owner_id = continuity->owner_id;
  rec.node_size = req.node_size;
  rec.datacenter = req.datacenter;
  rec.public_key = new_key;
  rec.agent_url = req.agent_url;
  rec.hostname = tunnel.hostname;
  rec.tunnel_id = tunnel.id;
  rec.dns_record_id = tunnel.dns_record_id;
  rec.attestation = attestation;
  if (rec.verified || clears_on_attestation(rec.unverified_reason)) {
    rec.verified = true;
    rec.unverified_reason.clear();
  }
  rec.last_registered_at = now;
  rec.last_heartbeat_at = now;

  bool const reused = existing.has_value();
  auto stored = co_await s.store([&s, &rec, &reused]() -> result<registry::AgentRecord> {
    if (reused) return s.stores.agents->update(rec);
    return s.stores.agents->insert(rec);
  });
  if (!stored) {
    // Another CP process inserted the same vm_name first: its record now stands, and this
    // registration must go through the continuity rules against it, so the agent retries.
    if (stored.error() == registry::errc::conflict) {
      co_return Error(errc::vm_name_taken, "vm_name '" + req.vm_name + "' was registered concurrently; retry");
    }
    co_return stored.error();
  }

  pass->consume();
  for (auto const& w : pass->warnings()) {
    detail::log::warn("cp", "policy tolerated agent=", stored->id, " check=", w.check, " detail=", w.detail);
  }
  detail::log::info("cp", "agent registered id=", stored->id, " vm_name=", stored->vm_name,
                    " mrtd=", attestation.mrtd, " appraised_by=", attestation.appraised_by,
                    " tcb=", attestation.tcb_status, " reregistration=", reused,
                    " owner_proven=", !stored->owner_id.empty(), " bootstrap_token=", token ? token->id : "-");

  api::RegisterResponse out;
  out.agent_id = stored->id;
  out.tunnel_token = tunnel.token;
  out.hostname = tunnel.hostname;
  out.heartbeat_interval_seconds = s.timings().heartbeat_interval.count();
  out.cp_public_key = s.signing_key.public_key().base64();
  co_return out;
}

asio::awaitable<result<void>> reattest(Services& s, registry::AgentRecord const& agent,
                                       api::HeartbeatRequest const& hb, api::PublicKey const& key) {
  Evidence const evidence{hb.nonce, hb.intel_ta_token, hb.quote_b64};  // named: see admit
  std::optional<api::PublicKey> const bound_key(key);
  auto pass = co_await pass_attestation_gate(s, evidence, agent.vm_name, bound_key, agent.node_size);
  if (!pass) {
    auto const reason = std::string(kReattestationReason) + pass.error().message();
    (void)co_await s.store([&s, &id = agent.id, &reason] {
      return s.stores.agents->set_verification(id, false, reason, std::nullopt);
    });
    co_return pass.error();
  }
  // Genuine evidence, whatever it says: its nonce is spent.
  pass->consume();
  auto const& record = pass->record();
  if (record.mrtd != agent.attestation.mrtd) {
    auto const reason = std::string(kMrtdChangedReason) + agent.attestation.mrtd + " -> " + record.mrtd;
    (void)co_await s.store([&s, &id = agent.id, &reason] {
      return s.stores.agents->set_verification(id, false, reason, std::nullopt);
    });
    co_return Error(errc::mrtd_changed, reason);
  }
  bool const verified = agent.verified || clears_on_attestation(agent.unverified_reason);
  auto const reason = verified ? std::string() : agent.unverified_reason;
  auto saved = co_await s.store([&s, &id = agent.id, &verified, &reason, &record] {
    return s.stores.agents->set_verification(id, verified, reason, record);
  });
  if (!saved) co_return saved.error();
  detail::log::info("cp", "agent re-attested id=", agent.id, " tcb=", record.tcb_status);
  co_return result<void>{};
}

// Moves the agent's deployment along with what it reports (a heartbeat, a status or deployed
// report); a step of a rolling deploy
// that now runs lets the next one start.
asio::awaitable<result<void>> reconcile(Services& s, registry::AgentRecord const& agent,
                                        WorkloadReport const& report) {
  if (agent.deployment_id.empty()) co_return result<void>{};
  if (report.reported_id != agent.deployment_id && report.rolled_back != agent.deployment_id) co_return result<void>{};
  auto const now = s.now();
  auto moved = co_await s.store([&s, &agent, &report, &now]() -> result<std::optional<registry::Deployment>> {
    auto d = s.stores.deployments->get(agent.deployment_id);
    if (!d) {
      if (d.error() != registry::errc::not_found) return d.error();
      // A claim without a record (a CP stopped in between): free the agent.
      if (auto r = s.stores.agents->release_deployment(agent.id, agent.deployment_id);
          !r && r.error() != registry::errc::conflict && r.error() != registry::errc::not_found) {
        return r.error();
      }
      return std::optional<registry::Deployment>();
    }
    return apply_workload_report(s, agent, *d, report, now);
  });
  if (!moved) co_return moved.error();
  if (*moved && (*moved)->status == registry::DeploymentStatus::running && !(*moved)->rollout_id.empty() &&
      s.kick_rollout) {
    s.kick_rollout((*moved)->rollout_id);
  }
  co_return result<void>{};
}

}  // namespace

asio::awaitable<result<api::RegisterResponse>> register_agent(Services& s, api::RegisterRequest const& req) {
  std::optional<api::PublicKey> key;
  if (!req.public_key.empty()) {
    // Through the key cache: the agent's heartbeats will look the same key up there, and a
    // re-registration with the key it had costs no parse.
    auto parsed = s.agent_keys.get(req.public_key);
    if (!parsed) co_return parsed.error().with_context("public_key");
    key = std::move(*parsed);
  }
  auto admitted = co_await admit(s, req, key);
  s.metrics.registrations.with({outcome_of(admitted)}).inc();
  if (!admitted) {
    detail::log::info("cp", "registration refused vm_name=", req.vm_name, " code=", admitted.error().id(),
                      " reason=", admitted.error().message());
  }
  co_return admitted;
}

namespace {

// What every signed report of the agent records first: it is alive, and what its workload is.
asio::awaitable<result<void>> record_liveness(Services& s, registry::AgentRecord const& agent,
                                              WorkloadReport const& report) {
  auto const now = s.now();
  auto recorded = co_await s.store([&s, &id = agent.id, &now, &status = report.state, &digest = report.image_digest] {
    return s.stores.agents->record_heartbeat(id, now, status, digest);
  });
  if (!recorded) co_return recorded.error();
  co_return result<void>{};
}

asio::awaitable<result<api::HeartbeatResponse>> heartbeat_of(Services& s, registry::AgentRecord const& caller,
                                                             api::HeartbeatRequest const& heartbeat) {
  auto const* agent = &caller;
  auto const* hb = &heartbeat;
  auto const& id = agent->id;
  auto const now = s.now();
  WorkloadReport const report{hb->deployment_id, hb->status, hb->image_digest, hb->rolled_back};
  if (auto r = co_await record_liveness(s, *agent, report); !r) co_return r.error();

  // Re-attestation comes between the two halves of the report: an agent whose fresh evidence
  // fails moves no deployment with this heartbeat.
  bool const has_evidence = !hb->intel_ta_token.empty() || !hb->quote_b64.empty();
  if (has_evidence) {
    // The key is needed only to bind fresh evidence to it (the signature was checked with it
    // already, by the route's rule).
    auto key = s.agent_keys.get(agent->public_key);
    if (!key) co_return key.error();
    if (auto r = co_await reattest(s, *agent, *hb, *key); !r) co_return r.error();
  }
  if (auto r = co_await reconcile(s, *agent, report); !r) co_return r.error();

  // Read again only when this heartbeat may have changed the verdict (fresh evidence, progress of
  // a deployment); otherwise the record read above is current, and most heartbeats are idle.
  registry::AgentRecord const* current = &*agent;
  result<registry::AgentRecord> reread = Error(registry::errc::not_found);
  if (has_evidence || !agent->deployment_id.empty()) {
    reread = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
    if (!reread) co_return reread.error();
    current = &*reread;
  }
  api::HeartbeatResponse out;
  out.verified = current->verified;
  auto const timings = s.timings();
  out.attestation_due = now - current->attestation.appraised_at >= timings.reattestation_interval;
  out.heartbeat_interval_seconds = timings.heartbeat_interval.count();
  co_return out;
}

}  // namespace

asio::awaitable<result<registry::AgentRecord>> record_workload_report(Services& s, registry::AgentRecord const& agent,
                                                                     WorkloadReport const& report) {
  if (auto r = co_await record_liveness(s, agent, report); !r) co_return r.error();
  if (auto r = co_await reconcile(s, agent, report); !r) co_return r.error();
  co_return co_await s.store([&s, &id = agent.id] { return s.stores.agents->get(id); });
}

asio::awaitable<result<api::HeartbeatResponse>> record_heartbeat(Services& s, registry::AgentRecord const& caller,
                                                                 api::HeartbeatRequest const& heartbeat) {
  auto recorded = co_await heartbeat_of(s, caller, heartbeat);
  s.metrics.heartbeats.with({outcome_of(recorded)}).inc();
  co_return recorded;
}

}  // namespace ee::cp
