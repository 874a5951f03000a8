// connect(): resolve the target in the CP's catalog (or a GitHub release), fetch fresh evidence,
// appraise it (appraise.cpp), and the Connection that sends to the verified endpoint.
#include <easyenclave/client/connect.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/time.hpp>

#include "client/catalog.hpp"
#include "detail/crypto.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/http/field.hpp>

#include <cctype>
#include <mutex>
#include <tuple>

namespace ee::client {
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

struct Connection::State {
  ConnectOptions options;
  std::string target;
  Source source = Source::catalog;
  Expectations expected;
  std::string endpoint;
  std::string agent_id;

  mutable std::mutex mutex;
  // Guarded by `mutex`: replaced by each re-verification.
  Appraised appraised;
  std::string public_key;
  Report report;
  TimePoint verified_at{};

  TimePoint now() const {
    return options.clock ? options.clock() : std::chrono::system_clock::now();
  }
};

namespace {

// The fields a (re-)verification produces.
struct Verified {
  Appraised appraised;
  std::string public_key;
  std::string endpoint;
};

result<std::array<std::uint8_t, 32>> fresh_nonce(ConnectOptions const& options) {
  if (options.nonce) return options.nonce();
  std::array<std::uint8_t, 32> nonce{};
  if (auto ok = detail::random_bytes(nonce); !ok) return ok.error();
  return nonce;
}

// The collateral for `quote_bytes`: the given one, or fetched. A quote that does not parse gets
// none here; the "quote" check then reports why it does not parse.
asio::awaitable<result<void>> obtain_collateral(ConnectOptions const& options,
                                                std::vector<std::uint8_t> const& quote_bytes,
                                                AppraisalInputs& inputs, Report& report) {
  if (options.collateral) {
    inputs.collateral = options.collateral;
    inputs.collateral_source = "given by the caller";
    report.checks.push_back(Check{
        "collateral", true, false, "DCAP collateral for the platform", "given by the caller", {}});
    co_return result<void>{};
  }
  auto quote = tdx::parse_quote(quote_bytes);
  if (!quote) {
    report.checks.push_back(Check{"collateral", false, true, {}, {}, "the quote does not parse"});
    co_return result<void>{};
  }
  auto const fetcher = options.fetcher ? *options.fetcher : tdx::CollateralFetcher(options.http);
  auto fetched = co_await fetcher.fetch_for_quote(*quote);
  if (!fetched) {
    auto const message = fetched.error().message();
    if (options.policy.allow_offline) {
      report.checks.push_back(
          Check{"collateral",
                false,
                true,
                {},
                {},
                "not available (" + message + "); verifying offline as the policy allows"});
      co_return result<void>{};
    }
    report.checks.push_back(Check{"collateral", false, false,
                                  "DCAP collateral for the quote's platform from PCS/PCCS",
                                  "an error", message});
    co_return Error(errc::collateral_unavailable,
                    "check 'collateral' failed: expected DCAP collateral for the quote's "
                    "platform, got an error (" +
                        message + ")");
  }
  inputs.collateral = std::move(*fetched);
  inputs.collateral_source = "fetched from PCS/PCCS";
  report.checks.push_back(Check{
      "collateral", true, false, "DCAP collateral for the platform", "fetched from PCS/PCCS", {}});
  co_return result<void>{};
}

// Appraises the evidence an agent answered to `nonce` with: collateral, then every check.
asio::awaitable<result<Verified>> appraise_agent(ConnectOptions const& options,
                                                 Expectations const& expected,
                                                 std::string const& endpoint,
                                                 Evidence const& evidence,
                                                 std::array<std::uint8_t, 32> const& nonce,
                                                 Report& report) {
  AppraisalInputs inputs;
  inputs.root = options.root;
  inputs.policy = options.policy;
  inputs.nonce = nonce;
  inputs.check_workload = true;
  inputs.allow_keyless_agents = options.allow_keyless_agents;
  auto collateral = co_await obtain_collateral(options, evidence.quote, inputs, report);
  if (!collateral) co_return collateral.error();

  auto const now = options.clock ? options.clock() : std::chrono::system_clock::now();
  auto appraised = appraise_evidence(evidence, expected, inputs, now, report);
  if (!appraised) co_return appraised.error();
  co_return Verified{std::move(*appraised), evidence.public_key, endpoint};
}

// Fetches the agent's attested health with a fresh nonce and appraises it.
asio::awaitable<result<Verified>> verify_agent(ConnectOptions const& options,
                                               Expectations const& expected,
                                               std::string const& endpoint, Report& report) {
  auto nonce = fresh_nonce(options);
  if (!nonce) co_return nonce.error();
  auto const nonce_value = *nonce;
  auto evidence =
      co_await fetch_agent_evidence(*options.http, options.request, endpoint, nonce_value, report);
  if (!evidence) co_return evidence.error();
  auto verified =
      co_await appraise_agent(options, expected, endpoint, *evidence, nonce_value, report);
  co_return verified;
}

// The two halves of a catalog connection, read at the same time: the app with its versions, and
// the running agent with its evidence (which needs only the app's name). Each records into its
// own report; `attempt` joins them in the order the checks are documented.
struct AppRead {
  result<Expectations> app = Error(errc::catalog_unavailable);
  Report report;
};

struct AgentRead {
  result<RunningAgent> agent = Error(errc::no_running_agent);
  result<Evidence> evidence = Error(errc::agent_unreachable);
  Report report;
};

asio::awaitable<AppRead> read_app(ConnectOptions const& options, std::string name, Target target) {
  AppRead out;
  out.app = co_await fetch_catalog_app(*options.http, options.request, options.cp_url,
                                       std::move(name), std::move(target), options.version,
                                       out.report);
  co_return out;
}

asio::awaitable<AgentRead> read_agent(ConnectOptions const& options, std::string name,
                                      std::array<std::uint8_t, 32> nonce) {
  AgentRead out;
  out.agent = co_await find_running_agent(*options.http, options.request, options.cp_url,
                                          std::move(name), options.version, options.agent_id,
                                          out.report);
  if (!out.agent) co_return out;
  out.evidence = co_await fetch_agent_evidence(*options.http, options.request,
                                               out.agent->endpoint, nonce, out.report);
  co_return out;
}

struct NameRead {
  result<std::string> name = Error(errc::catalog_unavailable);
  Report report;
};

asio::awaitable<NameRead> read_name(ConnectOptions const& options, Target target) {
  NameRead out;
  out.name = co_await find_app_name(*options.http, options.request, options.cp_url,
                                    std::move(target), out.report);
  co_return out;
}

// The app name an org/repo target is most likely published under: the repository's name in
// lower case, when that is an app name (1-63 of [a-z0-9-], not starting with '-'); else empty.
std::string likely_app_name(std::string const& source_repo) {
  auto name = source_repo.substr(source_repo.find('/') + 1);
  if (name.empty() || name.size() > 63 || name.front() == '-') return {};
  for (auto& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return {};
  }
  return name;
}

void append(Report& to, Report&& from) {
  for (auto& check : from.checks) to.checks.push_back(std::move(check));
}

// Downloads the newest release's attestation.json and appraises its quote.
asio::awaitable<result<Verified>> verify_release(ConnectOptions const& options,
                                                 Expectations const& expected, Report& report) {
  auto asset = co_await fetch_release_evidence(*options.http, options.request, options.github_api,
                                               expected.source_repo, report);
  if (!asset) co_return asset.error();

  AppraisalInputs inputs;
  inputs.root = options.root;
  inputs.policy = options.policy;
  inputs.check_workload = false;
  inputs.allow_keyless_agents = options.allow_keyless_agents;
  auto collateral = co_await obtain_collateral(options, asset->evidence.quote, inputs, report);
  if (!collateral) co_return collateral.error();

  auto const now = options.clock ? options.clock() : std::chrono::system_clock::now();
  auto appraised = appraise_evidence(asset->evidence, expected, inputs, now, report);
  if (!appraised) co_return appraised.error();
  report.checks.push_back(Check{
      "freshness",
      false,
      true,
      {},
      {},
      "cannot be checked for a GitHub release: the quote was made when the release was "
      "published (" +
          asset->published_at + "), not for this request, so it shows what ran then, not now"});
  co_return Verified{std::move(*appraised), asset->evidence.public_key, asset->endpoint};
}

result<void> check_options(ConnectOptions const& options) {
  if (!options.http) return Error(errc::invalid_target, "ConnectOptions::http must be set");
  if (options.source == Source::catalog && options.cp_url.empty())
    return Error(errc::invalid_target, "ConnectOptions::cp_url must be set for the catalog source");
  return {};
}

void record(Connection::State& state, Verified verified, Report report, TimePoint at) {
  std::lock_guard lock(state.mutex);
  state.appraised = std::move(verified.appraised);
  state.public_key = std::move(verified.public_key);
  state.report = std::move(report);
  state.verified_at = at;
}

}  // namespace

asio::awaitable<Attempt> attempt(std::string target, ConnectOptions options) {
  Attempt out;
  Report& report = out.report;
  if (auto ok = check_options(options); !ok) {
    out.error = ok.error();
    co_return out;
  }
  auto state = std::make_shared<Connection::State>();
  state->target = target;
  state->source = options.source;

  auto resolved = resolve_target(target, options.source, report);
  if (!resolved) {
    out.error = resolved.error();
    co_return out;
  }

  result<Verified> verified = Error(errc::invalid_target);
  if (options.source == Source::catalog) {
    auto nonce = fresh_nonce(options);
    if (!nonce) {
      out.error = nonce.error();
      co_return out;
    }
    // The app's versions and the agent's evidence do not depend on each other: one round trip
    // to the CP and the agent's chain (deployments, agent, health) run at the same time. An
    // org/repo target needs the app list first to learn the app's name; the two run beside it
    // for the name the app most likely has (its repository's), and again for the listed name
    // when that is another. The checks are still judged in their documented order (a failed
    // catalog check wins), on reads made for the name the list gave.
    using namespace asio::experimental::awaitable_operators;
    NameRead name_read;
    AppRead app_read;
    AgentRead agent_read;
    std::string read_for;  // the app name of app_read and agent_read
    if (!resolved->app.empty()) {
      name_read.name = resolved->app;
    } else if (auto guess = likely_app_name(resolved->source_repo); guess.empty()) {
      name_read = co_await read_name(options, *resolved);
    } else {
      std::tie(name_read, app_read, agent_read) =
          co_await (read_name(options, *resolved) && read_app(options, guess, *resolved) &&
                    read_agent(options, guess, *nonce));
      read_for = guess;
    }
    append(report, std::move(name_read.report));
    if (!name_read.name) {
      out.error = name_read.name.error();
      co_return out;
    }
    if (read_for != *name_read.name) {
      if (!read_for.empty()) {
        nonce = fresh_nonce(options);  // the first went to another app's agent
        if (!nonce) {
          out.error = nonce.error();
          co_return out;
        }
      }
      std::tie(app_read, agent_read) =
          co_await (read_app(options, *name_read.name, *resolved) &&
                    read_agent(options, *name_read.name, *nonce));
    }
    append(report, std::move(app_read.report));
    if (!app_read.app) {
      out.error = app_read.app.error();
      co_return out;
    }
    state->expected = std::move(*app_read.app);
    append(report, std::move(agent_read.report));
    if (!agent_read.agent) {
      out.error = agent_read.agent.error();
      co_return out;
    }
    if (!agent_read.evidence) {
      out.error = agent_read.evidence.error();
      co_return out;
    }
    auto const& agent = *agent_read.agent;
    state->agent_id = agent.agent_id;
    state->expected.deployed_version = agent.version;
    state->expected.agent_public_key = agent.public_key;
    verified = co_await appraise_agent(options, state->expected, agent.endpoint,
                                       *agent_read.evidence, *nonce, report);
  } else {
    state->expected.app = resolved->source_repo;
    state->expected.source_repo = resolved->source_repo;
    verified = co_await verify_release(options, state->expected, report);
  }
  if (!verified) {
    out.error = verified.error();
    co_return out;
  }
  state->endpoint = verified->endpoint;
  state->options = std::move(options);
  auto const at = state->now();
  record(*state, std::move(*verified), report, at);
  out.connection.emplace(std::move(state));
  co_return out;
}

asio::awaitable<result<Connection>> connect(std::string target, ConnectOptions options) {
  auto outcome = co_await attempt(std::move(target), std::move(options));
  if (!outcome.connection) co_return outcome.error;
  co_return std::move(*outcome.connection);
}

// --- Connection --------------------------------------------------------------------------------

std::string Connection::endpoint() const { return state_->endpoint; }
std::string Connection::app() const { return state_->expected.app; }
std::string Connection::agent_id() const { return state_->agent_id; }
Source Connection::source() const { return state_->source; }

PublishedVersion Connection::version() const {
  std::lock_guard lock(state_->mutex);
  return state_->appraised.version;
}
tdx::Appraisal Connection::appraisal() const {
  std::lock_guard lock(state_->mutex);
  return state_->appraised.appraisal;
}
std::string Connection::agent_public_key() const {
  std::lock_guard lock(state_->mutex);
  return state_->public_key;
}
Report Connection::checks() const {
  std::lock_guard lock(state_->mutex);
  return state_->report;
}
TimePoint Connection::verified_at() const {
  std::lock_guard lock(state_->mutex);
  return state_->verified_at;
}

std::string Connection::report() const {
  std::lock_guard lock(state_->mutex);
  std::string out = "easyenclave connect " + state_->target + "\n";
  out += "  source:   " +
         std::string(state_->source == Source::catalog ? "catalog at " + state_->options.cp_url
                                                       : "GitHub release") +
         "\n";
  out += "  endpoint: " + state_->endpoint + "\n";
  if (!state_->agent_id.empty()) out += "  agent:    " + state_->agent_id + "\n";
  if (!state_->appraised.version.version.empty())
    out += "  version:  " + state_->appraised.version.version + " (" +
           state_->appraised.version.image + ")\n";
  out += "  verified: " + format_time(state_->verified_at) + "\n";
  out += state_->report.text();
  return out;
}

asio::awaitable<result<void>> Connection::reverify() const {
  auto state = state_;  // kept alive across suspensions
  Report report;
  result<Verified> verified = Error(errc::invalid_target);
  if (state->source == Source::catalog) {
    report.checks.push_back(Check{
        "reverify",
        true,
        false,
        {},
        {},
        "evidence renewed from " + state->endpoint + " against the catalog read at connect time"});
    verified = co_await verify_agent(state->options, state->expected, state->endpoint, report);
  } else {
    verified = co_await verify_release(state->options, state->expected, report);
  }
  if (!verified) co_return verified.error();
  if (verified->endpoint != state->endpoint)
    co_return Error(errc::malformed_evidence,
                    "check 'release' failed: expected the endpoint " + state->endpoint +
                        " of the first verification, got " + verified->endpoint);
  auto const at = state->now();
  record(*state, std::move(*verified), std::move(report), at);
  co_return result<void>{};
}

asio::awaitable<result<Response>> Connection::request(
    bhttp::verb method, std::string path, std::string body,
    std::vector<std::pair<std::string, std::string>> headers) const {
  auto state = state_;
  if (path.empty() || path.front() != '/')
    co_return Error(ee::errc::invalid_value, "path must start with '/', got '" + path + "'");
  TimePoint verified_at;
  {
    std::lock_guard lock(state->mutex);
    verified_at = state->verified_at;
  }
  if (state->now() - verified_at > state->options.max_evidence_age) {
    auto again = co_await reverify();
    if (!again) co_return again.error();
  }
  http::Request out{method, state->endpoint + path, 11};
  for (auto const& [name, value] : headers) out.set(name, value);
  if (!body.empty() && out.find(bhttp::field::content_type) == out.end())
    out.set(bhttp::field::content_type, "application/json");
  out.body() = std::move(body);
  out.prepare_payload();
  auto response = co_await state->options.http->send(std::move(out), state->options.request);
  co_return response;
}

}  // namespace ee::client
