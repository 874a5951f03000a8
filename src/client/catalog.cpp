// The network steps of connect(). The CP's answers are read strictly (detail::json); anything
// unexpected fails the check that needed it. Routes: docs/api.md; the agent's health:
// docs/agent.md; GitHub: REST API "List releases" (GET /repos/{owner}/{repo}/releases).
#include "client/catalog.hpp"

#include <easyenclave/encoding.hpp>

#include "client/checks.hpp"
#include "detail/encoding.hpp"
#include "detail/json.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>

namespace ee::client {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using detail::json::ObjectReader;

namespace {

bool all_of_chars(std::string_view text, std::string_view extra, bool upper) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    auto const u = static_cast<unsigned char>(c);
    return (std::islower(u) != 0) || (std::isdigit(u) != 0) || (upper && std::isupper(u) != 0) ||
           extra.find(c) != std::string_view::npos;
  });
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// Everything but unreserved characters (RFC 3986 section 2.3) percent-encoded.
std::string percent_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto const u = static_cast<unsigned char>(c);
    if ((std::isalnum(u) != 0) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

// The code of an easyenclave error body, for messages; empty when there is none.
std::string error_code_of(std::string const& body) {
  auto parsed = detail::json::parse(body);
  if (!parsed || !parsed->is_object()) return {};
  auto const* code = parsed->as_object().if_contains("code");
  return code != nullptr && code->is_string() ? std::string(code->as_string()) : std::string();
}

std::string status_text(http::Response const& response) {
  auto text = "HTTP " + std::to_string(response.result_int());
  if (auto code = error_code_of(response.body()); !code.empty()) text += " " + code;
  return text;
}

asio::awaitable<result<http::Response>> get(http::Client& http, http::RequestOptions options,
                                            std::string url, char const* accept) {
  http::Request request{bhttp::verb::get, url, 11};
  request.set(bhttp::field::accept, accept);
  auto response = co_await http.send(std::move(request), options);
  co_return response;
}

result<tdx::Measurement> measurement(std::string const& text, std::string const& what) {
  tdx::Measurement m{};
  if (auto ok = detail::hex_decode_into(text, m); !ok)
    return Error(errc::malformed_evidence, what + ": expected 96 hex characters");
  return m;
}

result<PublishedVersion> parse_version(bj::value const& value, std::size_t index) {
  auto const path = "versions[" + std::to_string(index) + "]";
  auto reader = ObjectReader::from(value, path);
  if (!reader) return reader.error();
  PublishedVersion v;
  auto version = reader->string("version");
  if (!version) return version.error();
  v.version = std::move(*version);
  auto image = reader->string("image");
  if (!image) return image.error();
  v.image = std::move(*image);
  auto const at = v.image.rfind('@');
  if (at == std::string::npos)
    return reader->field_error("image", ee::errc::invalid_value, "expected NAME@sha256:<hex>");
  v.image_digest = v.image.substr(at + 1);
  auto mrtd_text = reader->string("mrtd");
  if (!mrtd_text) return mrtd_text.error();
  auto mrtd = measurement(*mrtd_text, path + ".mrtd");
  if (!mrtd) return mrtd.error();
  v.mrtd = *mrtd;
  if (auto const* rtmrs = reader->object().if_contains("rtmrs");
      rtmrs != nullptr && !rtmrs->is_null()) {
    if (!rtmrs->is_array() || rtmrs->as_array().size() != 4)
      return reader->field_error("rtmrs", ee::errc::wrong_type, "expected an array of 4");
    for (std::size_t i = 0; i < 4; ++i) {
      auto const& entry = rtmrs->as_array()[i];
      if (entry.is_null()) continue;
      if (!entry.is_string())
        return reader->field_error("rtmrs", ee::errc::wrong_type, "expected hex strings or null");
      auto rtmr = measurement(std::string(entry.as_string()), path + ".rtmrs");
      if (!rtmr) return rtmr.error();
      v.rtmrs[i] = *rtmr;
    }
  }
  return v;
}

// Reads a JSON answer of a 200 response; `what` names it in messages.
result<bj::value> json_body(http::Response const& response, std::string const& what) {
  auto parsed = detail::json::parse(response.body());
  if (!parsed) return parsed.error().with_context(what);
  return std::move(*parsed);
}

}  // namespace

result<Target> resolve_target(std::string const& target, Source source, Report& report) {
  Recorder r{report};
  auto const slash = target.find('/');
  if (slash != std::string::npos) {
    auto const org = std::string_view(target).substr(0, slash);
    auto const repo = std::string_view(target).substr(slash + 1);
    if (org.empty() || org.size() > 39 || !all_of_chars(org, "-", true) || repo.empty() ||
        repo.size() > 100 || !all_of_chars(repo, "._-", true))
      return r.fail(errc::invalid_target, "target",
                    "org/repo (org 1-39 of [A-Za-z0-9-], repo 1-100 of [A-Za-z0-9._-]) or an app "
                    "name",
                    "'" + target + "'");
    r.pass("target", "org/repo or an app name", "source repository " + target);
    return Target{{}, target};
  }
  if (source == Source::github_release)
    return r.fail(errc::invalid_target, "target", "org/repo for a GitHub release",
                  "'" + target + "'");
  if (target.empty() || target.size() > 63 || !all_of_chars(target, "-", false) ||
      target.front() == '-')
    return r.fail(errc::invalid_target, "target", "an app name (1-63 of [a-z0-9-]) or org/repo",
                  "'" + target + "'");
  r.pass("target", "org/repo or an app name", "app " + target);
  return Target{target, {}};
}

asio::awaitable<result<Expectations>> fetch_catalog_app(http::Client& http,
                                                        http::RequestOptions options,
                                                        std::string cp_url, Target target,
                                                        std::string version, Report& report) {
  Recorder r{report};
  cp_url = trim_slash(cp_url);
  std::string name = target.app;
  if (name.empty()) {
    // org/repo: the one app whose source_repo it is.
    auto const list_url = cp_url + "/api/v1/apps";
    auto listed = co_await get(http, options, list_url, "application/json");
    if (!listed)
      co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app list from " + cp_url,
                       "an error", listed.error().message());
    if (listed->result() != bhttp::status::ok)
      co_return r.fail(errc::catalog_unavailable, "catalog_app", "HTTP 200 from GET /api/v1/apps",
                       status_text(*listed));
    auto body = json_body(*listed, "GET /api/v1/apps");
    if (!body || !body->is_array())
      co_return r.fail(errc::catalog_unavailable, "catalog_app", "a JSON array of apps",
                       "another body", body ? "" : body.error().message());
    std::vector<std::string> names;
    for (auto const& item : body->as_array()) {
      if (!item.is_object()) continue;
      auto const* repo = item.as_object().if_contains("source_repo");
      auto const* app = item.as_object().if_contains("name");
      if (repo != nullptr && repo->is_string() && app != nullptr && app->is_string() &&
          lower(std::string(repo->as_string())) == lower(target.source_repo))
        names.emplace_back(app->as_string());
    }
    if (names.empty())
      co_return r.fail(errc::app_not_found, "catalog_app",
                       "an app whose source_repo is " + target.source_repo, "none in " + cp_url);
    if (names.size() > 1) {
      std::string all;
      for (auto const& n : names) all += (all.empty() ? "" : ", ") + n;
      co_return r.fail(errc::invalid_target, "catalog_app",
                       "one app whose source_repo is " + target.source_repo,
                       std::to_string(names.size()) + " (" + all + "); connect by app name");
    }
    name = names.front();
  }

  auto const app_url = cp_url + "/api/v1/apps/" + percent_encode(name);
  auto fetched = co_await get(http, options, app_url, "application/json");
  if (!fetched)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "app '" + name + "' from " + cp_url,
                     "an error", fetched.error().message());
  if (fetched->result() == bhttp::status::not_found)
    co_return r.fail(errc::app_not_found, "catalog_app", "app '" + name + "' in the catalog",
                     status_text(*fetched));
  if (fetched->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "catalog_app",
                     "HTTP 200 from GET /api/v1/apps/" + name, status_text(*fetched));
  auto body = json_body(*fetched, "GET /api/v1/apps/" + name);
  if (!body)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app as JSON", "another body",
                     body.error().message());
  auto app = ObjectReader::from(*body, "app");
  if (!app)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app as a JSON object",
                     "another body", app.error().message());
  Expectations expected;
  auto app_name = app->string("name");
  auto repo = app->string("source_repo");
  auto versions = app->array("versions");
  if (!app_name || !repo || !versions) {
    auto const error = !app_name ? app_name.error() : !repo ? repo.error() : versions.error();
    co_return r.fail(errc::catalog_unavailable, "catalog_app",
                     "an app with name, source_repo and versions", "a body without them",
                     error.message());
  }
  expected.app = std::move(*app_name);
  expected.source_repo = std::move(*repo);
  if (!target.source_repo.empty() && lower(expected.source_repo) != lower(target.source_repo))
    co_return r.fail(errc::app_not_found, "catalog_app", "source_repo " + target.source_repo,
                     expected.source_repo);
  r.pass("catalog_app", "app in the catalog at " + cp_url,
         expected.app + " (source " + expected.source_repo + ")");

  std::vector<std::string> listed;
  for (std::size_t i = 0; i < (*versions)->size(); ++i) {
    auto v = parse_version((**versions)[i], i);
    if (!v)
      co_return r.fail(errc::catalog_unavailable, "catalog_versions", "well-formed versions",
                       "a malformed version", v.error().message());
    listed.push_back(v->version + " " + v->image);
    if (version.empty() || v->version == version) expected.versions.push_back(std::move(*v));
  }
  if (expected.versions.empty())
    co_return r.fail(errc::no_published_version, "catalog_versions",
                     version.empty() ? "a published version" : "version " + version,
                     listed.empty() ? "none" : std::to_string(listed.size()) + " other versions");
  std::string detail;
  for (auto const& v : expected.versions)
    detail += (detail.empty() ? "" : "; ") + v.version + " " + v.image;
  r.pass("catalog_versions", version.empty() ? "a published version" : "version " + version,
         std::to_string(expected.versions.size()) + " version(s)", detail);
  co_return expected;
}

asio::awaitable<result<RunningAgent>> find_running_agent(http::Client& http,
                                                         http::RequestOptions options,
                                                         std::string cp_url, Expectations expected,
                                                         std::string version, std::string agent_id,
                                                         Report& report) {
  Recorder r{report};
  cp_url = trim_slash(cp_url);
  auto url = cp_url + "/api/v1/deployments?status=running&app_name=" + percent_encode(expected.app);
  if (!agent_id.empty()) url += "&agent_id=" + percent_encode(agent_id);
  auto const expectation =
      "a running deployment of " + expected.app + (version.empty() ? "" : " " + version) +
      (agent_id.empty() ? "" : " on agent " + agent_id) + " on a verified agent";
  auto listed = co_await get(http, options, url, "application/json");
  if (!listed)
    co_return r.fail(errc::catalog_unavailable, "running_agent", expectation, "an error",
                     listed.error().message());
  if (listed->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "running_agent",
                     "HTTP 200 from GET /api/v1/deployments", status_text(*listed));
  auto body = json_body(*listed, "GET /api/v1/deployments");
  if (!body || !body->is_array())
    co_return r.fail(errc::catalog_unavailable, "running_agent", "a JSON array of deployments",
                     "another body", body ? "" : body.error().message());

  std::vector<std::string> passed_over;
  for (auto const& item : body->as_array()) {
    auto d = ObjectReader::from(item, "deployment");
    if (!d) continue;
    auto d_agent = d->string("agent_id");
    auto d_version = d->string("version");
    if (!d_agent || !d_version) continue;
    if (!version.empty() && *d_version != version) continue;

    auto const agent_url_at_cp = cp_url + "/api/v1/agents/" + percent_encode(*d_agent);
    auto fetched = co_await get(http, options, agent_url_at_cp, "application/json");
    if (!fetched || fetched->result() != bhttp::status::ok) {
      passed_over.push_back(*d_agent + ": " +
                            (fetched ? status_text(*fetched) : fetched.error().message()));
      continue;
    }
    auto agent_body = json_body(*fetched, "GET /api/v1/agents/" + *d_agent);
    if (!agent_body) continue;
    auto agent = ObjectReader::from(*agent_body, "agent");
    if (!agent) continue;
    auto verified = agent->boolean("verified");
    if (!verified || !*verified) {
      passed_over.push_back(*d_agent + ": not verified by the control plane");
      continue;
    }
    auto hostname = agent->optional_string("hostname");
    auto agent_url = agent->optional_string("agent_url");
    auto public_key = agent->optional_string("public_key");
    RunningAgent out;
    out.agent_id = *d_agent;
    out.version = *d_version;
    if (hostname && *hostname && !(*hostname)->empty())
      out.endpoint = "https://" + **hostname;
    else if (agent_url && *agent_url && !(*agent_url)->empty())
      out.endpoint = trim_slash(**agent_url);
    if (out.endpoint.empty()) {
      passed_over.push_back(*d_agent + ": neither a tunnel hostname nor an agent_url");
      continue;
    }
    if (public_key && *public_key) out.public_key = **public_key;
    std::string detail = "deployment of version " + out.version;
    for (auto const& p : passed_over) detail += "; passed over " + p;
    r.pass("running_agent", expectation, "agent " + out.agent_id + " at " + out.endpoint, detail);
    co_return out;
  }
  std::string detail;
  for (auto const& p : passed_over) detail += (detail.empty() ? "" : "; ") + p;
  co_return r.fail(errc::no_running_agent, "running_agent", expectation,
                   passed_over.empty() ? "no running deployment" : "no usable agent", detail);
}

asio::awaitable<result<Evidence>> fetch_agent_evidence(http::Client& http,
                                                       http::RequestOptions options,
                                                       std::string endpoint,
                                                       std::array<std::uint8_t, 32> nonce,
                                                       Report& report) {
  Recorder r{report};
  auto const url = endpoint + "/api/health?attest=true&nonce=" + hex_encode(nonce);
  auto const expectation = "attested health from " + endpoint;
  auto fetched = co_await get(http, options, url, "application/json");
  if (!fetched)
    co_return r.fail(errc::agent_unreachable, "evidence", expectation, "an error",
                     fetched.error().message());
  if (fetched->result() != bhttp::status::ok)
    co_return r.fail(errc::agent_unreachable, "evidence", "HTTP 200 from GET /api/health",
                     status_text(*fetched));
  auto body = json_body(*fetched, "health");
  auto const malformed = [&](Error const& error) {
    return r.fail(errc::malformed_evidence, "evidence",
                  "a health body with public_key, workload and attestation.quote_b64",
                  "a malformed body", error.message());
  };
  if (!body) co_return malformed(body.error());
  auto health = ObjectReader::from(*body, "health");
  if (!health) co_return malformed(health.error());
  Evidence evidence;
  // Optional here: a missing key is judged by the "key_binding" check, not as a malformed body.
  auto public_key = health->optional_string("public_key");
  if (!public_key) co_return malformed(public_key.error());
  if (*public_key) evidence.public_key = std::move(**public_key);
  auto workload = health->child("workload");
  if (!workload) co_return malformed(workload.error());
  auto state = workload->string("state");
  auto image = workload->optional_string("image");
  auto digest = workload->optional_string("image_digest");
  auto deployment = workload->optional_string("deployment_id");
  if (!state) co_return malformed(state.error());
  if (!image) co_return malformed(image.error());
  if (!digest) co_return malformed(digest.error());
  if (!deployment) co_return malformed(deployment.error());
  evidence.workload_state = std::move(*state);
  evidence.workload_image = image->value_or("");
  evidence.workload_image_digest = digest->value_or("");
  evidence.deployment_id = deployment->value_or("");
  auto attestation = health->child("attestation");
  if (!attestation) co_return malformed(attestation.error());
  auto quote_b64 = attestation->string("quote_b64");
  if (!quote_b64) co_return malformed(quote_b64.error());
  auto quote = base64_decode(*quote_b64);
  if (!quote) co_return malformed(quote.error().with_context("health.attestation.quote_b64"));
  evidence.quote = std::move(*quote);
  if (auto provider = attestation->optional_string("provider"); provider && *provider)
    evidence.provider = **provider;
  r.pass("evidence", expectation,
         "a quote of " + std::to_string(evidence.quote.size()) + " bytes" +
             (evidence.provider.empty() ? "" : " from provider " + evidence.provider),
         "workload " + evidence.workload_state + " " + evidence.workload_image);
  co_return evidence;
}

asio::awaitable<result<ReleaseEvidence>> fetch_release_evidence(http::Client& http,
                                                                http::RequestOptions options,
                                                                std::string github_api,
                                                                std::string source_repo,
                                                                Report& report) {
  Recorder r{report};
  auto const url = trim_slash(github_api) + "/repos/" + source_repo + "/releases";
  auto const expectation = "a release of " + source_repo + " with an attestation.json asset";
  auto listed = co_await get(http, options, url, "application/vnd.github+json");
  if (!listed)
    co_return r.fail(errc::catalog_unavailable, "release", expectation, "an error",
                     listed.error().message());
  if (listed->result() == bhttp::status::not_found)
    co_return r.fail(errc::release_not_found, "release", expectation, "HTTP 404 from " + url);
  if (listed->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "release", "HTTP 200 from " + url,
                     status_text(*listed));
  auto body = json_body(*listed, "releases");
  if (!body || !body->is_array())
    co_return r.fail(errc::catalog_unavailable, "release", "a JSON array of releases",
                     "another body", body ? "" : body.error().message());

  ReleaseEvidence out;
  std::string download_url;
  for (auto const& item : body->as_array()) {
    auto release = ObjectReader::from(item, "release");
    if (!release) continue;
    auto assets = release->array("assets");
    if (!assets) continue;
    for (auto const& asset_value : **assets) {
      auto asset = ObjectReader::from(asset_value, "asset");
      if (!asset) continue;
      auto name = asset->string("name");
      auto link = asset->string("browser_download_url");
      if (!name || !link || *name != "attestation.json") continue;
      download_url = std::move(*link);
      break;
    }
    if (download_url.empty()) continue;
    auto tag = release->optional_string("tag_name");
    auto published = release->optional_string("published_at");
    if (tag && *tag) out.release = **tag;
    if (published && *published) out.published_at = **published;
    break;
  }
  if (download_url.empty())
    co_return r.fail(errc::release_not_found, "release", expectation,
                     std::to_string(body->as_array().size()) + " release(s) without one");

  // GitHub answers browser_download_url with a redirect to its object store.
  result<http::Response> asset = Error(errc::release_not_found);
  for (int hop = 0; hop < 4; ++hop) {
    asset = co_await get(http, options, download_url, "application/octet-stream");
    if (!asset) break;
    auto const status = asset->result_int();
    if (status < 300 || status >= 400) break;
    auto location = asset->find(bhttp::field::location);
    if (location == asset->end()) break;
    download_url = std::string(location->value());
  }
  if (!asset)
    co_return r.fail(errc::catalog_unavailable, "release", "attestation.json of " + out.release,
                     "an error", asset.error().message());
  if (asset->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "release",
                     "HTTP 200 for attestation.json of " + out.release, status_text(*asset));
  auto const malformed = [&](Error const& error) {
    return r.fail(errc::malformed_evidence, "release",
                  "attestation.json with endpoint and quote_b64", "a malformed asset",
                  error.message());
  };
  auto doc = json_body(*asset, "attestation.json");
  if (!doc) co_return malformed(doc.error());
  auto reader = ObjectReader::from(*doc, "attestation.json");
  if (!reader) co_return malformed(reader.error());
  auto endpoint = reader->string("endpoint");
  if (!endpoint) co_return malformed(endpoint.error());
  if (!endpoint->starts_with("https://") && !endpoint->starts_with("http://"))
    co_return malformed(
        reader->field_error("endpoint", ee::errc::invalid_value, "expected an http(s) URL"));
  out.endpoint = trim_slash(*endpoint);
  auto quote_b64 = reader->string("quote_b64");
  if (!quote_b64) co_return malformed(quote_b64.error());
  auto quote = base64_decode(*quote_b64);
  if (!quote) co_return malformed(quote.error().with_context("attestation.json.quote_b64"));
  out.evidence.quote = std::move(*quote);
  auto public_key = reader->optional_string("public_key");
  if (!public_key) co_return malformed(public_key.error());
  if (*public_key) out.evidence.public_key = **public_key;
  r.pass("release", expectation, "release " + out.release + " for endpoint " + out.endpoint,
         "published " + (out.published_at.empty() ? std::string("(no date)") : out.published_at));
  co_return out;
}

}  // namespace ee::client
