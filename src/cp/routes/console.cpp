// The web console (docs/console.md): each embedded file is a GET route of its own at its fixed
// path, open to anyone like the public listings it reads. Nothing here reads the path: the route
// that matched names the file, so no request can reach another one.
#include "cp/console.hpp"
#include "cp/routes/routes.hpp"

namespace ee::cp {
namespace {

boost::asio::awaitable<result<http::Response>> serve_asset(console::Asset const* asset, http::RequestContext& ctx) {
  co_return console::respond(*asset, ctx.request);
}

}  // namespace

void add_console_routes(Routes& routes) {
  for (auto const& asset : console::assets()) {
    console::Asset const* const file = &asset;  // static storage (the generated table)
    routes.add_extra(ExtraRoute{.method = boost::beast::http::verb::get,
                                .pattern = std::string(asset.path),
                                .access = Access::anyone,
                                .handler = [file](http::RequestContext& ctx) { return serve_asset(file, ctx); }});
  }
}

}  // namespace ee::cp
