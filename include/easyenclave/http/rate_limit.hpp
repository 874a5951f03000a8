#pragma once
/// @file Per-client request rate limits: who the client is (the socket's peer, or what a trusted
/// proxy says), and a token bucket per client address in a table of bounded size.
#include <easyenclave/error.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/fields.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ee::http {

/// A rate-limit class: every client address gets `burst` requests at once and then `per_minute`
/// requests a minute (a token bucket). `per_minute` 0 means no limit.
struct RateLimit {
  std::size_t per_minute = 0;
  std::size_t burst = 0;  ///< at least 1 when `per_minute` is set
  /// How many client addresses the table tracks. When it is full the least recently seen one
  /// is forgotten (its bucket was most likely full again anyway), so memory stays bounded
  /// however many addresses a client uses.
  std::size_t max_clients = 10'000;
};

/// A set of addresses and prefixes: "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8". IPv4-mapped
/// IPv6 addresses count as the IPv4 address they map. Immutable after `parse`; thread-safe.
class AddressSet {
 public:
  /// @returns core errc::invalid_value naming the entry that is not an address or an
  ///          address/prefix-length. Never throws (except bad_alloc).
  static result<AddressSet> parse(std::vector<std::string> const& entries);

  bool contains(boost::asio::ip::address const& address) const noexcept;
  bool empty() const noexcept { return prefixes_.empty(); }

 private:
  struct Prefix {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};
    unsigned bits = 0;
  };
  std::vector<Prefix> prefixes_;
};

/// `address` with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into the IPv4 address.
boost::asio::ip::address normalized(boost::asio::ip::address const& address) noexcept;

/// The address of the client a request comes from. It is `peer` (the socket's peer address)
/// unless `peer` is in `trusted_proxies`; then it is the single valid address in
/// `CF-Connecting-IP` (what Cloudflare, and so cloudflared, sets), or else the right-most address
/// of `X-Forwarded-For` that is not itself a trusted proxy. A missing or malformed header leaves
/// `peer`. Headers from a peer that is not trusted are ignored, because anyone can send them.
/// Never throws (except bad_alloc).
boost::asio::ip::address client_address(boost::asio::ip::address const& peer,
                                        boost::beast::http::fields const& fields,
                                        AddressSet const& trusted_proxies);

/// Token buckets keyed by client address: an IPv4 address, or the /64 prefix of an IPv6 address
/// (one host usually holds a whole /64, so per-address IPv6 buckets would be free to multiply).
/// Thread-safe. Memory is bounded by `RateLimit::max_clients`.
class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  /// `now` defaults to std::chrono::steady_clock::now. `limit.per_minute` must be positive and
  /// `limit.burst` and `limit.max_clients` at least 1 (the server checks them at start).
  explicit RateLimiter(RateLimit limit, Clock now = {});

  struct Decision {
    bool allowed = true;
    /// When refused: whole seconds until the client's next request would be allowed (>= 1).
    std::chrono::seconds retry_after{0};
  };

  /// Takes one token from `client`'s bucket, creating a full bucket for an address not seen
  /// before (forgetting the least recently seen address when the table is full).
  Decision take(boost::asio::ip::address const& client);

  /// Addresses (or IPv6 /64 prefixes) tracked right now; never more than `max_clients`.
  std::size_t tracked_clients() const;

 private:
  using Key = std::array<std::uint8_t, 9>;  // family, then 4 (IPv4) or 8 (IPv6 /64) bytes
  struct KeyHash {
    std::uint64_t seed;  // random per limiter
    std::size_t operator()(Key const& key) const noexcept;
  };
  static KeyHash random_hash() noexcept;
  struct Bucket {
    Key key{};
    double tokens = 0;
    std::chrono::steady_clock::time_point updated{};
  };

  RateLimit limit_;
  Clock now_;
  double per_second_ = 0;
  mutable std::mutex mutex_;
  std::list<Bucket> recent_;  // most recently seen first
  std::unordered_map<Key, std::list<Bucket>::iterator, KeyHash> index_;
};

}  // namespace ee::http
