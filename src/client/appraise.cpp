// The pure part of connect: judging evidence against the catalog's expectations, and the report.
// No I/O; the clock is a parameter.
#include <easyenclave/api/signing.hpp>
#include <easyenclave/client/connect.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/tdx/quote.hpp>

#include "client/checks.hpp"
#include "client/verifier_cache.hpp"

#include <algorithm>
#include <sstream>

namespace ee::client {
namespace {

std::string hex(std::span<std::uint8_t const> bytes) { return hex_encode(bytes); }

// Long values (96-hex measurements, base64 keys) are shortened in one-line fields only; the
// full value goes into `detail` where it matters.
std::string shorten(std::string const& text, std::size_t keep = 16) {
  if (text.size() <= 2 * keep + 3) return text;
  return text.substr(0, keep) + "..." + text.substr(text.size() - keep);
}

std::string join(std::vector<std::string> const& items, std::string_view separator = ", ") {
  std::string out;
  for (auto const& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string root_description(tdx::TrustedRoot const& root) {
  return "'" + root.common_name() + "' (SHA-256 " + root.fingerprint().substr(0, 16) + "...)";
}

std::string steps_text(tdx::Verdict const& verdict) {
  std::vector<std::string> parts;
  for (auto const& step : verdict.steps)
    parts.push_back(step.name + (step.passed ? "" : " FAILED"));
  return join(parts);
}

bool rtmrs_match(PublishedVersion const& v, std::array<tdx::Measurement, 4> const& rtmr) {
  for (std::size_t i = 0; i < 4; ++i)
    if (v.rtmrs[i] && *v.rtmrs[i] != rtmr[i]) return false;
  return true;
}

std::string pinned_rtmrs(PublishedVersion const& v) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < 4; ++i)
    if (v.rtmrs[i]) parts.push_back("RTMR" + std::to_string(i) + "=" + shorten(hex(*v.rtmrs[i])));
  return parts.empty() ? "none pinned" : join(parts);
}

}  // namespace

Check const* Report::failure() const noexcept {
  for (auto const& c : checks)
    if (!c.passed && !c.skipped) return &c;
  return nullptr;
}

Check const* Report::find(std::string const& name) const noexcept {
  for (auto const& c : checks)
    if (c.name == name) return &c;
  return nullptr;
}

std::string Report::text() const {
  std::ostringstream out;
  for (auto const& c : checks) {
    out << (c.skipped ? "SKIP " : c.passed ? "PASS " : "FAIL ") << c.name;
    if (!c.expected.empty()) out << ": expected " << c.expected;
    if (!c.actual.empty()) out << (c.expected.empty() ? ": " : "; got ") << c.actual;
    out << "\n";
    if (!c.detail.empty()) out << "     " << c.detail << "\n";
  }
  return out.str();
}

result<Appraised> appraise_evidence(Evidence const& evidence, Expectations const& expected,
                                    AppraisalInputs const& inputs, TimePoint now, Report& report) {
  Recorder r{report};

  // quote: the PCK chain ends at the pinned root, the signatures and the QE binding hold, and
  // with collateral the platform's TCB is evaluated (tdx::verify).
  auto const expected_quote = "a TDX quote verified to root " + root_description(inputs.root);
  auto parsed = tdx::parse_quote(evidence.quote);
  if (!parsed)
    return r.fail(errc::quote_rejected, "quote", expected_quote, "a quote that does not parse",
                  parsed.error().message());
  // The process's verifier for this root: verdicts as tdx::verify's, but a chain, collateral or
  // QE report verified for an earlier connection is not verified again.
  auto verdict = verifier_for(inputs.root).verify(*parsed, inputs.collateral, now);
  if (!verdict)
    return r.fail(errc::quote_rejected, "quote", expected_quote, "a quote that cannot be verified",
                  verdict.error().message());
  if (!verdict->accepted()) {
    auto const* step = verdict->first_failure();
    std::string actual = step != nullptr ? "failure at step '" + step->name + "'" : "a rejection";
    std::string detail = step != nullptr ? step->detail : verdict->error.message();
    if (verdict->error.failed()) detail += " [" + verdict->error.id() + "]";
    return r.fail(errc::quote_rejected, "quote", expected_quote, actual, detail);
  }
  auto const& td = verdict->td_report;
  r.pass("quote", expected_quote,
         std::string(verdict->offline ? "verified offline (no collateral)" : "verified") +
             ", TCB status " + std::string(tdx::to_string(verdict->tcb_status)),
         "steps: " + steps_text(*verdict) +
             (inputs.collateral_source.empty() ? "" : "; collateral: " + inputs.collateral_source));

  // nonce: REPORTDATA[0..32) is the nonce this client just chose, so the quote was made after
  // the request and is not a replay.
  std::span<std::uint8_t const> const report_data(td.report_data);
  if (inputs.nonce) {
    auto const& nonce = *inputs.nonce;
    if (!std::equal(nonce.begin(), nonce.end(), report_data.begin()))
      return r.fail(errc::nonce_mismatch, "nonce", "REPORTDATA[0..32) = " + hex(nonce),
                    hex(report_data.first(32)), "the quote was not made for this request");
    r.pass("nonce", "REPORTDATA[0..32) = the nonce sent", hex(nonce));
  }

  // key_binding: REPORTDATA[32..64) is SHA-256 of the key the agent presented, so the key was
  // made inside the attested TD and whoever holds it is that TD. Evidence without a key would let
  // a relay present someone else's genuine quote as its own, so it fails unless the caller
  // explicitly accepts legacy keyless agents.
  std::optional<api::PublicKey> key;
  if (!evidence.public_key.empty()) {
    auto parsed_key = api::PublicKey::parse(evidence.public_key);
    if (!parsed_key)
      return r.fail(errc::malformed_evidence, "key_binding", "a P-256 public key (base64 DER)",
                    "a key that does not parse", parsed_key.error().message());
    key = std::move(*parsed_key);
    auto const digest = key->sha256();
    if (!std::equal(digest.begin(), digest.end(), report_data.begin() + 32))
      return r.fail(errc::key_not_bound, "key_binding",
                    "REPORTDATA[32..64) = SHA-256(public key) = " + hex(digest),
                    hex(report_data.subspan(32)),
                    "the key the agent presented is not the one its TD bound into the quote");
    r.pass("key_binding", "REPORTDATA[32..64) = SHA-256(agent public key)", hex(digest));
  } else if (!inputs.allow_keyless_agents) {
    return r.fail(errc::key_not_bound, "key_binding",
                  "a public key whose SHA-256 is REPORTDATA[32..64)", "no public key",
                  "the evidence carries no public_key, so nothing ties the endpoint that answered "
                  "to the quoted TD (keyless agents are accepted only with allow_keyless_agents)");
  } else {
    r.skip("key_binding", "the evidence carries no public key; keyless agents allowed by the caller");
  }

  // agent_key: the key is the one the control plane attested at registration. When the CP lists
  // a key, an answer without one is not from the agent it attested, whatever the policy.
  if (!expected.agent_public_key.empty()) {
    if (!key)
      return r.fail(errc::agent_key_mismatch, "agent_key",
                    "the key the control plane attested, " + shorten(expected.agent_public_key),
                    "no key", "the control plane lists a key for this agent; the answer carries none");
    auto cp_key = api::PublicKey::parse(expected.agent_public_key);
    if (!cp_key || cp_key->der() != key->der())
      return r.fail(errc::agent_key_mismatch, "agent_key",
                    "the key the control plane attested, " + shorten(expected.agent_public_key),
                    shorten(key->base64()));
    r.pass("agent_key", "the key the control plane attested", shorten(key->base64()));
  } else {
    r.skip("agent_key", "no key from the control plane to compare with");
  }

  // mrtd and rtmrs: the TD booted firmware and kernel that the app's publisher listed.
  std::vector<PublishedVersion> candidates;
  PublishedVersion matched;
  if (!expected.versions.empty()) {
    std::vector<std::string> published;
    for (auto const& v : expected.versions) {
      published.push_back(v.version + ": " + shorten(hex(v.mrtd)));
      if (v.mrtd == td.mr_td) candidates.push_back(v);
    }
    if (candidates.empty())
      return r.fail(errc::mrtd_not_published, "mrtd",
                    "an MRTD published for '" + expected.app + "' (" + join(published) + ")",
                    hex(td.mr_td));
    r.pass(
        "mrtd", "an MRTD published for '" + expected.app + "'", hex(td.mr_td),
        "published by versions: " + [&] {
          std::vector<std::string> names;
          for (auto const& v : candidates) names.push_back(v.version);
          return join(names);
        }());

    std::vector<PublishedVersion> pinned_ok;
    for (auto const& v : candidates)
      if (rtmrs_match(v, td.rtmr)) pinned_ok.push_back(v);
    if (pinned_ok.empty()) {
      std::vector<std::string> got;
      for (std::size_t i = 0; i < 4; ++i)
        got.push_back("RTMR" + std::to_string(i) + "=" + shorten(hex(td.rtmr[i])));
      return r.fail(
          errc::rtmr_mismatch, "rtmrs",
          "the pinned RTMRs of a version with this MRTD (" + pinned_rtmrs(candidates.front()) + ")",
          join(got));
    }
    r.pass("rtmrs", "the RTMRs each matching version pins", pinned_rtmrs(pinned_ok.front()));
    candidates = std::move(pinned_ok);
    matched = candidates.back();  // versions come oldest first: the newest match by default
  } else {
    r.skip("mrtd", "no catalog versions for this source; pin MRTDs with the policy");
    r.skip("rtmrs", "no catalog versions for this source");
  }

  // workload_running and image_digest: the container the TD runs is the image the publisher
  // pinned by digest, so the measured TD is not serving someone else's code.
  if (inputs.check_workload) {
    if (evidence.workload_state != "running")
      return r.fail(errc::workload_not_running, "workload_running", "workload state 'running'",
                    "'" + evidence.workload_state + "'");
    r.pass("workload_running", "workload state 'running'", "'running'");

    std::vector<PublishedVersion> digest_ok;
    for (auto const& v : candidates)
      if (v.image_digest == evidence.workload_image_digest) digest_ok.push_back(v);
    if (digest_ok.empty()) {
      std::vector<std::string> wanted;
      for (auto const& v : candidates) wanted.push_back(v.version + ": " + v.image_digest);
      return r.fail(
          errc::image_digest_mismatch, "image_digest",
          "the image digest of a matching published version (" + join(wanted) + ")",
          evidence.workload_image_digest.empty() ? "no digest" : evidence.workload_image_digest,
          "the agent runs " + (evidence.workload_image.empty() ? std::string("an unnamed image")
                                                               : evidence.workload_image));
    }
    matched = digest_ok.back();
    for (auto const& v : digest_ok)
      if (v.version == expected.deployed_version) matched = v;
    r.pass("image_digest", "the image of version " + matched.version + ", " + matched.image_digest,
           evidence.workload_image_digest);
  } else {
    r.skip("workload_running", "the evidence carries no workload state");
    r.skip("image_digest", "the evidence carries no workload image");
  }

  // tcb_policy: the platform's TCB status (and debug bit, collateral age) is acceptable.
  auto judged = *verdict;
  auto const first_policy_step = judged.steps.size();
  auto ok = tdx::judge(inputs.policy, judged, now);
  std::vector<std::string> policy_steps;
  for (auto i = first_policy_step; i < judged.steps.size(); ++i) {
    auto const& step = judged.steps[i];
    policy_steps.push_back(step.name + (step.passed ? " ok" : " FAILED") +
                           (step.detail.empty() ? "" : " (" + step.detail + ")"));
  }
  std::vector<std::string> allowed;
  for (auto status : inputs.policy.allowed_tcb_statuses)
    allowed.emplace_back(tdx::to_string(status));
  // The caller's policy may pin more than the TCB (its own MRTDs and RTMRs on top of the
  // catalog's): the expectation and the finding name those too, so a refusal reads as what it is.
  auto expected_tcb = "TCB status in [" + join(allowed) + "]" +
                      (inputs.policy.allow_debug ? "" : ", not a debug TD");
  auto actual_tcb =
      std::string(tdx::to_string(judged.tcb_status)) +
      (judged.advisory_ids.empty() ? std::string()
                                   : " (advisories " + join(judged.advisory_ids) + ")");
  if (!inputs.policy.allowed_mrtds.empty()) {
    std::vector<std::string> pinned;
    for (auto const& m : inputs.policy.allowed_mrtds) pinned.push_back(hex_encode(m));
    expected_tcb += ", MRTD in [" + join(pinned) + "]";
    actual_tcb += ", MRTD " + hex_encode(judged.td_report.mr_td);
  }
  if (!ok)
    return r.fail(errc::policy_refused, "tcb_policy", expected_tcb, actual_tcb,
                  ok.error().message() + " [" + ok.error().id() + "]; " + join(policy_steps, "; "));
  r.pass("tcb_policy", expected_tcb, actual_tcb, join(policy_steps, "; "));

  Appraised out;
  out.appraisal = tdx::appraisal_from_verdict(judged);
  out.version = std::move(matched);
  return out;
}

}  // namespace ee::client
