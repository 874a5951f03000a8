#pragma once
/// @file JSON views of quotes and verdicts, for `ee quote inspect/verify`, the control plane's
/// attestation records and the Python bindings. Hex is lower case; times are RFC 3339 UTC.
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <string>

namespace ee::tdx {

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
