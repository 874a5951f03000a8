#pragma once
/// @file The settings the client reads from its environment. One key today, `cp_url`: the agent's
/// and `ee launch`'s key of the same name (api::kCpUrlSetting), read from `EE_CP_URL`.
#include <easyenclave/error.hpp>
#include <easyenclave/settings.hpp>

#include <string>
#include <string_view>

namespace ee::client {

/// The client's keys, checked once: constant data. Never throws. Thread-safe.
settings::Registry const& setting_registry();

/// The control plane's URL: `given` (an argument, in the place of a flag) when not empty, else
/// the `cp_url` variable in `env`, else empty. A value is checked as the registry checks text.
/// @returns ee::errc::invalid_value naming the argument or the variable. Never throws (except
///          bad_alloc). Thread-safe when `env` is.
result<std::string> resolve_cp_url(std::string_view given, settings::Environment const& env);

}  // namespace ee::client
