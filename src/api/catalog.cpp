// The CP's public views and the catalog's request bodies (api/catalog.hpp). One JSON mapping
// each: the CP writes its answers with these to_json functions and clients read them with these
// parsers. Readers are strict about what they know (every documented field, its type, format and
// size; the field named on error, its value never echoed) and ignore what they do not.
#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/image_reference.hpp>

#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <utility>

namespace ee::api {
namespace {

namespace json = ::ee::detail::json;
namespace bj = boost::json;
using json::ObjectReader;

// One view is small; a list of 100 000 agents is not.
constexpr json::ParseLimits kViewLimits{.max_bytes = 4 * 1024 * 1024, .max_depth = 8};
constexpr json::ParseLimits kListLimits{.max_bytes = 256 * 1024 * 1024, .max_depth = 8};
constexpr json::ParseLimits kBodyLimits{.max_bytes = 64 * 1024, .max_depth = 8};

constexpr std::size_t kMaxDescription = 1024;
constexpr std::size_t kMaxText = 4096;  // reasons, details, keys, URLs
constexpr std::size_t kMaxShort = 256;  // statuses, labels, repositories
constexpr std::size_t kMaxAdvisories = 256;

bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c); }
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool all_chars(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(),
                     [extra](char c) { return is_alnum(c) || extra.find(c) != extra.npos; });
}

// --- rules: each checks one value and names `field` ----------------------------------------

using Rule = result<void> (*)(std::string_view value, std::string const& field);

Error bad(std::string const& field, ee::errc code, std::string_view rule) {
  return Error(code, field + ": " + std::string(rule));
}

template <std::size_t Max>
result<void> at_most(std::string_view v, std::string const& field) {
  if (v.size() > Max)
    return bad(field, ee::errc::out_of_range, "must be at most " + std::to_string(Max) + " characters");
  return {};
}

result<void> id(std::string_view v, std::string const& field) {
  if (v.empty() || v.size() > 128 || !is_alnum(v.front()) || !all_chars(v, "._-"))
    return bad(field, ee::errc::invalid_value,
               "must be 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit");
  return {};
}

result<void> app_name(std::string_view v, std::string const& field) {
  bool const ok = !v.empty() && v.size() <= 63 && (is_lower(v.front()) || is_digit(v.front())) &&
                  std::all_of(v.begin(), v.end(), [](char c) { return is_lower(c) || is_digit(c) || c == '-'; });
  if (!ok) return bad(field, ee::errc::invalid_value, "must be 1-63 of [a-z0-9-], starting with a letter or digit");
  return {};
}

result<void> version(std::string_view v, std::string const& field) {
  if (v.empty() || v.size() > 64 || !all_chars(v, "._+-"))
    return bad(field, ee::errc::invalid_value, "must be 1-64 of [A-Za-z0-9._+-]");
  return {};
}

result<void> source_repo(std::string_view v, std::string const& field) {
  auto const slash = v.find('/');
  bool const ok = slash != std::string_view::npos && slash > 0 && slash <= 39 && slash + 1 < v.size() &&
                  v.size() - slash - 1 <= 100 && all_chars(v.substr(0, slash), "-") &&
                  all_chars(v.substr(slash + 1), "._-");
  if (!ok) return bad(field, ee::errc::invalid_value, "must be a GitHub repository, \"org/repo\"");
  return {};
}

template <std::size_t N>
result<void> hex(std::string_view v, std::string const& field) {
  if (v.size() != N || !std::all_of(v.begin(), v.end(), is_hex))
    return bad(field, ee::errc::invalid_value, "must be " + std::to_string(N) + " hex characters");
  return {};
}

template <std::size_t N>
result<void> hex_or_empty(std::string_view v, std::string const& field) {
  if (v.empty()) return {};
  return hex<N>(v, field);
}

result<void> owner_id(std::string_view v, std::string const& field) {
  if (v.size() > 20 || !std::all_of(v.begin(), v.end(), is_digit))
    return bad(field, ee::errc::invalid_value, "must be a numeric GitHub id or empty");
  return {};
}

result<void> pinned_image(std::string_view v, std::string const& field) {
  return check_pinned_image(v, field);
}

template <Rule R>
result<void> or_empty(std::string_view v, std::string const& field) {
  if (v.empty()) return {};
  return R(v, field);
}

result<void> vm_name(std::string_view v, std::string const& field) { return check_vm_name(v, field); }
result<void> owner(std::string_view v, std::string const& field) { return check_owner(v, field); }
result<void> node_size(std::string_view v, std::string const& field) { return check_node_size(v, field); }
result<void> datacenter(std::string_view v, std::string const& field) { return check_datacenter(v, field); }
result<void> digest(std::string_view v, std::string const& field) { return check_digest(v, field); }

result<void> one_of(std::string_view v, std::string const& field, std::initializer_list<std::string_view> values) {
  if (std::find(values.begin(), values.end(), v) != values.end()) return {};
  std::string rule = "must be one of";
  for (auto value : values) rule += " \"" + std::string(value) + "\"";
  return bad(field, ee::errc::invalid_value, rule);
}

result<void> agent_status(std::string_view v, std::string const& field) {
  return one_of(v, field, {"idle", "deployed", "down", "unverified"});
}
result<void> agent_health(std::string_view v, std::string const& field) {
  return one_of(v, field, {"unknown", "up", "down"});
}
result<void> deployment_status(std::string_view v, std::string const& field) {
  return one_of(v, field, {"queued", "pending", "deploying", "running", "failed", "stopped"});
}
result<void> measurement_type(std::string_view v, std::string const& field) {
  return one_of(v, field, {"agent", "proxy"});
}

// --- reading: the first error of a run of fields ----------------------------------------------

// Reads fields one after another and keeps the first error, so a reader is a list of fields.
class Fields {
 public:
  explicit Fields(ObjectReader const& r) : r_(r) {}

  ObjectReader const& reader() const noexcept { return r_; }
  std::string field(std::string_view key) const { return r_.path() + "." + std::string(key); }
  bool ok() const noexcept { return !error_; }
  Error error() const { return *error_; }
  void fail(Error e) {
    if (!error_) error_ = std::move(e);
  }
  template <class T>
  bool take(result<T> const& r) {
    if (!r) fail(r.error());
    return r.has_value();
  }

  /// A required string that passes `rule`.
  void text(std::string_view key, std::string& out, Rule rule) {
    if (!ok()) return;
    auto v = r_.string(key);
    if (!take(v)) return;
    if (!take(rule(*v, field(key)))) return;
    out = std::move(*v);
  }
  /// A string that may be absent, null or "" (all read as "").
  void optional_text(std::string_view key, std::string& out, Rule rule) {
    if (!ok()) return;
    auto v = r_.optional_string(key);
    if (!take(v)) return;
    out.clear();
    if (!*v || (*v)->empty()) return;
    if (!take(rule(**v, field(key)))) return;
    out = std::move(**v);
  }
  /// A required field, a string or null (read as "").
  void nullable_text(std::string_view key, std::string& out, Rule rule) {
    if (!ok()) return;
    if (r_.object().if_contains(key) == nullptr) {
      fail(r_.field_error(key, ee::errc::missing_field, "required field is missing"));
      return;
    }
    optional_text(key, out, rule);
  }
  /// A required field, an RFC 3339 time or null (read as the epoch, "unset").
  void time(std::string_view key, TimePoint& out) {
    std::string value;
    nullable_text(key, value, at_most<64>);
    if (!ok()) return;
    out = TimePoint{};
    if (value.empty()) return;
    auto t = detail::parse_rfc3339(value);
    if (!t) {
      fail(r_.field_error(key, ee::errc::invalid_value, "must be an RFC 3339 time or null"));
      return;
    }
    out = *t;
  }
  void boolean(std::string_view key, bool& out) {
    if (!ok()) return;
    auto v = r_.boolean(key);
    if (take(v)) out = *v;
  }
  void integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max) {
    if (!ok()) return;
    auto v = r_.integer(key, min, max);
    if (take(v)) out = *v;
  }
  /// An array of exactly 4 strings passing `rule`; with `nulls`, null entries read as "".
  void four(std::string_view key, std::array<std::string, 4>& out, Rule rule, bool nulls) {
    if (!ok()) return;
    auto list = r_.array(key);
    if (!take(list)) return;
    if ((*list)->size() != 4) {
      fail(r_.field_error(key, ee::errc::invalid_value, nulls ? "must list 4 values (null: not pinned)" : "must list 4 values"));
      return;
    }
    for (std::size_t i = 0; i < 4; ++i) {
      auto const& item = (**list)[i];
      auto const name = field(key) + "[" + std::to_string(i) + "]";
      if (nulls && item.is_null()) {
        out[i].clear();
        continue;
      }
      if (!item.is_string()) {
        fail(bad(name, ee::errc::wrong_type, nulls ? "expected a string or null" : "expected a string"));
        return;
      }
      std::string value(item.as_string());
      if (!take(rule(value, name))) return;
      out[i] = std::move(value);
    }
  }

 private:
  ObjectReader const& r_;
  std::optional<Error> error_;
};

template <class T>
using ReadFn = result<T> (*)(bj::value const&, std::string);

template <class T>
result<T> parse_one(std::string_view text, ReadFn<T> read) {
  auto doc = json::parse(text, kViewLimits);
  if (!doc) return doc.error();
  return read(*doc, "body");
}

template <class T>
result<std::vector<T>> parse_list(std::string_view text, ReadFn<T> read) {
  auto doc = json::parse(text, kListLimits);
  if (!doc) return doc.error();
  if (!doc->is_array()) {
    return Error(ee::errc::wrong_type, "body: expected array, got " + std::string(json::kind_name(*doc)));
  }
  std::vector<T> out;
  out.reserve(doc->as_array().size());
  std::size_t index = 0;
  for (auto const& item : doc->as_array()) {
    auto one = read(item, "body[" + std::to_string(index++) + "]");
    if (!one) return one.error();
    out.push_back(std::move(*one));
  }
  return out;
}

// Written one element at a time: a listing of 100 000 agents never holds a DOM of all of them.
template <class T>
std::string list_json(std::vector<T> const& items) {
  std::string out = "[";
  for (auto const& item : items) {
    if (out.size() > 1) out += ',';
    out += to_json(item);
  }
  out += ']';
  return out;
}

// --- writing ------------------------------------------------------------------------------------

bj::value time_value(TimePoint t) {
  if (t == TimePoint{}) return nullptr;
  return bj::value(detail::format_rfc3339(t));
}

bj::value string_or_null(std::string const& s) {
  return s.empty() ? bj::value(nullptr) : bj::value(s);
}

template <class Strings>
bj::array strings(Strings const& values) {
  bj::array out;
  for (auto const& v : values) out.emplace_back(v);
  return out;
}

std::string text(bj::object o) { return json::serialize(bj::value(std::move(o))); }

// --- version and publish bodies -------------------------------------------------------------

void put_version_fields(bj::object& o, VersionRequest const& r) {
  o["version"] = r.version;
  o["image"] = r.image;
  o["mrtd"] = r.mrtd;
  if (std::any_of(r.rtmrs.begin(), r.rtmrs.end(), [](auto const& s) { return !s.empty(); })) {
    bj::array rtmrs;
    for (auto const& v : r.rtmrs) rtmrs.push_back(string_or_null(v));
    o["rtmrs"] = std::move(rtmrs);
  }
  if (!r.node_size.empty()) o["node_size"] = r.node_size;
}

std::string lowercase(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void read_version_fields(Fields& f, VersionRequest& out) {
  f.text("version", out.version, version);
  f.text("image", out.image, pinned_image);
  f.text("mrtd", out.mrtd, hex<96>);
  out.mrtd = lowercase(std::move(out.mrtd));
  if (!f.ok()) return;
  if (auto const* rtmrs = f.reader().object().if_contains("rtmrs"); rtmrs != nullptr && !rtmrs->is_null()) {
    f.four("rtmrs", out.rtmrs, hex<96>, true);
    for (auto& r : out.rtmrs) r = lowercase(std::move(r));
  }
  f.optional_text("node_size", out.node_size, or_empty<node_size>);
}

template <class T>
result<T> finish(Fields const& f, T out) {
  if (!f.ok()) return f.error();
  return out;
}

}  // namespace

std::string to_json(VersionRequest const& r) {
  bj::object o;
  put_version_fields(o, r);
  return text(std::move(o));
}

result<VersionRequest> parse_version_request(std::string_view json_text) {
  auto doc = json::parse(json_text, kBodyLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  Fields f(*reader);
  VersionRequest out;
  read_version_fields(f, out);
  return finish(f, std::move(out));
}

std::string to_json(PublishRequest const& r) {
  bj::object o;
  o["name"] = r.name;
  if (!r.description.empty()) o["description"] = r.description;
  o["source_repo"] = r.source_repo;
  put_version_fields(o, r.version);
  return text(std::move(o));
}

result<PublishRequest> parse_publish_request(std::string_view json_text) {
  auto doc = json::parse(json_text, kBodyLimits);
  if (!doc) return doc.error();
  auto reader = ObjectReader::from(*doc);
  if (!reader) return reader.error();
  Fields f(*reader);
  PublishRequest out;
  f.text("name", out.name, app_name);
  f.optional_text("description", out.description, at_most<kMaxDescription>);
  f.text("source_repo", out.source_repo, source_repo);
  read_version_fields(f, out.version);
  return finish(f, std::move(out));
}

// --- agents ---------------------------------------------------------------------------------

namespace {

result<AgentView> read_agent_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  AgentView a;
  f.text("agent_id", a.agent_id, id);
  f.text("vm_name", a.vm_name, vm_name);
  f.text("owner", a.owner, or_empty<owner>);
  f.text("owner_id", a.owner_id, owner_id);
  f.text("node_size", a.node_size, or_empty<node_size>);
  f.text("datacenter", a.datacenter, or_empty<datacenter>);
  f.text("status", a.status, agent_status);
  f.boolean("verified", a.verified);
  f.optional_text("unverified_reason", a.unverified_reason, at_most<kMaxText>);
  f.text("health", a.health, agent_health);
  f.text("hostname", a.hostname, at_most<253>);
  f.text("agent_url", a.agent_url, at_most<kMaxText>);
  f.text("public_key", a.public_key, at_most<kMaxText>);
  f.text("mrtd", a.mrtd, hex_or_empty<96>);
  f.text("tcb_status", a.tcb_status, at_most<kMaxShort>);
  f.nullable_text("deployment_id", a.deployment_id, id);
  f.text("reported_status", a.reported_status, at_most<kMaxShort>);
  f.text("reported_digest", a.reported_digest, or_empty<digest>);
  f.time("registered_at", a.registered_at);
  f.time("last_registered_at", a.last_registered_at);
  f.time("last_heartbeat_at", a.last_heartbeat_at);
  f.integer("seconds_since_heartbeat", a.seconds_since_heartbeat, 0, std::numeric_limits<std::int64_t>::max());
  return finish(f, std::move(a));
}

}  // namespace

// Written field by field rather than through a value tree: listings write this 100 000 times a
// request. The output is what serialising the same object would give (tests compare them).
std::string to_json(AgentView const& a) {
  std::string out;
  out.reserve(768);
  append_json_without_age(out, a);
  append_json_age(out, a.seconds_since_heartbeat);
  return out;
}

void append_json_without_age(std::string& out, AgentView const& a) {
  json::ObjectWriter o(out);
  o.string("agent_id", a.agent_id)
      .string("vm_name", a.vm_name)
      .string("owner", a.owner)
      .string("owner_id", a.owner_id)
      .string("node_size", a.node_size)
      .string("datacenter", a.datacenter)
      .string("status", a.status)
      .boolean("verified", a.verified);
  if (!a.verified) o.string("unverified_reason", a.unverified_reason);
  o.string("health", a.health)
      .string("hostname", a.hostname)
      .string("agent_url", a.agent_url)
      .string("public_key", a.public_key)
      .string("mrtd", a.mrtd)
      .string("tcb_status", a.tcb_status);
  if (a.deployment_id.empty()) {
    o.null("deployment_id");
  } else {
    o.string("deployment_id", a.deployment_id);
  }
  o.string("reported_status", a.reported_status).string("reported_digest", a.reported_digest);
  for (auto const& [name, at] : {std::pair{"registered_at", a.registered_at},
                                 std::pair{"last_registered_at", a.last_registered_at},
                                 std::pair{"last_heartbeat_at", a.last_heartbeat_at}}) {
    if (at == TimePoint{}) {
      o.null(name);
    } else {
      o.string(name, detail::format_rfc3339(at));
    }
  }
}

// The object is never empty here, so the member follows a comma.
void append_json_age(std::string& out, std::int64_t seconds_since_heartbeat) {
  out += ",\"seconds_since_heartbeat\":";
  out += std::to_string(seconds_since_heartbeat);
  out += '}';
}

result<AgentView> parse_agent_view(std::string_view json_text) {
  return parse_one<AgentView>(json_text, read_agent_view);
}
std::string to_json(std::vector<AgentView> const& list) { return list_json(list); }
result<std::vector<AgentView>> parse_agent_views(std::string_view json_text) {
  return parse_list<AgentView>(json_text, read_agent_view);
}

std::string to_json(AgentAttestationView const& a) {
  bj::object o;
  o["mrtd"] = a.mrtd;
  o["rtmrs"] = strings(a.rtmrs);
  o["tcb_status"] = a.tcb_status;
  o["tcb_date"] = time_value(a.tcb_date);
  o["advisory_ids"] = strings(a.advisory_ids);
  o["appraised_by"] = a.appraised_by;
  o["appraised_at"] = time_value(a.appraised_at);
  o["report_data"] = a.report_data;
  o["agent_id"] = a.agent_id;
  o["vm_name"] = a.vm_name;
  o["verified"] = a.verified;
  if (!a.verified) o["unverified_reason"] = a.unverified_reason;
  o["public_key"] = a.public_key;
  return text(std::move(o));
}

namespace {

result<AgentAttestationView> read_agent_attestation_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  AgentAttestationView a;
  f.text("mrtd", a.mrtd, hex_or_empty<96>);
  f.four("rtmrs", a.rtmrs, hex_or_empty<96>, false);
  f.text("tcb_status", a.tcb_status, at_most<kMaxShort>);
  f.time("tcb_date", a.tcb_date);
  if (f.ok()) {
    auto ids = reader->string_array("advisory_ids");
    if (f.take(ids)) {
      if (ids->size() > kMaxAdvisories) {
        f.fail(reader->field_error("advisory_ids", ee::errc::out_of_range,
                                   "must list at most " + std::to_string(kMaxAdvisories) + " ids"));
      }
      for (std::size_t i = 0; f.ok() && i < ids->size(); ++i) {
        f.take(at_most<kMaxShort>((*ids)[i], f.field("advisory_ids") + "[" + std::to_string(i) + "]"));
      }
      a.advisory_ids = std::move(*ids);
    }
  }
  f.text("appraised_by", a.appraised_by, at_most<kMaxShort>);
  f.time("appraised_at", a.appraised_at);
  f.text("report_data", a.report_data, hex_or_empty<128>);
  f.text("agent_id", a.agent_id, id);
  f.text("vm_name", a.vm_name, vm_name);
  f.boolean("verified", a.verified);
  f.optional_text("unverified_reason", a.unverified_reason, at_most<kMaxText>);
  f.text("public_key", a.public_key, at_most<kMaxText>);
  return finish(f, std::move(a));
}

}  // namespace

result<AgentAttestationView> parse_agent_attestation_view(std::string_view json_text) {
  return parse_one<AgentAttestationView>(json_text, read_agent_attestation_view);
}

// --- apps and versions ------------------------------------------------------------------------

namespace {

bj::object version_object(AppVersionView const& v) {
  bj::object o;
  o["app_name"] = v.app_name;
  o["version"] = v.version;
  o["image"] = v.image;
  o["mrtd"] = v.mrtd;
  bj::array rtmrs;
  for (auto const& r : v.rtmrs) rtmrs.push_back(string_or_null(r));
  o["rtmrs"] = std::move(rtmrs);
  o["node_size"] = v.node_size;
  o["published_by"] = v.published_by;
  o["published_at"] = time_value(v.published_at);
  return o;
}

result<AppVersionView> read_app_version_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  AppVersionView out;
  f.text("app_name", out.app_name, app_name);
  f.text("version", out.version, version);
  f.text("image", out.image, pinned_image);
  f.text("mrtd", out.mrtd, hex<96>);
  f.four("rtmrs", out.rtmrs, hex<96>, true);
  f.text("node_size", out.node_size, or_empty<node_size>);
  f.text("published_by", out.published_by, at_most<kMaxShort>);
  f.time("published_at", out.published_at);
  return finish(f, std::move(out));
}

bj::object app_object(AppView const& a) {
  bj::object o;
  o["name"] = a.name;
  o["description"] = a.description;
  o["owner_id"] = a.owner_id;
  o["source_repo"] = a.source_repo;
  o["owner"] = a.owner;
  o["created_at"] = time_value(a.created_at);
  if (a.versions) {
    bj::array versions;
    for (auto const& v : *a.versions) versions.emplace_back(version_object(v));
    o["versions"] = std::move(versions);
  }
  return o;
}

result<AppView> read_app_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  AppView out;
  f.text("name", out.name, app_name);
  f.text("description", out.description, at_most<kMaxDescription>);
  f.text("owner_id", out.owner_id, owner_id);
  f.text("source_repo", out.source_repo, source_repo);
  f.text("owner", out.owner, at_most<kMaxShort>);
  f.time("created_at", out.created_at);
  if (f.ok()) {
    if (auto const* present = reader->object().if_contains("versions"); present != nullptr && !present->is_null()) {
      auto list = reader->array("versions");
      if (f.take(list)) {
        out.versions.emplace();
        out.versions->reserve((*list)->size());
        for (std::size_t i = 0; f.ok() && i < (*list)->size(); ++i) {
          auto one = read_app_version_view((**list)[i], f.field("versions") + "[" + std::to_string(i) + "]");
          if (f.take(one)) out.versions->push_back(std::move(*one));
        }
      }
    }
  }
  return finish(f, std::move(out));
}

}  // namespace

std::string to_json(AppVersionView const& v) { return text(version_object(v)); }
result<AppVersionView> parse_app_version_view(std::string_view json_text) {
  return parse_one<AppVersionView>(json_text, read_app_version_view);
}

std::string to_json(AppView const& a) { return text(app_object(a)); }
result<AppView> parse_app_view(std::string_view json_text) {
  return parse_one<AppView>(json_text, read_app_view);
}
std::string to_json(std::vector<AppView> const& list) { return list_json(list); }
result<std::vector<AppView>> parse_app_views(std::string_view json_text) {
  return parse_list<AppView>(json_text, read_app_view);
}

// --- deployments ----------------------------------------------------------------------------

namespace {

// A deployment changes status a handful of times; a longer history is not one the CP wrote.
constexpr std::size_t kMaxHistory = 1000;

result<DeploymentChangeView> read_deployment_change(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  DeploymentChangeView c;
  f.text("status", c.status, deployment_status);
  f.text("detail", c.detail, at_most<kMaxText>);
  f.time("at", c.at);
  return finish(f, std::move(c));
}

result<DeploymentView> read_deployment_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  DeploymentView d;
  f.text("deployment_id", d.deployment_id, id);
  f.text("app_name", d.app_name, app_name);
  f.text("version", d.version, version);
  f.text("agent_id", d.agent_id, id);
  f.text("image", d.image, pinned_image);
  f.text("status", d.status, deployment_status);
  f.text("detail", d.detail, at_most<kMaxText>);
  f.text("requested_by", d.requested_by, at_most<kMaxShort>);
  f.time("created_at", d.created_at);
  f.time("updated_at", d.updated_at);
  f.optional_text("replaces", d.replaces, id);
  f.optional_text("rollout_id", d.rollout_id, id);
  if (f.ok() && !d.rollout_id.empty()) f.integer("rollout_step", d.rollout_step, 0, 1'000'000);
  if (f.ok()) {
    if (auto const* present = reader->object().if_contains("history"); present != nullptr && !present->is_null()) {
      auto list = reader->array("history");
      if (f.take(list)) {
        d.history.emplace();
        d.history->reserve(std::min<std::size_t>((*list)->size(), kMaxHistory));
        for (std::size_t i = 0; f.ok() && i < (*list)->size(); ++i) {
          auto const where = f.field("history") + "[" + std::to_string(i) + "]";
          if (i >= kMaxHistory) {
            f.take(result<int>(bad(where, ee::errc::out_of_range, "more entries than a deployment's history has")));
            break;
          }
          auto one = read_deployment_change((**list)[i], where);
          if (f.take(one)) d.history->push_back(std::move(*one));
        }
      }
    }
  }
  return finish(f, std::move(d));
}

}  // namespace

std::string to_json(DeploymentView const& d) {
  bj::object o;
  o["deployment_id"] = d.deployment_id;
  o["app_name"] = d.app_name;
  o["version"] = d.version;
  o["agent_id"] = d.agent_id;
  o["image"] = d.image;
  o["status"] = d.status;
  o["detail"] = d.detail;
  o["requested_by"] = d.requested_by;
  o["created_at"] = time_value(d.created_at);
  o["updated_at"] = time_value(d.updated_at);
  if (!d.replaces.empty()) o["replaces"] = d.replaces;
  if (!d.rollout_id.empty()) {
    o["rollout_id"] = d.rollout_id;
    o["rollout_step"] = d.rollout_step;
  }
  if (d.history) {
    bj::array history;
    for (auto const& c : *d.history) {
      bj::object entry;
      entry["status"] = c.status;
      entry["detail"] = c.detail;
      entry["at"] = time_value(c.at);
      history.emplace_back(std::move(entry));
    }
    o["history"] = std::move(history);
  }
  return text(std::move(o));
}

result<DeploymentView> parse_deployment_view(std::string_view json_text) {
  return parse_one<DeploymentView>(json_text, read_deployment_view);
}
std::string to_json(std::vector<DeploymentView> const& list) { return list_json(list); }
result<std::vector<DeploymentView>> parse_deployment_views(std::string_view json_text) {
  return parse_list<DeploymentView>(json_text, read_deployment_view);
}

// --- trusted measurements -------------------------------------------------------------------

namespace {

result<TrustedMeasurementView> read_trusted_measurement_view(bj::value const& v, std::string path) {
  auto reader = ObjectReader::from(v, std::move(path));
  if (!reader) return reader.error();
  Fields f(*reader);
  TrustedMeasurementView m;
  f.text("mrtd", m.mrtd, hex<96>);
  f.text("type", m.type, measurement_type);
  f.text("node_size", m.node_size, or_empty<node_size>);
  f.text("note", m.note, at_most<kMaxText>);
  f.time("added_at", m.added_at);
  return finish(f, std::move(m));
}

}  // namespace

std::string to_json(TrustedMeasurementView const& m) {
  bj::object o;
  o["mrtd"] = m.mrtd;
  o["type"] = m.type;
  o["node_size"] = m.node_size;
  o["note"] = m.note;
  o["added_at"] = time_value(m.added_at);
  return text(std::move(o));
}

result<TrustedMeasurementView> parse_trusted_measurement_view(std::string_view json_text) {
  return parse_one<TrustedMeasurementView>(json_text, read_trusted_measurement_view);
}
std::string to_json(std::vector<TrustedMeasurementView> const& list) { return list_json(list); }
result<std::vector<TrustedMeasurementView>> parse_trusted_measurement_views(std::string_view json_text) {
  return parse_list<TrustedMeasurementView>(json_text, read_trusted_measurement_view);
}

}  // namespace ee::api
