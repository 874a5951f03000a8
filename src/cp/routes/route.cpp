#include "cp/routes/routes.hpp"

#include <charconv>

namespace ee::cp {
namespace {

constexpr std::size_t kMaxPageLimit = 10'000;
constexpr std::size_t kMaxOffset = 100'000'000;

result<std::optional<std::size_t>> count_parameter(http::RequestContext const& ctx, char const* name,
                                                   std::size_t min, std::size_t max) {
  auto text = ctx.query(name);
  if (!text) return std::optional<std::size_t>();
  std::size_t value = 0;
  auto const* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Error(ee::errc::invalid_value, std::string(name) + " must be a whole number from " + std::to_string(min) +
                                              " to " + std::to_string(max));
  }
  return std::optional<std::size_t>(value);
}

}  // namespace

result<Page> page_of(http::RequestContext const& ctx) {
  auto limit = count_parameter(ctx, "limit", 1, kMaxPageLimit);
  if (!limit) return limit.error();
  auto offset = count_parameter(ctx, "offset", 0, kMaxOffset);
  if (!offset) return offset.error();
  return Page{.limit = *limit, .offset = offset->value_or(0)};
}

void route(http::Router& router, boost::beast::http::verb method, std::string const& path_after_api,
           ServiceHandler handler, Services& services, std::string const& rate_class) {
  // Plain lambdas returning the coroutine: the coroutine gets `services` by reference (it lives in
  // ControlPlane::Impl) and never refers to the lambda object itself.
  for (char const* prefix : {"/api/v1", "/api"}) {
    router.add(method, prefix + path_after_api,
               [handler, &services](http::RequestContext& ctx) { return handler(ctx, services); },
               rate_class);
  }
}

}  // namespace ee::cp
