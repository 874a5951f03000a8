// DCAP verification of TDX quotes, with the checks of Intel's Quote Verification Library (QVL,
// QuoteVerifier::verify with its TDX additions): quote signature with the attestation key, PCK
// chain to the pinned root, QE report signature with the PCK key and its binding to the
// attestation key (TDX DCAP API A.3.11), the PCK SGX extension; then the collateral (root CA
// CRL, TCB info and QE identity with their issuer chains and windows, PCK CRL), revocation,
// FMSPC/PCE-ID, QE identity, TDX module identity, TCB level and status convergence. The checks
// that need only the quote run first, so offline mode is a prefix of the full run.
//
// Every check is split into a part that does not depend on the clock (parsing, chains,
// signatures: "prepared", cacheable) and the time checks (validity windows at `now`), applied in
// one place. tdx::verify and tdx::Verifier run the same two parts, so cached and uncached
// verdicts are identical by construction.
#include <easyenclave/tdx/verify.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "tdx/pck_extension.hpp"
#include "tdx/tcb.hpp"
#include "tdx/x509.hpp"

#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace ee::tdx {

struct TrustedRoot::State {
  detail::SharedX509 cert;
  std::vector<std::uint8_t> der;
  std::string fingerprint;
  std::string name;
};

namespace {

namespace core = ::ee::detail;
using detail::SharedCrl;
using detail::SharedX509;
using detail::Window;

// Step names (stable: logs, JSON and tests use them).
constexpr char kStepQuoteSignature[] = "quote_signature";
constexpr char kStepPckChain[] = "pck_chain";
constexpr char kStepQeReportSignature[] = "qe_report_signature";
constexpr char kStepQeReportBinding[] = "qe_report_binding";
constexpr char kStepPckExtension[] = "pck_extension";
constexpr char kStepRootCaCrl[] = "root_ca_crl";
constexpr char kStepTcbInfo[] = "tcb_info";
constexpr char kStepQeIdentity[] = "qe_identity";
constexpr char kStepPckCrl[] = "pck_crl";
constexpr char kStepPckRevocation[] = "pck_revocation";
constexpr char kStepFmspc[] = "fmspc";
constexpr char kStepQeTcb[] = "qe_tcb";
constexpr char kStepTdxModule[] = "tdx_module";
constexpr char kStepTcbLevel[] = "tcb_level";
constexpr char kStepTcbStatus[] = "tcb_status";

// A validity window checked at `now`: certificates give certificate_* codes, collateral
// documents and CRLs collateral_* codes.
struct TimedItem {
  std::string what;
  Window window;
  bool certificate = false;
};

// The clock-independent outcome of one step: what it established or why it failed, and the
// windows it still has to check at `now` (before its own static failure, if any, is reported:
// an expired item is the more useful reason).
struct PreparedStep {
  char const* name = "";
  std::vector<TimedItem> timed{};
  std::string detail{};
  Error error{};
};

// The PCK chain of a quote, verified up to the pinned root.
struct PreparedChain {
  /// SHA-256 of the chain's PEM bytes: the chain cache's key (set by Verifier, empty otherwise).
  std::string digest{};
  PreparedStep chain_step{};
  PreparedStep extension_step{};
  std::vector<SharedX509> certs{};
  std::shared_ptr<EVP_PKEY> pck_key{};
  PckExtension pck{};
  Window window{TimePoint::min(), TimePoint::max()};  // all certificates valid
  bool ok() const noexcept { return !chain_step.error.failed(); }
};

// Collateral with signatures and chains verified; one PreparedStep per collateral step, in
// order, ending at the first static failure.
struct PreparedCollateral {
  std::vector<PreparedStep> steps{};
  SharedCrl root_crl{};
  SharedCrl pck_crl{};
  Window window{TimePoint::min(), TimePoint::max()};  // every time-bounded item valid
  TimePoint issued_at{TimePoint::min()};
  TimePoint expires_at{TimePoint::max()};
  bool ok() const noexcept { return !steps.empty() && !steps.back().error.failed(); }
};

void add_timed(PreparedStep& step, Window& all, std::string what, Window window,
               bool certificate) {
  all.narrow(window);
  step.timed.push_back({std::move(what), window, certificate});
}

std::string time_text(TimePoint t) { return core::format_rfc3339(t); }

// Adds a validity item per certificate, leaf first, with a name for messages.
result<void> add_chain_windows(PreparedStep& step, Window& all,
                               std::vector<SharedX509> const& chain, std::string_view what) {
  for (std::size_t i = 0; i < chain.size(); ++i) {
    std::string const name = std::string(what) + " certificate '" +
                             detail::common_name(chain[i].get()) + "'";
    auto v = detail::validity_of(chain[i].get(), name);
    if (!v) return v.error();
    add_timed(step, all, name, *v, true);
  }
  return {};
}

// The certificates of one call (detail::CertificatePool), with the pinned root's.
detail::CertificatePool pool_for(TrustedRoot::State const* root) {
  if (root == nullptr) return detail::CertificatePool();
  return detail::CertificatePool(root->cert, root->der);
}

PreparedChain prepare_chain(Quote const& quote, TrustedRoot::State const* root,
                            detail::CertificatePool& pool) {
  PreparedChain out;
  out.chain_step.name = kStepPckChain;
  out.extension_step.name = kStepPckExtension;
  auto fail = [&](Error e) {
    out.chain_step.error = std::move(e);
    return std::move(out);
  };
  if (root == nullptr) return fail(Error(errc::pck_chain_untrusted, "no trusted root configured"));
  auto const pem = core::as_chars(quote.pck_chain_pem());
  auto certs = pool.parse_pem_chain(pem, "PCK certificate chain");
  if (!certs) return fail(certs.error());
  if (auto ok = detail::verify_chain(*certs, root->cert.get(), errc::pck_chain_untrusted,
                                     "PCK certificate chain", &pool);
      !ok)
    return fail(ok.error());
  out.certs = std::move(*certs);
  if (auto ok = add_chain_windows(out.chain_step, out.window, out.certs, "PCK chain"); !ok)
    return fail(ok.error());
  auto key = pool.p256_key(out.certs.front().get(), "PCK certificate");
  if (!key) return fail(key.error());
  out.pck_key = std::move(*key);
  out.chain_step.detail = std::to_string(out.certs.size()) + " certificates from '" +
                          detail::common_name(out.certs.front().get()) + "' (issuer '" +
                          detail::common_name(out.certs[1].get()) + "') to the pinned root '" +
                          root->name + "'";
  auto ext = detail::pck_extension_of(out.certs.front().get());
  if (!ext) {
    out.extension_step.error = ext.error();
  } else {
    out.pck = *ext;
    out.extension_step.detail = "FMSPC " + core::hex_encode(out.pck.fmspc) + ", PCE-ID " +
                                core::hex_encode(out.pck.pce_id) + ", PCESVN " +
                                std::to_string(out.pck.pce_svn);
  }
  return out;
}

// The common part of TCB info and QE identity: issuer chain to the root, signer not revoked by
// the root CA CRL, ECDSA over the exact signed text, issueDate..nextUpdate.
result<void> prepare_signed_document(PreparedStep& step, PreparedCollateral& out,
                                     std::string const& chain_pem, std::string_view signed_json,
                                     P256Raw const& signature, TimePoint issued, TimePoint next,
                                     X509* root, detail::CertificatePool& pool,
                                     std::string_view what) {
  std::string const chain_name = std::string(what) + " issuer chain";
  auto chain = pool.parse_pem_chain(chain_pem, chain_name);
  if (!chain) return chain.error();
  if (auto ok = detail::verify_chain(*chain, root, errc::collateral_chain_untrusted, chain_name,
                                     &pool);
      !ok)
    return ok.error();
  if (auto ok = add_chain_windows(step, out.window, *chain, what); !ok) return ok.error();
  X509* signer = chain->front().get();
  for (std::size_t i = 0; i + 1 < chain->size(); ++i)
    if (detail::is_revoked(out.root_crl.get(), (*chain)[i].get()))
      return Error(errc::certificate_revoked, std::string(what) + " signing certificate '" +
                                                  detail::common_name((*chain)[i].get()) +
                                                  "' is revoked by the root CA CRL");
  auto key = pool.p256_key(signer, chain_name);
  if (!key) return key.error();
  if (!detail::verify_p256(key->get(), core::as_bytes(signed_json), signature))
    return Error(errc::bad_collateral_signature,
                 std::string(what) + " signature does not verify with the key of '" +
                     detail::common_name(signer) + "'");
  add_timed(step, out.window, std::string(what), Window{issued, next}, false);
  out.issued_at = std::max(out.issued_at, issued);
  out.expires_at = std::min(out.expires_at, next);
  step.detail = std::string(what) + " signed by '" + detail::common_name(signer) + "', valid " +
                time_text(issued) + " .. " + time_text(next);
  return {};
}

PreparedCollateral prepare_collateral(Collateral const& c, TrustedRoot::State const* root,
                                      detail::CertificatePool& pool) {
  PreparedCollateral out;
  X509* const root_cert = root != nullptr ? root->cert.get() : nullptr;
  // Runs one step; returns false (and stops the caller) when it failed.
  auto run = [&](char const* name, auto&& body) {
    out.steps.push_back(PreparedStep{name});
    auto ok = body(out.steps.back());
    if (!ok) {
      out.steps.back().error = ok.error();
      return false;
    }
    return true;
  };

  // Root CA CRL: signed by the pinned root itself (Intel PCS API v4, "Get Root CA CRL").
  if (!run(kStepRootCaCrl, [&](PreparedStep& step) -> result<void> {
        if (root_cert == nullptr) return Error(errc::collateral_chain_untrusted, "no trusted root");
        auto crl = detail::parse_crl(c.root_ca_crl_der, "root CA CRL");
        if (!crl) return crl.error();
        out.root_crl = std::move(*crl);
        if (auto ok = detail::verify_crl(out.root_crl.get(), root_cert, "root CA CRL"); !ok)
          return ok.error();
        auto window = detail::crl_window(out.root_crl.get(), "root CA CRL");
        if (!window) return window.error();
        add_timed(step, out.window, "root CA CRL", *window, false);
        out.issued_at = std::max(out.issued_at, window->not_before);
        out.expires_at = std::min(out.expires_at, window->not_after);
        step.detail = "root CA CRL signed by the pinned root, next update " +
                      time_text(window->not_after);
        return {};
      }))
    return out;

  if (!run(kStepTcbInfo, [&](PreparedStep& step) -> result<void> {
        auto ok = prepare_signed_document(step, out, c.tcb_info_issuer_chain_pem, c.tcb_info_json,
                                          c.tcb_info_signature, c.tcb_info.issue_date,
                                          c.tcb_info.next_update, root_cert, pool, "TCB info");
        if (!ok) return ok;
        if (c.tcb_info.id != "TDX")
          return Error(errc::collateral_mismatch,
                       "TCB info id is \"" + c.tcb_info.id + "\", a TDX quote needs \"TDX\"");
        return {};
      }))
    return out;

  if (!run(kStepQeIdentity, [&](PreparedStep& step) -> result<void> {
        auto ok = prepare_signed_document(step, out, c.qe_identity_issuer_chain_pem,
                                          c.qe_identity_json, c.qe_identity_signature,
                                          c.qe_identity.issue_date, c.qe_identity.next_update,
                                          root_cert, pool, "QE identity");
        if (!ok) return ok;
        if (c.qe_identity.id != "TD_QE")
          return Error(errc::collateral_mismatch, "QE identity id is \"" + c.qe_identity.id +
                                                      "\", a TDX quote needs \"TD_QE\"");
        return {};
      }))
    return out;

  // PCK CRL: issued by the PCK's CA (Platform or Processor), which chains to the root and is
  // not revoked by the root CA CRL.
  run(kStepPckCrl, [&](PreparedStep& step) -> result<void> {
    auto chain = pool.parse_pem_chain(c.pck_crl_issuer_chain_pem, "PCK CRL issuer chain");
    if (!chain) return chain.error();
    if (auto ok = detail::verify_chain(*chain, root_cert, errc::collateral_chain_untrusted,
                                       "PCK CRL issuer chain", &pool);
        !ok)
      return ok.error();
    if (auto ok = add_chain_windows(step, out.window, *chain, "PCK CRL issuer"); !ok)
      return ok.error();
    X509* issuer = chain->front().get();
    if (detail::is_revoked(out.root_crl.get(), issuer))
      return Error(errc::certificate_revoked, "PCK CRL issuer '" + detail::common_name(issuer) +
                                                  "' is revoked by the root CA CRL");
    auto crl = detail::parse_crl(c.pck_crl_der, "PCK CRL");
    if (!crl) return crl.error();
    out.pck_crl = std::move(*crl);
    if (auto ok = detail::verify_crl(out.pck_crl.get(), issuer, "PCK CRL", pool.key_of(issuer)); !ok)
      return ok.error();
    auto window = detail::crl_window(out.pck_crl.get(), "PCK CRL");
    if (!window) return window.error();
    add_timed(step, out.window, "PCK CRL", *window, false);
    out.issued_at = std::max(out.issued_at, window->not_before);
    out.expires_at = std::min(out.expires_at, window->not_after);
    step.detail = "PCK CRL of '" + detail::common_name(issuer) + "', next update " +
                  time_text(window->not_after);
    return {};
  });
  return out;
}

// Appends a prepared step to the verdict: its time checks first, then its static outcome.
// Returns false when the step failed.
bool apply(PreparedStep const& step, TimePoint now, Verdict& v) {
  for (auto const& item : step.timed) {
    auto ok = item.certificate ? detail::check_validity(item.window, now, item.what)
                               : detail::check_collateral_window(item.window, now, item.what);
    if (!ok) {
      v.steps.push_back({step.name, false, ok.error().message()});
      v.error = ok.error();
      return false;
    }
  }
  if (step.error.failed()) {
    v.steps.push_back({step.name, false, step.error.message()});
    v.error = step.error;
    return false;
  }
  v.steps.push_back({step.name, true, step.detail});
  return true;
}

bool pass(Verdict& v, char const* name, std::string detail) {
  v.steps.push_back({name, true, std::move(detail)});
  return true;
}

bool fail(Verdict& v, char const* name, Error e) {
  v.steps.push_back({name, false, e.message()});
  v.error = std::move(e);
  return false;
}

// What a platform's quoting enclave repeats in every quote, remembered by a long-lived Verifier:
// its attestation key (the same until the QE restarts; importing a point sets up the group and
// checks the point, a tenth of a verification) and its QE report with the PCK's signature over
// it (the same for every quote of that attestation key). Keyed by the exact bytes each entry
// vouches for, so a changed key, report, signature or chain is a miss and is verified in full.
class PlatformCache {
 public:
  explicit PlatformCache(bool qe_reports) : qe_reports_enabled_(qe_reports) {}

  std::shared_ptr<EVP_PKEY> attestation_key(P256Raw const& raw) {
    std::string const key(raw.begin(), raw.end());
    std::lock_guard lock(mutex_);
    auto const it = keys_.find(key);
    return it == keys_.end() ? nullptr : it->second;
  }
  void remember_attestation_key(P256Raw const& raw, std::shared_ptr<EVP_PKEY> pkey) {
    std::string key(raw.begin(), raw.end());
    std::lock_guard lock(mutex_);
    if (keys_.emplace(key, std::move(pkey)).second) bound(keys_, key_order_, std::move(key));
  }

  /// The key under which a QE report signed with `chain`'s PCK key is remembered: empty when the
  /// chain was not cached (no digest) or QE reports are not remembered.
  std::string qe_report_key(Quote const& quote, PreparedChain const& chain) const {
    if (!qe_reports_enabled_ || chain.digest.empty()) return {};
    auto const report = quote.qe_report_bytes();
    auto const& signature = quote.qe_report_signature();
    std::string key;
    key.reserve(chain.digest.size() + report.size() + signature.size());
    key.append(chain.digest);
    key.append(report.begin(), report.end());
    key.append(signature.begin(), signature.end());
    return key;
  }
  bool qe_report_verified(std::string const& key) {
    if (key.empty()) return false;
    std::lock_guard lock(mutex_);
    return qe_reports_.contains(key);
  }
  void remember_qe_report(std::string key) {
    if (key.empty()) return;
    std::lock_guard lock(mutex_);
    if (qe_reports_.insert(key).second) bound(qe_reports_, qe_report_order_, std::move(key));
  }

 private:
  // Platforms a control plane sees; past this the oldest entry is forgotten (and verified in full
  // when it comes back).
  static constexpr std::size_t kMaxEntries = 4096;

  template <typename Container>
  static void bound(Container& entries, std::list<std::string>& order, std::string key) {
    order.push_back(std::move(key));
    if (order.size() > kMaxEntries) {
      entries.erase(order.front());
      order.pop_front();
    }
  }

  bool const qe_reports_enabled_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<EVP_PKEY>> keys_;
  std::list<std::string> key_order_;
  std::unordered_set<std::string> qe_reports_;
  std::list<std::string> qe_report_order_;
};

bool check_quote_signature(Quote const& quote, Verdict& v, PlatformCache* cache) {
  std::shared_ptr<EVP_PKEY> key = cache != nullptr ? cache->attestation_key(quote.attestation_key()) : nullptr;
  if (!key) {
    auto imported = detail::p256_key_from_raw(quote.attestation_key());
    if (!imported) return fail(v, kStepQuoteSignature, imported.error());
    key = std::shared_ptr<EVP_PKEY>(imported->release(), EVP_PKEY_free);
    // A key is a point on the curve whatever it signed: remembered even if this signature fails.
    if (cache != nullptr) cache->remember_attestation_key(quote.attestation_key(), key);
  }
  if (!detail::verify_p256(key.get(), quote.signed_bytes(), quote.signature())) {
    return fail(v, kStepQuoteSignature,
                Error(errc::bad_quote_signature,
                      "quote signature does not verify with the attestation key over header and "
                      "TD report (" + std::to_string(quote.signed_bytes().size()) + " bytes)"));
  }
  return pass(v, kStepQuoteSignature, "header and TD report signed by the attestation key");
}

bool check_qe_report(Quote const& quote, PreparedChain const& chain, Verdict& v, PlatformCache* cache) {
  auto report_key = cache != nullptr ? cache->qe_report_key(quote, chain) : std::string();
  if (!cache || !cache->qe_report_verified(report_key)) {
    if (!detail::verify_p256(chain.pck_key.get(), quote.qe_report_bytes(), quote.qe_report_signature())) {
      return fail(v, kStepQeReportSignature,
                  Error(errc::bad_qe_report_signature,
                        "QE report signature does not verify with the PCK certificate key"));
    }
    if (cache != nullptr) cache->remember_qe_report(std::move(report_key));
  }
  pass(v, kStepQeReportSignature, "QE report signed by the PCK key");

  // QE report data = SHA-256(attestation key || QE auth data) || 32 zero bytes (TDX DCAP API,
  // A.3.11): this is what ties the attestation key to the platform's PCK.
  core::Sha256Hasher hasher;
  hasher.update(quote.attestation_key());
  hasher.update(quote.qe_auth_data());
  auto const digest = hasher.finish();
  auto const& rd = quote.qe_report().report_data;
  bool const bound = std::equal(digest.begin(), digest.end(), rd.begin()) &&
                     std::all_of(rd.begin() + 32, rd.end(), [](std::uint8_t b) { return b == 0; });
  if (!bound)
    return fail(v, kStepQeReportBinding,
                Error(errc::qe_report_binding_mismatch,
                      "QE report data is not SHA-256(attestation key || QE auth data) || zeros"));
  return pass(v, kStepQeReportBinding, "QE report data binds the attestation key");
}

bool check_revocation(PreparedChain const& chain, PreparedCollateral const& coll, Verdict& v) {
  X509* leaf = chain.certs.front().get();
  if (X509_NAME_cmp(X509_CRL_get_issuer(coll.pck_crl.get()), X509_get_issuer_name(leaf)) != 0)
    return fail(v, kStepPckRevocation,
                Error(errc::crl_issuer_mismatch,
                      "PCK CRL is not issued by the PCK certificate's issuer '" +
                          detail::common_name(chain.certs[1].get()) + "'"));
  if (detail::is_revoked(coll.pck_crl.get(), leaf))
    return fail(v, kStepPckRevocation,
                Error(errc::certificate_revoked,
                      "PCK certificate " + detail::serial_hex(leaf) + " is revoked"));
  for (std::size_t i = 1; i + 1 < chain.certs.size(); ++i)
    if (detail::is_revoked(coll.root_crl.get(), chain.certs[i].get()))
      return fail(v, kStepPckRevocation,
                  Error(errc::certificate_revoked,
                        "'" + detail::common_name(chain.certs[i].get()) +
                            "' is revoked by the root CA CRL"));
  return pass(v, kStepPckRevocation, "PCK certificate and its CA not revoked");
}

bool evaluate_tcb(Quote const& quote, PckExtension const& pck, Collateral const& c, Verdict& v) {
  auto const& info = c.tcb_info;
  if (info.fmspc != pck.fmspc)
    return fail(v, kStepFmspc,
                Error(errc::fmspc_mismatch, "TCB info is for FMSPC " +
                                                core::hex_encode(info.fmspc) +
                                                ", the PCK certificate has " +
                                                core::hex_encode(pck.fmspc)));
  if (info.pce_id != pck.pce_id)
    return fail(v, kStepFmspc,
                Error(errc::fmspc_mismatch, "TCB info is for PCE-ID " +
                                                core::hex_encode(info.pce_id) +
                                                ", the PCK certificate has " +
                                                core::hex_encode(pck.pce_id)));
  pass(v, kStepFmspc, "FMSPC " + core::hex_encode(pck.fmspc) + " and PCE-ID match");

  auto qe = detail::match_qe_identity(c.qe_identity, quote.qe_report());
  if (!qe) return fail(v, kStepQeTcb, qe.error());
  pass(v, kStepQeTcb, "QE ISVSVN " + std::to_string(quote.qe_report().isv_svn) + ": " +
                          std::string(to_string((*qe)->status)));

  auto module = detail::match_tdx_module(info, quote.td_report());
  if (!module) return fail(v, kStepTdxModule, module.error());
  pass(v, kStepTdxModule,
       module->identity_id.empty()
           ? std::string("TDX module signer and attributes match tdxModule")
           : module->identity_id + " SVN " + std::to_string(quote.td_report().tee_tcb_svn[0]) +
                 ": " + std::string(to_string(module->level->status)));

  auto level =
      detail::match_platform_level(info, pck, quote.td_report(), module->first_tdx_component);
  if (!level) return fail(v, kStepTcbLevel, level.error());
  pass(v, kStepTcbLevel, "TCB level of " + time_text((*level)->tcb_date) + ": " +
                             std::string(to_string((*level)->status)));

  // QVL: the platform status, converged with the TDX module's, then with the QE's.
  TcbStatus status = (*level)->status;
  std::vector<std::string> advisories = (*level)->advisory_ids;
  if (module->level != nullptr) {
    status = detail::converge(status, module->level->status);
    detail::merge_advisories(advisories, module->level->advisory_ids);
  }
  status = detail::converge(status, (*qe)->status);
  detail::merge_advisories(advisories, (*qe)->advisory_ids);
  v.tcb_status = status;
  v.tcb_date = (*level)->tcb_date;
  v.advisory_ids = std::move(advisories);
  return pass(v, kStepTcbStatus, std::string(to_string(status)));
}

// The whole verification over prepared (possibly cached) parts.
Verdict evaluate(Quote const& quote, PreparedChain const& chain, Collateral const* collateral,
                 PreparedCollateral const* prepared, TimePoint now, PlatformCache* cache = nullptr) {
  Verdict v;
  v.checked_at = now;
  v.offline = collateral == nullptr;
  v.td_report = quote.td_report();
  if (!check_quote_signature(quote, v, cache)) return v;
  if (!apply(chain.chain_step, now, v)) return v;
  if (!check_qe_report(quote, chain, v, cache)) return v;
  if (!apply(chain.extension_step, now, v)) return v;
  v.pck = chain.pck;
  v.fmspc = chain.pck.fmspc;
  if (collateral == nullptr) return v;

  for (auto const& step : prepared->steps)
    if (!apply(step, now, v)) return v;
  v.collateral_issued_at = prepared->issued_at;
  v.collateral_expires_at = prepared->expires_at;
  if (!check_revocation(chain, *prepared, v)) return v;
  evaluate_tcb(quote, chain.pck, *collateral, v);
  return v;
}

result<TrustedRoot::State> make_state(std::span<std::uint8_t const> pem_or_der) {
  auto cert = detail::parse_certificate(pem_or_der, "trusted root");
  if (!cert) return cert.error();
  TrustedRoot::State s;
  s.der = detail::certificate_der(cert->get());
  s.fingerprint = core::hex_encode(core::sha256(s.der));
  s.name = detail::common_name(cert->get());
  // Fills OpenSSL's extension cache now, while the certificate is not shared yet: chains
  // point at this object (CertificatePool) from every thread.
  (void)X509_check_ca(cert->get());
  s.cert = std::move(*cert);
  return s;
}

}  // namespace

// --- TrustedRoot -----------------------------------------------------------------------------

result<TrustedRoot> TrustedRoot::from_certificate(std::span<std::uint8_t const> pem_or_der) {
  auto state = make_state(pem_or_der);
  if (!state) {
    return state.error();
  }
  return TrustedRoot(std::make_shared<State const>(std::move(*state)));
}

result<TrustedRoot> TrustedRoot::from_file(std::filesystem::path const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ee::errc::io_error, "cannot open trusted root " + path.string());
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) return Error(ee::errc::io_error, "cannot read trusted root " + path.string());
  return from_certificate(bytes);
}

TrustedRoot TrustedRoot::intel_sgx_root_ca() {
  // Parsed once; a failure here would mean the embedded bytes are corrupt, which the test of
  // their SHA-256 catches. A null state verifies nothing (every chain is untrusted). Allocated
  // and never destroyed: threads still verifying while the process exits (daemon threads in an
  // embedding interpreter) must not see it freed by static destruction.
  static auto const* state = new std::shared_ptr<State const>([] {
    auto s = make_state(detail::intel_sgx_root_ca_der());
    return s ? std::make_shared<State const>(std::move(*s)) : std::shared_ptr<State const>();
  }());
  return TrustedRoot(*state);
}

std::string TrustedRoot::fingerprint() const { return state_ ? state_->fingerprint : ""; }
std::string TrustedRoot::common_name() const { return state_ ? state_->name : ""; }

// --- Verdict ---------------------------------------------------------------------------------

bool Verdict::accepted() const noexcept {
  return !error.failed() && !steps.empty() &&
         std::all_of(steps.begin(), steps.end(), [](auto const& s) { return s.passed; });
}

VerificationStep const* Verdict::first_failure() const noexcept {
  auto const it = std::find_if(steps.begin(), steps.end(), [](auto const& s) { return !s.passed; });
  return it == steps.end() ? nullptr : &*it;
}

// --- verify ----------------------------------------------------------------------------------

result<Verdict> verify(Quote const& quote, Collateral const* collateral,
                       VerifyOptions const& options) {
  auto const* root = options.root.state().get();
  // One pool for the whole call: the PCK chain and the collateral's chains share the Intel
  // root and CAs, each parsed and checked once.
  auto pool = pool_for(root);
  PreparedChain const chain = prepare_chain(quote, root, pool);
  if (collateral == nullptr) return evaluate(quote, chain, nullptr, nullptr, options.now);
  PreparedCollateral const prepared = prepare_collateral(*collateral, root, pool);
  return evaluate(quote, chain, collateral, &prepared, options.now);
}

// --- Verifier --------------------------------------------------------------------------------

struct Verifier::Impl {
  static constexpr std::size_t kMaxChains = 1024;
  static constexpr std::size_t kMaxCollaterals = 64;

  struct CollateralEntry {
    std::weak_ptr<Collateral const> owner;
    std::shared_ptr<PreparedCollateral const> prepared;
  };

  TrustedRoot root;
  PlatformCache platforms;
  std::mutex mutex;
  // Keyed by SHA-256 of the chain bytes, never by a serial number: Intel re-issued certificates
  // with the same serial and key but new validity.
  std::unordered_map<std::string, std::shared_ptr<PreparedChain const>> chains;
  std::list<std::string> chain_order;  // oldest first, for eviction
  std::unordered_map<Collateral const*, CollateralEntry> collaterals;

  Impl(TrustedRoot r, VerifierOptions const& options)
      : root(std::move(r)), platforms(options.cache_qe_reports) {}

  std::shared_ptr<PreparedChain const> chain_for(Quote const& quote, TimePoint now) {
    auto const digest = core::sha256(quote.pck_chain_pem());
    std::string key(digest.begin(), digest.end());
    {
      std::lock_guard lock(mutex);
      auto const it = chains.find(key);
      // A cached chain is only reused inside the window where every certificate is valid;
      // outside it the uncached path reports the precise expiry.
      if (it != chains.end() && it->second->window.contains(now)) return it->second;
    }
    auto pool = pool_for(root.state().get());
    auto chain = prepare_chain(quote, root.state().get(), pool);
    chain.digest = key;
    auto prepared = std::make_shared<PreparedChain const>(std::move(chain));
    if (prepared->ok() && prepared->window.contains(now)) {
      std::lock_guard lock(mutex);
      if (chains.emplace(key, prepared).second) {
        chain_order.push_back(key);
        if (chain_order.size() > kMaxChains) {
          chains.erase(chain_order.front());
          chain_order.pop_front();
        }
      }
    }
    return prepared;
  }

  std::shared_ptr<PreparedCollateral const> collateral_for(
      std::shared_ptr<Collateral const> const& collateral, TimePoint now) {
    {
      std::lock_guard lock(mutex);
      auto const it = collaterals.find(collateral.get());
      // The weak owner guards against a new Collateral allocated at a freed one's address.
      if (it != collaterals.end() && it->second.owner.lock() == collateral &&
          it->second.prepared->window.contains(now))
        return it->second.prepared;
    }
    auto pool = pool_for(root.state().get());
    auto prepared = std::make_shared<PreparedCollateral const>(
        prepare_collateral(*collateral, root.state().get(), pool));
    if (prepared->ok() && prepared->window.contains(now)) {
      std::lock_guard lock(mutex);
      if (collaterals.size() >= kMaxCollaterals) {
        for (auto it = collaterals.begin(); it != collaterals.end();)
          it = it->second.owner.expired() ? collaterals.erase(it) : std::next(it);
        if (collaterals.size() >= kMaxCollaterals) collaterals.clear();
      }
      collaterals[collateral.get()] = CollateralEntry{collateral, prepared};
    }
    return prepared;
  }
};

Verifier::Verifier(TrustedRoot root, VerifierOptions options)
    : impl_(std::make_shared<Impl>(std::move(root), options)) {}

result<Verdict> Verifier::verify(Quote const& quote,
                                 std::shared_ptr<Collateral const> const& collateral,
                                 TimePoint now) const {
  auto const chain = impl_->chain_for(quote, now);
  if (!collateral) return evaluate(quote, *chain, nullptr, nullptr, now, &impl_->platforms);
  auto const prepared = impl_->collateral_for(collateral, now);
  return evaluate(quote, *chain, collateral.get(), prepared.get(), now, &impl_->platforms);
}

}  // namespace ee::tdx
