#pragma once
/// @file Judging a verified quote: which TCB statuses are good enough, whether debug TDs are
/// allowed, which MRTDs and RTMR values are expected, how old collateral may be.
#include <easyenclave/error.hpp>
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

/// Judges `verdict` (which must be accepted by `verify`) against `policy` at `now`, appending one
/// step per check to `verdict.steps` ("policy_tcb_status", "policy_debug", "policy_mrtd",
/// "policy_rtmr<i>", "policy_collateral_age"), so the verdict reads as one account of why a quote
/// was accepted or refused. On refusal also sets `verdict.error`.
/// @returns success, or an error with condition::forbidden (tdx::errc::tcb_status_not_allowed,
///          offline_not_allowed, debug_td_refused, mrtd_not_trusted, rtmr_mismatch,
///          collateral_too_old); the verifier's own error when the verdict was not accepted.
///          Thread-safe for distinct verdicts; never throws (except bad_alloc).
result<void> judge(Policy const& policy, Verdict& verdict, TimePoint now);

}  // namespace ee::tdx
