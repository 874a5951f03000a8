// Agent routes: challenge, register, heartbeat, listing, attestation record, logs, undeploy.
//
//   GET  /agents/challenge[?vm_name=]      -> {"nonce","expires_in_seconds","ttl_seconds","issued_at"}
//   POST /agents/register                  -> {"agent_id","tunnel_token","hostname","heartbeat_interval_seconds","cp_public_key"}
//   POST /agents/{id}/heartbeat  (signed by the agent's attested key)
//   GET  /agents[?status=&vm_name=&owner=] -> [agent, ...]
//   GET  /agents/{id}, /agents/{id}/attestation
//   GET  /agents/{id}/logs       (owner's GitHub OIDC or admin) -> the agent's /api/logs
//   POST /agents/{id}/undeploy   (owner's GitHub OIDC or admin)
#include "cp/deployments.hpp"
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>

#include "detail/crypto.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <limits>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

// Reasons an agent is unverified, by origin: a later successful re-attestation clears only
// its own kind; an MRTD change or a digest mismatch stays until an operator removes the agent.
constexpr std::string_view kReattestationReason = "re-attestation failed: ";
constexpr std::string_view kMrtdChangedReason = "MRTD changed: ";

bool clears_on_attestation(std::string const& reason) { return reason.starts_with(kReattestationReason); }

http::Response json(std::string body) { return http::json_response(bhttp::status::ok, std::move(body)); }

// --- challenge ---------------------------------------------------------------------------------

Reply challenge(http::RequestContext& ctx, Services& s, Caller const&) {
  auto vm_name = ctx.query("vm_name").value_or("");
  if (!vm_name.empty()) {
    if (auto r = api::check_vm_name(vm_name); !r) co_return r.error();
  }
  auto entry = s.nonces.issue(std::move(vm_name), s.now());
  if (!entry) co_return entry.error();
  api::Challenge c;
  c.nonce = hex_encode(entry->bytes);
  c.ttl_seconds = s.nonces.ttl().count();
  c.expires_in_seconds = std::chrono::duration_cast<std::chrono::seconds>(entry->expires_at - s.now()).count();
  c.issued_at = entry->issued_at;
  co_return json(api::to_json(c));
}

// --- register ----------------------------------------------------------------------------------

std::optional<std::vector<std::uint8_t>> nonce_bytes_to_bind(Services& s, std::string const& nonce,
                                                             bool taken) {
  if (!taken && s.options.policy.nonce_mode != NonceMode::optional) return std::nullopt;
  if (nonce.empty()) return std::nullopt;
  auto bytes = hex_decode(nonce);
  if (!bytes) return std::nullopt;
  return std::move(*bytes);
}

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

asio::awaitable<result<api::RegisterResponse>> admit_registration(Services& s, api::RegisterRequest const& req,
                                                                  std::optional<api::PublicKey> const& key,
                                                                  std::span<std::uint8_t const> nonce) {
  // Named, not a braced temporary: GCC 12 destroys aggregate temporaries in co_await twice.
  Evidence const evidence{req.nonce, req.intel_ta_token, req.quote_b64};
  auto appraisal = co_await appraise(s, evidence, nonce, key);
  if (!appraisal) co_return appraisal.error();
  auto warnings = co_await judge_appraisal(s, *appraisal, req.node_size);
  if (!warnings) co_return warnings.error();
  if (s.options.admit) {
    if (auto r = s.options.admit(Admission{req, *appraisal}); !r) co_return r.error();
  }
  auto const attestation = attestation_record(*appraisal);

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
    auto ensured = co_await s.tunnels->ensure(cloudflare::label_for(req.vm_name));
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

  for (auto const& w : *warnings) {
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

Reply register_agent(http::RequestContext& ctx, Services& s, Caller const&) {
  auto req = api::parse_register_request(ctx.request.body());
  if (!req) co_return req.error();
  std::optional<api::PublicKey> key;
  if (!req->public_key.empty()) {
    auto parsed = api::PublicKey::parse(req->public_key);
    if (!parsed) co_return parsed.error().with_context("public_key");
    key = std::move(*parsed);
  }
  // The nonce is taken before the (slow) appraisal so two requests cannot both use it, and put
  // back when anything later fails: it is consumed only by a registration that succeeds.
  auto taken = take_nonce(s, req->nonce, req->vm_name);
  if (!taken) co_return taken.error();
  auto const nonce = nonce_bytes_to_bind(s, req->nonce, taken->has_value()).value_or(std::vector<std::uint8_t>{});
  auto admitted = co_await admit_registration(s, *req, key, nonce);
  if (!admitted) {
    if (*taken) s.nonces.put_back(**taken, s.now());
    detail::log::info("cp", "registration refused vm_name=", req->vm_name, " code=", admitted.error().id(),
                      " reason=", admitted.error().message());
    co_return admitted.error();
  }
  co_return json(api::to_json(*admitted));
}

// --- heartbeat ---------------------------------------------------------------------------------

asio::awaitable<result<void>> reattest(Services& s, registry::AgentRecord const& agent,
                                       api::HeartbeatRequest const& hb, api::PublicKey const& key) {
  auto taken = take_nonce(s, hb.nonce, agent.vm_name);
  if (!taken) co_return taken.error();
  auto const nonce = nonce_bytes_to_bind(s, hb.nonce, taken->has_value()).value_or(std::vector<std::uint8_t>{});
  Evidence const evidence{hb.nonce, hb.intel_ta_token, hb.quote_b64};  // named: see admit_registration
  auto appraisal = co_await appraise(s, evidence, nonce, key);
  result<void> outcome;
  if (!appraisal) {
    outcome = appraisal.error();
  } else if (auto judged = co_await judge_appraisal(s, *appraisal, agent.node_size); !judged) {
    outcome = judged.error();
  }
  if (!outcome) {
    if (*taken) s.nonces.put_back(**taken, s.now());
    auto const reason = std::string(kReattestationReason) + outcome.error().message();
    (void)co_await s.store([&s, &id = agent.id, &reason] {
      return s.stores.agents->set_verification(id, false, reason, std::nullopt);
    });
    co_return outcome.error();
  }
  auto record = attestation_record(*appraisal);
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

// Moves the agent's deployment along with what the heartbeat reports; a step of a rolling deploy
// that now runs lets the next one start.
asio::awaitable<result<void>> reconcile(Services& s, registry::AgentRecord const& agent,
                                        api::HeartbeatRequest const& hb) {
  if (agent.deployment_id.empty()) co_return result<void>{};
  if (hb.deployment_id != agent.deployment_id && hb.rolled_back != agent.deployment_id) co_return result<void>{};
  auto const now = s.now();
  WorkloadReport const report{hb.deployment_id, hb.status, hb.image_digest, hb.rolled_back};
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

// The rule (agent_self) verified the signature with the key of the agent it read.
Reply heartbeat(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* agent = &caller.agent.value();
  auto const& id = agent->id;
  auto key = s.agent_keys.get(agent->public_key);
  if (!key) co_return key.error();

  auto hb = api::parse_heartbeat_request(ctx.request.body());
  if (!hb) co_return hb.error();
  auto const now = s.now();
  auto recorded = co_await s.store([&s, &id, &now, &status = hb->status, &digest = hb->image_digest] {
    return s.stores.agents->record_heartbeat(id, now, status, digest);
  });
  if (!recorded) co_return recorded.error();

  bool const has_evidence = !hb->intel_ta_token.empty() || !hb->quote_b64.empty();
  if (has_evidence) {
    if (auto r = co_await reattest(s, *agent, *hb, *key); !r) co_return r.error();
  }
  if (auto r = co_await reconcile(s, *agent, *hb); !r) co_return r.error();

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
  co_return json(api::to_json(out));
}

// --- reads -------------------------------------------------------------------------------------

Reply list_agents(http::RequestContext& ctx, Services& s, Caller const&) {
  auto page = page_of(ctx);
  if (!page) co_return page.error();
  registry::AgentFilter filter;
  filter.status = ctx.query("status");
  filter.vm_name = ctx.query("vm_name");
  filter.owner = ctx.query("owner");
  filter.limit = page->limit;
  filter.offset = page->offset;
  auto agents = co_await s.store([&s, &filter] { return s.stores.agents->list(filter); });
  if (!agents) co_return agents.error();
  co_return json(agents_json(*agents, s.now()));
}

Reply get_agent(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  co_return json(agent_json(*agent, s.now()));
}

Reply get_attestation(http::RequestContext& ctx, Services& s, Caller const&) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  co_return json(attestation_json(*agent));
}

// The agent's /api/logs answer, read field by field and written again: only the shape the agent
// API defines ({"lines": [{seq, at, source, text}], "dropped"}) ever reaches the caller, never
// whatever bytes answered at the agent's address.
result<std::string> agent_logs_view(std::string_view body) {
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = detail::json::ObjectReader::from(*doc);
  if (!r) return r.error();
  auto lines = r->array("lines");
  if (!lines) return lines.error();
  auto dropped = r->optional_integer("dropped", 0, std::numeric_limits<std::int64_t>::max());
  if (!dropped) return dropped.error();
  boost::json::array out_lines;
  out_lines.reserve((*lines)->size());
  for (auto const& item : **lines) {
    auto line = detail::json::ObjectReader::from(item, "body.lines[]");
    if (!line) return line.error();
    auto seq = line->integer("seq", 0, std::numeric_limits<std::int64_t>::max());
    if (!seq) return seq.error();
    boost::json::object o;
    o["seq"] = *seq;
    for (char const* key : {"at", "source", "text"}) {
      auto value = line->string(key);
      if (!value) return value.error();
      o[key] = *value;
    }
    out_lines.push_back(std::move(o));
  }
  boost::json::object out;
  out["lines"] = std::move(out_lines);
  out["dropped"] = dropped->value_or(0);
  return detail::json::serialize(out);
}

// The rule (owner_of_agent_or_admin) read the agent and checked its owner.
Reply agent_logs(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* agent = &caller.agent.value();
  auto const& id = agent->id;
  std::string target = "/api/logs";
  char separator = '?';
  for (auto name : {"since", "lines"}) {
    if (auto value = ctx.query(name)) {
      // Only digits and RFC 3339 characters are forwarded, so nothing can be smuggled into the target.
      for (char c : *value) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != ':' && c != '.' && c != '+') {
          co_return Error(ee::errc::invalid_value, std::string(name) + " has a character that is not allowed");
        }
      }
      target += separator + std::string(name) + "=" + *value;
      separator = '&';
    }
  }
  auto response = co_await call_agent(s, *agent, bhttp::verb::get, target, "");
  if (!response) co_return response.error();
  auto logs = agent_logs_view(response->body());
  if (!logs) co_return Error(errc::agent_answer_malformed, "agent " + id + ": /api/logs: " + logs.error().message());
  co_return json(std::move(*logs));
}

// The rule (owner_of_agent_or_admin) read the agent and checked its owner.
Reply undeploy(http::RequestContext&, Services& s, Caller const& caller) {
  auto stopped = co_await cp::undeploy(s, caller.agent.value(), caller.name());
  if (!stopped) co_return stopped.error();
  co_return json(deployment_json(*stopped));
}

}  // namespace

void add_agent_routes(Routes& routes) {
  // Registration is open: the attestation evidence, bound to a nonce and the agent's key, is the
  // credential, and the operation checks it (and the owner's proof, vm_name continuity).
  routes.add(bhttp::verb::get, "/agents/challenge", Access::anyone, challenge);
  routes.add(bhttp::verb::post, "/agents/register", Access::anyone, register_agent);
  routes.add(bhttp::verb::post, "/agents/{id}/heartbeat", Access::agent_self, heartbeat);
  routes.add(bhttp::verb::get, "/agents", Access::anyone, list_agents);
  routes.add(bhttp::verb::get, "/agents/{id}", Access::anyone, get_agent);
  routes.add(bhttp::verb::get, "/agents/{id}/attestation", Access::anyone, get_attestation);
  routes.add(bhttp::verb::get, "/agents/{id}/logs", Access::owner_of_agent_or_admin, agent_logs);
  routes.add(bhttp::verb::post, "/agents/{id}/undeploy", Access::owner_of_agent_or_admin, undeploy);
}

}  // namespace ee::cp
