#include "fakes/fake_cloudflare.hpp"

#include <easyenclave/http/router.hpp>

#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"
#include "detail/time.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <mutex>
#include <utility>

namespace ee::test {

namespace bj = boost::json;
namespace bhttp = boost::beast::http;
namespace json = ::ee::detail::json;
using Awaitable = boost::asio::awaitable<ee::result<ee::http::Response>>;
using ee::http::RequestContext;
using ee::http::Response;

namespace {

constexpr std::string_view kApiPrefix = "/client/v4";

// Error codes. Those marked "Cloudflare's" are the ones the real API answers in that case (and
// the client keys on); the others are this fake's own.
constexpr std::int64_t kAuthenticationError = 10000;  // Cloudflare's: "Authentication error"
constexpr std::int64_t kNoAccess = 9109;              // Cloudflare's: "Unauthorized to access..."
constexpr std::int64_t kNoRoute = 7003;               // Cloudflare's: "Could not route to ..."
constexpr std::int64_t kBadJson = 6007;               // Cloudflare's: "Malformed JSON in body"
constexpr std::int64_t kInvalidRequest = 1001;        // this fake's: a field is missing or bad
constexpr std::int64_t kTunnelNotFound = 1003;        // this fake's
constexpr std::int64_t kTunnelExists = 1013;          // Cloudflare's: name already in use
constexpr std::int64_t kTunnelConnected = 1022;       // Cloudflare's: active connections
constexpr std::int64_t kBadIngress = 1056;            // this fake's: ingress rejected
constexpr std::int64_t kRecordNotFound = 81044;       // Cloudflare's: "Record does not exist."
constexpr std::int64_t kRecordConflict = 81053;       // Cloudflare's: A/AAAA/CNAME name in use
constexpr std::int64_t kIdenticalRecord = 81058;      // Cloudflare's: identical record exists

constexpr std::int64_t kTunnelsPerPageDefault = 20;
constexpr std::int64_t kTunnelsPerPageMax = 1000;
constexpr std::int64_t kRecordsPerPageDefault = 100;
constexpr std::int64_t kRecordsPerPageMax = 5'000'000;

bool is_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string now_text() { return ee::detail::format_rfc3339(std::chrono::system_clock::now(), 6); }

std::string verb_text(bhttp::verb method) { return std::string(bhttp::to_string(method)); }

// ---- Envelopes -------------------------------------------------------------------------------

Response envelope(bj::value result, bj::object const* result_info = nullptr) {
  bj::object body;
  body["success"] = true;
  body["errors"] = bj::array{};
  body["messages"] = bj::array{};
  body["result"] = std::move(result);
  if (result_info != nullptr) body["result_info"] = *result_info;
  return ee::http::json_response(bhttp::status::ok, json::serialize(body));
}

Response failure(unsigned status, std::int64_t code, std::string message) {
  bj::object error;
  error["code"] = code;
  error["message"] = std::move(message);
  bj::object body;
  body["success"] = false;
  body["errors"] = bj::array{std::move(error)};
  body["messages"] = bj::array{};
  body["result"] = nullptr;
  return ee::http::json_response(static_cast<bhttp::status>(status), json::serialize(body));
}

Response invalid(std::string message) { return failure(400, kInvalidRequest, std::move(message)); }

// ---- Paging ----------------------------------------------------------------------------------

bool parse_count(std::string const& text, std::int64_t& out) {
  if (text.empty()) return false;
  auto const* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

struct Paging {
  std::int64_t page = 1;
  std::int64_t per_page = 0;
};

// `page` >= 1 and `per_page` in [1, max] when given; nullopt (with `error` set) otherwise.
std::optional<Paging> paging(RequestContext const& ctx, std::int64_t per_page_default,
                             std::int64_t per_page_max, Response& error) {
  Paging p{.page = 1, .per_page = per_page_default};
  if (auto page = ctx.query("page")) {
    if (!parse_count(*page, p.page) || p.page < 1) {
      error = invalid("page must be an integer of at least 1");
      return std::nullopt;
    }
  }
  if (auto per_page = ctx.query("per_page")) {
    if (!parse_count(*per_page, p.per_page) || p.per_page < 1 || p.per_page > per_page_max) {
      error = invalid("per_page must be an integer from 1 to " + std::to_string(per_page_max));
      return std::nullopt;
    }
  }
  return p;
}

Response paged(std::vector<bj::value> const& items, Paging p) {
  auto const total = static_cast<std::int64_t>(items.size());
  bj::array page;
  // Guarded against overflow: page * per_page may exceed int64 for absurd queries.
  if (p.page - 1 < (total + p.per_page - 1) / p.per_page) {
    auto const first = (p.page - 1) * p.per_page;
    auto const last = std::min(total, first + p.per_page);
    for (auto i = first; i < last; ++i) page.push_back(items[static_cast<std::size_t>(i)]);
  }
  bj::object info;
  info["page"] = p.page;
  info["per_page"] = p.per_page;
  info["count"] = static_cast<std::int64_t>(page.size());
  info["total_count"] = total;
  info["total_pages"] = (total + p.per_page - 1) / p.per_page;
  return envelope(bj::value(std::move(page)), &info);
}

// ---- Bodies ----------------------------------------------------------------------------------

// The body as an object, or the 400 Cloudflare gives for a malformed one.
std::optional<bj::object> body_object(RequestContext const& ctx, Response& error) {
  auto doc = json::parse(ctx.request.body());
  if (!doc || !doc->is_object()) {
    error = failure(400, kBadJson, "Malformed JSON in request body");
    return std::nullopt;
  }
  return std::move(doc->as_object());
}

// A string member into `out` (left alone when absent or null); false for another JSON type.
bool string_member(bj::object const& o, std::string_view key, std::optional<std::string>& out) {
  auto const* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  out = std::string(v->as_string());
  return true;
}

}  // namespace

// ---- State -------------------------------------------------------------------------------------

struct FakeCloudflare::State {
  FakeCloudflareOptions options;
  std::string url;
  std::unique_ptr<ee::http::Server> server;

  struct Failure {
    bhttp::verb method = bhttp::verb::get;
    std::string prefix{};
    unsigned status = 500;
    std::int64_t code = 0;
    std::size_t skip = 0;
  };

  mutable std::mutex mutex;
  std::vector<FakeTunnel> tunnels;
  std::vector<FakeDnsRecord> records;
  std::vector<Failure> failures;
  std::vector<std::string> log;

  FakeTunnel* find_tunnel(std::string_view id) {
    for (auto& t : tunnels)
      if (t.id == id) return &t;
    return nullptr;
  }
  FakeTunnel* find_live_tunnel(std::string_view id) {
    auto* t = find_tunnel(id);
    return (t != nullptr && !t->deleted_at) ? t : nullptr;
  }
  FakeDnsRecord* find_record(std::string_view id) {
    for (auto& r : records)
      if (r.id == id) return &r;
    return nullptr;
  }

  FakeTunnel& make_tunnel(std::string name, std::string config_src, std::string secret) {
    FakeTunnel t;
    t.id = ee::detail::uuid_v4().value();
    t.name = std::move(name);
    t.config_src = std::move(config_src);
    t.secret = secret.empty() ? ee::detail::base64_encode(ee::detail::random_bytes(32).value())
                              : std::move(secret);
    t.created_at = now_text();
    tunnels.push_back(std::move(t));
    return tunnels.back();
  }

  FakeDnsRecord& make_record(std::string type, std::string name, std::string content, bool proxied,
                             std::int64_t ttl) {
    FakeDnsRecord r;
    r.id = ee::detail::hex_encode(ee::detail::random_bytes(16).value());
    r.type = std::move(type);
    r.name = lower(name);
    r.content = std::move(content);
    r.proxied = proxied;
    r.ttl = ttl;
    r.created_on = now_text();
    r.modified_on = r.created_on;
    records.push_back(std::move(r));
    return records.back();
  }

  // The response of an armed failure matching this request, consuming it.
  std::optional<Response> take_failure(bhttp::verb method, std::string_view path) {
    for (auto it = failures.begin(); it != failures.end(); ++it) {
      if (it->method != method || !path.starts_with(it->prefix)) continue;
      if (it->skip > 0) {
        --it->skip;
        return std::nullopt;
      }
      auto response = failure(it->status, it->code, "injected failure");
      failures.erase(it);
      return response;
    }
    return std::nullopt;
  }

  // The token cloudflared runs with: base64 of {"a": account tag, "t": tunnel id, "s": secret}.
  std::string token_of(FakeTunnel const& t) const {
    bj::object o;
    o["a"] = options.account_id;
    o["t"] = t.id;
    o["s"] = t.secret;
    return ee::detail::base64_encode(ee::detail::as_bytes(json::serialize(o)));
  }

  bj::object tunnel_json(FakeTunnel const& t) const {
    bj::object o;
    o["id"] = t.id;
    o["account_tag"] = options.account_id;
    o["name"] = t.name;
    o["created_at"] = t.created_at;
    o["deleted_at"] = t.deleted_at ? bj::value(*t.deleted_at) : bj::value(nullptr);
    o["tun_type"] = "cfd_tunnel";
    o["config_src"] = t.config_src;
    o["remote_config"] = t.config_src == "cloudflare";
    o["status"] = !t.connections.empty() ? "healthy" : "inactive";
    bj::array connections;
    for (auto const& id : t.connections) {
      bj::object c;
      c["id"] = id;
      c["colo_name"] = "fak1";
      c["is_pending_reconnect"] = false;
      c["origin_ip"] = "127.0.0.1";
      c["client_version"] = "2024.1.0";
      connections.push_back(std::move(c));
    }
    o["connections"] = std::move(connections);
    o["conns_active_at"] = t.connections.empty() ? bj::value(nullptr) : bj::value(t.created_at);
    o["conns_inactive_at"] = t.connections.empty() ? bj::value(t.created_at) : bj::value(nullptr);
    o["metadata"] = bj::object{};
    return o;
  }

  bj::object record_json(FakeDnsRecord const& r) const {
    bj::object o;
    o["id"] = r.id;
    o["zone_id"] = options.zone_id;
    o["name"] = r.name;
    o["type"] = r.type;
    o["content"] = r.content;
    o["proxiable"] = r.type == "A" || r.type == "AAAA" || r.type == "CNAME";
    o["proxied"] = r.proxied;
    o["ttl"] = r.ttl;
    o["locked"] = false;
    o["meta"] = bj::object{};
    o["comment"] = nullptr;
    o["tags"] = bj::array{};
    o["created_on"] = r.created_on;
    o["modified_on"] = r.modified_on;
    return o;
  }
};

namespace {

using State = FakeCloudflare::State;
using StatePtr = std::shared_ptr<State>;
using Endpoint = Response (*)(State&, RequestContext&);

// ---- Tunnels ---------------------------------------------------------------------------------

Response tunnel_not_found() { return failure(404, kTunnelNotFound, "Tunnel not found"); }

Response list_tunnels(State& s, RequestContext& ctx) {
  Response error;
  auto p = paging(ctx, kTunnelsPerPageDefault, kTunnelsPerPageMax, error);
  if (!p) return error;
  auto const name = ctx.query("name");
  auto const uuid = ctx.query("uuid");
  std::optional<bool> deleted;
  if (auto is_deleted = ctx.query("is_deleted")) {
    if (*is_deleted != "true" && *is_deleted != "false")
      return invalid("is_deleted must be true or false");
    deleted = *is_deleted == "true";
  }
  std::vector<bj::value> items;
  for (auto const& t : s.tunnels) {
    if (name && t.name != *name) continue;
    if (uuid && t.id != *uuid) continue;
    if (deleted && t.deleted_at.has_value() != *deleted) continue;
    items.emplace_back(s.tunnel_json(t));
  }
  return paged(items, *p);
}

Response create_tunnel(State& s, RequestContext& ctx) {
  Response error;
  auto body = body_object(ctx, error);
  if (!body) return error;
  std::optional<std::string> name, config_src, secret;
  if (!string_member(*body, "name", name) || !name || name->empty())
    return invalid("name: a non-empty string is required");
  if (!string_member(*body, "config_src", config_src) ||
      (config_src && *config_src != "cloudflare" && *config_src != "local"))
    return invalid("config_src must be \"cloudflare\" or \"local\"");
  if (!string_member(*body, "tunnel_secret", secret))
    return invalid("tunnel_secret: expected a string");
  if (secret) {
    auto bytes = ee::detail::base64_decode(*secret);
    if (!bytes || bytes->size() < 32)
      return invalid("tunnel_secret must be base64 of at least 32 bytes");
  }
  for (auto const& t : s.tunnels)
    if (!t.deleted_at && t.name == *name)
      return failure(409, kTunnelExists, "You already have a tunnel with this name");
  auto const& t = s.make_tunnel(*name, config_src.value_or("local"), secret.value_or(""));
  auto result = s.tunnel_json(t);
  bj::object credentials;
  credentials["AccountTag"] = s.options.account_id;
  credentials["TunnelID"] = t.id;
  credentials["TunnelName"] = t.name;
  credentials["TunnelSecret"] = t.secret;
  result["credentials_file"] = std::move(credentials);
  result["token"] = s.token_of(t);
  return envelope(std::move(result));
}

Response get_tunnel(State& s, RequestContext& ctx) {
  auto const* t = s.find_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  return envelope(s.tunnel_json(*t));
}

Response delete_tunnel(State& s, RequestContext& ctx) {
  auto* t = s.find_live_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  if (!t->connections.empty())
    return failure(400, kTunnelConnected,
                   "Cannot delete tunnel because it has active connections. Delete the connections "
                   "first.");
  t->deleted_at = now_text();
  return envelope(s.tunnel_json(*t));
}

Response tunnel_token(State& s, RequestContext& ctx) {
  auto const* t = s.find_live_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  return envelope(bj::value(s.token_of(*t)));
}

bj::object configuration_json(FakeTunnel const& t, bj::value config) {
  bj::object o;
  o["tunnel_id"] = t.id;
  o["version"] = t.config_version;
  o["config"] = std::move(config);
  o["source"] = "cloudflare";
  o["created_at"] = now_text();
  return o;
}

bj::value config_of(FakeTunnel const& t) {
  bj::object config;
  bj::array ingress;
  for (auto const& rule : t.ingress.value_or(std::vector<FakeIngressRule>{})) {
    bj::object r;
    if (!rule.hostname.empty()) r["hostname"] = rule.hostname;
    if (!rule.path.empty()) r["path"] = rule.path;
    r["service"] = rule.service;
    ingress.push_back(std::move(r));
  }
  config["ingress"] = std::move(ingress);
  return config;
}

Response get_configuration(State& s, RequestContext& ctx) {
  auto const* t = s.find_live_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  return envelope(configuration_json(*t, t->ingress ? config_of(*t) : bj::value(nullptr)));
}

Response put_configuration(State& s, RequestContext& ctx) {
  auto* t = s.find_live_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  Response error;
  auto body = body_object(ctx, error);
  if (!body) return error;
  auto const* config = body->if_contains("config");
  if (config == nullptr || !config->is_object()) return invalid("config: an object is required");
  std::vector<FakeIngressRule> rules;
  if (auto const* ingress = config->as_object().if_contains("ingress")) {
    if (!ingress->is_array() || ingress->as_array().empty())
      return failure(400, kBadIngress, "ingress must be a non-empty array of rules");
    for (auto const& item : ingress->as_array()) {
      if (!item.is_object()) return failure(400, kBadIngress, "an ingress rule must be an object");
      std::optional<std::string> hostname, path, service;
      auto const& rule = item.as_object();
      if (!string_member(rule, "hostname", hostname) || !string_member(rule, "path", path) ||
          !string_member(rule, "service", service) || !service || service->empty())
        return failure(400, kBadIngress,
                       "an ingress rule needs a service; hostname and path are strings");
      rules.push_back({hostname.value_or(""), path.value_or(""), *service});
    }
    // cloudflared (and so the API) requires the last rule to match every request.
    if (!rules.back().hostname.empty() || !rules.back().path.empty())
      return failure(400, kBadIngress,
                     "Validation failed: the last ingress rule must match all URLs (it must not "
                     "have a hostname or path)");
  }
  t->ingress = std::move(rules);
  ++t->config_version;
  return envelope(configuration_json(*t, *config));
}

Response delete_connections(State& s, RequestContext& ctx) {
  auto* t = s.find_live_tunnel(ctx.params.get("id"));
  if (t == nullptr) return tunnel_not_found();
  t->connections.clear();
  return envelope(nullptr);
}

// ---- DNS records -----------------------------------------------------------------------------

Response record_not_found() { return failure(404, kRecordNotFound, "Record does not exist."); }

Response list_records(State& s, RequestContext& ctx) {
  Response error;
  auto p = paging(ctx, kRecordsPerPageDefault, kRecordsPerPageMax, error);
  if (!p) return error;
  auto const type = ctx.query("type");
  auto const name = ctx.query("name");
  auto const content = ctx.query("content");
  std::vector<bj::value> items;
  for (auto const& r : s.records) {
    if (type && r.type != *type) continue;
    if (name && r.name != lower(*name)) continue;  // DNS names compare without case
    if (content && r.content != *content) continue;
    items.emplace_back(s.record_json(r));
  }
  return paged(items, *p);
}

struct RecordInput {
  std::string type, name, content;
  bool proxied = false;
  std::int64_t ttl = 1;
};

std::optional<RecordInput> record_input(RequestContext const& ctx, Response& error) {
  auto body = body_object(ctx, error);
  if (!body) return std::nullopt;
  std::optional<std::string> type, name, content;
  if (!string_member(*body, "type", type) || !type || type->empty() ||
      !std::all_of(type->begin(), type->end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    error = invalid("type: an upper-case record type is required");
    return std::nullopt;
  }
  if (!string_member(*body, "name", name) || !name || name->empty() || name->size() > 253) {
    error = invalid("name: a DNS name of 1-253 characters is required");
    return std::nullopt;
  }
  if (!string_member(*body, "content", content) || !content || content->empty()) {
    error = invalid("content: a non-empty string is required");
    return std::nullopt;
  }
  RecordInput in{.type = std::move(*type), .name = lower(*name), .content = std::move(*content)};
  auto const* proxied = body->if_contains("proxied");
  if (proxied != nullptr && !proxied->is_null()) {
    if (!proxied->is_bool()) {
      error = invalid("proxied: expected a boolean");
      return std::nullopt;
    }
    in.proxied = proxied->as_bool();
  }
  if (in.proxied && in.type != "A" && in.type != "AAAA" && in.type != "CNAME") {
    error = invalid("only A, AAAA and CNAME records can be proxied");
    return std::nullopt;
  }
  if (auto const* ttl = body->if_contains("ttl"); ttl != nullptr && !ttl->is_null()) {
    auto const seconds = ttl->is_int64() ? ttl->as_int64() : 0;
    if (seconds != 1 && (seconds < 30 || seconds > 86400)) {
      error = invalid("ttl must be 1 (automatic) or 30-86400");
      return std::nullopt;
    }
    in.ttl = seconds;
  }
  return in;
}

// The refusal Cloudflare gives when `in` would clash with a record other than `except`.
std::optional<Response> record_conflict(State const& s, RecordInput const& in,
                                        std::string_view except) {
  for (auto const& r : s.records) {
    if (r.id == except || r.name != in.name) continue;
    if (r.type == "CNAME" || in.type == "CNAME")
      return failure(400, kRecordConflict,
                     "An A, AAAA, or CNAME record with that host already exists.");
    if (r.type == in.type && r.content == in.content)
      return failure(400, kIdenticalRecord, "An identical record already exists.");
  }
  return std::nullopt;
}

Response create_record(State& s, RequestContext& ctx) {
  Response error;
  auto in = record_input(ctx, error);
  if (!in) return error;
  if (auto conflict = record_conflict(s, *in, "")) return std::move(*conflict);
  auto const& r = s.make_record(in->type, in->name, in->content, in->proxied, in->ttl);
  return envelope(s.record_json(r));
}

Response get_record(State& s, RequestContext& ctx) {
  auto const* r = s.find_record(ctx.params.get("id"));
  if (r == nullptr) return record_not_found();
  return envelope(s.record_json(*r));
}

Response update_record(State& s, RequestContext& ctx) {
  auto* r = s.find_record(ctx.params.get("id"));
  if (r == nullptr) return record_not_found();
  Response error;
  auto in = record_input(ctx, error);
  if (!in) return error;
  if (auto conflict = record_conflict(s, *in, r->id)) return std::move(*conflict);
  r->type = std::move(in->type);
  r->name = std::move(in->name);
  r->content = std::move(in->content);
  r->proxied = in->proxied;
  r->ttl = in->ttl;
  r->modified_on = now_text();
  return envelope(s.record_json(*r));
}

Response delete_record(State& s, RequestContext& ctx) {
  auto const id = std::string(ctx.params.get("id"));
  auto const it = std::find_if(s.records.begin(), s.records.end(),
                               [&](FakeDnsRecord const& r) { return r.id == id; });
  if (it == s.records.end()) return record_not_found();
  s.records.erase(it);
  bj::object result;
  result["id"] = id;
  return envelope(std::move(result));
}

// ---- Dispatch --------------------------------------------------------------------------------

bool authorized(State const& s, RequestContext const& ctx) {
  auto const it = ctx.request.find(bhttp::field::authorization);
  return it != ctx.request.end() && it->value() == "Bearer " + s.options.api_token;
}

// Everything a request goes through before its endpoint: the log, an armed failure, the token,
// the account or zone. The whole request is handled under the state's mutex (no suspension).
Response handle(State& s, Endpoint endpoint, RequestContext& ctx) {
  std::string_view path = ctx.path();
  if (path.starts_with(kApiPrefix)) path.remove_prefix(kApiPrefix.size());
  auto const method = ctx.request.method();
  std::lock_guard lock(s.mutex);
  s.log.push_back(verb_text(method) + " " + std::string(path));
  if (auto injected = s.take_failure(method, path)) return std::move(*injected);
  if (!authorized(s, ctx)) return failure(403, kAuthenticationError, "Authentication error");
  if (ctx.params.contains("account") && ctx.params.get("account") != s.options.account_id)
    return failure(403, kNoAccess, "Unauthorized to access requested resource");
  if (ctx.params.contains("zone") && ctx.params.get("zone") != s.options.zone_id)
    return failure(404, kNoRoute,
                   "Could not route to " + std::string(path) +
                       ", perhaps your object identifier is invalid?");
  return endpoint(s, ctx);
}

Awaitable serve(StatePtr s, Endpoint endpoint, RequestContext& ctx) {
  co_return handle(*s, endpoint, ctx);
}

void add(ee::http::Router& router, StatePtr const& s, bhttp::verb method,
         std::string const& pattern, Endpoint endpoint) {
  router.add(method, std::string(kApiPrefix) + pattern,
             [s, endpoint](RequestContext& ctx) { return serve(s, endpoint, ctx); });
}

}  // namespace

ee::result<std::unique_ptr<FakeCloudflare>> FakeCloudflare::start(FakeCloudflareOptions options) {
  auto const visible = [](char c) { return c > ' ' && c < 0x7f; };
  if (options.api_token.empty() ||
      !std::all_of(options.api_token.begin(), options.api_token.end(), visible))
    return ee::Error(ee::errc::invalid_value,
                     "fake Cloudflare: the API token must be visible ASCII");
  if (!is_id(options.account_id) || !is_id(options.zone_id))
    return ee::Error(ee::errc::invalid_value,
                     "fake Cloudflare: account and zone ids must be 1-64 of [A-Za-z0-9-]");
  auto s = std::make_shared<State>();
  s->options = std::move(options);
  ee::http::Router router;
  using V = bhttp::verb;
  std::string const tunnels = "/accounts/{account}/cfd_tunnel";
  add(router, s, V::get, tunnels, list_tunnels);
  add(router, s, V::post, tunnels, create_tunnel);
  add(router, s, V::get, tunnels + "/{id}", get_tunnel);
  add(router, s, V::delete_, tunnels + "/{id}", delete_tunnel);
  add(router, s, V::get, tunnels + "/{id}/token", tunnel_token);
  add(router, s, V::get, tunnels + "/{id}/configurations", get_configuration);
  add(router, s, V::put, tunnels + "/{id}/configurations", put_configuration);
  add(router, s, V::delete_, tunnels + "/{id}/connections", delete_connections);
  std::string const records = "/zones/{zone}/dns_records";
  add(router, s, V::get, records, list_records);
  add(router, s, V::post, records, create_record);
  add(router, s, V::get, records + "/{id}", get_record);
  add(router, s, V::put, records + "/{id}", update_record);
  add(router, s, V::delete_, records + "/{id}", delete_record);
  ee::http::ServerOptions server_options;
  server_options.host = s->options.host;
  server_options.port = s->options.port;
  server_options.threads = std::max<std::size_t>(1, s->options.threads);
  server_options.body_limit = 256 * 1024;
  auto server = ee::http::Server::start(std::move(router), server_options);
  if (!server) return server.error();
  s->server = std::move(*server);
  auto const& configured = s->options.host;
  auto const host =
      configured.find(':') == std::string::npos ? configured : "[" + configured + "]";
  s->url = "http://" + host + ":" + std::to_string(s->server->port()) + std::string(kApiPrefix);
  return std::unique_ptr<FakeCloudflare>(new FakeCloudflare(std::move(s)));
}

FakeCloudflare::~FakeCloudflare() {
  // The routes hold the state; dropping the server breaks that cycle.
  if (state_ && state_->server) {
    state_->server->stop();
    state_->server.reset();
  }
}

std::string FakeCloudflare::url() const { return state_->url; }
std::string const& FakeCloudflare::api_token() const { return state_->options.api_token; }
std::string const& FakeCloudflare::account_id() const { return state_->options.account_id; }
std::string const& FakeCloudflare::zone_id() const { return state_->options.zone_id; }
ee::http::Server& FakeCloudflare::server() { return *state_->server; }

std::size_t FakeCloudflare::live_tunnel_count() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(std::count_if(state_->tunnels.begin(), state_->tunnels.end(),
                                                [](FakeTunnel const& t) { return !t.deleted_at; }));
}

std::size_t FakeCloudflare::dns_record_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->records.size();
}

std::vector<FakeTunnel> FakeCloudflare::tunnels() const {
  std::lock_guard lock(state_->mutex);
  return state_->tunnels;
}

std::optional<FakeTunnel> FakeCloudflare::tunnel(std::string_view id) const {
  std::lock_guard lock(state_->mutex);
  auto const* t = state_->find_tunnel(id);
  if (t == nullptr) return std::nullopt;
  return *t;
}

std::optional<FakeTunnel> FakeCloudflare::live_tunnel_named(std::string_view name) const {
  std::lock_guard lock(state_->mutex);
  for (auto const& t : state_->tunnels)
    if (!t.deleted_at && t.name == name) return t;
  return std::nullopt;
}

std::vector<FakeDnsRecord> FakeCloudflare::records() const {
  std::lock_guard lock(state_->mutex);
  return state_->records;
}

std::optional<std::vector<FakeIngressRule>> FakeCloudflare::ingress(
    std::string_view tunnel_id) const {
  std::lock_guard lock(state_->mutex);
  auto const* t = state_->find_tunnel(tunnel_id);
  if (t == nullptr) return std::nullopt;
  return t->ingress;
}

std::string FakeCloudflare::add_tunnel(std::string name, std::string config_src) {
  std::lock_guard lock(state_->mutex);
  return state_->make_tunnel(std::move(name), std::move(config_src), "").id;
}

std::string FakeCloudflare::add_record(std::string type, std::string name, std::string content,
                                      bool proxied) {
  std::lock_guard lock(state_->mutex);
  auto& made =
      state_->make_record(std::move(type), std::move(name), std::move(content), proxied, 1);
  return made.id;
}

bool FakeCloudflare::simulate_connection(std::string_view tunnel_id) {
  std::lock_guard lock(state_->mutex);
  auto* t = state_->find_live_tunnel(tunnel_id);
  if (t == nullptr) return false;
  t->connections.push_back(ee::detail::uuid_v4().value());
  return true;
}

void FakeCloudflare::fail_next(bhttp::verb method, std::string path_prefix, unsigned status,
                               std::int64_t code, std::size_t skip) {
  std::lock_guard lock(state_->mutex);
  state_->failures.push_back({.method = method,
                              .prefix = std::move(path_prefix),
                              .status = status,
                              .code = code,
                              .skip = skip});
}

std::size_t FakeCloudflare::request_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->log.size();
}

std::vector<std::string> FakeCloudflare::request_log() const {
  std::lock_guard lock(state_->mutex);
  return state_->log;
}

std::size_t FakeCloudflare::count_requests(bhttp::verb method, std::string_view path) const {
  auto const wanted = verb_text(method) + " " + std::string(path);
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(std::count(state_->log.begin(), state_->log.end(), wanted));
}

}  // namespace ee::test
