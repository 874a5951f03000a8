#pragma once
/// @file Library version. The single source is `project(VERSION)` in the top-level CMakeLists.
#include <string_view>

namespace ee {
/// The library version as "MAJOR.MINOR.PATCH". Thread-safe, never throws.
std::string_view version() noexcept;
}  // namespace ee
