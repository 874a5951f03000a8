#pragma once
/// @file Judging appraised evidence: which TCB statuses are good enough, whether debug TDs are
/// allowed, which MRTDs and RTMR values are expected, how old collateral may be.
///
/// There is one judge, of an `Appraisal` (what both appraisers, local DCAP and Intel Trust
/// Authority, produce). `judge(Policy, Verdict&, now)` is that judge applied to a local verdict,
/// for the CLI, the client and the Python package; the control plane layers its per-node-size
/// trusted MRTD list on top of it (cp/policy.hpp).
#include <easyenclave/error.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <vector>

namespace ee::tdx {

struct Policy {
  /// How the TCB status is judged: `strict` refuses statuses outside `allowed_tcb_statuses`;
  /// `warn` accepts them but records a failed-but-tolerated step; `disabled` skips the check.
  enum class TcbMode { strict, warn, disabled };
  TcbMode tcb_mode = TcbMode::strict;
  std::vector<TcbStatus> allowed_tcb_statuses{TcbStatus::up_to_date};
  /// Accept verdicts made without collateral (TCB status unknown). Off by default: an offline
  /// verdict proves the quote came from a genuine, unrevoked-at-manufacture platform, not that
  /// its firmware is current.
  bool allow_offline = false;
  /// TDs whose TDATTRIBUTES debug bit is set expose their memory to the host: refused unless set.
  bool allow_debug = false;
  /// Accepted MRTDs; empty means any.
  std::vector<Measurement> allowed_mrtds{};
  /// Expected RTMR values; an empty optional means "not checked".
  std::array<std::optional<Measurement>, 4> expected_rtmrs{};
  /// Refuse collateral issued longer ago than this (measured from `Verdict::collateral_issued_at`).
  std::optional<std::chrono::seconds> max_collateral_age{};
};

/// The outcome of judging an appraisal: a value, like a Verdict.
struct Judgement {
  /// One step per check that ran, in order: "policy_debug", "policy_tcb_status",
  /// "policy_mrtd" (when `allowed_mrtds` is set), "policy_rtmr<i>" (each expected RTMR),
  /// "policy_collateral_age" (when `max_collateral_age` is set). Judging stops at the first
  /// refusal, which is the last step.
  std::vector<VerificationStep> steps{};
  /// The checks that failed but that the policy tolerates (TCB status under `TcbMode::warn`);
  /// each is also in `steps`, as passed, its detail ending in "tolerated (tcb mode warn)".
  std::vector<VerificationStep> tolerated{};
  /// The refusal (condition::forbidden), or no error when accepted.
  Error error{};
  bool accepted() const noexcept { return !error.failed(); }
};

/// Judges `appraisal` against `policy` at `now` (the clock of the collateral-age check). The
/// checks, in order: the debug attribute (refused unless `allow_debug`); the TCB status (an
/// offline appraisal needs `allow_offline`; otherwise `tcb_mode` and `allowed_tcb_statuses`);
/// the MRTD allow-list; the expected RTMRs; the collateral age (an appraisal that does not say
/// when its collateral was issued is refused when a limit is set).
/// @returns the judgement; its error is one of tdx::errc::debug_td_refused, offline_not_allowed,
///          tcb_status_not_allowed, mrtd_not_trusted, rtmr_mismatch, collateral_too_old, whose
///          detail names what was found and what was allowed. No I/O; thread-safe; never throws
///          (except bad_alloc).
Judgement judge(Policy const& policy, Appraisal const& appraisal, TimePoint now);

/// The same judge applied to a local verdict (which must be accepted by `verify`): appends the
/// judgement's steps to `verdict.steps`, so the verdict reads as one account of why a quote was
/// accepted or refused, and on refusal also sets `verdict.error`.
/// @returns success, or the judgement's error (condition::forbidden); the verifier's own error
///          when the verdict was not accepted. Thread-safe for distinct verdicts; never throws
///          (except bad_alloc).
result<void> judge(Policy const& policy, Verdict& verdict, TimePoint now);

}  // namespace ee::tdx
