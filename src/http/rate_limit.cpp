// Who a request comes from, and how many requests each client may make.
#include <easyenclave/http/rate_limit.hpp>

#include "detail/crypto.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace ee::http {
namespace {

namespace ip = boost::asio::ip;
namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A literal address only: names are not resolved, and a zone id ("fe80::1%eth0") means nothing
// in a header that came over the network.
std::optional<ip::address> parse_address(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 45 || text.find('%') != std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  auto const address = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return normalized(address);
}

}  // namespace

ip::address normalized(ip::address const& address) noexcept {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

// ---- AddressSet ------------------------------------------------------------------------------

result<AddressSet> AddressSet::parse(std::vector<std::string> const& entries) {
  AddressSet out;
  for (auto const& entry : entries) {
    auto const bad = [&entry] {
      return Error(ee::errc::invalid_value,
                   "'" + entry + "' is not an IP address or an address/prefix-length");
    };
    std::string_view text = trim(entry);
    std::optional<unsigned> bits;
    if (auto const slash = text.find('/'); slash != std::string_view::npos) {
      auto const digits = text.substr(slash + 1);
      unsigned value = 0;
      auto const [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return bad();
      bits = value;
      text = text.substr(0, slash);
    }
    auto const address = parse_address(text);
    if (!address) return bad();
    Prefix prefix;
    prefix.v6 = address->is_v6();
    if (prefix.v6) {
      auto const bytes = address->to_v6().to_bytes();
      std::copy(bytes.begin(), bytes.end(), prefix.bytes.begin());
    } else {
      auto const bytes = address->to_v4().to_bytes();
      std::copy(bytes.begin(), bytes.end(), prefix.bytes.begin());
    }
    unsigned const width = prefix.v6 ? 128 : 32;
    prefix.bits = bits.value_or(width);
    if (prefix.bits > width) return bad();
    out.prefixes_.push_back(prefix);
  }
  return out;
}

bool AddressSet::contains(ip::address const& raw) const noexcept {
  auto const address = normalized(raw);
  std::array<std::uint8_t, 16> bytes{};
  if (address.is_v6()) {
    auto const b = address.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    auto const b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  }
  return std::any_of(prefixes_.begin(), prefixes_.end(), [&](Prefix const& p) {
    if (p.v6 != address.is_v6()) return false;
    unsigned const whole = p.bits / 8;
    if (!std::equal(p.bytes.begin(), p.bytes.begin() + whole, bytes.begin())) return false;
    unsigned const rest = p.bits % 8;
    if (rest == 0) return true;
    auto const mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
    return (p.bytes[whole] & mask) == (bytes[whole] & mask);
  });
}

// ---- client_address --------------------------------------------------------------------------

ip::address client_address(ip::address const& raw_peer, bhttp::fields const& fields,
                           AddressSet const& trusted_proxies) {
  auto const peer = normalized(raw_peer);
  if (trusted_proxies.empty() || !trusted_proxies.contains(peer)) return peer;

  // Cloudflare sets CF-Connecting-IP to the address that connected to its edge, replacing any
  // the client sent. Two of them mean someone other than Cloudflare wrote one: trust neither.
  auto const cf = fields.equal_range("CF-Connecting-IP");
  if (cf.first != cf.second && std::next(cf.first) == cf.second) {
    if (auto const address = parse_address(cf.first->value())) return *address;
  }

  // X-Forwarded-For: each proxy appends the address it received the request from, so only the
  // entries added by proxies we trust can be believed; walk from the right and take the first
  // address that is not one of them. The lines of a repeated field are one list, in order.
  std::vector<std::string_view> hops;
  for (auto const& field : fields) {
    if (!boost::beast::iequals(field.name_string(), "X-Forwarded-For")) continue;
    std::string_view list = field.value();
    while (true) {
      auto const comma = list.find(',');
      hops.push_back(list.substr(0, comma));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto const address = parse_address(*it);
    if (!address) return peer;  // a malformed entry: the chain cannot be read further
    if (!trusted_proxies.contains(*address)) return *address;
  }
  return peer;
}

// ---- RateLimiter -----------------------------------------------------------------------------

std::size_t RateLimiter::KeyHash::operator()(Key const& key) const noexcept {
  // The keys are chosen by clients, so the hash is keyed with a secret seed: without it an
  // attacker could pick addresses that all land in one bucket of the table.
  std::array<char, sizeof(seed) + std::tuple_size_v<Key>> material{};
  std::memcpy(material.data(), &seed, sizeof(seed));
  std::memcpy(material.data() + sizeof(seed), key.data(), key.size());
  return std::hash<std::string_view>{}(std::string_view(material.data(), material.size()));
}

RateLimiter::KeyHash RateLimiter::random_hash() noexcept {
  KeyHash hash{0};
  std::array<std::uint8_t, sizeof(hash.seed)> seed{};
  if (detail::random_bytes(std::span<std::uint8_t>(seed))) {
    std::memcpy(&hash.seed, seed.data(), seed.size());
  }
  return hash;
}

RateLimiter::RateLimiter(RateLimit limit, Clock now)
    : limit_(limit),
      now_(now ? std::move(now) : Clock([] { return std::chrono::steady_clock::now(); })),
      per_second_(static_cast<double>(limit.per_minute) / 60.0),
      index_(16, random_hash()) {
  limit_.burst = std::max<std::size_t>(limit_.burst, 1);
  limit_.max_clients = std::max<std::size_t>(limit_.max_clients, 1);
}

RateLimiter::Decision RateLimiter::take(ip::address const& raw) {
  auto const client = normalized(raw);
  Key key{};
  if (client.is_v4()) {
    key[0] = 4;
    auto const bytes = client.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), key.begin() + 1);
  } else {
    key[0] = 6;
    auto const bytes = client.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.begin() + 8, key.begin() + 1);
  }
  auto const now = now_();
  auto const capacity = static_cast<double>(limit_.burst);

  std::lock_guard const lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) {
    if (index_.size() >= limit_.max_clients) {
      index_.erase(recent_.back().key);
      recent_.pop_back();
    }
    recent_.push_front(Bucket{key, capacity, now});
    found = index_.emplace(key, recent_.begin()).first;
  } else {
    recent_.splice(recent_.begin(), recent_, found->second);
  }
  Bucket& bucket = *found->second;
  if (now > bucket.updated) {
    double const elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(capacity, bucket.tokens + elapsed * per_second_);
    bucket.updated = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return {};
  }
  double const wait = per_second_ > 0 ? (1.0 - bucket.tokens) / per_second_ : 3600.0;
  auto const seconds = static_cast<std::int64_t>(std::ceil(std::min(wait, 86'400.0)));
  return Decision{false, std::chrono::seconds(std::max<std::int64_t>(seconds, 1))};
}

std::size_t RateLimiter::tracked_clients() const {
  std::lock_guard const lock(mutex_);
  return index_.size();
}

}  // namespace ee::http
