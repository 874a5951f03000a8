#include <easyenclave/registry/types.hpp>

#include <array>
#include <cstddef>

namespace ee::registry {
namespace {

// Indexed by the enumerator's value; the stored and wire spelling of each.
constexpr std::array<std::string_view, 3> kHealthNames = {"unknown", "up", "down"};
constexpr std::array<std::string_view, 6> kDeploymentStatusNames = {
    "queued", "pending", "deploying", "running", "failed", "stopped"};
constexpr std::array<std::string_view, 4> kAccountTypeNames = {"deployer", "agent", "contributor", "launcher"};

}  // namespace

std::string_view to_string(Health h) noexcept {
  auto const index = static_cast<std::size_t>(h);
  return index < kHealthNames.size() ? kHealthNames[index] : std::string_view{};
}

std::optional<Health> parse_health(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kHealthNames.size(); ++i)
    if (kHealthNames[i] == text) return static_cast<Health>(i);
  return std::nullopt;
}

std::string_view to_string(DeploymentStatus s) noexcept {
  auto const index = static_cast<std::size_t>(s);
  return index < kDeploymentStatusNames.size() ? kDeploymentStatusNames[index] : std::string_view{};
}

std::optional<DeploymentStatus> parse_deployment_status(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kDeploymentStatusNames.size(); ++i)
    if (kDeploymentStatusNames[i] == text) return static_cast<DeploymentStatus>(i);
  return std::nullopt;
}

std::string_view to_string(AccountType t) noexcept {
  auto const index = static_cast<std::size_t>(t);
  return index < kAccountTypeNames.size() ? kAccountTypeNames[index] : std::string_view{};
}

std::optional<AccountType> parse_account_type(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kAccountTypeNames.size(); ++i)
    if (kAccountTypeNames[i] == text) return static_cast<AccountType>(i);
  return std::nullopt;
}

std::string_view agent_status(AgentRecord const& agent) noexcept {
  // The order is the precedence: an unverified agent gets no deploys whatever its health, and a
  // down agent is reported down even while it still holds a deployment. The SQL filter in
  // src/registry/sqlite/queries.hpp (kAgentStatusExpr) spells the same rule.
  if (!agent.verified) return "unverified";
  if (agent.health == Health::down) return "down";
  if (!agent.deployment_id.empty()) return "deployed";
  return "idle";
}

}  // namespace ee::registry
