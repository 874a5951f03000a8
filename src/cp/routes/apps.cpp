// The app catalog: what a GitHub repository published, with the measurements it runs under.
//
//   POST /apps                    (GitHub OIDC of source_repo)   -> app with its first version
//   GET  /apps                                                   -> [app, ...]
//   GET  /apps/{name}                                            -> app with versions
//   POST /apps/{name}/versions    (GitHub OIDC of the app's owner) -> version
#include "cp/routes/routes.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/cp/error.hpp>

#include "detail/ascii.hpp"
#include "detail/json.hpp"
#include "detail/log.hpp"

#include <boost/beast/http/verb.hpp>

#include <algorithm>
#include <cctype>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using detail::json::ObjectReader;
using Reply = asio::awaitable<result<http::Response>>;

bool all_of_chars(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

result<void> check_app_name(ObjectReader const& r, std::string const& name) {
  bool ok = !name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name[0])) &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
  if (!ok) return r.field_error("name", ee::errc::invalid_value, "must be 1-63 of [a-z0-9-], starting with a letter or digit");
  return {};
}

result<void> check_repo(ObjectReader const& r, std::string const& repo) {
  auto const slash = repo.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash <= 39 && slash + 1 < repo.size() &&
            repo.size() - slash - 1 <= 100 && all_of_chars(std::string_view(repo).substr(0, slash), "-") &&
            all_of_chars(std::string_view(repo).substr(slash + 1), "._-");
  if (!ok) return r.field_error("source_repo", ee::errc::invalid_value, "must be a GitHub repository, \"org/repo\"");
  return {};
}

result<std::string> measurement_field(ObjectReader const& r, std::string_view key, std::string value) {
  value = detail::ascii_lowercase(value);
  bool ok = value.size() == 96 && all_of_chars(value, "") &&
            std::all_of(value.begin(), value.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!ok) return r.field_error(key, ee::errc::invalid_value, "must be 96 hex characters (a SHA-384 measurement)");
  return value;
}

// The version fields shared by publish and add-version bodies.
result<registry::AppVersion> read_version(ObjectReader const& r, std::string app_name) {
  registry::AppVersion v;
  v.app_name = std::move(app_name);
  auto version = r.string("version");
  if (!version) return version.error();
  if (version->empty() || version->size() > 64 || !all_of_chars(*version, "._+-")) {
    return r.field_error("version", ee::errc::invalid_value, "must be 1-64 of [A-Za-z0-9._+-]");
  }
  v.version = std::move(*version);
  auto image = r.string("image");
  if (!image) return image.error();
  if (auto c = api::check_pinned_image(*image); !c) return c.error();
  v.image = std::move(*image);
  auto mrtd = r.string("mrtd");
  if (!mrtd) return mrtd.error();
  auto m = measurement_field(r, "mrtd", std::move(*mrtd));
  if (!m) return m.error();
  v.mrtd = std::move(*m);
  if (r.contains("rtmrs") && !r.object().at("rtmrs").is_null()) {
    auto rtmrs = r.array("rtmrs");
    if (!rtmrs) return rtmrs.error();
    if ((*rtmrs)->size() != 4) return r.field_error("rtmrs", ee::errc::invalid_value, "must list 4 values (null: not pinned)");
    for (std::size_t i = 0; i < 4; ++i) {
      auto const& item = (**rtmrs)[i];
      if (item.is_null()) continue;
      if (!item.is_string()) return r.field_error("rtmrs", ee::errc::wrong_type, "entries must be strings or null");
      auto value = measurement_field(r, "rtmrs", std::string(item.as_string()));
      if (!value) return value.error();
      v.rtmrs[i] = std::move(*value);
    }
  }
  auto node_size = r.optional_string("node_size");
  if (!node_size) return node_size.error();
  if (*node_size && !(*node_size)->empty()) {
    if (auto c = api::check_node_size(**node_size); !c) return c.error();
    v.node_size = std::move(**node_size);
  }
  return v;
}

Reply publish_app(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const* claims = &caller.claims();
  auto doc = detail::json::parse(ctx.request.body());
  if (!doc) co_return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) co_return r.error();

  registry::App app;
  auto name = r->string("name");
  if (!name) co_return name.error();
  if (auto c = check_app_name(*r, *name); !c) co_return c.error();
  app.name = std::move(*name);
  auto description = r->optional_string("description");
  if (!description) co_return description.error();
  app.description = description->value_or("");
  if (app.description.size() > 1024) {
    co_return r->field_error("description", ee::errc::out_of_range, "must be at most 1024 characters");
  }
  auto repo = r->string("source_repo");
  if (!repo) co_return repo.error();
  if (auto c = check_repo(*r, *repo); !c) co_return c.error();
  app.source_repo = std::move(*repo);
  auto version = read_version(*r, app.name);
  if (!version) co_return version.error();

  // The token proves which repository's workflow is publishing: it may only publish itself.
  if (detail::ascii_lowercase(claims->repository) != detail::ascii_lowercase(app.source_repo)) {
    co_return Error(errc::owner_mismatch, "a token of repository '" + claims->repository +
                                              "' cannot publish source_repo '" + app.source_repo + "'");
  }
  auto const now = s.now();
  app.owner = detail::ascii_lowercase(claims->repository_owner);
  app.owner_id = claims->repository_owner_id;
  app.created_at = now;
  version->published_by = claims->repository;
  version->published_at = now;

  auto created = co_await s.store([&s, &app, &v = *version] { return s.stores.apps->create(app, v); });
  if (!created) co_return created.error();
  detail::log::info("cp", "app published name=", app.name, " version=", version->version, " by=", claims->repository);
  std::vector<registry::AppVersion> versions{*version};
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
  auto doc = detail::json::parse(ctx.request.body());
  if (!doc) co_return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) co_return r.error();
  auto version = read_version(*r, name);
  if (!version) co_return version.error();
  version->published_by = claims->repository;
  version->published_at = s.now();
  auto added = co_await s.store([&s, &v = *version] { return s.stores.apps->add_version(v); });
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
