// The network steps of connect(). The CP's answers are read strictly (detail::json); anything
// unexpected fails the check that needed it. Routes: docs/api.md; the agent's health:
// docs/agent.md; GitHub: REST API "List releases" (GET /repos/{owner}/{repo}/releases).
#include "client/catalog.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/catalog.hpp>
#include <easyenclave/api/image_reference.hpp>
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

// A catalog version as connect() compares it: the parser checked the formats already.
result<PublishedVersion> published_version(api::AppVersionView const& view, std::size_t index) {
  auto const path = "versions[" + std::to_string(index) + "]";
  PublishedVersion v;
  v.version = view.version;
  v.image = view.image;
  auto image = api::ImageReference::parse_pinned(view.image, path + ".image");
  if (!image) return image.error();
  v.image_digest = image->digest();
  auto mrtd = measurement(view.mrtd, path + ".mrtd");
  if (!mrtd) return mrtd.error();
  v.mrtd = *mrtd;
  for (std::size_t i = 0; i < 4; ++i) {
    if (view.rtmrs[i].empty()) continue;
    auto rtmr = measurement(view.rtmrs[i], path + ".rtmrs");
    if (!rtmr) return rtmr.error();
    v.rtmrs[i] = *rtmr;
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

asio::awaitable<result<std::string>> find_app_name(http::Client& http,
                                                   http::RequestOptions options,
                                                   std::string cp_url, Target target,
                                                   Report& report) {
  if (!target.app.empty()) co_return target.app;
  Recorder r{report};
  cp_url = trim_slash(cp_url);
  // org/repo: the one app whose source_repo it is.
  auto const list_url = cp_url + "/api/v1/apps";
  auto listed = co_await get(http, options, list_url, "application/json");
  if (!listed)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app list from " + cp_url,
                     "an error", listed.error().message());
  if (listed->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "HTTP 200 from GET /api/v1/apps",
                     status_text(*listed));
  auto apps = api::parse_app_views(listed->body());
  if (!apps)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "a JSON array of apps",
                     "another body", apps.error().with_context("GET /api/v1/apps").message());
  std::vector<std::string> names;
  for (auto const& app : *apps) {
    if (lower(app.source_repo) == lower(target.source_repo)) names.push_back(app.name);
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
  co_return names.front();
}

asio::awaitable<result<Expectations>> fetch_catalog_app(http::Client& http,
                                                        http::RequestOptions options,
                                                        std::string cp_url, std::string name,
                                                        Target target, std::string version,
                                                        Report& report) {
  Recorder r{report};
  cp_url = trim_slash(cp_url);
  auto const app_url = cp_url + "/api/v1/apps/" + detail::percent_encode(name);
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
  auto app = api::parse_app_view(fetched->body());
  if (!app)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app with its versions",
                     "a malformed body", app.error().with_context("GET /api/v1/apps/" + name).message());
  if (!app->versions)
    co_return r.fail(errc::catalog_unavailable, "catalog_app", "the app with its versions",
                     "an app without versions");
  Expectations expected;
  expected.app = app->name;
  expected.source_repo = app->source_repo;
  if (!target.source_repo.empty() && lower(expected.source_repo) != lower(target.source_repo))
    co_return r.fail(errc::app_not_found, "catalog_app", "source_repo " + target.source_repo,
                     expected.source_repo);
  r.pass("catalog_app", "app in the catalog at " + cp_url,
         expected.app + " (source " + expected.source_repo + ")");

  std::vector<std::string> listed;
  for (std::size_t i = 0; i < app->versions->size(); ++i) {
    auto v = published_version((*app->versions)[i], i);
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
                                                         std::string cp_url, std::string app,
                                                         std::string version, std::string agent_id,
                                                         Report& report) {
  Recorder r{report};
  cp_url = trim_slash(cp_url);
  auto url = cp_url + "/api/v1/deployments?status=running&app_name=" + detail::percent_encode(app);
  if (!agent_id.empty()) url += "&agent_id=" + detail::percent_encode(agent_id);
  auto const expectation =
      "a running deployment of " + app + (version.empty() ? "" : " " + version) +
      (agent_id.empty() ? "" : " on agent " + agent_id) + " on a verified agent";
  auto listed = co_await get(http, options, url, "application/json");
  if (!listed)
    co_return r.fail(errc::catalog_unavailable, "running_agent", expectation, "an error",
                     listed.error().message());
  if (listed->result() != bhttp::status::ok)
    co_return r.fail(errc::catalog_unavailable, "running_agent",
                     "HTTP 200 from GET /api/v1/deployments", status_text(*listed));
  auto deployments = api::parse_deployment_views(listed->body());
  if (!deployments)
    co_return r.fail(errc::catalog_unavailable, "running_agent", "a JSON array of deployments",
                     "another body",
                     deployments.error().with_context("GET /api/v1/deployments").message());

  std::vector<std::string> passed_over;
  for (auto const& d : *deployments) {
    if (!version.empty() && d.version != version) continue;

    auto const agent_url_at_cp = cp_url + "/api/v1/agents/" + detail::percent_encode(d.agent_id);
    auto fetched = co_await get(http, options, agent_url_at_cp, "application/json");
    if (!fetched || fetched->result() != bhttp::status::ok) {
      passed_over.push_back(d.agent_id + ": " +
                            (fetched ? status_text(*fetched) : fetched.error().message()));
      continue;
    }
    auto agent = api::parse_agent_view(fetched->body());
    if (!agent) {
      passed_over.push_back(d.agent_id + ": a malformed agent (" + agent.error().message() + ")");
      continue;
    }
    if (!agent->verified) {
      passed_over.push_back(d.agent_id + ": not verified by the control plane");
      continue;
    }
    RunningAgent out;
    out.agent_id = d.agent_id;
    out.version = d.version;
    if (!agent->hostname.empty())
      out.endpoint = "https://" + agent->hostname;
    else if (!agent->agent_url.empty())
      out.endpoint = trim_slash(agent->agent_url);
    if (out.endpoint.empty()) {
      passed_over.push_back(d.agent_id + ": neither a tunnel hostname nor an agent_url");
      continue;
    }
    out.public_key = agent->public_key;
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
  auto const malformed = [&](Error const& error) {
    return r.fail(errc::malformed_evidence, "evidence",
                  "a health body with public_key, workload and attestation.quote_b64",
                  "a malformed body", error.message());
  };
  auto health = api::parse_agent_health(fetched->body());
  if (!health) co_return malformed(health.error().with_context("health"));
  if (!health->attestation)
    co_return malformed(Error(ee::errc::missing_field, "health: attestation is missing"));
  Evidence evidence;
  // A missing key is judged by the "key_binding" check, not as a malformed body.
  evidence.public_key = health->public_key;
  evidence.workload_state = health->workload.state;
  evidence.workload_image = health->workload.image;
  evidence.workload_image_digest = health->workload.image_digest;
  evidence.deployment_id = health->workload.deployment_id;
  auto quote = base64_decode(health->attestation->quote_b64);
  if (!quote) co_return malformed(quote.error().with_context("health.attestation.quote_b64"));
  evidence.quote = std::move(*quote);
  evidence.provider = health->attestation->provider;
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
