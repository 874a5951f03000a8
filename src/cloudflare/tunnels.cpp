// The Cloudflare TunnelProvider: one remotely managed tunnel per agent label, its ingress and a
// proxied CNAME, made idempotent by looking every piece up by name before creating it (ensure), or
// by looking it up when a create is refused as a duplicate (ensure_new, cloudflare/fresh.hpp).
//
// Concurrent ensure() calls for the same label would each find nothing and each create a tunnel,
// so calls are serialised per tunnel name by an asynchronous lock (a FIFO of parked coroutines
// per name). The mutex below guards only that map and is never held across a suspension point.
#include <easyenclave/cloudflare/tunnels.hpp>

#include "cloudflare/fresh.hpp"
#include "detail/crypto.hpp"
#include "detail/encoding.hpp"
#include "detail/log.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

namespace ee::cloudflare {
namespace {

namespace asio = boost::asio;
namespace core = ::ee::detail;

constexpr char kComponent[] = "cloudflare";
constexpr std::size_t kMaxLabel = 40;    // label_for's bound; hashed labels end at this length
constexpr std::size_t kHashChars = 8;
constexpr std::size_t kMaxDnsLabel = 63;  // RFC 1035 section 2.3.4
constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxInstanceId = 20;

bool is_label_char(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }
bool is_hex_char(char c) noexcept { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'); }

bool is_dns_label(std::string_view label, std::size_t max) noexcept {
  if (label.empty() || label.size() > max || label.front() == '-' || label.back() == '-') return false;
  for (char c : label)
    if (!is_label_char(c)) return false;
  return true;
}

// Ends in '-' and kHashChars hex digits: the shape of a hashed label. Such a name is hashed too,
// so no vm_name can choose the label another vm_name was hashed to.
bool looks_hashed(std::string_view label) noexcept {
  if (label.size() < kHashChars + 1) return false;
  auto const tail = label.substr(label.size() - kHashChars);
  for (char c : tail)
    if (!is_hex_char(c)) return false;
  return label[label.size() - kHashChars - 1] == '-';
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

result<void> check_settings(Settings const& s) {
  if (!s.configured())
    return Error(errc::not_configured, "Cloudflare tunnels need an API token, account id, zone id and domain");
  if (!is_dns_label(s.instance_id, kMaxInstanceId))
    return Error(errc::not_configured, "instance_id is not 1-20 of [a-z0-9-] without a leading or trailing '-'");
  if (s.origin_service.empty()) return Error(errc::not_configured, "origin_service is empty");
  std::string_view domain = s.domain;
  if (domain.size() > kMaxDnsName - kMaxDnsLabel - 1)
    return Error(errc::not_configured, "domain is too long to hold agent hostnames");
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto const dot = domain.find('.', start);
    auto const piece = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_dns_label(lower(piece), kMaxDnsLabel))
      return Error(errc::not_configured, "domain is not a DNS name (labels of [a-z0-9-] separated by '.')");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

// ---- Per-name asynchronous lock ----------------------------------------------------------------

struct Locks;

// Ownership of one name's lock; releasing hands it to the next parked caller. Destroying a guard
// that was never handed to its coroutine (a posted resumption dropped at io_context shutdown)
// releases too, so one lost caller cannot block the name forever.
class LockGuard {
 public:
  LockGuard(std::shared_ptr<Locks> locks, std::string key) : locks_(std::move(locks)), key_(std::move(key)) {}
  LockGuard(LockGuard&& other) noexcept : locks_(std::move(other.locks_)), key_(std::move(other.key_)) {}
  LockGuard& operator=(LockGuard&&) = delete;
  LockGuard(LockGuard const&) = delete;
  LockGuard& operator=(LockGuard const&) = delete;
  ~LockGuard();

 private:
  std::shared_ptr<Locks> locks_;
  std::string key_;
};

using Waiter = asio::any_completion_handler<void(LockGuard)>;

// A parked caller, with its executor holding outstanding work: the io_context it runs on (a
// block_on's private one, say) must not run out of work while it waits.
struct Parked {
  asio::any_io_executor executor;
  Waiter handler;
};

struct Locks {
  std::mutex mutex;
  std::map<std::string, std::deque<Parked>> held;  // a key is present while its lock is held
};

// Resumes a caller on its own executor, never inline on the releasing thread.
void hand_over(Parked parked, LockGuard guard) {
  auto executor = parked.executor;
  asio::post(executor, [handler = std::move(parked.handler), owned = std::move(guard)]() mutable {
    std::move(handler)(std::move(owned));
  });
}

LockGuard::~LockGuard() {
  if (!locks_) return;
  std::unique_lock lock(locks_->mutex);
  auto const it = locks_->held.find(key_);
  if (it == locks_->held.end()) return;
  if (it->second.empty()) {
    locks_->held.erase(it);
    return;
  }
  Parked next = std::move(it->second.front());
  it->second.pop_front();
  lock.unlock();
  hand_over(std::move(next), LockGuard(std::move(locks_), std::move(key_)));
}

template <class Token>
auto async_lock(std::shared_ptr<Locks> locks, std::string key, asio::any_io_executor executor, Token&& token) {
  return asio::async_initiate<Token, void(LockGuard)>(
      [](auto handler, std::shared_ptr<Locks> state, std::string name, asio::any_io_executor caller) {
        Parked parked{asio::prefer(caller, asio::execution::outstanding_work.tracked), Waiter(std::move(handler))};
        std::unique_lock lock(state->mutex);
        auto [it, inserted] = state->held.try_emplace(name);
        if (!inserted) {
          it->second.push_back(std::move(parked));
          return;
        }
        lock.unlock();  // released between the fast path and here: ours now
        hand_over(std::move(parked), LockGuard(std::move(state), std::move(name)));
      },
      token, std::move(locks), std::move(key), std::move(executor));
}

asio::awaitable<LockGuard> acquire(std::shared_ptr<Locks> locks, std::string key) {
  bool free = false;
  {
    std::lock_guard lock(locks->mutex);
    free = locks->held.try_emplace(key).second;
  }
  if (free) co_return LockGuard(std::move(locks), std::move(key));
  auto executor = co_await asio::this_coro::executor;
  co_return co_await async_lock(std::move(locks), std::move(key), std::move(executor), asio::use_awaitable);
}

// ---- The provider ------------------------------------------------------------------------------

struct State {
  State(std::shared_ptr<http::Client> h, Settings s) : settings(s), http(h), client(std::move(h), std::move(s)) {}
  Settings const settings;
  std::shared_ptr<http::Client> const http;  // the client's, for create_tunnel_with_token
  Client const client;
  std::shared_ptr<Locks> locks = std::make_shared<Locks>();
};

// What one ensure() call created, so a failure can undo exactly that.
struct Created {
  std::string tunnel_id{};
  std::string record_id{};
};

std::string tunnel_name(Settings const& s, std::string_view label) {
  return "ee-" + s.instance_id + "-" + std::string(label);
}

bool same_name(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

// How ensure() goes about each piece: looking before creating (a label that likely exists, as
// an agent's that re-registers), or creating first and looking only when the create is refused
// as a duplicate (a new label: no lookups).
enum class Order { look_first, create_first };

// The tunnel, with its token when the create's answer carried it.
asio::awaitable<result<CreatedTunnel>> find_or_create_tunnel(State const& s, std::string const& name, Order order,
                                                             Created& created) {
  if (order == Order::look_first) {
    auto found = co_await s.client.find_tunnels(name);
    if (!found) co_return found.error();
    if (!found->empty()) {
      core::log::info(kComponent, "reusing tunnel ", name, " id=", found->front().id);
      co_return CreatedTunnel{.info = found->front(), .token = {}};
    }
  }
  auto made = co_await create_tunnel_with_token(*s.http, s.settings, name);
  if (made) {
    created.tunnel_id = made->info.id;
    core::log::info(kComponent, "created tunnel ", name, " id=", made->info.id);
    co_return std::move(*made);
  }
  if (made.error() != errc::record_exists) co_return made.error();
  // It exists: made by another process between our lookup and our create, or before our create
  // when it came first. Use it.
  auto again = co_await s.client.find_tunnels(name);
  if (!again) co_return again.error();
  if (again->empty()) co_return made.error();
  core::log::info(kComponent, "reusing tunnel ", name, " id=", again->front().id,
                  order == Order::look_first ? " (created concurrently)" : "");
  co_return CreatedTunnel{.info = again->front(), .token = {}};
}

// Makes the CNAME `hostname` point at `target`, proxied, reusing or correcting what is there.
asio::awaitable<result<Client::DnsRecord>> settle_cname(State const& s, std::string const& hostname,
                                                        std::string const& target,
                                                        std::vector<Client::DnsRecord> const& existing) {
  for (auto const& record : existing) {
    if (same_name(record.content, target) && record.proxied) {
      core::log::info(kComponent, "reusing CNAME ", hostname, " id=", record.id);
      co_return record;
    }
  }
  auto const& stale = existing.front();
  auto updated = co_await s.client.update_cname(stale.id, hostname, target);
  if (!updated) co_return updated.error();
  core::log::info(kComponent, "updated CNAME ", hostname, " id=", updated->id, " to ", target);
  co_return std::move(*updated);
}

asio::awaitable<result<Client::DnsRecord>> ensure_cname(State const& s, std::string const& hostname,
                                                        std::string const& target, Order order, Created& created) {
  if (order == Order::look_first) {
    auto found = co_await s.client.find_cnames(hostname);
    if (!found) co_return found.error();
    if (!found->empty()) co_return co_await settle_cname(s, hostname, target, *found);
  }
  auto made = co_await s.client.create_cname(hostname, target);
  if (made) {
    created.record_id = made->id;
    core::log::info(kComponent, "created CNAME ", hostname, " id=", made->id, " -> ", target);
    co_return std::move(*made);
  }
  if (made.error() != errc::record_exists) co_return made.error();
  // It exists (created before our create, or between our lookup and it): look and settle on it.
  auto again = co_await s.client.find_cnames(hostname);
  if (!again) co_return again.error();
  if (again->empty()) co_return made.error();  // the conflicting record is not a CNAME
  co_return co_await settle_cname(s, hostname, target, *again);
}

asio::awaitable<result<void>> ensure_steps(State const& s, Tunnel& out, Order order, Created& created) {
  auto tunnel = co_await find_or_create_tunnel(s, out.name, order, created);
  if (!tunnel) co_return tunnel.error();
  out.id = tunnel->info.id;
  if (!tunnel->token.empty()) {
    out.token = std::move(tunnel->token);  // a create's answer carries it
  } else {
    auto token = co_await s.client.tunnel_token(out.id);
    if (!token) co_return token.error();
    out.token = std::move(*token);
  }
  std::vector<Client::IngressRule> rules;
  if (!s.settings.agent_api_service.empty()) {
    rules.push_back({.hostname = out.hostname, .path = s.settings.agent_api_path, .service = s.settings.agent_api_service});
  }
  rules.push_back({.hostname = out.hostname, .path = {}, .service = s.settings.origin_service});
  if (auto ingress = co_await s.client.put_ingress(out.id, std::move(rules)); !ingress) co_return ingress.error();
  auto record = co_await ensure_cname(s, out.hostname, out.id + ".cfargotunnel.com", order, created);
  if (!record) co_return record.error();
  out.dns_record_id = record->id;
  co_return result<void>{};
}

bool gone(result<void> const& r) { return r || r.error() == errc::not_found; }

// Undoes what one ensure() created; failures here are logged, the caller reports the original.
asio::awaitable<void> roll_back(State const& s, Created const& created, std::string const& name) {
  if (!created.record_id.empty()) {
    auto deleted = co_await s.client.delete_dns_record(created.record_id);
    if (gone(deleted)) {
      core::log::info(kComponent, "rolled back CNAME id=", created.record_id);
    } else {
      core::log::warn(kComponent, "could not roll back CNAME id=", created.record_id, ": ",
                      deleted.error().message());
    }
  }
  if (!created.tunnel_id.empty()) {
    auto deleted = co_await s.client.delete_connections(created.tunnel_id);
    if (gone(deleted)) deleted = co_await s.client.delete_tunnel(created.tunnel_id);
    if (gone(deleted)) {
      core::log::info(kComponent, "rolled back tunnel ", name, " id=", created.tunnel_id);
    } else {
      core::log::warn(kComponent, "could not roll back tunnel ", name, " id=", created.tunnel_id, ": ",
                      deleted.error().message());
    }
  }
}

asio::awaitable<result<Tunnel>> ensure_label(std::shared_ptr<State> s, std::string label, Order order) {
  if (auto ok = check_settings(s->settings); !ok) co_return ok.error();
  if (!is_dns_label(label, kMaxDnsLabel))
    co_return Error(errc::invalid_label, "label is not 1-63 of [a-z0-9-] without a leading or trailing '-'");
  Tunnel out;
  out.name = tunnel_name(s->settings, label);
  out.hostname = label + "." + lower(s->settings.domain);
  auto guard = co_await acquire(s->locks, out.name);
  Created created;
  auto done = co_await ensure_steps(*s, out, order, created);
  if (!done) {
    core::log::warn(kComponent, "ensure tunnel ", out.name, " failed: ", done.error().message());
    co_await roll_back(*s, created, out.name);
    co_return done.error();
  }
  co_return out;
}

asio::awaitable<result<void>> remove_tunnel(std::shared_ptr<State> s, Tunnel tunnel) {
  if (auto ok = check_settings(s->settings); !ok) co_return ok.error();
  std::optional<LockGuard> guard;
  if (!tunnel.name.empty()) guard.emplace(co_await acquire(s->locks, tunnel.name));
  if (!tunnel.dns_record_id.empty()) {
    auto deleted = co_await s->client.delete_dns_record(tunnel.dns_record_id);
    if (!gone(deleted)) co_return deleted.error();
    core::log::info(kComponent, "removed CNAME ", tunnel.hostname, " id=", tunnel.dns_record_id,
                    deleted ? "" : " (already gone)");
  }
  if (!tunnel.id.empty()) {
    // Cloudflare refuses to delete a tunnel that still has connections.
    auto connections = co_await s->client.delete_connections(tunnel.id);
    if (!gone(connections)) co_return connections.error();
    auto deleted = co_await s->client.delete_tunnel(tunnel.id);
    if (!gone(deleted)) co_return deleted.error();
    core::log::info(kComponent, "removed tunnel ", tunnel.name, " id=", tunnel.id, deleted ? "" : " (already gone)");
  }
  co_return result<void>{};
}

class CloudflareTunnels final : public TunnelProvider {
 public:
  CloudflareTunnels(std::shared_ptr<http::Client> http, Settings settings)
      : state_(std::make_shared<State>(std::move(http), std::move(settings))) {}

  // Not coroutines themselves: the frames own the shared state, so a call outlives the provider.
  asio::awaitable<result<Tunnel>> ensure(std::string label) override {
    return ensure_label(state_, std::move(label), Order::look_first);
  }
  asio::awaitable<result<Tunnel>> ensure_new(std::string label) {
    return ensure_label(state_, std::move(label), Order::create_first);
  }
  asio::awaitable<result<void>> remove(Tunnel tunnel) override { return remove_tunnel(state_, std::move(tunnel)); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

std::string label_for(std::string_view vm_name) {
  std::string sanitized;
  sanitized.reserve(vm_name.size());
  for (char c : vm_name) {
    char const l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    sanitized.push_back(is_label_char(l) ? l : '-');
  }
  auto const first = sanitized.find_first_not_of('-');
  if (first == std::string::npos) {
    sanitized.clear();
  } else {
    sanitized = sanitized.substr(first, sanitized.find_last_not_of('-') - first + 1);
  }
  if (sanitized == vm_name && !sanitized.empty() && sanitized.size() <= kMaxLabel && !looks_hashed(sanitized))
    return sanitized;
  auto const digest = core::sha256(core::as_bytes(vm_name));
  std::string const suffix = core::hex_encode(std::span(digest).first(kHashChars / 2));
  std::string prefix = sanitized.substr(0, kMaxLabel - kHashChars - 1);
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  // A label of hex digits alone could read as a hashed one; the prefix keeps every hashed label
  // in the "<something>-<8 hex>" shape.
  if (prefix.empty()) prefix = "agent";
  return prefix + "-" + suffix;
}

asio::awaitable<result<Tunnel>> ensure_new(std::shared_ptr<TunnelProvider> provider, std::string label) {
  // The shared pointer is kept for the call: the provider must outlive it.
  if (auto* cloudflare = dynamic_cast<CloudflareTunnels*>(provider.get())) {
    co_return co_await cloudflare->ensure_new(std::move(label));
  }
  co_return co_await provider->ensure(std::move(label));
}

std::shared_ptr<TunnelProvider> make_cloudflare_tunnels(std::shared_ptr<http::Client> http, Settings settings) {
  return std::make_shared<CloudflareTunnels>(std::move(http), std::move(settings));
}

}  // namespace ee::cloudflare
