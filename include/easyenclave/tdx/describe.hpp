#pragma once
/// @file JSON views of quotes and verdicts, for `ee quote inspect/verify`, the control plane's
/// attestation records and the Python bindings. Hex is lower case; times are RFC 3339 UTC.
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <easyenclave/tdx/policy.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ee::tdx {

/// Reads and parses a binary quote file. @returns core errc::io_error for an unreadable file, or
/// the parse_quote errors. Never throws (except bad_alloc).
result<Quote> read_quote_file(std::filesystem::path const& path);

/// What `ee quote verify` does, for any caller that holds files: load the quote, the collateral
/// bundle (empty path: offline verification, which the policy then allows) and the root (empty:
/// the Intel SGX Root CA), verify at `now`, and judge a verified quote with `policy`.
struct QuoteFileCheck {
  std::filesystem::path quote_file{};
  std::filesystem::path collateral_file{};
  std::filesystem::path root_file{};
  TimePoint now{};
  std::vector<TcbStatus> allowed_tcb_statuses{TcbStatus::up_to_date};
};
/// @returns the verdict, whose `accepted()` is the outcome and whose steps include the policy's;
///          an error only when a file cannot be read or parsed (io_error, parse errors, bad
///          collateral or root), with the file named. Never throws (except bad_alloc).
result<Verdict> check_quote_file(QuoteFileCheck const& check);

/// Every parsed field of `quote`: header, body type, TD report (all registers), QE report,
/// attestation key, signature, QE auth data, the PCK chain size and the trailing byte count.
/// Compact JSON. Thread-safe; never throws (except bad_alloc).
std::string describe_quote_json(Quote const& quote);

/// `verdict` as JSON: accepted, offline, tcb_status, advisory_ids, fmspc, the measurements, the
/// PCK extension, collateral window, every step with pass/fail and detail, and the error code
/// and message of the first failure. Compact JSON. Thread-safe; never throws (except bad_alloc).
std::string describe_verdict_json(Verdict const& verdict);

/// A few readable lines for a terminal: version, body type, MRTD, RTMRs, report data, attributes,
/// QE identity and sizes. Never throws (except bad_alloc).
std::string describe_quote_text(Quote const& quote);

/// "ACCEPTED"/"REJECTED" with the TCB status, then one line per step ("[ok]" or "[FAIL]", the
/// step name and its detail). Never throws (except bad_alloc).
std::string describe_verdict_text(Verdict const& verdict);

}  // namespace ee::tdx
