#include <easyenclave/registry/error.hpp>

#include "detail/error_category.hpp"

namespace ee::registry {
namespace {
using detail::CodeInfo;
constexpr int v(errc e) { return static_cast<int>(e); }
constexpr CodeInfo kRegistryCodes[] = {
    {v(errc::not_found), "not_found", "no record with this key", condition::not_found},
    {v(errc::conflict), "conflict", "a record with this key exists, or the record changed",
     condition::conflict},
    {v(errc::store_unavailable), "store_unavailable", "the registry database is unavailable",
     condition::upstream_failure},
    {v(errc::store_corrupt), "store_corrupt",
     "the registry database holds data this build cannot read", condition::upstream_failure},
    {v(errc::store_full), "store_full", "the store keeps no more records until some expire",
     condition::unavailable},
};
}  // namespace

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("registry", kRegistryCodes);
  return {static_cast<int>(e), category};
}

}  // namespace ee::registry
