// bench_auth: what an account API key and a sign-in session cost, beside the physical limit of the
// same machine:
// libargon2's own Argon2id runs per second at the configured cost.
//
// Usage: bench_auth [memory_kib iterations parallelism]   (default: OWASP's minimum 19456 2 1)
//
//   (a) the timing check: one wrong key (a known prefix with a wrong secret), one right key not
//       in the cache and one unknown prefix, each as the library verifies it and as a real
//       control plane answers it over loopback (a CP whose cache of verified keys is off). The
//       three must cost the same order: each is one Argon2id run, so a caller cannot tell from
//       the time whether a prefix exists. The same for a session token (ee_sess_...), which the CP
//       keeps and checks the same way.
//   (b) requests per second to a real control plane on loopback (in process, 16 keep-alive
//       connections, one client thread): GET /api/v1/accounts/{id} with the account's API key
//       (cached after its first use) and with the admin token (the same handler and store read,
//       no Argon2id), with an admin password session's token (cached after its first use, the same
//       route), beside anonymous GET /api/v1/health. This is what chose Argon2id plus the cache for
//       sessions over an HMAC-keyed hash: after its first use a session costs what an HMAC would.
//   (c) the limit: libargon2's argon2id_hash_raw at the same cost, hashes per second, one thread.
#include <easyenclave/cp/control_plane.hpp>
#include <easyenclave/http/router.hpp>

#include "cp/secrets.hpp"
#include "support.hpp"

#include <argon2.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace bj = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kConnections = 16;
constexpr auto kLoadTime = std::chrono::milliseconds(3000);
constexpr int kTimingRounds = 30;  // of each kind in (a), interleaved
constexpr char kAdminToken[] = "bench-admin-token";
constexpr char kAdminPassword[] = "bench admin password";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double mean(std::vector<double> const& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

// --- a blocking client for single requests --------------------------------------------------

class Client {
 public:
  explicit Client(tcp::endpoint endpoint) : socket_(ioc_) {
    socket_.connect(endpoint);
    socket_.set_option(tcp::no_delay(true));
  }
  bhttp::response<bhttp::string_body> send(bhttp::verb method, std::string const& target, std::string const& bearer,
                                           std::string body = "") {
    bhttp::request<bhttp::string_body> request{method, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + bearer);
    if (!body.empty()) request.set(bhttp::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    bhttp::write(socket_, request);
    bhttp::response<bhttp::string_body> response;
    bhttp::read(socket_, buffer_, response);
    return response;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// --- keep-alive load ------------------------------------------------------------------------------

ee::bench::KeepAliveLoad run_load(tcp::endpoint endpoint, std::string const& target, std::string const& bearer) {
  std::string const header = bearer.empty() ? std::string() : "Authorization: Bearer " + bearer + "\r\n";
  return ee::bench::keep_alive_load(endpoint, ee::bench::get_request(target, header),
                                    {.connections = kConnections,
                                     .max_requests = std::numeric_limits<std::size_t>::max(),
                                     .max_time = kLoadTime,
                                     .latencies = false});
}

double print_load(char const* name, ee::bench::KeepAliveLoad const& load) {
  double const rps = static_cast<double>(load.requests) / load.seconds;
  std::printf("  %-52s %9.0f req/s  (%zu in %.2f s, failures %zu)\n", name, rps, load.requests, load.seconds,
              load.failures);
  if (load.failures != 0) {
    std::fprintf(stderr, "  first failure: %s\n", load.first_failure.c_str());
    std::exit(1);
  }
  return rps;
}

// --- a control plane on loopback -----------------------------------------------------------------

std::unique_ptr<ee::cp::ControlPlane> start_cp(ee::cp::Argon2Params const& params, std::size_t cache) {
  ee::cp::Options o;
  o.dev = true;
  o.background_tasks = false;
  o.console = false;
  o.admin_token = kAdminToken;
  o.server.host = "127.0.0.1";
  o.server.port = 0;
  o.server.threads = 1;
  o.server.rate_limits["anonymous"].per_minute = 0;
  o.server.rate_limits["account_creation"].per_minute = 0;
  o.server.rate_limits["sign_in"].per_minute = 0;
  o.logins.admin_password_hash = ee::cp::hash_secret(kAdminPassword, params).value();
  o.accounts.argon2_memory_kib = params.memory_kib;
  o.accounts.argon2_iterations = params.iterations;
  o.accounts.argon2_parallelism = params.parallelism;
  o.accounts.verified_key_cache = cache;
  auto cp = ee::cp::ControlPlane::start(std::move(o));
  if (!cp) {
    std::fprintf(stderr, "control plane start failed: %s\n", cp.error().message().c_str());
    std::exit(1);
  }
  return std::move(*cp);
}

struct Created {
  std::string id;
  std::string key;
};

Created create_account(Client& client, std::string const& name) {
  auto r = client.send(bhttp::verb::post, "/api/v1/accounts", "", R"({"name":")" + name + R"("})");
  if (r.result() != bhttp::status::created) {
    std::fprintf(stderr, "account creation failed: %d %s\n", r.result_int(), r.body().c_str());
    std::exit(1);
  }
  auto const b = bj::parse(r.body());
  return {std::string(b.at("id").as_string()), std::string(b.at("api_key").as_string())};
}

// A password session's token.
std::string sign_in(Client& client) {
  auto r = client.send(bhttp::verb::post, "/admin/login", "", std::string(R"({"password":")") + kAdminPassword + "\"}");
  if (r.result() != bhttp::status::ok) {
    std::fprintf(stderr, "sign-in failed: %d %s\n", r.result_int(), r.body().c_str());
    std::exit(1);
  }
  return std::string(bj::parse(r.body()).at("token").as_string());
}

std::string with_other_secret(std::string const& key) {
  std::string out = key.substr(0, ee::cp::kLookupPrefixLength);
  while (out.size() < key.size()) out.push_back(key[out.size()] == 'x' ? 'y' : 'x');
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  ee::cp::Argon2Params params;
  if (argc == 4) {
    params.memory_kib = static_cast<std::uint32_t>(std::strtoul(argv[1], nullptr, 10));
    params.iterations = static_cast<std::uint32_t>(std::strtoul(argv[2], nullptr, 10));
    params.parallelism = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
  }
  std::printf("bench_auth: Argon2id m=%u KiB t=%u p=%u; hardware threads: %u\n", params.memory_kib, params.iterations,
              params.parallelism, std::thread::hardware_concurrency());

  // (c) the limit first: libargon2 alone.
  std::printf("(c) the limit\n");
  std::array<std::uint8_t, 16> salt{};
  std::array<std::uint8_t, 32> tag{};
  std::string const pwd = ee::cp::new_secret("ee_live_");
  std::vector<double> raw_ms;
  auto const raw_start = Clock::now();
  while (seconds_since(raw_start) < 3.0 || raw_ms.size() < 10) {
    auto const t = Clock::now();
    if (argon2id_hash_raw(params.iterations, params.memory_kib, params.parallelism, pwd.data(), pwd.size(),
                          salt.data(), salt.size(), tag.data(), tag.size()) != ARGON2_OK) {
      std::fprintf(stderr, "argon2id_hash_raw failed\n");
      return 1;
    }
    raw_ms.push_back(seconds_since(t) * 1e3);
  }
  double const limit = 1e3 / mean(raw_ms);
  std::printf("  %-52s %9.1f /s  (median %.2f ms, %zu runs)\n", "argon2id_hash_raw, one thread", limit, median(raw_ms),
              raw_ms.size());

  // (a) the timing check in the library: three ways a key fails or is checked the first time.
  std::printf("(a) the timing check: ms per check, median (mean) of %d each, interleaved\n", kTimingRounds);
  auto const right = ee::cp::new_secret("ee_live_");
  auto const encoded = ee::cp::hash_secret(right, params);
  if (!encoded) {
    std::fprintf(stderr, "hash_secret failed: %s\n", encoded.error().message().c_str());
    return 1;
  }
  auto const wrong = with_other_secret(right);
  std::vector<double> lib_right, lib_wrong, lib_unknown;
  for (int i = 0; i < kTimingRounds; ++i) {
    ee::cp::VerifiedSecrets uncached(0);
    auto t = Clock::now();
    if (!uncached.verify(right, *encoded)) return 1;
    lib_right.push_back(seconds_since(t) * 1e3);
    t = Clock::now();
    if (uncached.verify(wrong, *encoded)) return 1;
    lib_wrong.push_back(seconds_since(t) * 1e3);
    t = Clock::now();
    ee::cp::verify_nothing(params);
    lib_unknown.push_back(seconds_since(t) * 1e3);
  }
  std::printf("  library   right key, uncached %7.2f (%6.2f)   wrong secret %7.2f (%6.2f)   unknown prefix %7.2f (%6.2f)\n",
              median(lib_right), mean(lib_right), median(lib_wrong), mean(lib_wrong), median(lib_unknown),
              mean(lib_unknown));

  // ... and over HTTP, against a CP that caches nothing, one request at a time.
  {
    auto cp = start_cp(params, 0);
    Client client(cp->endpoint());
    auto const account = create_account(client, "timing");
    auto const target = "/api/v1/accounts/" + account.id;
    auto const wrong_key = with_other_secret(account.key);
    auto const unknown_key = "ee_live_" + std::string(32, 'Z');
    std::vector<double> http_right, http_wrong, http_unknown;
    for (int i = 0; i < kTimingRounds; ++i) {
      for (auto [key, out, want] : {std::tuple{&account.key, &http_right, 200}, {&wrong_key, &http_wrong, 401},
                                    {&unknown_key, &http_unknown, 401}}) {
        auto const t = Clock::now();
        auto r = client.send(bhttp::verb::get, target, *key);
        out->push_back(seconds_since(t) * 1e3);
        if (r.result_int() != static_cast<unsigned>(want)) {
          std::fprintf(stderr, "unexpected %d: %s\n", r.result_int(), r.body().c_str());
          return 1;
        }
      }
    }
    std::printf("  over HTTP right key, uncached %7.2f (%6.2f)   wrong secret %7.2f (%6.2f)   unknown prefix %7.2f (%6.2f)\n",
                median(http_right), mean(http_right), median(http_wrong), mean(http_wrong), median(http_unknown),
                mean(http_unknown));
    auto const session = sign_in(client);
    auto const wrong_session = with_other_secret(session);
    auto const unknown_session = "ee_sess_" + std::string(32, 'Z');
    std::vector<double> s_right, s_wrong, s_unknown;
    for (int i = 0; i < kTimingRounds; ++i) {
      for (auto [token, out, want] : {std::tuple{&session, &s_right, 200}, {&wrong_session, &s_wrong, 401},
                                      {&unknown_session, &s_unknown, 401}}) {
        auto const t = Clock::now();
        auto r = client.send(bhttp::verb::get, "/auth/me", *token);
        out->push_back(seconds_since(t) * 1e3);
        if (r.result_int() != static_cast<unsigned>(want)) {
          std::fprintf(stderr, "unexpected %d: %s\n", r.result_int(), r.body().c_str());
          return 1;
        }
      }
    }
    std::printf("  session   right, uncached     %7.2f (%6.2f)   wrong secret %7.2f (%6.2f)   unknown prefix %7.2f (%6.2f)\n",
                median(s_right), mean(s_right), median(s_wrong), mean(s_wrong), median(s_unknown), mean(s_unknown));
    cp->stop();
  }

  // (b) throughput with the cache on.
  std::printf("(b) requests per second, %d keep-alive connections, one client thread, %.0f s each\n", kConnections,
              std::chrono::duration<double>(kLoadTime).count());
  auto cp = start_cp(params, 10'000);
  Client client(cp->endpoint());
  auto const account = create_account(client, "load");
  auto const target = "/api/v1/accounts/" + account.id;
  if (client.send(bhttp::verb::get, target, account.key).result() != bhttp::status::ok) return 1;  // now cached
  auto const session = sign_in(client);
  if (client.send(bhttp::verb::get, target, session).result() != bhttp::status::ok) return 1;  // now cached
  double const anonymous = print_load("anonymous GET /api/v1/health", run_load(cp->endpoint(), "/api/v1/health", ""));
  double const admin = print_load("admin token GET /api/v1/accounts/{id}", run_load(cp->endpoint(), target, kAdminToken));
  double const keyed = print_load("API key (cached) GET /api/v1/accounts/{id}", run_load(cp->endpoint(), target, account.key));
  double const by_session = print_load("session (cached) GET /api/v1/accounts/{id}", run_load(cp->endpoint(), target, session));
  std::printf("  API key / anonymous: %.2f   API key / admin token: %.2f   API key / Argon2id limit: %.0fx\n",
              keyed / anonymous, keyed / admin, keyed / limit);
  std::printf("  session / anonymous: %.2f   session / admin token: %.2f   session / Argon2id limit: %.0fx\n",
              by_session / anonymous, by_session / admin, by_session / limit);
  cp->stop();
  return 0;
}
