#pragma once
// What an owner sees of their own (the /api/v1/me routes): agents whose owner label is one of the
// owner's GitHub accounts (with that account's id once the owner was proven), and the deployments
// on them. Another owner's agent is not found, exactly like an agent that does not exist, so ids
// cannot be probed.
#include "cp/services.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

namespace ee::cp {

/// The agents `accounts` own, in registration order.
boost::asio::awaitable<result<std::vector<registry::AgentRecord>>> owned_agents(
    Services& services, std::vector<registry::GithubAccount> const& accounts);

/// The agent `id` when `accounts` own it; registry::errc::not_found otherwise.
boost::asio::awaitable<result<registry::AgentRecord>> owned_agent(Services& services,
                                                                  std::vector<registry::GithubAccount> const& accounts,
                                                                  std::string const& id);

/// The deployments on agents `accounts` own now, newest first, at most `limit`.
boost::asio::awaitable<result<std::vector<registry::Deployment>>> owned_deployments(
    Services& services, std::vector<registry::GithubAccount> const& accounts, std::size_t limit);

}  // namespace ee::cp
