#pragma once
/// @file The control plane's settings: every key `ee-cp` takes, in one registry (flags, `--help`,
/// environment variables, the admin settings routes and docs/operations.md all come from it),
/// and their translation into `cp::Options`: opening the database, loading or creating the
/// signing key, reading roots and collateral, building the Cloudflare provider. An embedder may
/// resolve the same registry and call `make_options`, or fill `Options` itself.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/error.hpp>
#include <easyenclave/settings.hpp>

namespace ee::cp {

/// Every key of the control plane, grouped (server, policy, dcap, tokens, cloudflare, timings) in
/// the order `--help` shows them. Lives for the whole program.
settings::Registry const& setting_registry();

/// The title of a group of `setting_registry()` for help and docs ("Attestation policy").
std::string_view setting_group_title(std::string_view group) noexcept;

/// Builds the Options `settings` (of `setting_registry()`) describe.
/// @returns errc::invalid_value naming the setting for a value the registry cannot judge alone
///          (a bad MRTD, partial Cloudflare settings, no db outside dev, a simulator quote
///          provider without a simulator directory); the errors of opening the database, reading
///          files and loading the simulator. Never throws (except bad_alloc).
result<Options> make_options(settings::Settings const& settings);

}  // namespace ee::cp
