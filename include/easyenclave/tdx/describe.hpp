#pragma once
/// @file JSON views of quotes and verdicts, for `ee quote inspect/verify`, the control plane's
/// attestation records and the Python bindings. Hex is lower case; times are RFC 3339 UTC.
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <easyenclave/tdx/policy.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::tdx {

/// How the bytes of a quote file were written.
enum class QuoteEncoding { binary, hex, base64 };
/// "binary", "hex text", "base64 text".
std::string_view to_string(QuoteEncoding encoding) noexcept;

/// A quote file's contents, decoded.
struct DecodedQuote {
  std::vector<std::uint8_t> bytes{};
  QuoteEncoding encoding = QuoteEncoding::binary;
};

/// The most bytes a quote file may hold (a quote with its PCK chain is a few KiB).
inline constexpr std::size_t kMaxQuoteFileBytes = 1024 * 1024;

/// Decodes the contents of a quote file, written as binary, hex text or base64 text. The rule,
/// which reads every byte at most twice and never guesses between overlapping readings:
/// (1) contents whose first two bytes are 4 or 5 as a little-endian u16 (a TDX quote's version)
/// are binary: text never holds a NUL byte; (2) otherwise, with ASCII whitespace removed (ends
/// and line breaks, as `base64` and `xxd -p` wrap), text of hex digits only is hex (either case,
/// even length), and text of the base64 alphabet only (`A-Z a-z 0-9 + /`, `=` padding) is
/// canonical padded base64; (3) other text (printable ASCII and whitespace only) is refused;
/// (4) anything else is binary, for `parse_quote` to say what it is (an SGX quote, another
/// version), with the accepted formats named in the error (read_quote_file).
/// @returns the bytes and the encoding, or core errc::bad_hex / bad_base64 (hex or base64 text
///          that does not decode), errc::out_of_range (more than kMaxQuoteFileBytes) or
///          errc::invalid_value (empty, or text that is neither hex nor base64); each message
///          names the accepted formats. Never throws (except bad_alloc); `contents` is only read
///          during the call.
result<DecodedQuote> decode_quote_file(std::span<std::uint8_t const> contents);

/// Reads a quote file (binary, hex or base64 text: see decode_quote_file) and parses it.
/// @returns core errc::io_error for an unreadable file, the decode_quote_file errors, or the
///          parse_quote errors; every message names the file, and a parse error of contents
///          that are not a quote in any accepted format names the formats. Never throws (except
///          bad_alloc).
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
/// and message of the first failure. `fmspc` and `pck` are null when verification failed before
/// the PCK certificate was read. Compact JSON. Thread-safe; never throws (except bad_alloc).
std::string describe_verdict_json(Verdict const& verdict);

/// A few readable lines for a terminal: version, body type, MRTD, RTMRs, report data, attributes,
/// QE identity and sizes. Never throws (except bad_alloc).
std::string describe_quote_text(Quote const& quote);

/// "ACCEPTED"/"REJECTED" with the TCB status (and the FMSPC once the PCK certificate was read),
/// then one line per step ("[ok]" or "[FAIL]", the step name and its detail). Never throws
/// (except bad_alloc).
std::string describe_verdict_text(Verdict const& verdict);

}  // namespace ee::tdx
