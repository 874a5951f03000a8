// The owner's own agents and deployments (cp/owned.hpp).
#include "cp/owned.hpp"

#include "cp/caller.hpp"

#include <algorithm>
#include <set>

namespace ee::cp {
namespace {

// Every agent `accounts` own, read on the store pool: two indexed reads per account (an owner
// label names a user or an organisation), then the owner id check.
result<std::vector<registry::AgentRecord>> read_owned(Services& s, std::vector<registry::GithubAccount> const& accounts) {
  std::vector<registry::AgentRecord> owned;
  std::set<std::string> seen;
  for (auto const& account : accounts) {
    for (char const* kind : {"github:user/", "github:org/"}) {
      registry::AgentFilter filter;
      filter.owner = kind + account.login;
      auto agents = s.stores.agents->list(filter);
      if (!agents) return agents.error();
      for (auto& agent : *agents) {
        if (owns_agent(agent, accounts) && seen.insert(agent.id).second) owned.push_back(std::move(agent));
      }
    }
  }
  std::stable_sort(owned.begin(), owned.end(), [](auto const& a, auto const& b) {
    return a.registered_at != b.registered_at ? a.registered_at < b.registered_at : a.id < b.id;
  });
  return owned;
}

}  // namespace

boost::asio::awaitable<result<std::vector<registry::AgentRecord>>> owned_agents(
    Services& s, std::vector<registry::GithubAccount> const& accounts) {
  co_return co_await s.store([&s, &accounts] { return read_owned(s, accounts); });
}

boost::asio::awaitable<result<registry::AgentRecord>> owned_agent(Services& s,
                                                                  std::vector<registry::GithubAccount> const& accounts,
                                                                  std::string const& id) {
  co_return co_await s.store([&s, &accounts, &id]() -> result<registry::AgentRecord> {
    auto agent = s.stores.agents->get(id);
    if (!agent) return agent.error();
    // The same answer as for an id that does not exist.
    if (!owns_agent(*agent, accounts)) return Error(registry::errc::not_found, "no agent with id '" + id + "'");
    return agent;
  });
}

boost::asio::awaitable<result<std::vector<registry::Deployment>>> owned_deployments(
    Services& s, std::vector<registry::GithubAccount> const& accounts, std::size_t limit) {
  co_return co_await s.store([&s, &accounts, limit]() -> result<std::vector<registry::Deployment>> {
    auto agents = read_owned(s, accounts);
    if (!agents) return agents.error();
    std::vector<registry::Deployment> deployments;
    for (auto const& agent : *agents) {
      registry::DeploymentFilter filter;
      filter.agent_id = agent.id;
      filter.limit = limit;
      auto list = s.stores.deployments->list(filter);
      if (!list) return list.error();
      deployments.insert(deployments.end(), std::make_move_iterator(list->begin()), std::make_move_iterator(list->end()));
    }
    std::stable_sort(deployments.begin(), deployments.end(), [](auto const& a, auto const& b) {
      return a.created_at != b.created_at ? a.created_at > b.created_at : a.id < b.id;
    });
    if (deployments.size() > limit) deployments.resize(limit);
    return deployments;
  });
}

}  // namespace ee::cp
