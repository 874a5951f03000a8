#pragma once
/// @file One registry of settings for every program. A program declares its keys in one table
/// (name, environment variable, flag, type and bounds, default, group, secret, reloadable); its
/// flags and `--help` are generated from that table, the operations guide's tables are checked
/// against it, and the control plane's admin settings routes read and write it. Every value is
/// resolved with one precedence: database (the control plane's settings table) > flag >
/// environment > default. Parsing does no I/O: the environment is passed in.
#include <easyenclave/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ee::settings {

/// How a value is written and checked.
enum class Type {
  text,     ///< any string, or one of `Spec::choices`
  integer,  ///< a decimal integer in [min, max]
  boolean,  ///< true|false (also 1|0, yes|no, on|off); shown as true or false
  seconds,  ///< a duration: a number of seconds, or with a unit s, m, h or d ("90s", "5m", "1h"),
            ///< in [min, max] seconds; shown as a number of seconds
  list,     ///< comma-separated items, each trimmed, empty items dropped; shown joined by ","
};

std::string_view to_string(Type type) noexcept;

/// One key. Tables of specs are constant data of their program (`cp::settings()`, ...).
struct Spec {
  std::string_view name{};  ///< "heartbeat_interval": the key of the routes, the database and the docs
  std::string_view env{};   ///< "EE_HEARTBEAT_INTERVAL"; empty: no environment variable
  std::string_view flag{};  ///< "heartbeat-interval" (given as --heartbeat-interval); empty: no flag
  Type type = Type::text;
  std::string_view default_value{};  ///< in the shown form; empty: unset
  std::string_view group{};          ///< "server", "attestation", ... (help sections, GET ?group=)
  std::string_view help{};
  std::string_view choices{};  ///< text: the allowed values, "|"-separated; empty: any
  std::int64_t min = std::numeric_limits<std::int64_t>::min();  ///< integer and seconds
  /// Integer and seconds: the largest value. Text: the longest value in characters when set
  /// (an argv or a JSON object may need more than the 4096 a text takes otherwise).
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  /// Never shown, returned or logged: only whether it is set.
  bool secret = false;
  /// A change in the database applies while the program runs (within the cache's lifetime);
  /// otherwise it takes effect at the next start.
  bool reloadable = false;
  /// Earlier names of the environment variable, still read (after `env`), "|"-separated.
  std::string_view env_aliases{};
  /// May be set in the database (the control plane's admin settings routes). Keys that decide
  /// where the database is, or the program's mode, are given only by flag or environment.
  bool storable = true;
  /// Means the same on another machine, so `ee launch --cp` hands the launching shell's value to
  /// the program in the VM. False for paths and addresses of this machine and for run modes.
  bool portable = true;
};

/// The environment variables of `spec`: its current name first, then the earlier ones.
std::vector<std::string_view> variables(Spec const& spec);

/// Where a value came from, highest precedence first.
enum class Source { database, flag, environment, default_value };
std::string_view to_string(Source source) noexcept;

/// A program's keys, checked once.
class Registry {
 public:
  /// Checks the table: names of [a-z0-9_], flags of [a-z0-9-], variables of [A-Z0-9_], each
  /// unique; min <= max; every default valid for its key. ee::errc::invalid_value naming the key.
  static result<Registry> create(std::span<Spec const> specs);

  std::span<Spec const> specs() const noexcept { return specs_; }
  /// The key named `name`, or null.
  Spec const* find(std::string_view name) const noexcept;

  /// `value` checked against `spec` and written in its shown form (see Type). ee::errc::
  /// invalid_value or out_of_range saying what the key takes; for a secret, the message never
  /// repeats the value.
  static result<std::string> normalize(Spec const& spec, std::string_view value);

 private:
  explicit Registry(std::span<Spec const> specs) : specs_(specs) {}
  std::span<Spec const> specs_;
};

/// Reads one environment variable. `process_environment()` reads the process's.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();
/// An environment of exactly `variables` (tests, and programs that read a file of them).
Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables);

/// `env` in which a variable set to the empty string counts as unset (how ee-agent and ee read
/// their environment, as CLI11 did for them). A null `env` is an empty environment.
Environment without_empty(Environment env);

/// Values of flags given on the command line, by key name, as written.
using FlagValues = std::map<std::string, std::string, std::less<>>;

/// A value with where it came from.
struct Value {
  std::string text{};  ///< shown form; empty: unset
  Source source = Source::default_value;
  /// The flag or variable it came from ("--db", "EE_DB"), for messages.
  std::string origin{};
};

/// Every key of a registry resolved. Immutable; `with_database` makes a new one.
class Settings {
 public:
  /// Flag > environment > default for every key. ee::errc::invalid_value naming the flag or the
  /// variable and what it takes (a flag or variable not in the registry is the caller's concern:
  /// a flag parser refuses unknown flags itself).
  static result<Settings> resolve(Registry const& registry, FlagValues const& flags, Environment const& env);

  /// These settings with the database's `rows` (name -> text) over them. Rows of unknown keys,
  /// of keys that are not `storable`, or with values the key no longer accepts are skipped and
  /// named in `skipped` ("name: why"); they never take effect.
  Settings with_database(std::map<std::string, std::string, std::less<>> const& rows,
                         std::vector<std::string>* skipped = nullptr) const;

  Registry const& registry() const noexcept { return *registry_; }

  /// The value of `name`. Throws std::out_of_range for a name not in the registry (a program's
  /// own table names its keys; a typo there is a programming error).
  Value const& value(std::string_view name) const;
  std::string const& text(std::string_view name) const { return value(name).text; }
  /// Typed reads; they throw std::logic_error when the key is of another type.
  std::int64_t integer(std::string_view name) const;
  bool boolean(std::string_view name) const;
  std::chrono::seconds seconds(std::string_view name) const;
  std::vector<std::string> list(std::string_view name) const;
  /// What an operator may see: the value, or for a secret "set" or "unset".
  std::string shown(std::string_view name) const;

 private:
  Settings(Registry const& registry, std::map<std::string, Value, std::less<>> values);
  Spec const& spec_of(std::string_view name, Type type) const;

  Registry const* registry_;
  std::map<std::string, Value, std::less<>> values_;
};

/// A Markdown table of `registry`'s keys of `group` (all when empty): setting, flag,
/// environment variable, default, what it is. docs/operations.md's tables are compared with it.
std::string markdown_table(Registry const& registry, std::string_view group = {});

}  // namespace ee::settings
