#pragma once
// A table-driven error category. Each domain (core, http, tdx, jwt, ...) declares its codes once,
// as a table of {value, name, message, condition}; the category answers message(),
// default_error_condition() and the stable id used in logs, JSON bodies and Python `.code`.
#include <easyenclave/error.hpp>

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace ee::detail {

struct CodeInfo {
  int value = 0;
  std::string_view name{};     // stable snake_case identifier, unique within the domain
  std::string_view message{};  // default text when an Error carries no detail
  condition maps_to{};
};

class TableCategory final : public boost::system::error_category {
 public:
  // `domain` must be a string literal ("core", "http", ...); `table` must outlive the category
  // (domains pass a namespace-scope constexpr array).
  TableCategory(char const* domain, std::span<CodeInfo const> table) noexcept
      : domain_(domain), table_(table) {
    std::snprintf(name_, sizeof name_, "ee.%s", domain);
  }

  char const* name() const noexcept override { return name_; }
  std::string message(int value) const override;
  boost::system::error_condition default_error_condition(int value) const noexcept override;

  std::string_view domain() const noexcept { return domain_; }
  CodeInfo const* find(int value) const noexcept;

 private:
  // Only trivially destructible members: categories are function-local statics, and threads that
  // outlive static destruction (daemon threads of an embedding interpreter) may still use them.
  char const* domain_;
  char name_[32]{};
  std::span<CodeInfo const> table_;
};

}  // namespace ee::detail
