// Settings at run time (the operator):
//
//   GET    /admin/settings[?group=]   -> [setting, ...] in the registry's order
//   GET    /admin/settings/{key}      -> setting
//   PUT    /admin/settings/{key}      {"value": "..."} -> setting (stored: it wins over flag,
//                                     environment and default; a reloadable key applies within
//                                     seconds on every replica, any other at the next start)
//   DELETE /admin/settings/{key}      -> setting (the stored value removed: flag, environment or
//                                     default again)
//
// A secret's value is never returned or logged: "value" is "set" or "unset".
#include "cp/routes/routes.hpp"

#include <easyenclave/cp/error.hpp>
#include <easyenclave/cp/settings.hpp>

#include "detail/json.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace ee::cp {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using Reply = asio::awaitable<result<http::Response>>;

result<LiveSettings*> live_settings(Services& s) {
  if (s.live == nullptr) {
    return Error(errc::settings_unavailable, "this control plane was started without stored settings "
                                             "(an embedder's Options without settings or a settings store)");
  }
  return s.live;
}

result<settings::Spec const*> spec_named(LiveSettings const& live, std::string_view name) {
  auto const* spec = live.base().registry().find(name);
  if (spec == nullptr) return Error(errc::unknown_setting, "no setting named '" + std::string(name) + "'");
  return spec;
}

bj::object setting_view(settings::Spec const& spec, LiveSettings::Snapshot const& now,
                        LiveSettings::Snapshot const& started) {
  auto const name = std::string(spec.name);
  auto const& value = now.settings.value(name);
  bj::object o;
  o["name"] = name;
  o["group"] = std::string(spec.group);
  o["type"] = std::string(settings::to_string(spec.type));
  o["value"] = now.settings.shown(name);
  o["source"] = std::string(settings::to_string(value.source));
  if (!spec.secret) o["default"] = std::string(spec.default_value);
  o["secret"] = spec.secret;
  o["reloadable"] = spec.reloadable;
  o["storable"] = spec.storable;
  // A stored change of a key that is not reloadable waits for the next start.
  o["pending_restart"] = !spec.reloadable && value.text != started.settings.value(name).text;
  if (!spec.flag.empty()) o["flag"] = "--" + std::string(spec.flag);
  if (!spec.env.empty()) o["env"] = std::string(spec.env);
  if (!spec.choices.empty()) o["choices"] = std::string(spec.choices);
  o["help"] = std::string(spec.help);
  if (auto const row = now.stored.find(name); row != now.stored.end()) {
    o["updated_by"] = row->second.updated_by;
    o["updated_at"] = detail::format_rfc3339(row->second.updated_at);
  }
  return o;
}

http::Response view_response(LiveSettings& live, settings::Spec const& spec) {
  return http::json_response(bhttp::status::ok,
                             detail::json::serialize(setting_view(spec, *live.current(), *live.started())));
}

Reply list_settings(http::RequestContext& ctx, Services& s, Caller const&) {
  auto live = live_settings(s);
  if (!live) co_return live.error();
  auto const group = ctx.query("group");
  auto const now = (*live)->current();
  auto const started = (*live)->started();
  bj::array out;
  for (auto const& spec : (*live)->base().registry().specs()) {
    if (group && spec.group != *group) continue;
    out.push_back(setting_view(spec, *now, *started));
  }
  co_return http::json_response(bhttp::status::ok, detail::json::serialize(out));
}

Reply get_setting(http::RequestContext& ctx, Services& s, Caller const&) {
  auto live = live_settings(s);
  if (!live) co_return live.error();
  auto spec = spec_named(**live, ctx.params.get("key"));
  if (!spec) co_return spec.error();
  co_return view_response(**live, **spec);
}

Reply put_setting(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto live = live_settings(s);
  if (!live) co_return live.error();
  auto spec = spec_named(**live, ctx.params.get("key"));
  if (!spec) co_return spec.error();
  if (!(*spec)->storable) {
    co_return Error(errc::setting_not_storable, std::string((*spec)->name) + " is given only by flag or environment");
  }
  auto doc = detail::json::parse(ctx.request.body());
  if (!doc) co_return doc.error();
  auto r = detail::json::ObjectReader::from(*doc);
  if (!r) co_return r.error();
  if (auto known = r->reject_unknown({"value"}); !known) co_return known.error();
  auto raw = r->string("value");
  if (!raw) co_return raw.error();
  auto value = settings::Registry::normalize(**spec, *raw);
  if (!value) co_return value.error();
  if (value->empty() && (*spec)->type != settings::Type::text && (*spec)->type != settings::Type::list) {
    co_return r->field_error("value", ee::errc::invalid_value, "is empty; DELETE the setting to revert it");
  }
  registry::SettingRow row;
  row.name = std::string((*spec)->name);
  row.value = std::move(*value);
  row.updated_by = caller.name();
  row.updated_at = s.now();
  auto stored = co_await s.store([&s, &row, live = *live]() -> result<void> {
    if (auto put = s.stores.settings->put(row); !put) return put.error();
    return live->refresh();
  });
  if (!stored) co_return stored.error();
  if ((*spec)->secret) {
    detail::log::info("cp", "setting stored name=", row.name, " (secret) by=", row.updated_by);
  } else {
    detail::log::info("cp", "setting stored name=", row.name, " value=", row.value, " by=", row.updated_by);
  }
  co_return view_response(**live, **spec);
}

Reply delete_setting(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto live = live_settings(s);
  if (!live) co_return live.error();
  auto spec = spec_named(**live, ctx.params.get("key"));
  if (!spec) co_return spec.error();
  auto const name = std::string((*spec)->name);
  auto removed = co_await s.store([&s, &name, live = *live]() -> result<void> {
    if (auto r = s.stores.settings->remove(name); !r) return r.error();
    return live->refresh();
  });
  if (!removed) co_return removed.error();
  detail::log::info("cp", "setting removed name=", name, " by=", caller.name());
  co_return view_response(**live, **spec);
}

}  // namespace

void add_settings_routes(Routes& routes) {
  routes.add(bhttp::verb::get, "/admin/settings", Access::admin, list_settings);
  routes.add(bhttp::verb::get, "/admin/settings/{key}", Access::admin, get_setting);
  routes.add(bhttp::verb::put, "/admin/settings/{key}", Access::admin, put_setting);
  routes.add(bhttp::verb::delete_, "/admin/settings/{key}", Access::admin, delete_setting);
}

}  // namespace ee::cp
