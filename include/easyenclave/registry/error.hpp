#pragma once
/// @file Error codes of the registry stores. Values are stable: new codes are appended, never
/// renumbered. The id of each is "registry.<name>".
#include <easyenclave/error.hpp>

namespace ee::registry {

enum class errc {
  not_found = 1,      ///< no record with this key                                 -> not_found
  conflict,           ///< a record with this key exists, or a compare-and-set lost -> conflict
  store_unavailable,  ///< the database cannot be opened, is locked or failed       -> upstream_failure
  store_corrupt,      ///< a stored row cannot be read back (bad value, newer schema) -> upstream_failure
  store_full,         ///< a bounded store keeps no more records until some expire -> unavailable
};

error_code make_error_code(errc e) noexcept;

}  // namespace ee::registry

template <>
struct boost::system::is_error_code_enum<ee::registry::errc> : std::true_type {};
