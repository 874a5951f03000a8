// The app catalog: what a GitHub repository published, with the measurements it runs under.
//
//   POST /apps                    (GitHub OIDC of source_repo)   -> app with its first version
//   GET  /apps                                                   -> [app, ...]
//   GET  /apps/{name}                                            -> app with versions
//   POST /apps/{name}/versions    (GitHub OIDC of the app's owner) -> version
#include "cp/routes/routes.hpp"

#include <easyenclave/api/catalog.hpp>
#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/verb.hpp>

#include <utility>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Reply = asio::awaitable<result<http::Response>>;

// The version fields of a publish or add-version body, as the catalog keeps them.
registry::AppVersion version_record(api::VersionRequest&& r, std::string app_name) {
  registry::AppVersion v;
  v.app_name = std::move(app_name);
  v.version = std::move(r.version);
  v.image = std::move(r.image);
  v.mrtd = std::move(r.mrtd);
  v.rtmrs = std::move(r.rtmrs);
  v.node_size = std::move(r.node_size);
  return v;
}

Reply publish_app(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto body = api::parse_publish_request(ctx.request.body());
  if (!body) co_return body.error();
  registry::App app;
  app.name = std::move(body->name);
  app.description = std::move(body->description);
  app.source_repo = std::move(body->source_repo);
  auto version = version_record(std::move(body->version), app.name);

  // The token proves which repository's workflow is publishing: it may only publish itself.
  if (detail::ascii_lowercase(claims->repository) != detail::ascii_lowercase(app.source_repo)) {
    co_return Error(errc::owner_mismatch, "a token of repository '" + claims->repository +
                                              "' cannot publish source_repo '" + app.source_repo + "'");
  }
  auto const now = s.now();
  app.owner = detail::ascii_lowercase(claims->repository_owner);
  app.owner_id = claims->repository_owner_id;
  app.created_at = now;
  version.published_by = claims->repository;
  version.published_at = now;

  auto created = co_await s.store([&s, &app, &v = version] { return s.stores.apps->create(app, v); });
  if (!created) co_return created.error();
  detail::log::info("cp", "app published name=", app.name, " version=", version.version, " by=", claims->repository);
  std::vector<registry::AppVersion> versions{version};
  co_return http::json_response(bhttp::status::created, app_json(*created, &versions));
}

Reply list_apps(http::RequestContext&, Services& s, Caller const&) {
  auto apps = co_await s.store([&s] { return s.stores.apps->list(); });
  if (!apps) co_return apps.error();
  co_return http::json_response(bhttp::status::ok, apps_json(*apps));
}

Reply get_app(http::RequestContext& ctx, Services& s, Caller const&) {
  auto name = std::string(ctx.params.get("name"));
  auto found = co_await s.store([&s, &name]() -> result<std::pair<registry::App, std::vector<registry::AppVersion>>> {
    auto app = s.stores.apps->get(name);
    if (!app) return app.error();
    auto versions = s.stores.apps->list_versions(name);
    if (!versions) return versions.error();
    return std::pair{std::move(*app), std::move(*versions)};
  });
  if (!found) co_return found.error();
  co_return http::json_response(bhttp::status::ok, app_json(found->first, &found->second));
}

// The rule (publisher_of_app) checked the caller's owner login and id against the app's.
Reply add_version(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto const& name = caller.app.value().name;
  auto body = api::parse_version_request(ctx.request.body());
  if (!body) co_return body.error();
  auto version = version_record(std::move(*body), name);
  version.published_by = claims->repository;
  version.published_at = s.now();
  auto added = co_await s.store([&s, &v = version] { return s.stores.apps->add_version(v); });
  if (!added) co_return added.error();
  detail::log::info("cp", "app version published name=", name, " version=", added->version, " by=", claims->repository);
  co_return http::json_response(bhttp::status::created, version_json(*added));
}

}  // namespace

void add_app_routes(Routes& routes) {
  // Any workflow may publish, but only its own repository (checked against the body).
  routes.add(bhttp::verb::post, "/apps", Access::github_workflow, publish_app);
  routes.add(bhttp::verb::get, "/apps", Access::anyone, list_apps);
  routes.add(bhttp::verb::get, "/apps/{name}", Access::anyone, get_app);
  routes.add(bhttp::verb::post, "/apps/{name}/versions", Access::publisher_of_app, add_version);
}

}  // namespace ee::cp
