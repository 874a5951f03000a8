// Trusted measurements: which MRTDs this CP admits.
//
//   GET    /trusted-mrtds                         -> [measurement, ...] (public)
//   GET    /admin/trusted-mrtds           (admin) -> [measurement, ...]
//   POST   /admin/trusted-mrtds           (admin) {mrtd, type: agent|proxy, note?, node_size?}
//   DELETE /admin/trusted-mrtds/{mrtd}    (admin)
//   DELETE /admin/agents/{id}             (admin) removes the agent and its tunnel
#include "cp/agents.hpp"
#include "cp/routes/routes.hpp"

#include <easyenclave/api/agents.hpp>

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

std::optional<std::string> normalized_mrtd(std::string_view text) {
  if (text.size() != 96) return std::nullopt;
  std::string out(text);
  for (auto& c : out) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Reply list_trusted(http::RequestContext&, Services& s, Caller const&) {
  auto list = co_await s.store([&s] { return s.stores.measurements->list(); });
  if (!list) co_return list.error();
  co_return http::json_response(bhttp::status::ok, measurements_json(*list));
}

Reply admin_list_trusted(http::RequestContext& ctx, Services& s, Caller const& caller) {
  co_return co_await list_trusted(ctx, s, caller);
}

Reply admin_add_trusted(http::RequestContext& ctx, Services& s, Caller const&) {
  auto doc = detail::json::parse(ctx.request.body());
  if (!doc) co_return doc.error();
  auto r = ObjectReader::from(*doc);
  if (!r) co_return r.error();
  registry::TrustedMeasurement m;
  auto mrtd = r->string("mrtd");
  if (!mrtd) co_return mrtd.error();
  auto normalized = normalized_mrtd(*mrtd);
  if (!normalized) co_return r->field_error("mrtd", ee::errc::invalid_value, "must be 96 hex characters");
  m.mrtd = std::move(*normalized);
  auto type = r->optional_string("type");
  if (!type) co_return type.error();
  m.kind = type->value_or("agent");
  if (m.kind != "agent" && m.kind != "proxy") {
    co_return r->field_error("type", ee::errc::invalid_value, "must be \"agent\" or \"proxy\"");
  }
  auto note = r->optional_string("note");
  if (!note) co_return note.error();
  m.note = note->value_or("");
  if (m.note.size() > 512) co_return r->field_error("note", ee::errc::out_of_range, "must be at most 512 characters");
  auto node_size = r->optional_string("node_size");
  if (!node_size) co_return node_size.error();
  m.node_size = node_size->value_or("");
  if (!m.node_size.empty()) {
    if (auto c = api::check_node_size(m.node_size); !c) co_return c.error();
  }
  m.added_at = s.now();
  auto added = co_await s.store([&s, &m] { return s.stores.measurements->add(m); });
  if (!added) co_return added.error();
  detail::log::info("cp", "trusted mrtd added mrtd=", m.mrtd, " type=", m.kind, " node_size=", m.node_size);
  co_return http::json_response(bhttp::status::created, measurement_json(*added));
}

Reply admin_remove_trusted(http::RequestContext& ctx, Services& s, Caller const&) {
  auto mrtd = normalized_mrtd(ctx.params.get("mrtd"));
  if (!mrtd) co_return Error(ee::errc::invalid_value, "mrtd must be 96 hex characters");
  auto removed = co_await s.store([&s, &m = *mrtd] { return s.stores.measurements->remove(m); });
  if (!removed) co_return removed.error();
  detail::log::info("cp", "trusted mrtd removed mrtd=", *mrtd);
  co_return http::json_response(bhttp::status::ok, R"({"removed":true})");
}

// The same operation as DELETE /agents/{id} (routes/agents.cpp).
Reply admin_remove_agent(http::RequestContext& ctx, Services& s, Caller const& caller) {
  auto const id = std::string(ctx.params.get("id"));
  auto agent = co_await s.store([&s, &id] { return s.stores.agents->get(id); });
  if (!agent) co_return agent.error();
  if (auto r = co_await delete_agent(s, *agent, caller.name()); !r) co_return r.error();
  co_return http::json_response(bhttp::status::ok, R"({"removed":true})");
}

}  // namespace

void add_measurement_routes(Routes& routes) {
  routes.add(bhttp::verb::get, "/trusted-mrtds", Access::anyone, list_trusted);
  routes.add(bhttp::verb::get, "/admin/trusted-mrtds", Access::admin, admin_list_trusted);
  routes.add(bhttp::verb::post, "/admin/trusted-mrtds", Access::admin, admin_add_trusted);
  routes.add(bhttp::verb::delete_, "/admin/trusted-mrtds/{mrtd}", Access::admin, admin_remove_trusted);
  routes.add(bhttp::verb::delete_, "/admin/agents/{id}", Access::admin, admin_remove_agent);
}

}  // namespace ee::cp
