#pragma once
// The cookies of the sign-in routes (sign_in_parsing.cpp).
#include <easyenclave/http/client.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ee::cp {

/// The Set-Cookie value that gives the browser `value` under `name` for `max_age` (zero: deletes
/// it), Secure, HttpOnly, SameSite=Lax, on `path`.
std::string set_cookie(std::string_view name, std::string_view value, std::string_view path,
                       std::chrono::seconds max_age);
/// The value of cookie `name` in the request's Cookie header(s) (RFC 6265 section 5.4). Nullopt
/// when absent, or when it appears more than once (a cookie tossed in by a sibling domain would
/// otherwise shadow the real one).
std::optional<std::string> cookie_value(http::Request const& request, std::string_view name);

}  // namespace ee::cp
