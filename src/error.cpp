#include <easyenclave/error.hpp>

#include "detail/error_category.hpp"

#include <array>
#include <typeinfo>

namespace ee {
namespace {

constexpr std::array<std::string_view, 8> kConditionNames = {
    "", "invalid_input", "unauthenticated", "forbidden", "not_found",
    "conflict", "upstream_failure", "unavailable"};

class ConditionCategory final : public boost::system::error_category {
 public:
  char const* name() const noexcept override { return "ee"; }
  std::string message(int value) const override {
    auto const index = static_cast<std::size_t>(value);
    if (value <= 0 || index >= kConditionNames.size()) return "unknown condition";
    return std::string(kConditionNames[index]);
  }
};

using detail::CodeInfo;
constexpr auto ii = condition::invalid_input;
constexpr CodeInfo kCoreCodes[] = {
    {static_cast<int>(errc::invalid_json), "invalid_json", "not a well-formed JSON document", ii},
    {static_cast<int>(errc::json_too_deep), "json_too_deep", "JSON nesting too deep", ii},
    {static_cast<int>(errc::json_too_large), "json_too_large", "JSON document too large", ii},
    {static_cast<int>(errc::duplicate_json_key), "duplicate_json_key", "duplicate key in JSON object", ii},
    {static_cast<int>(errc::missing_field), "missing_field", "required field missing", ii},
    {static_cast<int>(errc::wrong_type), "wrong_type", "field has the wrong JSON type", ii},
    {static_cast<int>(errc::out_of_range), "out_of_range", "value out of range", ii},
    {static_cast<int>(errc::invalid_value), "invalid_value", "malformed value", ii},
    {static_cast<int>(errc::bad_hex), "bad_hex", "not valid hex", ii},
    {static_cast<int>(errc::bad_base64), "bad_base64", "not valid base64", ii},
    {static_cast<int>(errc::bad_time), "bad_time", "not an RFC 3339 timestamp", ii},
    {static_cast<int>(errc::io_error), "io_error", "local I/O failed", condition::upstream_failure},
    {static_cast<int>(errc::crypto_failure), "crypto_failure", "crypto library failure",
     condition::upstream_failure},
    {static_cast<int>(errc::cancelled), "cancelled", "operation cancelled", condition::unavailable},
    {static_cast<int>(errc::program_not_found), "program_not_found", "program not found or not executable",
     condition::unavailable},
    {static_cast<int>(errc::spawn_failed), "spawn_failed", "could not start a process", condition::unavailable},
    {static_cast<int>(errc::command_timed_out), "command_timed_out", "command timed out",
     condition::upstream_failure},
};

}  // namespace

boost::system::error_category const& condition_category() noexcept {
  static ConditionCategory const category;
  return category;
}

boost::system::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

std::string_view to_string(condition c) noexcept {
  auto const index = static_cast<std::size_t>(c);
  return index < kConditionNames.size() ? kConditionNames[index] : std::string_view{};
}

condition condition_of(error_code const& ec) noexcept {
  if (!ec) return condition{};
  auto const cond = ec.default_error_condition();
  if (cond.category() == condition_category()) return static_cast<condition>(cond.value());
  // Foreign categories: classify the few generic errors that reach our callers.
  namespace se = boost::system::errc;
  if (cond == se::operation_canceled || cond == se::timed_out) return condition::unavailable;
  if (cond == se::invalid_argument) return condition::invalid_input;
  if (cond == se::no_such_file_or_directory) return condition::not_found;
  if (cond == se::permission_denied || cond == se::operation_not_permitted)
    return condition::forbidden;
  return condition::upstream_failure;
}

error_code make_error_code(errc e) noexcept {
  static detail::TableCategory const category("core", kCoreCodes);
  return {static_cast<int>(e), category};
}

std::string Error::message() const {
  if (!detail_.empty()) return detail_;
  return code_.message();
}

std::string Error::id() const {
  if (auto const* table = dynamic_cast<detail::TableCategory const*>(&code_.category())) {
    if (auto const* info = table->find(code_.value()))
      return std::string(table->domain()) + "." + std::string(info->name);
  }
  return std::string(code_.category().name()) + ":" + std::to_string(code_.value());
}

Error Error::with_context(std::string_view prefix) const {
  std::string text(prefix);
  text += ": ";
  text += message();
  return Error(code_, std::move(text));
}

SystemError::SystemError(Error e) : boost::system::system_error(e.code(), e.message()), error_(std::move(e)) {}

void throw_exception_from_error(Error const& e, boost::source_location const&) {
  throw SystemError(e);
}

namespace detail {

std::string TableCategory::message(int value) const {
  if (auto const* info = find(value)) return std::string(info->message);
  return std::string(domain_) + " error " + std::to_string(value);
}

boost::system::error_condition TableCategory::default_error_condition(int value) const noexcept {
  if (auto const* info = find(value)) return make_error_condition(info->maps_to);
  return {value, *this};
}

CodeInfo const* TableCategory::find(int value) const noexcept {
  for (auto const& info : table_)
    if (info.value == value) return &info;
  return nullptr;
}

}  // namespace detail
}  // namespace ee
