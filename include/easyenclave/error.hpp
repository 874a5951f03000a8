#pragma once
/// @file The error model: `ee::result<T>`, `ee::Error`, domain codes and portable conditions.
///
/// Every fallible operation in libeasyenclave returns `ee::result<T>`. Its error is an `ee::Error`:
/// a domain `error_code` (stable value, category per domain) plus a human-readable detail that
/// says what was wrong and what was expected ("field 'vm_name': expected string, got number").
/// The detail never contains secrets. Callers branch on the small set of portable
/// `ee::condition`s, never on message text.
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ee {

using error_code = boost::system::error_code;

/// What callers branch on: HTTP statuses, Python exception classes and CLI exit codes derive
/// from these. Every domain code maps onto exactly one of them.
enum class condition {
  invalid_input = 1,  ///< the caller sent something malformed or out of range
  unauthenticated,    ///< a signature, token or chain did not verify
  forbidden,          ///< authenticated, but policy or ownership refuses it
  not_found,          ///< the named thing does not exist
  conflict,           ///< the request contradicts current state (duplicate, changed MRTD, ...)
  upstream_failure,   ///< a dependency (HTTP peer, database, collateral) failed or answered badly
  unavailable,        ///< a resource is temporarily unavailable (shutting down, timed out, full)
};

/// The category of `ee::condition`; its name is "ee".
boost::system::error_category const& condition_category() noexcept;
boost::system::error_condition make_error_condition(condition c) noexcept;

/// Stable lower-case name of a condition ("invalid_input", ...).
std::string_view to_string(condition c) noexcept;

/// The condition an error code maps onto. Codes of foreign categories that easyenclave does not
/// classify (and a success code) give `condition{}`, whose value is 0 and names no condition.
condition condition_of(error_code const& ec) noexcept;

/// Codes of the core library (JSON mapping, encodings, time, I/O helpers). Stable values.
enum class errc {
  invalid_json = 1,     ///< text is not one well-formed JSON document          -> invalid_input
  json_too_deep,        ///< nesting exceeds the configured depth               -> invalid_input
  json_too_large,       ///< document exceeds the configured size               -> invalid_input
  duplicate_json_key,   ///< an object repeats a key                            -> invalid_input
  missing_field,        ///< a required field is absent                         -> invalid_input
  wrong_type,           ///< a field has another JSON type than expected        -> invalid_input
  out_of_range,         ///< a number or length is outside its allowed range    -> invalid_input
  invalid_value,        ///< a field has the right type but a malformed value   -> invalid_input
  bad_hex,              ///< not an even-length string of hex digits            -> invalid_input
  bad_base64,           ///< not canonical base64 / base64url                   -> invalid_input
  bad_time,             ///< not an RFC 3339 timestamp                          -> invalid_input
  io_error,             ///< a local file or process operation failed           -> upstream_failure
  crypto_failure,       ///< the crypto library failed internally               -> upstream_failure
  cancelled,            ///< the operation was cancelled (shutdown)             -> unavailable
  program_not_found,    ///< a program to run is missing or not executable      -> unavailable
  spawn_failed,         ///< fork/exec or its pipes failed                      -> unavailable
  command_timed_out,    ///< a command did not finish in time; it was killed    -> upstream_failure
};
error_code make_error_code(errc e) noexcept;

/// An error: a code from a domain category and a detail message for people.
///
/// Implicitly constructible from an `error_code` or any domain enum, so `return errc::bad_hex;`
/// works in a function returning `result<T>`. Compares equal to a domain enum when the codes
/// are equal and to a `condition` when the code maps onto it. Cheap to move; copying copies
/// the detail string.
class Error {
 public:
  Error() = default;
  Error(error_code ec) noexcept : code_(ec) {}  // NOLINT: implicit by design
  template <class E>
    requires boost::system::is_error_code_enum<E>::value
  Error(E e) noexcept : code_(make_error_code(e)) {}  // NOLINT: implicit by design
  Error(error_code ec, std::string detail) : code_(ec), detail_(std::move(detail)) {}
  template <class E>
    requires boost::system::is_error_code_enum<E>::value
  Error(E e, std::string detail) : code_(make_error_code(e)), detail_(std::move(detail)) {}

  error_code const& code() const noexcept { return code_; }
  /// What went wrong in this instance; may be empty. Never contains secrets.
  std::string const& detail() const noexcept { return detail_; }
  /// The detail if present, else the category's message for the code.
  std::string message() const;
  /// Stable identifier for logs, JSON bodies and Python `.code`: "<domain>.<name>", for
  /// example "core.missing_field" or "http.timeout"; foreign codes give "<category>:<value>".
  std::string id() const;
  condition cond() const noexcept { return condition_of(code_); }

  /// Returns a copy with the same code whose detail is `prefix + ": " + message()`.
  Error with_context(std::string_view prefix) const;

  /// True when this holds an error code. (Not `operator bool`: that would make `bool` and
  /// `std::optional<bool>` constructible from an Error and break `result<bool>`.)
  bool failed() const noexcept { return static_cast<bool>(code_); }

  friend bool operator==(Error const& a, Error const& b) noexcept { return a.code_ == b.code_; }
  friend bool operator==(Error const& a, error_code const& b) noexcept { return a.code_ == b; }
  friend bool operator==(Error const& a, condition c) noexcept {
    return a.code_ == make_error_condition(c);
  }
  template <class E>
    requires boost::system::is_error_code_enum<E>::value
  friend bool operator==(Error const& a, E e) noexcept {
    return a.code_ == make_error_code(e);
  }

 private:
  error_code code_{};
  std::string detail_{};
};

/// The result of every fallible operation. `.value()` throws `ee::SystemError` on error.
template <class T>
using result = boost::system::result<T, Error>;

/// Thrown only by `.value()` on an error result (and by `block_on` when the awaited code
/// throws). Carries the original Error.
class SystemError : public boost::system::system_error {
 public:
  explicit SystemError(Error e);
  Error const& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// Customisation point found by ADL from `boost::system::result<T, Error>::value()`.
[[noreturn]] void throw_exception_from_error(Error const& e, boost::source_location const& loc);

}  // namespace ee

template <>
struct boost::system::is_error_condition_enum<ee::condition> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<ee::errc> : std::true_type {};
