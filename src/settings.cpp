// The settings registry: checking tables and values, and resolving them with one precedence.
#include <easyenclave/settings.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <set>
#include <stdexcept>

namespace ee::settings {
namespace {

bool all_of_chars(std::string_view text, bool (*allowed)(char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
}
bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
bool flag_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }
bool env_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The "|"-separated items of `text`.
std::vector<std::string_view> split_bar(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto const bar = text.find('|');
    out.push_back(text.substr(0, bar));
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  return out;
}

// What a message may repeat of a value: nothing of a secret, at most 64 characters otherwise.
std::string quoted(Spec const& spec, std::string_view value) {
  if (spec.secret) return "(the value is secret)";
  if (value.size() > 64) return "'" + std::string(value.substr(0, 64)) + "...'";
  return "'" + std::string(value) + "'";
}

Error invalid(Spec const& spec, std::string_view value, std::string const& takes,
              ee::errc code = ee::errc::invalid_value) {
  return Error(code, std::string(spec.name) + " " + quoted(spec, value) + ": " + takes);
}

std::string range_text(Spec const& spec, std::string_view unit) {
  return "from " + std::to_string(spec.min) + " to " + std::to_string(spec.max) + std::string(unit);
}

result<std::int64_t> parse_integer(Spec const& spec, std::string_view text, std::string_view unit) {
  std::int64_t value = 0;
  auto const* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec == std::errc::result_out_of_range) {
    return invalid(spec, text, "must be a whole number " + range_text(spec, unit), ee::errc::out_of_range);
  }
  if (ec != std::errc() || ptr != end) return invalid(spec, text, "must be a whole number " + range_text(spec, unit));
  return value;
}

result<std::int64_t> parse_seconds(Spec const& spec, std::string_view text) {
  std::int64_t unit = 1;
  std::string_view number = text;
  if (!number.empty()) {
    switch (number.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: unit = 0; break;
    }
    if (unit != 0) {
      number.remove_suffix(1);
    } else {
      unit = 1;
    }
  }
  std::int64_t count = 0;
  auto const* end = number.data() + number.size();
  auto [ptr, ec] = std::from_chars(number.data(), end, count);
  if (number.empty() || ec != std::errc() || ptr != end) {
    return invalid(spec, text, "must be a duration in seconds, or with a unit s, m, h or d (\"90s\", \"5m\", \"1h\")");
  }
  if (count > std::numeric_limits<std::int64_t>::max() / unit || count < std::numeric_limits<std::int64_t>::min() / unit) {
    return invalid(spec, text, "must be a duration " + range_text(spec, " seconds"), ee::errc::out_of_range);
  }
  return count * unit;
}

// The longest text value: `max` when the key sets one (an argv, a JSON object), else 4096.
std::size_t text_length_limit(Spec const& spec) {
  if (spec.max == std::numeric_limits<std::int64_t>::max() || spec.max < 0) return 4096;
  return static_cast<std::size_t>(spec.max);
}

// Numbers, durations and booleans have no empty value: empty means "not given here".
bool empty_means_unset(Type type) { return type == Type::integer || type == Type::seconds || type == Type::boolean; }

}  // namespace

std::string_view to_string(Type type) noexcept {
  switch (type) {
    case Type::text: return "text";
    case Type::integer: return "integer";
    case Type::boolean: return "boolean";
    case Type::seconds: return "seconds";
    case Type::list: return "list";
  }
  return "unknown";
}

std::vector<std::string_view> variables(Spec const& spec) {
  std::vector<std::string_view> out;
  if (!spec.env.empty()) out.push_back(spec.env);
  if (!spec.env_aliases.empty()) {
    for (auto alias : split_bar(spec.env_aliases)) out.push_back(alias);
  }
  return out;
}

std::string_view to_string(Source source) noexcept {
  switch (source) {
    case Source::database: return "database";
    case Source::flag: return "flag";
    case Source::environment: return "environment";
    case Source::default_value: return "default";
  }
  return "unknown";
}

result<std::string> Registry::normalize(Spec const& spec, std::string_view raw) {
  auto const value = trim(raw);
  switch (spec.type) {
    case Type::text: {
      auto const longest = text_length_limit(spec);
      if (value.size() > longest) {
        return invalid(spec, value, "must be at most " + std::to_string(longest) + " characters", ee::errc::out_of_range);
      }
      for (char c : value) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          return invalid(spec, value, "must not contain control characters");
        }
      }
      // Empty is a choice only of a key whose default is empty (it then means "decide for me").
      if (!spec.choices.empty() && (!value.empty() || !spec.default_value.empty())) {
        auto const choices = split_bar(spec.choices);
        if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
          return invalid(spec, value, "must be one of " + std::string(spec.choices));
        }
      }
      return std::string(value);
    }
    case Type::integer: {
      if (value.empty()) return std::string();
      auto number = parse_integer(spec, value, "");
      if (!number) return number.error();
      if (*number < spec.min || *number > spec.max) {
        return invalid(spec, value, "must be a whole number " + range_text(spec, ""), ee::errc::out_of_range);
      }
      return std::to_string(*number);
    }
    case Type::boolean: {
      if (value.empty()) return std::string();
      auto const word = lower(value);
      if (word == "true" || word == "1" || word == "yes" || word == "on") return std::string("true");
      if (word == "false" || word == "0" || word == "no" || word == "off") return std::string("false");
      return invalid(spec, value, "must be true or false");
    }
    case Type::seconds: {
      if (value.empty()) return std::string();
      auto seconds = parse_seconds(spec, value);
      if (!seconds) return seconds.error();
      if (*seconds < spec.min || *seconds > spec.max) {
        return invalid(spec, value, "must be a duration " + range_text(spec, " seconds"), ee::errc::out_of_range);
      }
      return std::to_string(*seconds);
    }
    case Type::list: {
      if (value.size() > 65536) return invalid(spec, value, "must be at most 65536 characters", ee::errc::out_of_range);
      std::string out;
      std::string_view rest = value;
      while (true) {
        auto const comma = rest.find(',');
        auto const item = trim(rest.substr(0, comma));
        for (char c : item) {
          if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return invalid(spec, value, "must not contain control characters");
          }
        }
        if (!item.empty()) {
          if (!out.empty()) out += ',';
          out += item;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return out;
    }
  }
  return invalid(spec, value, "has an unknown type");
}

result<Registry> Registry::create(std::span<Spec const> specs) {
  std::set<std::string_view> names, flags, envs;
  for (auto const& spec : specs) {
    auto const where = "setting '" + std::string(spec.name) + "'";
    if (!all_of_chars(spec.name, name_char)) return Error(ee::errc::invalid_value, where + ": its name must be of [a-z0-9_]");
    if (!names.insert(spec.name).second) return Error(ee::errc::invalid_value, where + " is declared twice");
    if (!spec.flag.empty()) {
      if (!all_of_chars(spec.flag, flag_char)) return Error(ee::errc::invalid_value, where + ": its flag must be of [a-z0-9-]");
      if (!flags.insert(spec.flag).second) return Error(ee::errc::invalid_value, where + ": flag --" + std::string(spec.flag) + " is taken");
    }
    for (auto variable : variables(spec)) {
      if (!all_of_chars(variable, env_char)) return Error(ee::errc::invalid_value, where + ": variable " + std::string(variable) + " must be of [A-Z0-9_]");
      if (!envs.insert(variable).second) return Error(ee::errc::invalid_value, where + ": variable " + std::string(variable) + " is taken");
    }
    if (spec.min > spec.max) return Error(ee::errc::invalid_value, where + ": min is above max");
    auto normalized = normalize(spec, spec.default_value);
    if (!normalized) return normalized.error().with_context("default of " + where);
    if (*normalized != spec.default_value) {
      return Error(ee::errc::invalid_value, where + ": its default must be written as " + *normalized);
    }
  }
  return Registry(specs);
}

Spec const* Registry::find(std::string_view name) const noexcept {
  auto const it = std::find_if(specs_.begin(), specs_.end(), [name](Spec const& s) { return s.name == name; });
  return it == specs_.end() ? nullptr : &*it;
}

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    char const* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto const it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

Environment without_empty(Environment env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    if (!env) return std::nullopt;
    auto value = env(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };
}

Settings::Settings(Registry const& registry, std::map<std::string, Value, std::less<>> values)
    : registry_(&registry), values_(std::move(values)) {}

result<Settings> Settings::resolve(Registry const& registry, FlagValues const& flags, Environment const& env) {
  std::map<std::string, Value, std::less<>> values;
  for (auto const& spec : registry.specs()) {
    Value v{.text = std::string(spec.default_value), .source = Source::default_value, .origin = "default"};
    for (auto variable : variables(spec)) {
      auto raw = env ? env(variable) : std::nullopt;
      if (!raw) continue;
      auto normalized = Registry::normalize(spec, *raw);
      if (!normalized) return normalized.error().with_context(std::string(variable));
      if (normalized->empty() && empty_means_unset(spec.type)) continue;
      v = Value{.text = std::move(*normalized), .source = Source::environment, .origin = std::string(variable)};
      break;
    }
    if (auto const flag = flags.find(spec.name); flag != flags.end()) {
      auto const origin = spec.flag.empty() ? std::string(spec.name) : "--" + std::string(spec.flag);
      auto normalized = Registry::normalize(spec, flag->second);
      if (!normalized) return normalized.error().with_context(origin);
      if (!normalized->empty() || !empty_means_unset(spec.type)) {
        v = Value{.text = std::move(*normalized), .source = Source::flag, .origin = origin};
      }
    }
    values.emplace(std::string(spec.name), std::move(v));
  }
  return Settings(registry, std::move(values));
}

Settings Settings::with_database(std::map<std::string, std::string, std::less<>> const& rows,
                                 std::vector<std::string>* skipped) const {
  auto values = values_;
  for (auto const& [name, text] : rows) {
    auto const* spec = registry_->find(name);
    if (spec == nullptr) {
      if (skipped != nullptr) skipped->push_back(name + ": not a setting of this program");
      continue;
    }
    if (!spec->storable) {
      if (skipped != nullptr) skipped->push_back(name + ": set only by flag or environment");
      continue;
    }
    auto normalized = Registry::normalize(*spec, text);
    if (!normalized) {
      if (skipped != nullptr) skipped->push_back(name + ": " + normalized.error().message());
      continue;
    }
    if (normalized->empty() && empty_means_unset(spec->type)) {
      if (skipped != nullptr) skipped->push_back(name + ": empty");
      continue;
    }
    values[name] = Value{.text = std::move(*normalized), .source = Source::database, .origin = "database"};
  }
  return Settings(*registry_, std::move(values));
}

Value const& Settings::value(std::string_view name) const {
  auto const it = values_.find(name);
  if (it == values_.end()) throw std::out_of_range("no setting named " + std::string(name));
  return it->second;
}

Spec const& Settings::spec_of(std::string_view name, Type type) const {
  auto const* spec = registry_->find(name);
  if (spec == nullptr) throw std::out_of_range("no setting named " + std::string(name));
  if (spec->type != type) {
    throw std::logic_error("setting " + std::string(name) + " is of type " + std::string(to_string(spec->type)) +
                           ", read as " + std::string(to_string(type)));
  }
  return *spec;
}

std::int64_t Settings::integer(std::string_view name) const {
  spec_of(name, Type::integer);
  auto const& text = value(name).text;
  std::int64_t out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);  // normalized: always a number or empty
  return out;
}

bool Settings::boolean(std::string_view name) const {
  spec_of(name, Type::boolean);
  return value(name).text == "true";
}

std::chrono::seconds Settings::seconds(std::string_view name) const {
  spec_of(name, Type::seconds);
  auto const& text = value(name).text;
  std::int64_t out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return std::chrono::seconds(out);
}

std::vector<std::string> Settings::list(std::string_view name) const {
  spec_of(name, Type::list);
  std::vector<std::string> out;
  std::string_view rest = value(name).text;
  while (!rest.empty()) {
    auto const comma = rest.find(',');
    out.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::string Settings::shown(std::string_view name) const {
  auto const* spec = registry_->find(name);
  if (spec == nullptr) throw std::out_of_range("no setting named " + std::string(name));
  auto const& text = value(name).text;
  if (spec->secret) return text.empty() ? "unset" : "set";
  return text;
}

std::string markdown_table(Registry const& registry, std::string_view group) {
  std::string out = "| setting | flag | environment | default | what |\n|---|---|---|---|---|\n";
  auto code = [](std::string_view text) { return text.empty() ? std::string() : "`" + std::string(text) + "`"; };
  for (auto const& spec : registry.specs()) {
    if (!group.empty() && spec.group != group) continue;
    std::string what(spec.help);
    if (!spec.choices.empty()) {
      std::string choices;
      for (auto choice : split_bar(spec.choices)) choices += (choices.empty() ? "" : ", ") + code(choice);
      what += " (" + choices + ")";
    }
    if (spec.secret) what += "; secret";
    if (spec.reloadable) what += "; reloadable";
    out += "| " + code(spec.name) + " | " + (spec.flag.empty() ? std::string() : code("--" + std::string(spec.flag))) +
           " | " + code(spec.env) + " | " + (spec.secret ? std::string() : code(spec.default_value)) + " | " + what + " |\n";
  }
  return out;
}

}  // namespace ee::settings
