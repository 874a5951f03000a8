#include <easyenclave/tdx/collateral.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"
#include "tdx/collateral_json.hpp"
#include "tdx/x509.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace ee::tdx {
namespace {

namespace core = ::ee::detail;
namespace json = ::ee::detail::json;
using json::ObjectReader;

struct StatusName {
  TcbStatus status;
  std::string_view name;
};
constexpr StatusName kStatusNames[] = {
    {TcbStatus::up_to_date, "UpToDate"},
    {TcbStatus::sw_hardening_needed, "SWHardeningNeeded"},
    {TcbStatus::configuration_needed, "ConfigurationNeeded"},
    {TcbStatus::configuration_and_sw_hardening_needed, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::out_of_date, "OutOfDate"},
    {TcbStatus::out_of_date_configuration_needed, "OutOfDateConfigurationNeeded"},
    {TcbStatus::revoked, "Revoked"},
};

// Every error from inside a signed document becomes malformed_collateral, keeping the path and
// reason the JSON layer gave ("tcbInfo.tcbLevels[2].tcbStatus: ...").
Error malformed(Error const& e) { return Error(errc::malformed_collateral, e.message()); }
Error malformed(std::string what) { return Error(errc::malformed_collateral, std::move(what)); }

template <std::size_t N>
result<std::array<std::uint8_t, N>> hex_field(ObjectReader const& r, std::string_view key) {
  auto text = r.string(key);
  if (!text) return malformed(text.error());
  std::array<std::uint8_t, N> out{};
  if (!core::hex_decode_into(*text, out))
    return malformed(r.field_error(key, ee::errc::bad_hex,
                                   "expected " + std::to_string(2 * N) + " hex digits"));
  return out;
}

result<TimePoint> time_field(ObjectReader const& r, std::string_view key) {
  auto text = r.string(key);
  if (!text) return malformed(text.error());
  auto t = core::parse_rfc3339(*text);
  if (!t) return malformed(r.field_error(key, ee::errc::bad_time, t.error().message()));
  return *t;
}

result<TcbStatus> status_field(ObjectReader const& r, std::string_view key) {
  auto text = r.string(key);
  if (!text) return malformed(text.error());
  auto status = parse_tcb_status(*text);
  if (!status)
    return malformed(r.field_error(key, ee::errc::invalid_value, "unknown TCB status"));
  return *status;
}

result<std::vector<std::string>> advisories_field(ObjectReader const& r) {
  if (!r.contains("advisoryIDs")) return std::vector<std::string>{};
  auto ids = r.string_array("advisoryIDs");
  if (!ids) return malformed(ids.error());
  return std::move(*ids);
}

result<std::int64_t> int_field(ObjectReader const& r, std::string_view key, std::int64_t min,
                               std::int64_t max) {
  auto v = r.integer(key, min, max);
  if (!v) return malformed(v.error());
  return *v;
}

// Calls `each(ObjectReader)` for every element of the array `key`, which must hold objects.
template <class F>
result<void> for_each_object(ObjectReader const& r, std::string_view key, F&& each) {
  auto arr = r.array(key);
  if (!arr) return malformed(arr.error());
  std::size_t i = 0;
  for (auto const& element : **arr) {
    auto item = ObjectReader::from(element, r.path() + "." + std::string(key) + "[" +
                                                std::to_string(i++) + "]");
    if (!item) return malformed(item.error());
    if (auto ok = each(*item); !ok) return ok.error();
  }
  return {};
}

// 16 TCB components: [{"svn": n, "category"?, "type"?}, ...] (TCB info v3).
result<std::array<std::uint8_t, 16>> components_field(ObjectReader const& tcb,
                                                      std::string_view key) {
  std::array<std::uint8_t, 16> out{};
  std::size_t n = 0;
  auto ok = for_each_object(tcb, key, [&](ObjectReader const& c) -> result<void> {
    if (n == out.size())
      return malformed(tcb.field_error(key, ee::errc::out_of_range, "more than 16 components"));
    auto svn = int_field(c, "svn", 0, 255);
    if (!svn) return svn.error();
    out[n++] = static_cast<std::uint8_t>(*svn);
    return {};
  });
  if (!ok) return ok.error();
  if (n != out.size())
    return malformed(tcb.field_error(key, ee::errc::out_of_range,
                                     "expected 16 components, found " + std::to_string(n)));
  return out;
}

// {"tcb": {"isvsvn": n}, "tcbDate", "tcbStatus", "advisoryIDs"?}: QE identity and TDX module
// identity levels share this shape.
template <class Level>
result<Level> isv_level(ObjectReader const& r) {
  Level level;
  auto tcb = r.child("tcb");
  if (!tcb) return malformed(tcb.error());
  auto svn = int_field(*tcb, "isvsvn", 0, 0xffff);
  if (!svn) return svn.error();
  level.isv_svn = static_cast<std::uint16_t>(*svn);
  auto date = time_field(r, "tcbDate");
  if (!date) return date.error();
  level.tcb_date = *date;
  auto status = status_field(r, "tcbStatus");
  if (!status) return status.error();
  level.status = *status;
  auto ids = advisories_field(r);
  if (!ids) return ids.error();
  level.advisory_ids = std::move(*ids);
  return level;
}

result<TdxModuleIdentity> module_identity(ObjectReader const& r) {
  TdxModuleIdentity m;
  auto id = r.string("id");
  if (!id) return malformed(id.error());
  m.id = std::move(*id);
  auto signer = hex_field<48>(r, "mrsigner");
  if (!signer) return signer.error();
  m.mr_signer = *signer;
  auto attributes = hex_field<8>(r, "attributes");
  if (!attributes) return attributes.error();
  m.attributes = *attributes;
  auto mask = hex_field<8>(r, "attributesMask");
  if (!mask) return mask.error();
  m.attributes_mask = *mask;
  auto ok = for_each_object(r, "tcbLevels", [&](ObjectReader const& l) -> result<void> {
    auto level = isv_level<TdxModuleIdentity::Level>(l);
    if (!level) return level.error();
    m.levels.push_back(std::move(*level));
    return {};
  });
  if (!ok) return ok.error();
  return m;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::size_t skip_space(std::string_view s, std::size_t pos) noexcept {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

// End (one past) of the string token starting at `pos` (a '"'), honouring escapes.
std::optional<std::size_t> string_end(std::string_view s, std::size_t pos) noexcept {
  for (std::size_t i = pos + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::nullopt;
}

// End (one past) of the JSON value starting at `pos`. Only called on text that already parsed,
// so brackets balance outside strings.
std::optional<std::size_t> value_end(std::string_view s, std::size_t pos) noexcept {
  if (pos >= s.size()) return std::nullopt;
  if (s[pos] == '"') return string_end(s, pos);
  if (s[pos] == '{' || s[pos] == '[') {
    std::size_t depth = 0;
    for (std::size_t i = pos; i < s.size(); ++i) {
      char const c = s[i];
      if (c == '"') {
        auto end = string_end(s, i);
        if (!end) return std::nullopt;
        i = *end - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return std::nullopt;
  }
  std::size_t i = pos;
  while (i < s.size() && !is_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

result<std::string> bundle_string(ObjectReader const& r, std::string_view key) {
  auto v = r.string(key);
  if (!v) return v.error();
  return std::move(*v);
}

// A CRL field of the bundle: hex DER (dcap-qvl) or PEM text.
result<std::vector<std::uint8_t>> bundle_crl(ObjectReader const& r, std::string_view key) {
  auto text = r.string(key);
  if (!text) return text.error();
  std::vector<std::uint8_t> bytes;
  if (text->find("-----BEGIN") != std::string::npos) {
    bytes.assign(text->begin(), text->end());
  } else {
    auto der = core::hex_decode(*text);
    if (!der) return r.field_error(key, ee::errc::bad_hex, "expected hex DER or PEM");
    bytes = std::move(*der);
  }
  auto der = detail::crl_to_der(bytes, r.path() + "." + std::string(key));
  if (!der) return der.error();
  return std::move(*der);
}

result<std::array<std::uint8_t, 64>> bundle_signature(ObjectReader const& r, std::string_view key) {
  auto text = r.string(key);
  if (!text) return text.error();
  std::array<std::uint8_t, 64> out{};
  if (!core::hex_decode_into(*text, out))
    return r.field_error(key, ee::errc::bad_hex, "expected 128 hex digits (ECDSA r||s)");
  return out;
}

result<void> check_chain(std::string const& pem, std::string const& what) {
  auto chain = detail::parse_pem_chain(pem, what);
  if (!chain) return chain.error();
  return {};
}

// Parses the signed documents and checks the chains and CRLs parse, so a loaded Collateral is
// structurally complete; signatures are verify()'s job.
result<Collateral> finish(Collateral c) {
  auto tcb = detail::parse_tcb_info(c.tcb_info_json);
  if (!tcb) return tcb.error();
  c.tcb_info = std::move(*tcb);
  auto qe = detail::parse_qe_identity(c.qe_identity_json);
  if (!qe) return qe.error();
  c.qe_identity = std::move(*qe);
  if (auto ok = check_chain(c.tcb_info_issuer_chain_pem, "TCB info issuer chain"); !ok)
    return ok.error();
  if (auto ok = check_chain(c.qe_identity_issuer_chain_pem, "QE identity issuer chain"); !ok)
    return ok.error();
  if (auto ok = check_chain(c.pck_crl_issuer_chain_pem, "PCK CRL issuer chain"); !ok)
    return ok.error();
  return c;
}

// {"<key>": {...}, "signature": "<hex r||s>"}: a PCS v4 response body.
result<void> split_pcs_body(std::string_view body, std::string_view key, std::string& signed_json,
                            std::array<std::uint8_t, 64>& signature) {
  auto raw = detail::raw_json_member(body, key);
  if (!raw) return raw.error();
  signed_json.assign(raw->begin(), raw->end());
  auto doc = json::parse(body);
  if (!doc) return malformed(doc.error());
  auto reader = ObjectReader::from(*doc, std::string(key) + " response");
  if (!reader) return malformed(reader.error());
  auto sig = bundle_signature(*reader, "signature");
  if (!sig) return malformed(sig.error());
  signature = *sig;
  return {};
}

}  // namespace

std::string_view to_string(TcbStatus status) noexcept {
  for (auto const& s : kStatusNames)
    if (s.status == status) return s.name;
  return "Unknown";
}

std::optional<TcbStatus> parse_tcb_status(std::string_view text) noexcept {
  for (auto const& s : kStatusNames)
    if (s.name == text) return s.status;
  return std::nullopt;
}

result<TcbStatus> parse_tcb_status_name(std::string_view text) {
  if (auto status = parse_tcb_status(text)) return *status;
  if (text == to_string(TcbStatus::unknown)) return TcbStatus::unknown;
  std::string names;
  for (auto const& s : kStatusNames) names += std::string(s.name) + ", ";
  names += to_string(TcbStatus::unknown);
  return Error(ee::errc::invalid_value, "unknown TCB status '" + std::string(text) + "' (expected one of " + names + ")");
}

namespace detail {

result<TcbInfo> parse_tcb_info(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc) return malformed(doc.error());
  auto r = ObjectReader::from(*doc, "tcbInfo");
  if (!r) return malformed(r.error());
  TcbInfo info;
  auto id = r->string("id");
  if (!id) return malformed(id.error());
  if (*id != "TDX" && *id != "SGX")
    return malformed(r->field_error("id", ee::errc::invalid_value, "expected \"TDX\" or \"SGX\""));
  info.id = std::move(*id);
  bool const tdx = info.id == "TDX";
  auto version = int_field(*r, "version", 3, 3);
  if (!version) return version.error();
  info.version = static_cast<int>(*version);
  auto issued = time_field(*r, "issueDate");
  if (!issued) return issued.error();
  info.issue_date = *issued;
  auto next = time_field(*r, "nextUpdate");
  if (!next) return next.error();
  info.next_update = *next;
  auto fmspc = hex_field<6>(*r, "fmspc");
  if (!fmspc) return fmspc.error();
  info.fmspc = *fmspc;
  auto pce_id = hex_field<2>(*r, "pceId");
  if (!pce_id) return pce_id.error();
  info.pce_id = *pce_id;
  auto tcb_type = int_field(*r, "tcbType", 0, 0xffff);
  if (!tcb_type) return tcb_type.error();
  info.tcb_type = static_cast<int>(*tcb_type);
  auto number = int_field(*r, "tcbEvaluationDataNumber", 0, 0x7fffffff);
  if (!number) return number.error();
  info.tcb_evaluation_data_number = static_cast<int>(*number);

  if (tdx) {
    auto module = r->child("tdxModule");
    if (!module) return malformed(module.error());
    auto signer = hex_field<48>(*module, "mrsigner");
    if (!signer) return signer.error();
    info.tdx_module_mr_signer = *signer;
    auto attributes = hex_field<8>(*module, "attributes");
    if (!attributes) return attributes.error();
    info.tdx_module_attributes = *attributes;
    auto mask = hex_field<8>(*module, "attributesMask");
    if (!mask) return mask.error();
    info.tdx_module_attributes_mask = *mask;
    if (r->contains("tdxModuleIdentities")) {
      auto ok = for_each_object(*r, "tdxModuleIdentities", [&](ObjectReader const& m) {
        auto identity = module_identity(m);
        if (!identity) return result<void>(identity.error());
        info.tdx_module_identities.push_back(std::move(*identity));
        return result<void>();
      });
      if (!ok) return ok.error();
    }
  }

  auto ok = for_each_object(*r, "tcbLevels", [&](ObjectReader const& l) -> result<void> {
    TcbLevel level;
    auto tcb = l.child("tcb");
    if (!tcb) return malformed(tcb.error());
    auto sgx = components_field(*tcb, "sgxtcbcomponents");
    if (!sgx) return sgx.error();
    level.sgx_components = *sgx;
    auto pce_svn = int_field(*tcb, "pcesvn", 0, 0xffff);
    if (!pce_svn) return pce_svn.error();
    level.pce_svn = static_cast<std::uint16_t>(*pce_svn);
    if (tdx) {
      auto tdx_components = components_field(*tcb, "tdxtcbcomponents");
      if (!tdx_components) return tdx_components.error();
      level.tdx_components = *tdx_components;
    }
    auto date = time_field(l, "tcbDate");
    if (!date) return date.error();
    level.tcb_date = *date;
    auto status = status_field(l, "tcbStatus");
    if (!status) return status.error();
    level.status = *status;
    auto ids = advisories_field(l);
    if (!ids) return ids.error();
    level.advisory_ids = std::move(*ids);
    info.levels.push_back(std::move(level));
    return {};
  });
  if (!ok) return ok.error();
  if (info.levels.empty()) return malformed("tcbInfo.tcbLevels: empty");
  return info;
}

result<QeIdentity> parse_qe_identity(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc) return malformed(doc.error());
  auto r = ObjectReader::from(*doc, "enclaveIdentity");
  if (!r) return malformed(r.error());
  QeIdentity qe;
  auto id = r->string("id");
  if (!id) return malformed(id.error());
  qe.id = std::move(*id);
  auto version = int_field(*r, "version", 2, 2);
  if (!version) return version.error();
  qe.version = static_cast<int>(*version);
  auto issued = time_field(*r, "issueDate");
  if (!issued) return issued.error();
  qe.issue_date = *issued;
  auto next = time_field(*r, "nextUpdate");
  if (!next) return next.error();
  qe.next_update = *next;
  auto number = int_field(*r, "tcbEvaluationDataNumber", 0, 0x7fffffff);
  if (!number) return number.error();
  qe.tcb_evaluation_data_number = static_cast<int>(*number);
  // MISCSELECT is written as the 32-bit value in hex ("000000FF"), most significant digit first.
  auto misc = hex_field<4>(*r, "miscselect");
  if (!misc) return misc.error();
  auto misc_mask = hex_field<4>(*r, "miscselectMask");
  if (!misc_mask) return misc_mask.error();
  auto to_u32 = [](std::array<std::uint8_t, 4> const& b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
  };
  qe.misc_select = to_u32(*misc);
  qe.misc_select_mask = to_u32(*misc_mask);
  auto attributes = hex_field<16>(*r, "attributes");
  if (!attributes) return attributes.error();
  qe.attributes = *attributes;
  auto mask = hex_field<16>(*r, "attributesMask");
  if (!mask) return mask.error();
  qe.attributes_mask = *mask;
  auto signer = hex_field<32>(*r, "mrsigner");
  if (!signer) return signer.error();
  qe.mr_signer = *signer;
  auto prod = int_field(*r, "isvprodid", 0, 0xffff);
  if (!prod) return prod.error();
  qe.isv_prod_id = static_cast<std::uint16_t>(*prod);
  auto ok = for_each_object(*r, "tcbLevels", [&](ObjectReader const& l) -> result<void> {
    auto level = isv_level<QeIdentity::Level>(l);
    if (!level) return level.error();
    qe.levels.push_back(std::move(*level));
    return {};
  });
  if (!ok) return ok.error();
  if (qe.levels.empty()) return malformed("enclaveIdentity.tcbLevels: empty");
  return qe;
}

result<std::string_view> raw_json_member(std::string_view body, std::string_view key) {
  auto doc = json::parse(body);
  if (!doc) return malformed(doc.error());
  if (!doc->is_object()) return malformed("response body is not a JSON object");
  std::string const missing = "response body has no \"" + std::string(key) + "\" member";
  std::size_t pos = skip_space(body, 0);
  if (pos >= body.size() || body[pos] != '{') return malformed("response body is not an object");
  pos = skip_space(body, pos + 1);
  while (pos < body.size() && body[pos] == '"') {
    auto const key_end = string_end(body, pos);
    if (!key_end) break;
    auto const token = body.substr(pos, *key_end - pos);
    std::string name(token.substr(1, token.size() - 2));
    if (token.find('\\') != std::string_view::npos) {
      // An escaped key ("tcb\u0049nfo"): let the JSON parser decode it.
      auto decoded = json::parse(token);
      if (!decoded || !decoded->is_string()) break;
      name = std::string(decoded->get_string());
    }
    pos = skip_space(body, *key_end);
    if (pos >= body.size() || body[pos] != ':') break;
    pos = skip_space(body, pos + 1);
    auto const end = value_end(body, pos);
    if (!end) break;
    if (name == key) return body.substr(pos, *end - pos);
    pos = skip_space(body, *end);
    if (pos < body.size() && body[pos] == ',') {
      pos = skip_space(body, pos + 1);
      continue;
    }
    break;
  }
  return malformed(missing);
}

}  // namespace detail

result<Collateral> parse_collateral_bundle(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc, "collateral");
  if (!r) return r.error();
  Collateral c;
  auto s = [&](std::string_view key, std::string& out) -> result<void> {
    auto v = bundle_string(*r, key);
    if (!v) return v.error();
    out = std::move(*v);
    return {};
  };
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"tcb_info", &c.tcb_info_json},
                          {"tcb_info_issuer_chain", &c.tcb_info_issuer_chain_pem},
                          {"qe_identity", &c.qe_identity_json},
                          {"qe_identity_issuer_chain", &c.qe_identity_issuer_chain_pem},
                          {"pck_crl_issuer_chain", &c.pck_crl_issuer_chain_pem}}) {
    if (auto ok = s(key, *out); !ok) return ok.error();
  }
  auto tcb_sig = bundle_signature(*r, "tcb_info_signature");
  if (!tcb_sig) return tcb_sig.error();
  c.tcb_info_signature = *tcb_sig;
  auto qe_sig = bundle_signature(*r, "qe_identity_signature");
  if (!qe_sig) return qe_sig.error();
  c.qe_identity_signature = *qe_sig;
  auto pck_crl = bundle_crl(*r, "pck_crl");
  if (!pck_crl) return pck_crl.error();
  c.pck_crl_der = std::move(*pck_crl);
  auto root_crl = bundle_crl(*r, "root_ca_crl");
  if (!root_crl) return root_crl.error();
  c.root_ca_crl_der = std::move(*root_crl);
  return finish(std::move(c));
}

std::string serialize_collateral_bundle(Collateral const& c) {
  // Key order and encodings of dcap-qvl's QuoteCollateralV3, so either side reads the other's.
  boost::json::object o;
  o["pck_crl_issuer_chain"] = c.pck_crl_issuer_chain_pem;
  o["root_ca_crl"] = core::hex_encode(c.root_ca_crl_der);
  o["pck_crl"] = core::hex_encode(c.pck_crl_der);
  o["tcb_info_issuer_chain"] = c.tcb_info_issuer_chain_pem;
  o["tcb_info"] = c.tcb_info_json;
  o["tcb_info_signature"] = core::hex_encode(c.tcb_info_signature);
  o["qe_identity_issuer_chain"] = c.qe_identity_issuer_chain_pem;
  o["qe_identity"] = c.qe_identity_json;
  o["qe_identity_signature"] = core::hex_encode(c.qe_identity_signature);
  return json::serialize(o);
}

result<Collateral> collateral_from_pcs(PcsResponses const& p) {
  Collateral c;
  if (auto ok = split_pcs_body(p.tcb_info_body, "tcbInfo", c.tcb_info_json, c.tcb_info_signature);
      !ok)
    return ok.error().with_context("TCB info response");
  if (auto ok = split_pcs_body(p.qe_identity_body, "enclaveIdentity", c.qe_identity_json,
                               c.qe_identity_signature);
      !ok)
    return ok.error().with_context("QE identity response");
  c.tcb_info_issuer_chain_pem = p.tcb_info_issuer_chain_pem;
  c.qe_identity_issuer_chain_pem = p.qe_identity_issuer_chain_pem;
  c.pck_crl_issuer_chain_pem = p.pck_crl_issuer_chain_pem;
  auto pck_crl = detail::crl_to_der(p.pck_crl, "PCK CRL");
  if (!pck_crl) return pck_crl.error();
  c.pck_crl_der = std::move(*pck_crl);
  auto root_crl = detail::crl_to_der(p.root_ca_crl, "root CA CRL");
  if (!root_crl) return root_crl.error();
  c.root_ca_crl_der = std::move(*root_crl);
  return finish(std::move(c));
}

result<CollateralWindow> collateral_window(Collateral const& c) {
  CollateralWindow w{.issued_at = std::max(c.tcb_info.issue_date, c.qe_identity.issue_date),
                     .expires_at = std::min(c.tcb_info.next_update, c.qe_identity.next_update)};
  for (auto const& [der, what] : {std::pair{&c.pck_crl_der, "PCK CRL"},
                                  std::pair{&c.root_ca_crl_der, "root CA CRL"}}) {
    auto crl = detail::parse_crl(*der, what);
    if (!crl) return crl.error();
    auto window = detail::crl_window(crl->get(), what);
    if (!window) return window.error();
    w.issued_at = std::max(w.issued_at, window->not_before);
    w.expires_at = std::min(w.expires_at, window->not_after);
  }
  return w;
}

result<Collateral> load_collateral_file(std::filesystem::path const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error(ee::errc::io_error, "cannot open collateral file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return Error(ee::errc::io_error, "cannot read collateral file " + path.string());
  return parse_collateral_bundle(text.str());
}

}  // namespace ee::tdx
