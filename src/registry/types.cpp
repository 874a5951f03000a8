#include <easyenclave/registry/types.hpp>

#include <algorithm>
#include <array>
#include <cstddef>

namespace ee::registry {
namespace {

// Indexed by the enumerator's value; the stored and wire spelling of each.
constexpr std::array<std::string_view, 3> kHealthNames = {"unknown", "up", "down"};
constexpr std::array<std::string_view, 6> kDeploymentStatusNames = {
    "queued", "pending", "deploying", "running", "failed", "stopped"};
constexpr std::array<std::string_view, 2> kLoginMethodNames = {"password", "github"};

bool is_login_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
bool is_decimal(std::string_view text) {
  return !text.empty() && text.size() <= 20 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}
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

std::string_view to_string(LoginMethod m) noexcept {
  auto const index = static_cast<std::size_t>(m);
  return index < kLoginMethodNames.size() ? kLoginMethodNames[index] : std::string_view{};
}

std::optional<LoginMethod> parse_login_method(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kLoginMethodNames.size(); ++i)
    if (kLoginMethodNames[i] == text) return static_cast<LoginMethod>(i);
  return std::nullopt;
}

std::string encode_github_accounts(std::vector<GithubAccount> const& accounts) {
  std::string out;
  for (auto const& a : accounts) {
    if (!out.empty()) out += ',';
    out += a.login;
    out += ':';
    out += a.id;
  }
  return out;
}

std::optional<std::vector<GithubAccount>> decode_github_accounts(std::string_view text) {
  std::vector<GithubAccount> accounts;
  while (!text.empty()) {
    auto const end = std::min(text.find(','), text.size());
    auto const item = text.substr(0, end);
    auto const colon = item.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    auto const login = item.substr(0, colon);
    auto const id = item.substr(colon + 1);
    // What a parsed GitHub answer can hold: a lowercase login of 1-39, not starting with '-'.
    if (login.size() > 39 || login.front() == '-' || !std::all_of(login.begin(), login.end(), is_login_char) ||
        !is_decimal(id)) {
      return std::nullopt;
    }
    accounts.push_back(GithubAccount{.login = std::string(login), .id = std::string(id)});
    if (end == text.size()) break;
    text.remove_prefix(end + 1);
    if (text.empty()) return std::nullopt;  // a trailing ','
  }
  return accounts;
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
