#include <easyenclave/tdx/describe.hpp>

#include <easyenclave/file.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"

#include <optional>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace ee::tdx {
namespace {

namespace bj = boost::json;

constexpr std::string_view kQuoteFormats =
    "a quote file holds a TDX quote as binary (starting with version 4 or 5 as a little-endian "
    "u16), hex text or base64 text";

template <std::size_t N>
bj::string hex(std::array<std::uint8_t, N> const& bytes) {
  return bj::string(detail::hex_encode(bytes));
}
bj::string hex(std::span<std::uint8_t const> bytes) { return bj::string(detail::hex_encode(bytes)); }

bj::object td_report_json(TdReport const& r) {
  bj::object o;
  o["tee_tcb_svn"] = hex(r.tee_tcb_svn);
  o["mr_seam"] = hex(r.mr_seam);
  o["mr_signer_seam"] = hex(r.mr_signer_seam);
  o["seam_attributes"] = hex(r.seam_attributes);
  o["td_attributes"] = hex(r.td_attributes);
  o["xfam"] = hex(r.xfam);
  o["mr_td"] = hex(r.mr_td);
  o["mr_config_id"] = hex(r.mr_config_id);
  o["mr_owner"] = hex(r.mr_owner);
  o["mr_owner_config"] = hex(r.mr_owner_config);
  bj::array rtmr;
  for (auto const& m : r.rtmr) rtmr.emplace_back(hex(m));
  o["rtmr"] = std::move(rtmr);
  o["report_data"] = hex(r.report_data);
  if (r.is_td15) {
    o["tee_tcb_svn2"] = hex(r.tee_tcb_svn2);
    o["mr_servicetd"] = hex(r.mr_servicetd);
  }
  o["debug"] = r.debug();
  o["sept_ve_disable"] = r.sept_ve_disable();
  return o;
}

// The verifier sets `pck` and `fmspc` once the "pck_extension" step passed.
bool pck_was_read(Verdict const& verdict) {
  for (auto const& step : verdict.steps)
    if (step.name == "pck_extension") return step.passed;
  return false;
}

bj::array string_array(std::vector<std::string> const& items) {
  bj::array out;
  for (auto const& s : items) out.emplace_back(bj::string(s));
  return out;
}

}  // namespace

std::string describe_quote_json(Quote const& quote) {
  bj::object header;
  auto const& h = quote.header();
  header["version"] = h.version;
  header["attestation_key_type"] = h.attestation_key_type;
  header["tee_type"] = h.tee_type;
  header["qe_svn"] = h.qe_svn;
  header["pce_svn"] = h.pce_svn;
  header["qe_vendor_id"] = hex(h.qe_vendor_id);
  header["user_data"] = hex(h.user_data);

  auto const& qe = quote.qe_report();
  bj::object qe_report;
  qe_report["cpu_svn"] = hex(qe.cpu_svn);
  qe_report["misc_select"] = qe.misc_select;
  qe_report["attributes"] = hex(qe.attributes);
  qe_report["mr_enclave"] = hex(qe.mr_enclave);
  qe_report["mr_signer"] = hex(qe.mr_signer);
  qe_report["isv_prod_id"] = qe.isv_prod_id;
  qe_report["isv_svn"] = qe.isv_svn;
  qe_report["report_data"] = hex(qe.report_data);

  bj::object out;
  out["size"] = quote.raw().size();
  out["header"] = std::move(header);
  out["body_type"] = quote.body_type();
  out["td_report"] = td_report_json(quote.td_report());
  out["signed_size"] = quote.signed_bytes().size();
  out["signature"] = hex(quote.signature());
  out["attestation_key"] = hex(quote.attestation_key());
  out["qe_report"] = std::move(qe_report);
  out["qe_report_signature"] = hex(quote.qe_report_signature());
  out["qe_auth_data"] = hex(quote.qe_auth_data());
  out["pck_chain_size"] = quote.pck_chain_pem().size();
  out["trailing_bytes"] = quote.trailing_bytes().size();
  return bj::serialize(out);
}

std::string describe_verdict_json(Verdict const& verdict) {
  bj::object out;
  out["accepted"] = verdict.accepted();
  out["offline"] = verdict.offline;
  out["tcb_status"] = bj::string(to_string(verdict.tcb_status));
  out["advisory_ids"] = string_array(verdict.advisory_ids);
  bool const pck_read = pck_was_read(verdict);
  if (pck_read)
    out["fmspc"] = hex(verdict.fmspc);
  else
    out["fmspc"] = nullptr;
  out["checked_at"] = detail::format_rfc3339(verdict.checked_at);
  if (!verdict.offline) {
    out["collateral_issued_at"] = detail::format_rfc3339(verdict.collateral_issued_at);
    out["collateral_expires_at"] = detail::format_rfc3339(verdict.collateral_expires_at);
  }
  // The PPID is left out on purpose: it identifies the physical platform, and a verdict is shown
  // to clients and stored by the control plane.
  bj::object pck;
  pck["fmspc"] = hex(verdict.pck.fmspc);
  pck["pce_id"] = hex(verdict.pck.pce_id);
  pck["pce_svn"] = verdict.pck.pce_svn;
  pck["cpu_svn"] = hex(verdict.pck.cpu_svn);
  bj::array components;
  for (auto c : verdict.pck.sgx_components) components.emplace_back(c);
  pck["sgx_components"] = std::move(components);
  pck["sgx_type"] = verdict.pck.sgx_type;
  if (pck_read)
    out["pck"] = std::move(pck);
  else
    out["pck"] = nullptr;
  out["td_report"] = td_report_json(verdict.td_report);
  bj::array steps;
  for (auto const& s : verdict.steps) {
    bj::object step;
    step["name"] = bj::string(s.name);
    step["passed"] = s.passed;
    step["detail"] = bj::string(s.detail);
    steps.emplace_back(std::move(step));
  }
  out["steps"] = std::move(steps);
  if (verdict.error.failed()) {
    bj::object error;
    error["code"] = bj::string(verdict.error.id());
    error["message"] = bj::string(verdict.error.message());
    out["error"] = std::move(error);
  }
  return bj::serialize(out);
}

std::string_view to_string(QuoteEncoding encoding) noexcept {
  switch (encoding) {
    case QuoteEncoding::binary: return "binary";
    case QuoteEncoding::hex: return "hex text";
    case QuoteEncoding::base64: return "base64 text";
  }
  return "binary";
}

result<DecodedQuote> decode_quote_file(std::span<std::uint8_t const> contents) {
  if (contents.size() > kMaxQuoteFileBytes)
    return Error(ee::errc::out_of_range, std::to_string(contents.size()) + " bytes, more than the " +
                                             std::to_string(kMaxQuoteFileBytes) + " a quote file may hold");
  if (contents.empty()) return Error(ee::errc::invalid_value, "empty; " + std::string(kQuoteFormats));

  // (1) A TDX quote begins with its version, 4 or 5, as a little-endian u16: the second byte is
  // NUL, which no text holds, so this reading excludes the others.
  if (contents.size() >= 2 && (contents[0] == 4 || contents[0] == 5) && contents[1] == 0)
    return DecodedQuote{{contents.begin(), contents.end()}, QuoteEncoding::binary};

  // (2) Text: whitespace anywhere is layout (trailing newlines, wrapped lines), not data.
  std::string text;
  bool printable = true, hex_digits = true, base64_chars = true;
  std::size_t first_odd = 0;
  for (std::size_t i = 0; i < contents.size(); ++i) {
    auto const c = static_cast<char>(contents[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') continue;
    if (contents[i] < 0x21 || contents[i] > 0x7e) {
      printable = false;
      break;
    }
    bool const is_alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool const is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!is_hex && hex_digits) hex_digits = false;
    if (!(is_alnum || c == '+' || c == '/' || c == '=') && base64_chars) {
      base64_chars = false;
      first_odd = i;
    }
    text += c;
  }
  if (printable) {
    if (text.empty()) return Error(ee::errc::invalid_value, "only whitespace; " + std::string(kQuoteFormats));
    // Text whose characters fit an encoding but that does not decode may be no quote at all
    // ("notaquote" is base64's alphabet): the error says how it was read and what is accepted.
    auto const undecodable = [](Error const& e, std::string_view as) {
      return Error(e.code(), "read as " + std::string(as) + " (the only format its characters fit): " +
                                 e.message() + "; " + std::string(kQuoteFormats));
    };
    if (hex_digits) {
      auto bytes = detail::hex_decode(text);
      if (!bytes) return undecodable(bytes.error(), "hex text");
      return DecodedQuote{std::move(*bytes), QuoteEncoding::hex};
    }
    if (base64_chars) {
      auto bytes = detail::base64_decode(text);
      if (!bytes) return undecodable(bytes.error(), "base64 text");
      return DecodedQuote{std::move(*bytes), QuoteEncoding::base64};
    }
    // (3) Text, but neither encoding.
    return Error(ee::errc::invalid_value, "text that is neither hex nor base64 ('" +
                                              std::string(1, static_cast<char>(contents[first_odd])) +
                                              "' at byte " + std::to_string(first_odd) + "); " +
                                              std::string(kQuoteFormats));
  }
  // (4) Binary that is not a TDX v4/v5 quote: parse_quote says what it is.
  return DecodedQuote{{contents.begin(), contents.end()}, QuoteEncoding::binary};
}

result<Quote> read_quote_file(std::filesystem::path const& path) {
  auto contents = read_file(path, kMaxQuoteFileBytes);
  if (!contents) return contents.error();
  auto decoded = decode_quote_file(detail::as_bytes(*contents));
  if (!decoded) return decoded.error().with_context(path.string());
  auto quote = parse_quote(decoded->bytes);
  if (!quote) {
    auto const where = path.string() + " (" + std::string(to_string(decoded->encoding)) + ")";
    // Binary that does not start like a TDX quote may be any file at all: say what is accepted.
    bool const recognised = decoded->bytes.size() >= 2 && (decoded->bytes[0] == 4 || decoded->bytes[0] == 5) &&
                            decoded->bytes[1] == 0;
    if (!recognised) return quote.error().with_context(where + ": " + std::string(kQuoteFormats));
    return quote.error().with_context(where);
  }
  return quote;
}

result<Verdict> check_quote_file(QuoteFileCheck const& check) {
  auto quote = read_quote_file(check.quote_file);
  if (!quote) return quote.error();
  VerifyOptions options;
  options.now = check.now;
  if (!check.root_file.empty()) {
    auto root = TrustedRoot::from_file(check.root_file);
    if (!root) return root.error().with_context("root " + check.root_file.string());
    options.root = *root;
  }
  std::optional<Collateral> collateral;
  if (!check.collateral_file.empty()) {
    auto loaded = load_collateral_file(check.collateral_file);
    if (!loaded) return loaded.error().with_context("collateral " + check.collateral_file.string());
    collateral = std::move(*loaded);
  }
  auto verdict = verify(*quote, collateral ? &*collateral : nullptr, options);
  if (!verdict) return verdict.error();
  if (verdict->accepted()) {
    Policy policy;
    policy.allow_offline = !collateral;  // giving no collateral is choosing offline verification
    policy.allowed_tcb_statuses = check.allowed_tcb_statuses;
    (void)judge(policy, *verdict, check.now);  // the outcome is recorded in the verdict's steps
  }
  return verdict;
}

std::string describe_quote_text(Quote const& quote) {
  auto const& r = quote.td_report();
  std::string out = "TDX quote v" + std::to_string(quote.version()) + " (TD report " +
                    (r.is_td15 ? "1.5" : "1.0") + "), " + std::to_string(quote.raw().size()) + " bytes\n";
  auto line = [&out](std::string_view label, std::string const& value) {
    out += "  ";
    out += label;
    out.append(label.size() < 16 ? 16 - label.size() : 1, ' ');
    out += value;
    out += '\n';
  };
  line("mr_td", detail::hex_encode(r.mr_td));
  for (std::size_t i = 0; i < 4; ++i) line("rtmr" + std::to_string(i), detail::hex_encode(r.rtmr[i]));
  line("report_data", detail::hex_encode(r.report_data));
  line("td_attributes", detail::hex_encode(r.td_attributes) + " (debug " + (r.debug() ? "yes" : "no") +
                            ", sept_ve_disable " + (r.sept_ve_disable() ? "yes" : "no") + ")");
  line("xfam", detail::hex_encode(r.xfam));
  line("tee_tcb_svn", detail::hex_encode(r.tee_tcb_svn));
  if (r.is_td15) line("tee_tcb_svn2", detail::hex_encode(r.tee_tcb_svn2));
  line("mr_seam", detail::hex_encode(r.mr_seam));
  line("mr_config_id", detail::hex_encode(r.mr_config_id));
  line("mr_owner", detail::hex_encode(r.mr_owner));
  auto const& qe = quote.qe_report();
  line("qe", "mr_signer " + detail::hex_encode(qe.mr_signer) + ", isv_prod_id " +
                 std::to_string(qe.isv_prod_id) + ", isv_svn " + std::to_string(qe.isv_svn));
  line("pck_chain", std::to_string(quote.pck_chain_pem().size()) + " bytes of PEM");
  line("trailing", std::to_string(quote.trailing_bytes().size()) + " bytes after the signature data");
  return out;
}

std::string describe_verdict_text(Verdict const& verdict) {
  std::string out = verdict.accepted() ? "ACCEPTED" : "REJECTED";
  out += verdict.offline ? "  (offline: no collateral, TCB status unknown)"
                         : "  tcb_status=" + std::string(to_string(verdict.tcb_status));
  // Before the PCK certificate was read the FMSPC is not known; zeros would read as a value.
  if (pck_was_read(verdict)) out += "  fmspc=" + detail::hex_encode(verdict.fmspc);
  if (!verdict.advisory_ids.empty()) {
    out += "  advisories=";
    for (std::size_t i = 0; i < verdict.advisory_ids.size(); ++i)
      out += (i ? "," : "") + verdict.advisory_ids[i];
  }
  out += '\n';
  for (auto const& step : verdict.steps) {
    out += step.passed ? "  [ok]   " : "  [FAIL] ";
    out += step.name;
    if (!step.detail.empty()) out += ": " + step.detail;
    out += '\n';
  }
  if (verdict.error.failed()) out += "  error: " + verdict.error.id() + "\n";
  return out;
}

}  // namespace ee::tdx
