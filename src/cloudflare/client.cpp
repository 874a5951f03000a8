// The Cloudflare v4 API calls behind the tunnel provider: Cloudflare Tunnel (cfd_tunnel) under
// /accounts/{account_id}, and DNS records under /zones/{zone_id}. Every answer is the v4 envelope
// {"success": bool, "errors": [{"code", "message"}], "messages": [...], "result": ...} with
// "result_info": {"page", "per_page", "count", "total_count", "total_pages"} on lists.
//
// Only validated ids are put into paths and every query value is percent-encoded, so a value that
// came from elsewhere (a database row, an agent) cannot change which resource a request touches.
#include <easyenclave/cloudflare/tunnels.hpp>

#include "cloudflare/fresh.hpp"

#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ee::cloudflare {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
namespace json = ::ee::detail::json;

// Cloudflare's own maximum is far larger for DNS records (and 1000 for tunnels); 50 keeps each
// answer small.
constexpr int kPerPage = 50;
// A list that claims more pages than this is not one we asked for: stop instead of looping.
constexpr std::int64_t kMaxPages = 1000;
constexpr std::size_t kMaxIdLength = 64;
// How much of Cloudflare's error list goes into a detail.
constexpr std::size_t kMaxErrorsQuoted = 5;
constexpr std::size_t kMaxMessageQuoted = 200;

// Cloudflare error codes that say "already exists": 81053 (an A, AAAA or CNAME record with that
// host already exists), 81057 (the record already exists), 81058 (a record with the same
// settings already exists) and 1013 (a tunnel with that name already exists).
constexpr std::int64_t kExistsCodes[] = {81053, 81057, 81058, 1013};
// 81044: "Record does not exist." (DNS), answered with 404 by the current API.
constexpr std::int64_t kNotFoundCodes[] = {81044};

bool is_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

result<void> check_id(std::string_view what, std::string_view id) {
  if (is_id(id)) return {};
  return Error(errc::invalid_id, std::string(what) + " is not 1-64 of [A-Za-z0-9-]");
}

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A printable, bounded copy of text Cloudflare sent, for a detail.
std::string quoted(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxMessageQuoted)) {
    auto const byte = static_cast<unsigned char>(c);
    out.push_back((byte < 0x20 || byte == 0x7f) ? '?' : c);
  }
  if (text.size() > kMaxMessageQuoted) out.append("...");
  return out;
}

// The "errors" of an envelope: their codes, and a "code N: message; ..." summary.
struct ApiErrors {
  std::vector<std::int64_t> codes{};
  std::string summary{};
};

ApiErrors api_errors(bj::value const* doc) {
  ApiErrors out;
  if (doc == nullptr || !doc->is_object()) return out;
  auto const* errors = doc->as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array()) return out;
  std::size_t shown = 0;
  for (auto const& item : errors->as_array()) {
    auto const* obj = item.if_object();
    if (obj == nullptr) continue;
    std::optional<std::int64_t> code;
    if (auto const* c = obj->if_contains("code"); c != nullptr && c->is_int64()) code = c->as_int64();
    if (auto const* c = obj->if_contains("code"); c != nullptr && c->is_uint64() &&
                                                  c->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      code = static_cast<std::int64_t>(c->as_uint64());
    std::string_view message;
    if (auto const* m = obj->if_contains("message"); m != nullptr && m->is_string()) message = m->as_string();
    if (code) out.codes.push_back(*code);
    if (shown == kMaxErrorsQuoted) continue;
    if (!out.summary.empty()) out.summary += "; ";
    out.summary += code ? "code " + std::to_string(*code) : std::string("no code");
    if (!message.empty()) out.summary += ": " + quoted(message);
    ++shown;
  }
  if (errors->as_array().size() > kMaxErrorsQuoted) out.summary += "; ...";
  return out;
}

bool has_any(std::vector<std::int64_t> const& codes, std::span<std::int64_t const> wanted) {
  for (auto code : codes)
    for (auto w : wanted)
      if (code == w) return true;
  return false;
}

// One API call: what it is for (for details), and how its answer is judged.
struct Call {
  bhttp::verb method = bhttp::verb::get;
  std::string path{};   // after api_base, starting with '/', ids already validated
  std::string query{};  // already encoded, without '?'
  std::optional<bj::value> body{};
  std::string what{};          // "create tunnel ee-cp-web"
  bool not_found_ok = false;   // 404 (or a not-found code) is errc::not_found, not api_error
  bool result_required = true;
};

// The base URL without trailing '/', or not_configured.
result<std::string> api_base(Settings const& settings) {
  std::string base = settings.api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto parsed = boost::urls::parse_absolute_uri(base);
  if (!parsed || (parsed->scheme() != "https" && parsed->scheme() != "http") || parsed->encoded_host().empty() ||
      parsed->has_userinfo() || parsed->has_query() || parsed->has_fragment())
    return Error(errc::not_configured, "Cloudflare api_base is not an absolute http(s) URL");
  return base;
}

result<void> check_token(Settings const& settings) {
  if (settings.api_token.empty()) return Error(errc::not_configured, "Cloudflare API token is not set");
  // The token goes into a header: only visible ASCII, so it can never split the header block.
  for (char c : settings.api_token) {
    auto const byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7e)
      return Error(errc::not_configured, "Cloudflare API token contains characters not allowed in a header");
  }
  return {};
}

result<std::string> account_path(Settings const& settings) {
  if (!is_id(settings.account_id))
    return Error(errc::not_configured, "Cloudflare account id is not set or not 1-64 of [A-Za-z0-9-]");
  return "/accounts/" + settings.account_id + "/cfd_tunnel";
}

result<std::string> zone_path(Settings const& settings) {
  if (!is_id(settings.zone_id))
    return Error(errc::not_configured, "Cloudflare zone id is not set or not 1-64 of [A-Za-z0-9-]");
  return "/zones/" + settings.zone_id + "/dns_records";
}

// Judges a response: the status, then the envelope. Returns the parsed envelope (an object whose
// "success" is true).
result<bj::value> judge(result<http::Response> const& response, Call const& call) {
  if (!response) {
    if (response.error() == ee::errc::cancelled) return response.error().with_context(call.what);
    return Error(errc::unavailable, call.what + ": " + response.error().message() + " (" + response.error().id() + ")");
  }
  unsigned const status = response->result_int();
  auto doc = json::parse(response->body());
  bj::value const* envelope = (doc && doc->is_object()) ? &*doc : nullptr;
  auto const errors = api_errors(envelope);
  auto describe = [&](std::string_view prefix) {
    std::string text = call.what + ": " + std::string(prefix) + " HTTP " + std::to_string(status);
    if (!errors.summary.empty()) {
      text += " (" + errors.summary + ")";
    } else if (envelope == nullptr) {
      text += " (body is not a Cloudflare JSON envelope)";
    }
    return text;
  };
  if (status == 401 || status == 403) return Error(errc::unauthorized, describe("Cloudflare refused the token with"));
  if (status >= 500) return Error(errc::unavailable, describe("Cloudflare failed with"));
  if (status >= 400) {
    if (has_any(errors.codes, kExistsCodes)) return Error(errc::record_exists, describe("Cloudflare answered"));
    if (call.not_found_ok && (status == 404 || has_any(errors.codes, kNotFoundCodes)))
      return Error(errc::not_found, describe("Cloudflare answered"));
    return Error(errc::api_error, describe("Cloudflare refused the request with"));
  }
  if (status < 200 || status >= 300) return Error(errc::unavailable, describe("unexpected"));
  if (envelope == nullptr)
    return Error(errc::unavailable, call.what + ": the answer is not a JSON object" +
                                        (doc ? std::string() : " (" + doc.error().message() + ")"));
  auto const* success = envelope->as_object().if_contains("success");
  if (success == nullptr || !success->is_bool())
    return Error(errc::unavailable, call.what + ": the answer has no boolean \"success\"");
  if (!success->as_bool()) {
    if (has_any(errors.codes, kExistsCodes))
      return Error(errc::record_exists, describe("Cloudflare answered success:false with"));
    return Error(errc::api_error, describe("Cloudflare answered success:false with"));
  }
  if (call.result_required) {
    auto const* res = envelope->as_object().if_contains("result");
    if (res == nullptr || res->is_null()) return Error(errc::unavailable, call.what + ": the answer has no \"result\"");
  }
  return std::move(*doc);
}

// Cloudflare does not echo the token, but whatever answers at `api_base` (a proxy, a wrong host)
// might: a detail must not carry it, whoever wrote the text.
Error without_token(Error const& error, std::string const& token) {
  std::string detail = error.detail();
  if (token.empty() || detail.find(token) == std::string::npos) return error;
  for (auto at = detail.find(token); at != std::string::npos; at = detail.find(token, at))
    detail.replace(at, token.size(), "[redacted]");
  return Error(error.code(), std::move(detail));
}

asio::awaitable<result<bj::value>> send(http::Client& client, Settings const& settings, Call call) {
  auto base = api_base(settings);
  if (!base) co_return base.error();
  if (auto token = check_token(settings); !token) co_return token.error();
  std::string url = *base + call.path;
  if (!call.query.empty()) url += "?" + call.query;
  http::Request request{call.method, url, 11};
  request.set(bhttp::field::authorization, "Bearer " + settings.api_token);
  request.set(bhttp::field::accept, "application/json");
  if (call.body) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = json::serialize(*call.body);
  }
  request.prepare_payload();
  auto response = co_await client.send(std::move(request), settings.request);
  auto judged = judge(response, call);
  if (!judged) co_return without_token(judged.error(), settings.api_token);
  co_return judged;
}

bj::value const& result_of(bj::value const& envelope) { return envelope.as_object().at("result"); }

// Follows result_info.total_pages from page 1; returns the items of every page. Cloudflare's
// schema lets total_pages be null or absent: then total_count decides, and without it a full page
// means there may be another.
asio::awaitable<result<std::vector<bj::value>>> send_paged(http::Client& client, Settings const& settings,
                                                           Call call) {
  std::vector<bj::value> items;
  std::string const filter = call.query;
  std::string const what = call.what;
  for (std::int64_t page = 1;; ++page) {
    call.query = filter + (filter.empty() ? "" : "&") + "page=" + std::to_string(page) +
                 "&per_page=" + std::to_string(kPerPage);
    call.what = what + " (page " + std::to_string(page) + ")";
    auto envelope = co_await send(client, settings, call);
    if (!envelope) co_return envelope.error();
    auto const& res = result_of(*envelope);
    if (!res.is_array()) co_return Error(errc::unavailable, call.what + ": \"result\" is not an array");
    for (auto const& item : res.as_array()) items.push_back(item);
    auto reader = json::ObjectReader::from(*envelope, "answer");
    auto info = reader->optional_child("result_info");
    if (!info) co_return Error(errc::unavailable, call.what + ": " + info.error().message());
    if (!*info) break;  // an unpaged answer
    auto total = (*info)->optional_integer("total_pages", 0, INT64_MAX);
    if (!total) co_return Error(errc::unavailable, call.what + ": " + total.error().message());
    auto count = (*info)->optional_integer("total_count", 0, INT64_MAX);
    if (!count) co_return Error(errc::unavailable, call.what + ": " + count.error().message());
    auto const size = static_cast<std::int64_t>(res.as_array().size());
    std::int64_t pages = page;  // without any hint, a short page is the last
    if (*total) {
      pages = **total;
    } else if (*count) {
      pages = **count / kPerPage + (**count % kPerPage != 0 ? 1 : 0);
    } else if (size >= kPerPage) {
      pages = page + 1;
    }
    if (page >= pages || size == 0) break;
    if (page >= kMaxPages)
      co_return Error(errc::unavailable, what + ": the list has more than " + std::to_string(kMaxPages) + " pages");
  }
  co_return items;
}

// An answer that does not have the documented shape is Cloudflare's fault, not the caller's.
Error unreadable(std::string const& what, Error const& e) { return Error(errc::unavailable, what + ": " + e.message()); }

result<Client::TunnelInfo> read_tunnel(bj::value const& value, std::string const& what, std::string path,
                                       bool* deleted = nullptr) {
  auto reader = json::ObjectReader::from(value, std::move(path));
  if (!reader) return unreadable(what, reader.error());
  auto id = reader->string("id");
  if (!id) return unreadable(what, id.error());
  auto name = reader->string("name");
  if (!name) return unreadable(what, name.error());
  auto deleted_at = reader->optional_string("deleted_at");
  if (!deleted_at) return unreadable(what, deleted_at.error());
  if (!is_id(*id)) return Error(errc::unavailable, what + ": " + reader->path() + ".id is not a Cloudflare id");
  if (deleted != nullptr) *deleted = deleted_at->has_value();
  return Client::TunnelInfo{.id = std::move(*id), .name = std::move(*name)};
}

result<Client::DnsRecord> read_record(bj::value const& value, std::string const& what, std::string path) {
  auto reader = json::ObjectReader::from(value, std::move(path));
  if (!reader) return unreadable(what, reader.error());
  auto id = reader->string("id");
  if (!id) return unreadable(what, id.error());
  auto type = reader->string("type");
  if (!type) return unreadable(what, type.error());
  auto name = reader->string("name");
  if (!name) return unreadable(what, name.error());
  auto content = reader->string("content");
  if (!content) return unreadable(what, content.error());
  auto proxied = reader->optional_boolean("proxied");
  if (!proxied) return unreadable(what, proxied.error());
  if (!is_id(*id)) return Error(errc::unavailable, what + ": " + reader->path() + ".id is not a Cloudflare id");
  return Client::DnsRecord{.id = std::move(*id),
                           .type = std::move(*type),
                           .name = std::move(*name),
                           .content = std::move(*content),
                           .proxied = proxied->value_or(false)};
}

bj::value cname_body(std::string const& name, std::string const& target) {
  bj::object body;
  body["type"] = "CNAME";
  body["name"] = name;
  body["content"] = target;
  body["proxied"] = true;  // a tunnel CNAME only routes through Cloudflare's proxy
  body["ttl"] = 1;         // 1 = automatic, the only TTL of a proxied record
  return body;
}

}  // namespace

Client::Client(std::shared_ptr<http::Client> http, Settings settings)
    : http_(std::move(http)), settings_(std::move(settings)) {}

asio::awaitable<result<std::vector<Client::TunnelInfo>>> Client::find_tunnels(std::string name) const {
  auto base = account_path(settings_);
  if (!base) co_return base.error();
  Call call{.method = bhttp::verb::get,
            .path = *base,
            .query = "name=" + detail::percent_encode(name) + "&is_deleted=false",
            .what = "list tunnels named " + quoted(name)};
  auto items = co_await send_paged(*http_, settings_, call);
  if (!items) co_return items.error();
  std::vector<TunnelInfo> out;
  for (std::size_t i = 0; i < items->size(); ++i) {
    bool deleted = false;
    auto tunnel = read_tunnel((*items)[i], call.what, "result[" + std::to_string(i) + "]", &deleted);
    if (!tunnel) co_return tunnel.error();
    // The filters are Cloudflare's; checking again keeps a lenient answer from handing out a
    // deleted tunnel or one of another name.
    if (!deleted && tunnel->name == name) out.push_back(std::move(*tunnel));
  }
  co_return out;
}

asio::awaitable<result<CreatedTunnel>> create_tunnel_with_token(http::Client& http, Settings const& settings,
                                                                 std::string name) {
  auto base = account_path(settings);
  if (!base) co_return base.error();
  if (name.empty()) co_return Error(errc::invalid_label, "a tunnel name must not be empty");
  bj::object body;
  body["name"] = name;
  body["config_src"] = "cloudflare";  // remotely managed: ingress comes from the API, not a file
  Call call{.method = bhttp::verb::post, .path = *base, .body = bj::value(std::move(body)),
            .what = "create tunnel " + quoted(name)};
  auto envelope = co_await send(http, settings, call);
  if (!envelope) co_return envelope.error();
  auto const& res = result_of(*envelope);
  auto info = read_tunnel(res, call.what, "result");
  if (!info) co_return info.error();
  CreatedTunnel out{.info = std::move(*info), .token = {}};
  auto reader = json::ObjectReader::from(res, "result");  // an object: read_tunnel read it
  if (!reader) co_return unreadable(call.what, reader.error());
  auto token = reader->optional_string("token");
  if (!token) co_return unreadable(call.what, token.error());
  if (*token) out.token = std::move(**token);
  co_return out;
}

asio::awaitable<result<Client::TunnelInfo>> Client::create_tunnel(std::string name) const {
  auto created = co_await create_tunnel_with_token(*http_, settings_, std::move(name));
  if (!created) co_return created.error();
  co_return std::move(created->info);
}

asio::awaitable<result<std::string>> Client::tunnel_token(std::string tunnel_id) const {
  auto base = account_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("tunnel id", tunnel_id); !ok) co_return ok.error();
  Call call{.method = bhttp::verb::get, .path = *base + "/" + tunnel_id + "/token",
            .what = "get the token of tunnel " + tunnel_id};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  auto const& res = result_of(*envelope);
  if (!res.is_string() || res.as_string().empty())
    co_return Error(errc::unavailable, call.what + ": \"result\" is not a non-empty string");
  co_return std::string(res.as_string());
}

asio::awaitable<result<void>> Client::put_ingress(std::string tunnel_id, std::vector<IngressRule> rules) const {
  auto base = account_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("tunnel id", tunnel_id); !ok) co_return ok.error();
  bj::array ingress;
  for (auto const& r : rules) {
    bj::object rule;
    if (!r.hostname.empty()) rule["hostname"] = r.hostname;
    if (!r.path.empty()) rule["path"] = r.path;
    rule["service"] = r.service;
    ingress.push_back(std::move(rule));
  }
  bj::object catch_all;
  catch_all["service"] = "http_status:404";  // cloudflared requires a last rule without hostname
  ingress.push_back(std::move(catch_all));
  bj::object config;
  config["ingress"] = std::move(ingress);
  bj::object body;
  body["config"] = std::move(config);
  Call call{.method = bhttp::verb::put, .path = *base + "/" + tunnel_id + "/configurations",
            .body = bj::value(std::move(body)), .what = "put the ingress of tunnel " + tunnel_id,
            .result_required = false};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return result<void>{};
}

asio::awaitable<result<void>> Client::delete_connections(std::string tunnel_id) const {
  auto base = account_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("tunnel id", tunnel_id); !ok) co_return ok.error();
  Call call{.method = bhttp::verb::delete_, .path = *base + "/" + tunnel_id + "/connections",
            .what = "delete the connections of tunnel " + tunnel_id, .not_found_ok = true,
            .result_required = false};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return result<void>{};
}

asio::awaitable<result<void>> Client::delete_tunnel(std::string tunnel_id) const {
  auto base = account_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("tunnel id", tunnel_id); !ok) co_return ok.error();
  Call call{.method = bhttp::verb::delete_, .path = *base + "/" + tunnel_id,
            .what = "delete tunnel " + tunnel_id, .not_found_ok = true, .result_required = false};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return result<void>{};
}

asio::awaitable<result<std::vector<Client::DnsRecord>>> Client::find_cnames(std::string name) const {
  auto base = zone_path(settings_);
  if (!base) co_return base.error();
  Call call{.method = bhttp::verb::get, .path = *base,
            .query = "type=CNAME&name=" + detail::percent_encode(name),
            .what = "list CNAME records named " + quoted(name)};
  auto items = co_await send_paged(*http_, settings_, call);
  if (!items) co_return items.error();
  std::vector<DnsRecord> out;
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto record = read_record((*items)[i], call.what, "result[" + std::to_string(i) + "]");
    if (!record) co_return record.error();
    // DNS names compare without case (RFC 4343).
    if (record->type == "CNAME" && equals_ignore_case(record->name, name)) out.push_back(std::move(*record));
  }
  co_return out;
}

asio::awaitable<result<Client::DnsRecord>> Client::create_cname(std::string name, std::string target) const {
  auto base = zone_path(settings_);
  if (!base) co_return base.error();
  Call call{.method = bhttp::verb::post, .path = *base, .body = cname_body(name, target),
            .what = "create CNAME " + quoted(name)};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return read_record(result_of(*envelope), call.what, "result");
}

asio::awaitable<result<Client::DnsRecord>> Client::update_cname(std::string record_id, std::string name,
                                                                 std::string target) const {
  auto base = zone_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("DNS record id", record_id); !ok) co_return ok.error();
  Call call{.method = bhttp::verb::put, .path = *base + "/" + record_id, .body = cname_body(name, target),
            .what = "update CNAME " + quoted(name), .not_found_ok = true};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return read_record(result_of(*envelope), call.what, "result");
}

asio::awaitable<result<void>> Client::delete_dns_record(std::string record_id) const {
  auto base = zone_path(settings_);
  if (!base) co_return base.error();
  if (auto ok = check_id("DNS record id", record_id); !ok) co_return ok.error();
  Call call{.method = bhttp::verb::delete_, .path = *base + "/" + record_id,
            .what = "delete DNS record " + record_id, .not_found_ok = true, .result_required = false};
  auto envelope = co_await send(*http_, settings_, call);
  if (!envelope) co_return envelope.error();
  co_return result<void>{};
}

}  // namespace ee::cloudflare
