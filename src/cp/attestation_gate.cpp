// The attestation gate: an agent's evidence, appraised and bound to the CP's challenge and to the
// agent's key (DESIGN.md, attestation model), then judged against the trusted measurements. The
// nonce and the key are checked on the *verified* report data, never on anything the agent says
// about itself. Registration and re-attestation both pass through it.
#include "cp/services.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/jwt/ita.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "detail/crypto.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

namespace ee::cp {
namespace {

namespace asio = boost::asio;

asio::awaitable<result<tdx::Appraisal>> appraise_quote(Services& s, std::string const& quote_b64) {
  auto raw = base64_decode(quote_b64);
  if (!raw) co_return raw.error().with_context("quote_b64");
  auto quote = tdx::parse_quote(*raw);
  if (!quote) co_return quote.error().with_context("quote_b64");

  std::shared_ptr<tdx::Collateral const> collateral = s.options.collateral;
  if (!collateral) {
    if (!s.options.collateral_fetcher) {
      co_return Error(errc::appraiser_not_allowed, "this control plane has no collateral source for raw quotes; send intel_ta_token");
    }
    auto fetched = co_await s.options.collateral_fetcher->fetch_for_quote(*quote);
    if (!fetched) co_return fetched.error().with_context("collateral");
    collateral = std::move(*fetched);
  }
  auto verdict = s.verifier.verify(*quote, collateral, s.now());
  if (!verdict) co_return verdict.error();
  if (!verdict->accepted()) {
    co_return verdict->error.failed() ? verdict->error : Error(errc::attestation_failed, "quote was not accepted");
  }
  co_return tdx::appraisal_from_verdict(*verdict);
}

asio::awaitable<result<tdx::Appraisal>> appraise_ita_token(Services& s, std::string const& token) {
  auto header = jwt::peek_header(token);
  if (!header) co_return header.error().with_context("intel_ta_token");
  auto keys = co_await s.ita_keys.get_for(header->kid);
  if (!keys) co_return keys.error();
  jwt::ItaVerifyOptions options;
  options.issuers = s.options.ita_issuers;
  auto verified = jwt::verify_ita_token(token, *keys, options, s.now());
  if (!verified) co_return verified.error().with_context("intel_ta_token");
  co_return std::move(verified->appraisal);
}

asio::awaitable<result<tdx::Appraisal>> appraise(Services& s, Evidence const& evidence,
                                                 std::span<std::uint8_t const> nonce_bytes,
                                                 std::optional<api::PublicKey> const& key) {
  bool const has_quote = !evidence.quote_b64.empty();
  bool const has_token = !evidence.intel_ta_token.empty();
  if (!has_quote && !has_token) co_return Error(errc::evidence_missing);
  auto const mode = s.options.policy.appraisal;
  bool const use_quote = has_quote && mode != AppraisalMode::ita;
  bool const use_token = !use_quote && has_token && mode != AppraisalMode::local;
  if (!use_quote && !use_token) {
    co_return Error(errc::appraiser_not_allowed, mode == AppraisalMode::ita
                                                     ? "this control plane accepts only intel_ta_token evidence"
                                                     : "this control plane accepts only quote_b64 evidence");
  }
  // An if, not a conditional expression with a co_await in each branch: GCC 12 miscompiles the
  // latter's temporaries.
  result<tdx::Appraisal> appraisal = Error(errc::evidence_missing);
  if (use_quote) {
    appraisal = co_await appraise_quote(s, evidence.quote_b64);
  } else {
    appraisal = co_await appraise_ita_token(s, evidence.intel_ta_token);
  }
  if (!appraisal) co_return appraisal.error();

  auto const& report_data = appraisal->report_data;
  if (!nonce_bytes.empty() &&
      (nonce_bytes.size() > 32 || !std::equal(nonce_bytes.begin(), nonce_bytes.end(), report_data.begin()))) {
    co_return Error(errc::nonce_not_bound, "report data begins with " +
                                               hex_encode(std::span(report_data).first(nonce_bytes.size())) +
                                               ", not the nonce");
  }
  if (key) {
    auto const digest = key->sha256();
    if (!std::equal(digest.begin(), digest.end(), report_data.begin() + 32)) {
      co_return Error(errc::key_not_bound, "report data bytes 32..64 are not SHA-256 of public_key");
    }
  }
  co_return appraisal;
}

// Takes the nonce per the nonce mode: the taken entry, or nullopt when the mode lets the evidence
// go without one.
result<std::optional<NonceTable::Entry>> take_nonce(Services& s, std::string const& nonce,
                                                    std::string const& vm_name) {
  switch (s.options.policy.nonce_mode) {
    case NonceMode::disabled:
      return std::optional<NonceTable::Entry>();
    case NonceMode::optional:
      if (nonce.empty()) return std::optional<NonceTable::Entry>();
      break;
    case NonceMode::required:
      if (nonce.empty()) {
        return Error(errc::unknown_nonce, "a nonce from GET /api/v1/agents/challenge is required");
      }
      break;
  }
  auto entry = s.nonces.take(nonce, vm_name, s.now());
  if (!entry) return entry.error();
  return std::optional<NonceTable::Entry>(std::move(*entry));
}

}  // namespace

registry::AttestationRecord attestation_record(tdx::Appraisal const& a) {
  registry::AttestationRecord r;
  r.mrtd = hex_encode(a.mr_td);
  for (std::size_t i = 0; i < 4; ++i) r.rtmrs[i] = hex_encode(a.rtmr[i]);
  r.tcb_status = std::string(tdx::to_string(a.tcb_status));
  r.tcb_date = a.tcb_date;
  r.advisory_ids = a.advisory_ids;
  r.appraised_by = std::string(tdx::to_string(a.appraised_by));
  r.appraised_at = a.appraised_at;
  r.report_data = hex_encode(a.report_data);
  return r;
}

AttestationPass::AttestationPass(Services& s, std::optional<NonceTable::Entry> nonce, tdx::Appraisal appraisal,
                                 std::vector<PolicyWarning> warnings)
    : services_(&s),
      nonce_(std::move(nonce)),
      appraisal_(std::move(appraisal)),
      record_(attestation_record(appraisal_)),
      warnings_(std::move(warnings)) {}

AttestationPass::AttestationPass(AttestationPass&& other) noexcept
    : services_(other.services_),
      nonce_(std::exchange(other.nonce_, std::nullopt)),
      appraisal_(std::move(other.appraisal_)),
      record_(std::move(other.record_)),
      warnings_(std::move(other.warnings_)) {}

AttestationPass::~AttestationPass() {
  // On the store pool, as every store call: with replicas the spent nonce is a database row, and
  // a destructor must not block a server thread on a round trip. ControlPlane joins the pool
  // before the nonce table goes away.
  if (nonce_) {
    boost::asio::post(services_->store_pool, [&nonces = services_->nonces, entry = std::move(*nonce_),
                                              now = services_->now()] { nonces.put_back(entry, now); });
  }
}

namespace {

asio::awaitable<result<AttestationPass>> judge_evidence(Services& s, Evidence const& evidence,
                                                        std::string const& vm_name,
                                                        std::optional<api::PublicKey> const& key,
                                                        std::string const& node_size) {
  // 1. The nonce, taken before the (slow) appraisal so two requests cannot both use it; every
  //    failure below puts it back (the pass's destructor, or the explicit put-back here).
  auto taken = co_await s.store([&s, &evidence, &vm_name] { return take_nonce(s, evidence.nonce, vm_name); });
  if (!taken) co_return taken.error();
  std::vector<std::uint8_t> bound;
  if (*taken) {
    auto bytes = hex_decode(evidence.nonce);  // as sent: 16 bytes from agents of the earlier CP
    if (bytes) bound = std::move(*bytes);
  }
  // Awaited where it is called, so the references outlive it.
  auto give_back = [&s, &taken]() -> asio::awaitable<void> {
    if (!*taken) co_return;
    co_await s.store([&s, &entry = **taken] {
      s.nonces.put_back(entry, s.now());
      return true;
    });
  };
  // 2-3. The appraisal and what it must be bound to.
  auto appraisal = co_await appraise(s, evidence, bound, key);
  if (!appraisal) {
    co_await give_back();
    co_return appraisal.error();
  }
  // 4. The judgement: trusted measurements and the policy.
  auto trusted = co_await s.store([&m = s.stores.measurements] { return m->list(); });
  if (!trusted) {
    co_await give_back();
    co_return trusted.error();
  }
  auto warnings = judge(s.options.policy, *appraisal, node_size, *trusted, s.trust_any_mrtd);
  if (!warnings) {
    co_await give_back();
    co_return warnings.error();
  }
  AttestationPass pass(s, std::move(*taken), std::move(*appraisal), std::move(*warnings));
  co_return pass;
}

// The kind of evidence, as the metrics label it.
std::string_view evidence_kind(Evidence const& evidence) {
  if (!evidence.intel_ta_token.empty()) return "ita_token";
  if (!evidence.quote_b64.empty()) return "quote";
  return "none";
}

}  // namespace

asio::awaitable<result<AttestationPass>> pass_attestation_gate(Services& s, Evidence const& evidence,
                                                               std::string const& vm_name,
                                                               std::optional<api::PublicKey> const& key,
                                                               std::string const& node_size) {
  auto pass = co_await judge_evidence(s, evidence, vm_name, key, node_size);
  s.metrics.attestations.with({evidence_kind(evidence), outcome_of(pass)}).inc();
  co_return pass;
}

}  // namespace ee::cp
