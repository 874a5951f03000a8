#include "cp/routes/routes.hpp"

#include <charconv>
#include <memory>

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

namespace {

// The guard in front of every handler: a free coroutine, so it holds copies of what it needs
// and never refers to the lambda that started it.
boost::asio::awaitable<result<http::Response>> admitted(http::RequestContext& ctx, Services& services,
                                                         Access access, ServiceHandler handler) {
  auto caller = co_await admit(services, ctx, access);
  if (!caller) co_return caller.error();
  co_return co_await handler(ctx, services, *caller);
}

boost::asio::awaitable<result<http::Response>> admitted_extra_owned(http::RequestContext& ctx, Services& services,
                                                                     Access access,
                                                                     std::shared_ptr<http::Handler const> handler) {
  auto caller = co_await admit(services, ctx, access);
  if (!caller) co_return caller.error();
  co_return co_await (*handler)(ctx);
}

std::string rate_class_of(Access access) {
  if (access == Access::anyone) return kAnonymous;
  if (access == Access::account_creation) return kAccountCreation;
  return "";
}

// True when `pattern` has the `{param}` segment the rule reads its subject from.
bool has_subject_param(std::string const& pattern, Access access) {
  if (!needs_subject(access)) return true;
  char const* param = access == Access::publisher_of_app ? "{name}" : "{id}";
  return pattern.find(std::string("/") + param) != std::string::npos;
}

}  // namespace

void Routes::record(boost::beast::http::verb method, std::string const& pattern, Access access) {
  if (first_error_.empty() && !has_subject_param(pattern, access)) {
    first_error_ = std::string(to_string(access)) + " needs a subject parameter that " + pattern + " lacks";
  }
  table_.push_back(RouteInfo{.method = method, .pattern = pattern, .access = access});
}

void Routes::add(boost::beast::http::verb method, std::string const& path_after_api, Access access,
                 ServiceHandler handler) {
  for (char const* prefix : {"/api/v1", "/api"}) add_at(method, prefix + path_after_api, access, handler);
}

void Routes::add_at(boost::beast::http::verb method, std::string const& pattern, Access access,
                    ServiceHandler handler, std::string rate_class) {
  // Plain lambdas returning the coroutine: the coroutine gets `services` by reference (it lives in
  // ControlPlane::Impl) and never refers to the lambda object itself.
  router_.add(method, pattern,
              [handler, access, &services = services_](http::RequestContext& ctx) {
                return admitted(ctx, services, access, handler);
              },
              rate_class.empty() ? rate_class_of(access) : std::move(rate_class));
  record(method, pattern, access);
}

void Routes::add_extra(ExtraRoute route) {
  // The handler is shared by the lambda and each coroutine it starts, so a coroutine never
  // refers to the lambda object.
  auto handler = std::make_shared<http::Handler const>(std::move(route.handler));
  router_.add(route.method, route.pattern,
              [handler, access = route.access, &services = services_](http::RequestContext& ctx) {
                return admitted_extra_owned(ctx, services, access, handler);
              },
              rate_class_of(route.access));
  record(route.method, route.pattern, route.access);
}

result<void> Routes::check() const {
  if (!first_error_.empty()) return Error(http::errc::invalid_route, first_error_);
  return {};
}

}  // namespace ee::cp
