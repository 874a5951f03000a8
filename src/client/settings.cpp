// The client's settings (client/settings.hpp): the control plane's URL, resolved as every program
// resolves its settings.
#include <easyenclave/client/settings.hpp>

#include <easyenclave/api/agent_config.hpp>

#include <array>

namespace ee::client {
namespace {

constexpr std::array kSpecs{api::kCpUrlSetting};

}  // namespace

settings::Registry const& setting_registry() {
  static settings::Registry const registry = settings::Registry::create(kSpecs).value();
  return registry;
}

result<std::string> resolve_cp_url(std::string_view given, settings::Environment const& env) {
  settings::FlagValues flags;
  if (!given.empty()) flags.emplace("cp_url", std::string(given));
  auto resolved = settings::Settings::resolve(setting_registry(), flags, env);
  if (!resolved) return resolved.error();
  return resolved->text("cp_url");
}

}  // namespace ee::client
