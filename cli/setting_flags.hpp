#pragma once
// A program's flags and --help generated from its settings registry (include/easyenclave/
// settings.hpp): one option per key that has a flag, in the key's group, with its default and
// environment variable in the help. The values stay text until Settings::resolve checks them, so
// the precedence (flag > environment > default) and every message come from one place.
#include <easyenclave/settings.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ee::cli {

/// What a program adds to its registry's flags.
struct SettingFlagExtras {
  /// The keys to add (a subcommand takes only its own); empty: every key that has a flag.
  std::vector<std::string_view> only{};
  /// More names of a key's flag, by key: {"quote_provider", "--provider"} (short forms kept from
  /// earlier releases).
  std::map<std::string_view, std::string_view> aliases{};
};

class SettingFlags {
 public:
  /// Adds the flags of `registry` to `app`; `group_title` names each group in --help.
  SettingFlags(CLI::App& app, settings::Registry const& registry,
               std::function<std::string_view(std::string_view)> const& group_title,
               SettingFlagExtras const& extras = {}) {
    for (auto const& spec : registry.specs()) {
      if (spec.flag.empty()) continue;
      if (!extras.only.empty() &&
          std::find(extras.only.begin(), extras.only.end(), spec.name) == extras.only.end()) {
        continue;
      }
      auto flag = "--" + std::string(spec.flag);
      if (auto const alias = extras.aliases.find(spec.name); alias != extras.aliases.end()) {
        flag += "," + std::string(alias->second);
      }
      std::string help(spec.help);
      if (!spec.choices.empty()) help += " (" + std::string(spec.choices) + ")";
      // As CLI11 writes its own environment names, so tools reading --help find them one way.
      if (!spec.env.empty()) help += " (Env:" + std::string(spec.env) + ")";
      auto const group = std::string(group_title(spec.group));
      auto const name = std::string(spec.name);
      CLI::Option* option = nullptr;
      if (spec.type == settings::Type::boolean) {
        option = app.add_flag(flag, switches_[name], help);
      } else if (spec.type == settings::Type::list) {
        // Repeated, or comma-separated within one flag; joined again for the registry.
        option = app.add_option(flag, lists_[name], help)->delimiter(',');
      } else {
        option = app.add_option(flag, texts_[name], help);
      }
      switch (spec.type) {
        case settings::Type::integer: option->type_name("N"); break;
        case settings::Type::seconds: option->type_name("DURATION"); break;
        case settings::Type::list: option->type_name("TEXT,..."); break;
        case settings::Type::text:
        case settings::Type::boolean: break;
      }
      option->group(group);
      if (!spec.default_value.empty() && !spec.secret && spec.type != settings::Type::boolean) {
        option->default_str(std::string(spec.default_value));
      }
      options_.emplace_back(name, option);
    }
  }

  /// The flags given on the command line, by key name, after `app.parse`.
  settings::FlagValues values() const {
    settings::FlagValues out;
    for (auto const& [name, option] : options_) {
      if (option->count() == 0) continue;
      if (auto const s = switches_.find(name); s != switches_.end()) {
        out[name] = s->second ? "true" : "false";
      } else if (auto const l = lists_.find(name); l != lists_.end()) {
        std::string joined;
        for (auto const& item : l->second) joined += (joined.empty() ? "" : ",") + item;
        out[name] = joined;
      } else {
        out[name] = texts_.at(name);
      }
    }
    return out;
  }

 private:
  std::map<std::string, std::string> texts_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, bool> switches_;
  std::vector<std::pair<std::string, CLI::Option*>> options_;
};

/// The setting flags of a program whose subcommands each take some of its keys (`ee`): one
/// SettingFlags per subcommand, kept alive (CLI11 writes into them) and read together.
class SettingFlagSet {
 public:
  SettingFlagSet(settings::Registry const& registry, std::function<std::string_view(std::string_view)> group_title)
      : registry_(registry), group_title_(std::move(group_title)) {}

  /// Adds the flags of `extras.only` to `app` (a subcommand).
  void add(CLI::App& app, SettingFlagExtras const& extras) {
    sets_.push_back(std::make_unique<SettingFlags>(app, registry_, group_title_, extras));
  }

  /// The flags given on the command line, by key name, after `app.parse`.
  settings::FlagValues values() const {
    settings::FlagValues out;
    for (auto const& set : sets_) out.merge(set->values());
    return out;
  }

 private:
  settings::Registry const& registry_;
  std::function<std::string_view(std::string_view)> group_title_;
  std::vector<std::unique_ptr<SettingFlags>> sets_;
};

}  // namespace ee::cli
