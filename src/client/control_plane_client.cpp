// The control plane's API as typed calls (client/control_plane.hpp). Routes, bodies and error
// bodies: docs/api.md. Answers are read through the api/ parsers, strictly; a CP error body
// {"code","message","request_id"} becomes a client::errc::cp_* error by status, its message led
// by the CP's code so callers (and Python's exceptions) can name it.
#include <easyenclave/client/control_plane.hpp>

#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>

namespace ee::client {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using detail::json::ObjectReader;

namespace {

// Appends "name=value" to a query being built, skipping empty values.
void add_query(std::string& query, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  query += query.empty() ? '?' : '&';
  query += name;
  query += '=';
  query += detail::percent_encode(value);
}

bool is_code_char(char c) {
  auto const u = static_cast<unsigned char>(c);
  return std::islower(u) != 0 || std::isdigit(u) != 0 || c == '_' || c == '.';
}

// Only printable ASCII of a peer's text goes into our messages (they reach terminals and logs).
std::string printable(std::string_view text, std::size_t max = 300) {
  std::string out;
  for (char c : text.substr(0, max)) {
    auto const u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

errc errc_for_status(unsigned status) {
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 431:
      return errc::cp_refused_input;
    case 401:
      return errc::cp_unauthenticated;
    case 403:
      return errc::cp_forbidden;
    case 404:
      return errc::cp_not_found;
    case 409:
      return errc::cp_conflict;
    case 429:
    case 503:
      return errc::cp_unavailable;
    default:
      return errc::cp_failed;
  }
}

// The error of a non-2xx answer: "<cp code>: <message> (request <id>)", or "HTTP <status>" when
// the body is not an error body (a proxy's page).
Error answer_error(http::Response const& response, std::string_view what) {
  auto const status = response.result_int();
  auto const code = errc_for_status(status);
  std::string detail;
  if (auto parsed = detail::json::parse(response.body()); parsed && parsed->is_object()) {
    auto const& o = parsed->as_object();
    auto text = [&o](char const* key) {
      auto const* v = o.if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    auto const remote = text("code");
    if (!remote.empty() && remote.size() <= 64 && std::all_of(remote.begin(), remote.end(), is_code_char)) {
      detail = remote + ": " + printable(text("message"));
      if (auto id = text("request_id"); !id.empty()) detail += " (request " + printable(id, 128) + ")";
    }
  }
  if (detail.empty()) detail = "HTTP " + std::to_string(status);
  return Error(code, detail + " [" + std::string(what) + "]");
}

Error malformed(Error const& e, std::string_view what) {
  return Error(errc::cp_answer_malformed, std::string(what) + ": " + e.message());
}

template <class T, class Parse>
result<T> parse_answer(result<http::Response> const& response, std::string_view what, Parse parse) {
  if (!response) return response.error();
  auto parsed = parse(response->body());
  if (!parsed) return malformed(parsed.error(), what);
  return std::move(*parsed);
}

result<SettingView> setting_from(bj::value const& value, std::string path) {
  auto r = ObjectReader::from(value, std::move(path));
  if (!r) return r.error();
  SettingView v;
  for (auto [key, out] : {std::pair{"name", &v.name}, {"group", &v.group}, {"type", &v.type},
                          {"value", &v.value}, {"source", &v.source}, {"help", &v.help}}) {
    auto text = r->string(key);
    if (!text) return text.error();
    *out = std::move(*text);
  }
  for (auto [key, out] : {std::pair{"secret", &v.secret}, {"reloadable", &v.reloadable},
                          {"storable", &v.storable}, {"pending_restart", &v.pending_restart}}) {
    auto flag = r->boolean(key);
    if (!flag) return flag.error();
    *out = *flag;
  }
  auto def = r->optional_string("default");
  if (!def) return def.error();
  v.default_value = std::move(*def);
  for (auto [key, out] : {std::pair{"flag", &v.flag}, {"env", &v.env}, {"choices", &v.choices},
                          {"updated_by", &v.updated_by}, {"updated_at", &v.updated_at}}) {
    auto text = r->optional_string(key);
    if (!text) return text.error();
    *out = text->value_or("");
  }
  return v;
}

bj::object setting_object(SettingView const& v) {
  bj::object o;
  o["name"] = v.name;
  o["group"] = v.group;
  o["type"] = v.type;
  o["value"] = v.value;
  o["source"] = v.source;
  if (v.default_value) o["default"] = *v.default_value;
  o["secret"] = v.secret;
  o["reloadable"] = v.reloadable;
  o["storable"] = v.storable;
  o["pending_restart"] = v.pending_restart;
  if (!v.flag.empty()) o["flag"] = v.flag;
  if (!v.env.empty()) o["env"] = v.env;
  if (!v.choices.empty()) o["choices"] = v.choices;
  o["help"] = v.help;
  if (!v.updated_by.empty()) o["updated_by"] = v.updated_by;
  if (!v.updated_at.empty()) o["updated_at"] = v.updated_at;
  return o;
}

// {"removed": true}
result<void> parse_removed(std::string_view body) {
  auto doc = detail::json::parse(body);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  auto removed = r->boolean("removed");
  if (!removed) return removed.error();
  if (!*removed) return r->field_error("removed", ee::errc::invalid_value, "expected true");
  return {};
}

}  // namespace

std::string cp_error_code(Error const& e) {
  if (e.code().category() != make_error_code(errc::cp_failed).category()) return {};
  auto const value = e.code().value();
  if (value < static_cast<int>(errc::cp_refused_input) || value > static_cast<int>(errc::cp_failed)) return {};
  auto const& detail = e.detail();
  auto const colon = detail.find(": ");
  if (colon == std::string::npos || colon == 0) return {};
  auto code = detail.substr(0, colon);
  if (!std::all_of(code.begin(), code.end(), is_code_char)) return {};
  return code;
}

// --- settings and logs views ------------------------------------------------------------------

std::string to_json(SettingView const& v) { return detail::json::serialize(setting_object(v)); }

std::string to_json(std::vector<SettingView> const& list) {
  bj::array a;
  for (auto const& v : list) a.push_back(setting_object(v));
  return detail::json::serialize(a);
}

result<SettingView> parse_setting_view(std::string_view json) {
  auto doc = detail::json::parse(json);
  if (!doc) return doc.error();
  return setting_from(*doc, "body");
}

result<std::vector<SettingView>> parse_setting_views(std::string_view json) {
  auto doc = detail::json::parse(json);
  if (!doc) return doc.error();
  if (!doc->is_array()) return Error(ee::errc::wrong_type, "body: expected an array");
  std::vector<SettingView> out;
  auto const& a = doc->as_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto v = setting_from(a[i], "body[" + std::to_string(i) + "]");
    if (!v) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

result<AgentLogs> parse_agent_logs(std::string_view json) {
  auto doc = detail::json::parse(json);
  if (!doc) return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) return r.error();
  AgentLogs logs;
  auto dropped = r->integer("dropped", 0);
  if (!dropped) return dropped.error();
  logs.dropped = *dropped;
  auto lines = r->array("lines");
  if (!lines) return lines.error();
  for (std::size_t i = 0; i < (*lines)->size(); ++i) {
    auto line = ObjectReader::from((**lines)[i], "body.lines[" + std::to_string(i) + "]");
    if (!line) return line.error();
    AgentLogLine l;
    auto seq = line->integer("seq", 0);
    if (!seq) return seq.error();
    l.seq = *seq;
    for (auto [key, out] : {std::pair{"at", &l.at}, {"source", &l.source}, {"text", &l.text}}) {
      auto text = line->string(key);
      if (!text) return text.error();
      *out = std::move(*text);
    }
    logs.lines.push_back(std::move(l));
  }
  return logs;
}

std::string to_json(AgentLogs const& logs) {
  bj::array lines;
  for (auto const& l : logs.lines) {
    bj::object o;
    o["seq"] = l.seq;
    o["at"] = l.at;
    o["source"] = l.source;
    o["text"] = l.text;
    lines.push_back(std::move(o));
  }
  bj::object out;
  out["lines"] = std::move(lines);
  out["dropped"] = logs.dropped;
  return detail::json::serialize(out);
}

std::string to_json(std::string const& target, Report const& report, bool verified, std::string const& endpoint) {
  bj::array checks;
  for (auto const& c : report.checks) {
    bj::object o;
    o["name"] = c.name;
    o["result"] = c.skipped ? "skip" : (c.passed ? "pass" : "fail");
    o["expected"] = c.expected;
    o["actual"] = c.actual;
    o["detail"] = c.detail;
    checks.push_back(std::move(o));
  }
  bj::object out;
  out["target"] = target;
  out["verified"] = verified;
  if (verified) {
    out["endpoint"] = endpoint;
  } else {
    out["endpoint"] = nullptr;
  }
  out["checks"] = std::move(checks);
  return detail::json::serialize(out);
}

// --- the client -------------------------------------------------------------------------------

namespace {

// One exchange with the CP: `path` after /api/v1 (or the root for /health). A non-2xx answer is
// the error answer_error() makes of it.
asio::awaitable<result<http::Response>> exchange(ControlPlaneOptions const& o, bhttp::verb method,
                                                 std::string target, std::string body) {
  if (!o.http) co_return Error(ee::errc::invalid_value, "ControlPlaneOptions::http is required");
  if (o.url.empty()) co_return Error(ee::errc::invalid_value, "the control plane's URL is not set");
  std::string url = o.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto const what = std::string(bhttp::to_string(method)) + " " + target.substr(0, target.find('?'));
  http::Request request{method, url + target, 11};
  request.set(bhttp::field::accept, "application/json");
  if (!o.token.empty()) request.set(bhttp::field::authorization, "Bearer " + o.token);
  if (!body.empty()) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  request.prepare_payload();
  auto response = co_await o.http->send(std::move(request), o.request);
  if (!response) co_return response.error().with_context(what + " at " + url);
  if (response->result_int() < 200 || response->result_int() >= 300) co_return answer_error(*response, what);
  co_return std::move(*response);
}

std::string api(std::string_view path) { return "/api/v1" + std::string(path); }

}  // namespace

ControlPlaneClient::ControlPlaneClient(ControlPlaneOptions options) : options_(std::move(options)) {}

asio::awaitable<result<std::string>> ControlPlaneClient::health() const {
  auto r = co_await exchange(options_, bhttp::verb::get, "/health", "");
  if (!r) co_return r.error();
  co_return std::move(r->body());
}

asio::awaitable<result<std::vector<api::AgentView>>> ControlPlaneClient::agents(AgentFilter filter) const {
  std::string query;
  add_query(query, "status", filter.status);
  add_query(query, "vm_name", filter.vm_name);
  add_query(query, "owner", filter.owner);
  auto r = co_await exchange(options_, bhttp::verb::get, api("/agents") + query, "");
  co_return parse_answer<std::vector<api::AgentView>>(r, "GET /api/v1/agents", api::parse_agent_views);
}

asio::awaitable<result<api::AgentView>> ControlPlaneClient::agent(std::string id) const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/agents/" + detail::percent_encode(id)), "");
  co_return parse_answer<api::AgentView>(r, "GET /api/v1/agents/{id}", api::parse_agent_view);
}

asio::awaitable<result<api::AgentAttestationView>> ControlPlaneClient::agent_attestation(std::string id) const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/agents/" + detail::percent_encode(id) + "/attestation"), "");
  co_return parse_answer<api::AgentAttestationView>(r, "GET /api/v1/agents/{id}/attestation",
                                                    api::parse_agent_attestation_view);
}

asio::awaitable<result<AgentLogs>> ControlPlaneClient::agent_logs(std::string id, std::size_t lines) const {
  std::string query;
  if (lines > 0) add_query(query, "lines", std::to_string(lines));
  auto r = co_await exchange(options_, bhttp::verb::get, api("/agents/" + detail::percent_encode(id) + "/logs") + query, "");
  co_return parse_answer<AgentLogs>(r, "GET /api/v1/agents/{id}/logs", parse_agent_logs);
}

asio::awaitable<result<api::DeploymentView>> ControlPlaneClient::undeploy(std::string agent_id) const {
  auto r = co_await exchange(options_, bhttp::verb::post, api("/agents/" + detail::percent_encode(agent_id) + "/undeploy"), "");
  co_return parse_answer<api::DeploymentView>(r, "POST /api/v1/agents/{id}/undeploy", api::parse_deployment_view);
}

asio::awaitable<result<void>> ControlPlaneClient::remove_agent(std::string id) const {
  auto r = co_await exchange(options_, bhttp::verb::delete_, api("/admin/agents/" + detail::percent_encode(id)), "");
  if (!r) co_return r.error();
  if (auto ok = parse_removed(r->body()); !ok) co_return malformed(ok.error(), "DELETE /api/v1/admin/agents/{id}");
  co_return result<void>{};
}

asio::awaitable<result<std::vector<api::AppView>>> ControlPlaneClient::apps() const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/apps"), "");
  co_return parse_answer<std::vector<api::AppView>>(r, "GET /api/v1/apps", api::parse_app_views);
}

asio::awaitable<result<api::AppView>> ControlPlaneClient::app(std::string name) const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/apps/" + detail::percent_encode(name)), "");
  co_return parse_answer<api::AppView>(r, "GET /api/v1/apps/{name}", api::parse_app_view);
}

asio::awaitable<result<api::AppView>> ControlPlaneClient::publish(api::PublishRequest request) const {
  auto r = co_await exchange(options_, bhttp::verb::post, api("/apps"), api::to_json(request));
  co_return parse_answer<api::AppView>(r, "POST /api/v1/apps", api::parse_app_view);
}

asio::awaitable<result<api::AppVersionView>> ControlPlaneClient::add_version(std::string app,
                                                                              api::VersionRequest request) const {
  auto r = co_await exchange(options_, bhttp::verb::post, api("/apps/" + detail::percent_encode(app) + "/versions"),
                             api::to_json(request));
  co_return parse_answer<api::AppVersionView>(r, "POST /api/v1/apps/{name}/versions", api::parse_app_version_view);
}

asio::awaitable<result<api::DeployResponse>> ControlPlaneClient::deploy(api::DeployRequest request) const {
  auto r = co_await exchange(options_, bhttp::verb::post, api("/deploy"), api::to_json(request));
  co_return parse_answer<api::DeployResponse>(r, "POST /api/v1/deploy", api::parse_deploy_response);
}

asio::awaitable<result<std::vector<api::DeploymentView>>> ControlPlaneClient::deployments(
    DeploymentFilter filter) const {
  std::string query;
  add_query(query, "agent_id", filter.agent_id);
  add_query(query, "app_name", filter.app_name);
  add_query(query, "status", filter.status);
  if (filter.limit) add_query(query, "limit", std::to_string(*filter.limit));
  if (filter.offset > 0) add_query(query, "offset", std::to_string(filter.offset));
  auto r = co_await exchange(options_, bhttp::verb::get, api("/deployments") + query, "");
  co_return parse_answer<std::vector<api::DeploymentView>>(r, "GET /api/v1/deployments",
                                                           api::parse_deployment_views);
}

asio::awaitable<result<api::DeploymentView>> ControlPlaneClient::deployment(std::string id) const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/deployments/" + detail::percent_encode(id)), "");
  co_return parse_answer<api::DeploymentView>(r, "GET /api/v1/deployments/{id}", api::parse_deployment_view);
}

asio::awaitable<result<std::vector<api::TrustedMeasurementView>>> ControlPlaneClient::measurements() const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/trusted-mrtds"), "");
  co_return parse_answer<std::vector<api::TrustedMeasurementView>>(r, "GET /api/v1/trusted-mrtds",
                                                                   api::parse_trusted_measurement_views);
}

asio::awaitable<result<api::TrustedMeasurementView>> ControlPlaneClient::add_measurement(
    MeasurementRequest request) const {
  bj::object body;
  body["mrtd"] = request.mrtd;
  body["type"] = request.type;
  if (!request.node_size.empty()) body["node_size"] = request.node_size;
  if (!request.note.empty()) body["note"] = request.note;
  auto r = co_await exchange(options_, bhttp::verb::post, api("/admin/trusted-mrtds"), detail::json::serialize(body));
  co_return parse_answer<api::TrustedMeasurementView>(r, "POST /api/v1/admin/trusted-mrtds",
                                                      api::parse_trusted_measurement_view);
}

asio::awaitable<result<void>> ControlPlaneClient::remove_measurement(std::string mrtd) const {
  auto r = co_await exchange(options_, bhttp::verb::delete_, api("/admin/trusted-mrtds/" + detail::percent_encode(mrtd)), "");
  if (!r) co_return r.error();
  if (auto ok = parse_removed(r->body()); !ok) {
    co_return malformed(ok.error(), "DELETE /api/v1/admin/trusted-mrtds/{mrtd}");
  }
  co_return result<void>{};
}

asio::awaitable<result<std::vector<SettingView>>> ControlPlaneClient::settings(std::string group) const {
  std::string query;
  add_query(query, "group", group);
  auto r = co_await exchange(options_, bhttp::verb::get, api("/admin/settings") + query, "");
  co_return parse_answer<std::vector<SettingView>>(r, "GET /api/v1/admin/settings", parse_setting_views);
}

asio::awaitable<result<SettingView>> ControlPlaneClient::setting(std::string name) const {
  auto r = co_await exchange(options_, bhttp::verb::get, api("/admin/settings/" + detail::percent_encode(name)), "");
  co_return parse_answer<SettingView>(r, "GET /api/v1/admin/settings/{key}", parse_setting_view);
}

asio::awaitable<result<SettingView>> ControlPlaneClient::set_setting(std::string name, std::string value) const {
  bj::object body;
  body["value"] = value;
  auto r = co_await exchange(options_, bhttp::verb::put, api("/admin/settings/" + detail::percent_encode(name)),
                             detail::json::serialize(body));
  co_return parse_answer<SettingView>(r, "PUT /api/v1/admin/settings/{key}", parse_setting_view);
}

asio::awaitable<result<SettingView>> ControlPlaneClient::unset_setting(std::string name) const {
  auto r = co_await exchange(options_, bhttp::verb::delete_, api("/admin/settings/" + detail::percent_encode(name)), "");
  co_return parse_answer<SettingView>(r, "DELETE /api/v1/admin/settings/{key}", parse_setting_view);
}

}  // namespace ee::client
