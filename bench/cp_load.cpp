// Load on the real ee-cp program over loopback:
//   1. registrations per second: challenge, simulator quote bound to nonce and key, register
//      (full local DCAP verification, SQLite write, a tunnel from the Cloudflare stand-in);
//   2. heartbeats per second: signature check and one store update each;
//   3. GET /api/v1/agents: with 1,000 agents, requests/s at 64 keep-alive connections and ee-cp's
//      CPU per request, beside its limit measured in the same run (GET /health at 64 connections,
//      the server's cost of a request with a cached answer, and a memcpy of the listing's body);
//      with 10,000 and 100,000 agents, the first listing after a start (read from the store) and
//      the median of the next (from the listing's snapshot), and ee-cp's resident memory (now and
//      its peak) at 100,000 (SQLite only).
//   routes (first): ee-cp's CPU per request of GET /health and GET /api/v1/agents/challenge under
//      keep-alive load, beside their targets and an in-process trivial route (routes_phase).
// With --postgres the registry is a PostgreSQL server the benchmark starts itself (Debian's, as
// the tests do), and --replicas N runs N ee-cp processes on it sharing one signing key: each
// registration takes its challenge from one replica and registers at the next, each heartbeat
// goes to the next replica in turn. The CPU per operation is then the sum over the replicas, and
// the database's (every process named postgres, with the children it reaped) is printed beside.
// Each figure is printed beside the physical limit measured in the same run: OpenSSL's ECDSA
// P-256 verifications per second of CPU time on this machine (a registration needs at least two — the quote
// and the QE report — and a heartbeat one).
//
// usage: bench_cp_load [--agents N] [--clients C] [--heartbeats N] [--skip-list]
//                      [--postgres [--replicas N]] [--route-requests N (default 20000, 0: skip)]
#include "bench/programs.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/http/router.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/registry/sqlite.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include "bench/support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <time.h>
#include <unistd.h>

namespace {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

struct Settings {
  int agents = 400;
  int clients = 16;
  int heartbeats = 4000;
  bool list = true;
  bool postgres = false;
  int replicas = 1;
  int route_requests = 20'000;  // per route in the routes phase; 0 skips it
};

ee::http::Response send(ee::http::Client& client, ee::http::Request request, ee::http::RequestOptions options = {}) {
  auto r = ee::block_on(client.send(std::move(request), options));
  if (!r) {
    std::fprintf(stderr, "request failed: %s\n", r.error().message().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

ee::http::Request json_request(bhttp::verb method, std::string url, std::string body) {
  ee::http::Request request{method, std::move(url), 11};
  request.set(bhttp::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

// Runs `op(i)` for i in [0, n) on `clients` threads; returns operations per second.
double run_concurrently(int n, int clients, std::function<void(int)> const& op) {
  std::atomic<int> next{0};
  auto const start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (int i = next++; i < n; i = next++) op(i);
    });
  }
  for (auto& t : threads) t.join();
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

// User plus system CPU seconds the process has used (/proc/PID/stat fields 14 and 15).
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto const after_name = stat.rfind(')');  // the command name may hold spaces
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(stat.substr(after_name + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This thread's CPU time in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ECDSA verifications per second of this thread's CPU time (about one CPU-second's worth);
// aborts on a verification that fails.
double ecdsa_per_cpu_second(std::function<bool()> const& verify) {
  double const start = thread_cpu_seconds();
  long done = 0;
  double used = 0;
  while (used < 1.0) {
    for (int i = 0; i < 100; ++i) {
      if (!verify()) {
        std::fprintf(stderr, "ECDSA limit: a verification failed\n");
        std::exit(1);
      }
    }
    done += 100;
    used = thread_cpu_seconds() - start;
  }
  double const per_second = static_cast<double>(done) / used;
  std::printf("  %-46s %10.0f /s  %8.1f us\n", "OpenSSL ECDSA P-256 verify (per CPU-second)", per_second,
              1e6 / per_second);
  return per_second;
}

// CPU seconds of every process named postgres (a server and its backends), with what the
// server reaped of backends that ended (fields 16 and 17): the database's share of a phase.
double postgres_cpu_seconds() {
  double total = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    auto const name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::ifstream comm(it->path() / "comm");
    std::string command;
    std::getline(comm, command);
    if (command != "postgres") continue;
    std::ifstream in(it->path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto const after_name = stat.rfind(')');
    if (after_name == std::string::npos) continue;
    std::istringstream fields(stat.substr(after_name + 2));
    std::string field;
    for (int i = 3; i <= 17 && fields >> field; ++i) {
      if (i >= 14) total += std::stod(field);
    }
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The figures of one phase: the rate the clients saw, and what each operation cost ee-cp in CPU.
// Clients and server share this machine's cores, so the CPU cost is the fairer comparison with
// the limit, which is measured on one core.
void report(char const* what, double rate, double cp_cpu, int ops, double limit, char const* limit_what) {
  double const cpu_us = cp_cpu * 1e6 / ops;
  std::printf("  %-40s %8.0f /s   ee-cp CPU %7.1f us/op = %6.0f /core-s   limit %6.0f /s (%s), ratio %.2f\n",
              what, rate, cpu_us, 1e6 / cpu_us, limit, limit_what, (1e6 / cpu_us) / limit);
}

// --- the listing phase -------------------------------------------------------------------------

// VmHWM of `pid` in KiB: its peak resident memory.
long peak_resident_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// How many agent objects a listing's body holds (each starts with its "agent_id" member).
std::size_t agents_in(std::string_view body) {
  constexpr std::string_view kStart = "{\"agent_id\":";
  std::size_t n = 0;
  for (auto at = body.find(kStart); at != body.npos; at = body.find(kStart, at + 1)) ++n;
  return n;
}

// One keep-alive connection's requests: GETs `target` from `url` ("http://host:port") while
// `next` < `n`, each answer checked (200, and `expected_agents` agents when that is not
// negative). A plain Beast client: the figure is the server's, so the client must cost little.
void get_repeatedly(std::string const& url, std::string const& target, int n, long expected_agents,
                    std::atomic<int>& next, std::atomic<bool>& wrong) {
  namespace asio = boost::asio;
  auto const authority = url.substr(url.find("://") + 3);
  auto const colon = authority.rfind(':');
  try {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    asio::ip::tcp::resolver resolver(io);
    asio::connect(socket, resolver.resolve(authority.substr(0, colon), authority.substr(colon + 1)));
    boost::beast::flat_buffer buffer;
    bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target, 11};
    request.set(bhttp::field::host, authority);
    for (int i = next++; i < n && !wrong; i = next++) {
      bhttp::write(socket, request);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(std::size_t{1} << 28);
      bhttp::read(socket, buffer, parser);
      auto const& response = parser.get();
      if (response.result() != bhttp::status::ok ||
          (expected_agents >= 0 && agents_in(response.body()) != static_cast<std::size_t>(expected_agents))) {
        wrong = true;
      }
    }
  } catch (std::exception const& e) {
    std::fprintf(stderr, "GET %s: %s\n", target.c_str(), e.what());
    wrong = true;
  }
}

// One GET of `target` from `url` on a new connection, with the plain Beast client (the listing's
// latency: ee::http's client takes seconds to read 62 MB on a loaded machine).
bhttp::response<bhttp::string_body> get_once(std::string const& url, std::string const& target) {
  namespace asio = boost::asio;
  auto const authority = url.substr(url.find("://") + 3);
  auto const colon = authority.rfind(':');
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  asio::connect(socket, resolver.resolve(authority.substr(0, colon), authority.substr(colon + 1)));
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target, 11};
  request.set(bhttp::field::host, authority);
  bhttp::write(socket, request);
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::size_t{1} << 30);
  bhttp::read(socket, buffer, parser);
  return parser.release();
}

// GETs `target` `n` times over `connections` keep-alive connections; requests per second. Exits
// on a wrong answer: a rate of wrong answers is worthless.
double get_concurrently(std::string const& url, std::string const& target, int n, int connections,
                        long expected_agents) {
  std::atomic<int> next{0};
  std::atomic<bool> wrong{false};
  auto const start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] { get_repeatedly(url, target, n, expected_agents, next, wrong); });
  }
  for (auto& t : threads) t.join();
  if (wrong) {
    std::fprintf(stderr, "GET %s: a wrong or failed answer\n", target.c_str());
    std::exit(1);
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

// Requests/s of the 1 000-agent listing at 64 connections and what each costs ee-cp, beside the
// limit measured now: the same server answering GET /health (its counts cached: the cost of the
// HTTP exchange itself) and a memcpy of the listing's body (what answering from a copy kept in
// memory needs at least).
void listing_throughput(std::string const& url, int agents, int pid, int connections) {
  constexpr int kListings = 3000;
  constexpr int kHealthChecks = 20000;
  auto const list_url = url + "/api/v1/agents";
  get_concurrently(url, "/api/v1/agents", 2 * connections, connections, agents);  // warm
  double const cpu_before_list = cpu_seconds(pid);
  double const listings = get_concurrently(url, "/api/v1/agents", kListings, connections, agents);
  double const list_cpu_us = (cpu_seconds(pid) - cpu_before_list) * 1e6 / kListings;
  double const cpu_before_health = cpu_seconds(pid);
  double const health = get_concurrently(url, "/health", kHealthChecks, connections, -1);
  double const health_cpu_us = (cpu_seconds(pid) - cpu_before_health) * 1e6 / kHealthChecks;

  auto client = ee::http::make_https_client().value();
  auto const body = send(*client, json_request(bhttp::verb::get, list_url, "")).body();
  std::string copy(body.size(), ' ');
  double const copies = ee::bench::rate("memcpy of the listing's body", [&] {
    std::memcpy(copy.data(), body.data(), body.size());
    return copy.back() == ']';
  }, {.seconds = 0.5, .max_iterations = 200'000, .batch = 16});
  std::printf("  GET /api/v1/agents, %5d agents, %d conns %8.0f /s   ee-cp CPU %7.1f us/req, %.0f%% of 2 cores "
              "(%zu bytes)\n",
              agents, connections, listings, list_cpu_us, listings * list_cpu_us / 1e4 / 2, body.size());
  std::printf("  GET /health, %d conns (limit)          %8.0f /s   ee-cp CPU %7.1f us/req\n", connections, health,
              health_cpu_us);
  std::printf("  limit per listing: /health's CPU + the memcpy = %.1f us; ratio %.2f\n", health_cpu_us + 1e6 / copies,
              (health_cpu_us + 1e6 / copies) / list_cpu_us);
}

void seed_agents(std::filesystem::path const& db, int from, int to) {
  auto stores = ee::registry::open_sqlite_stores(db).value();
  auto const now = std::chrono::system_clock::now();
  for (int i = from; i < to; ++i) {
    ee::registry::AgentRecord a;
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
    a.id = id;
    a.vm_name = "seeded-" + std::to_string(i);
    a.owner = "github:org/octo-org";
    a.node_size = "tiny";
    a.datacenter = "gcp:us-central1-a";
    a.attestation.mrtd = std::string(96, 'a');
    a.attestation.tcb_status = "UpToDate";
    a.attestation.appraised_by = "local_dcap";
    a.attestation.appraised_at = now;
    a.registered_at = a.last_registered_at = a.last_heartbeat_at = now;
    if (!a.id.empty() && !stores.agents->insert(a)) {
      std::fprintf(stderr, "seeding agent %d failed\n", i);
      std::exit(1);
    }
  }
}

// --- routes: GET /health and the challenge, ee-cp's CPU per request --------------------------------

// CPU seconds of this whole process (the calling thread's alone: thread_cpu_seconds above).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

boost::asio::ip::tcp::endpoint endpoint_of(std::string const& url) {
  auto const colon = url.rfind(':');
  auto const port = static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

// `requests` keep-alive requests of `target` over `connections` connections (one client thread);
// exits on any failure. Returns requests per second.
double drive(boost::asio::ip::tcp::endpoint endpoint, std::string const& target, int requests, int connections,
             std::string_view must_contain) {
  auto load = ee::bench::keep_alive_load(
      endpoint, ee::bench::get_request(target),
      {.connections = connections, .max_requests = static_cast<std::size_t>(requests),
       .max_time = std::chrono::milliseconds(120'000), .latencies = false},
      [must_contain](ee::bench::KeepAliveResponse const& r) {
        return r.result() == bhttp::status::ok && r.body().find(must_contain) != std::string::npos;
      });
  if (load.failures != 0 || load.requests != static_cast<std::size_t>(requests)) {
    std::fprintf(stderr, "%s: %zu of %d answered; %s\n", target.c_str(), load.requests, requests,
                 load.first_failure.c_str());
    std::exit(1);
  }
  return static_cast<double>(load.requests) / load.seconds;
}

// What the two routes every monitor and every agent call anonymously cost ee-cp: `requests`
// keep-alive requests of each against an ee-cp of its own (two io threads, as the other phases
// run it), whose CPU time (/proc/PID/stat) is divided by the requests. The anonymous rate limit is
// on, at a rate this load never reaches, so its per-request check is counted as in production.
// Beside each: the targets of issue 20 (the Rust control plane took 12 and 13 us), and the same
// load's CPU per request in an ee::http::Server in this process (two io threads) answering a small
// JSON from a trivial route, which is what the HTTP layer alone costs: the process's CPU minus
// the client thread's.
void routes_phase(int requests, int connections, std::filesystem::path const& dir, std::filesystem::path const& sim_dir) {
  std::printf("\nroutes: %d keep-alive requests each over %d connections (one client thread)\n", requests, connections);
  ee::http::Router router;
  router.get("/json", [](ee::http::RequestContext&) -> boost::asio::awaitable<ee::result<ee::http::Response>> {
    co_return ee::http::json_response(bhttp::status::ok, R"({"ok":true,"n":42})");
  });
  auto trivial = ee::http::Server::start(std::move(router), {.host = "127.0.0.1", .port = 0, .threads = 2}).value();
  auto const process_before = process_cpu_seconds();
  auto const client_before = thread_cpu_seconds();
  double const trivial_rate = drive(trivial->endpoint(), "/json", requests, connections, "\"ok\"");
  double const trivial_us =
      ((process_cpu_seconds() - process_before) - (thread_cpu_seconds() - client_before)) * 1e6 / requests;
  trivial->stop();
  std::printf("  %-30s %8.0f /s   server CPU %5.1f us/req (the limit: the HTTP layer alone)\n",
              "trivial route, in process", trivial_rate, trivial_us);

  ee::test::Process cp({ee::test::program("ee-cp").string(), "--listen", "127.0.0.1:0", "--dev", "--db",
                        (dir / "routes.db").string(), "--signing-key", (dir / "routes-signing-key.pem").string(),
                        "--simulator-dir", sim_dir.string(), "--appraisal", "local", "--log-level", "warn",
                        "--health-scrape-interval", "0", "--threads", "2", "--rate-limit-anonymous-per-minute",
                        "1000000", "--rate-limit-anonymous-burst", "1000000"});
  auto const endpoint = endpoint_of(ee::bench::url_or_exit(cp, "ee-cp"));
  struct Row {
    char const* target;
    char const* must_contain;
    double target_us;
    double rust_us;
  };
  for (auto const& row : {Row{"/health", "\"status\":\"ok\"", 8, 12},
                          Row{"/api/v1/agents/challenge", "\"nonce\"", 9, 13}}) {
    drive(endpoint, row.target, 200, connections, row.must_contain);  // warm up
    double const before = cpu_seconds(cp.pid());
    double const rate = drive(endpoint, row.target, requests, connections, row.must_contain);
    double const us = (cpu_seconds(cp.pid()) - before) * 1e6 / requests;
    std::printf("  GET %-26s %8.0f /s   ee-cp CPU %5.1f us/req   target %2.0f us (%s, Rust CP %2.0f us)   "
                "%.1fx the trivial route\n",
                row.target, rate, us, row.target_us, us <= row.target_us ? "met" : "NOT met", row.rust_us,
                us / trivial_us);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    std::string const flag = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (flag == "--agents") settings.agents = next();
    else if (flag == "--clients") settings.clients = next();
    else if (flag == "--heartbeats") settings.heartbeats = next();
    else if (flag == "--skip-list") settings.list = false;
    else if (flag == "--postgres") settings.postgres = true;
    else if (flag == "--replicas") settings.replicas = std::max(1, next());
    else if (flag == "--route-requests") settings.route_requests = std::max(0, next());
    else {
      std::fprintf(stderr,
                   "usage: bench_cp_load [--agents N] [--clients C] [--heartbeats N] [--skip-list] "
                   "[--postgres [--replicas N]] [--route-requests N]\n");
      return 2;
    }
  }
  if (settings.replicas > 1 && !settings.postgres) {
    std::fprintf(stderr, "--replicas needs --postgres: replicas share a PostgreSQL database\n");
    return 2;
  }
  if (settings.postgres) settings.list = false;  // the listing phase seeds SQLite directly

  // The limit: ECDSA P-256 verifications per second through OpenSSL on this machine, now.
  auto key = ee::api::SigningKey::generate().value();
  std::string const message(600, 'q');
  auto const bytes = std::span(reinterpret_cast<std::uint8_t const*>(message.data()), message.size());
  auto const signature = key.sign(bytes).value();
  std::printf("limit\n");
  auto const verify_once = [&] { return key.public_key().verify(bytes, signature); };
  (void)ee::bench::rate("OpenSSL ECDSA P-256 verify (wall clock)", verify_once);
  // The ratios compare CPU with CPU: ee-cp's figures are per second of its CPU time, so the limit
  // is verifications per second of this thread's CPU time. On an idle machine the two agree; on a
  // loaded one the wall-clock rate counts the time other processes had the core.
  double const ecdsa = ecdsa_per_cpu_second(verify_once);

  ee::test::TempDir dir;
  auto const sim_dir = dir.path() / "simulator";
  auto simulator = ee::tdx::Simulator::load_or_create(sim_dir).value();
  auto const db = dir.path() / "cp.db";
  std::unique_ptr<ee::test::PostgresServer> postgres;
  std::string db_arg = db.string();
  if (settings.postgres) {
    std::string why;
    postgres = ee::test::PostgresServer::start(why);
    if (!postgres || !postgres->create_database("bench", why)) {
      std::fprintf(stderr, "PostgreSQL: %s\n", why.c_str());
      return 2;
    }
    db_arg = postgres->url("bench");
  }
  auto const signing_key = dir.path() / "cp-signing-key.pem";
  if (settings.route_requests > 0) routes_phase(settings.route_requests, settings.clients, dir.path(), sim_dir);

  ee::test::Process cloudflare({ee::test::program("ee-fake-cloudflare").string(), "--port", "0", "--api-token",
                               "bench-token", "--account-id", "bench-account", "--zone-id", "bench-zone"});
  auto const cf_url = ee::bench::url_or_exit(cloudflare, "ee-fake-cloudflare");
  auto start_cp = [&] {
    return std::make_unique<ee::test::Process>(std::vector<std::string>{
        ee::test::program("ee-cp").string(), "--listen", "127.0.0.1:0", "--dev", "--db", db_arg,
        "--signing-key", signing_key.string(),
        "--simulator-dir", sim_dir.string(), "--appraisal", "local", "--log-level", "warn",
        "--health-scrape-interval", "0", "--threads", "2", "--cf-api-base", cf_url, "--cf-api-token",
        "bench-token", "--cf-account-id", "bench-account", "--cf-zone-id", "bench-zone",
        "--domain", "agents.example.com",
        // Every client of the benchmark is 127.0.0.1, where a real network's agents come from as
        // many addresses: the per-address limit of anonymous routes (challenges) would measure
        // itself.
        "--rate-limit-anonymous-per-minute", "0"});
  };
  // One at a time: the first creates the shared signing key file the others read.
  std::vector<std::unique_ptr<ee::test::Process>> replicas;
  std::vector<std::string> urls;
  for (int r = 0; r < settings.replicas; ++r) {
    replicas.push_back(start_cp());
    urls.push_back(ee::bench::url_or_exit(*replicas.back(), "ee-cp"));
  }
  auto& cp = replicas.front();
  auto const replica_url = [&urls](int i) { return urls[static_cast<std::size_t>(i) % urls.size()]; };
  auto const cp_cpu = [&replicas] {
    double total = 0;
    for (auto const& r : replicas) total += cpu_seconds(r->pid());
    return total;
  };
  auto const db_cpu = [&settings] { return settings.postgres ? postgres_cpu_seconds() : 0.0; };
  auto const report_db = [&settings](double seconds, int ops) {
    if (settings.postgres) std::printf("  %-40s %8s     database CPU %7.1f us/op\n", "", "", seconds * 1e6 / ops);
  };
  auto client = ee::http::make_https_client().value();

  // 1. registrations
  std::vector<ee::api::SigningKey> keys;
  std::vector<std::string> ids(static_cast<std::size_t>(settings.agents));
  for (int i = 0; i < settings.agents; ++i) keys.push_back(ee::api::SigningKey::generate().value());
  std::printf("\nee-cp x%d on %s, %d clients\n", settings.replicas, settings.postgres ? "PostgreSQL" : "SQLite",
              settings.clients);
  double const cpu_before_registrations = cp_cpu();
  double const db_before_registrations = db_cpu();
  double const registrations = run_concurrently(settings.agents, settings.clients, [&](int i) {
    auto const idx = static_cast<std::size_t>(i);
    auto challenge = send(*client, json_request(bhttp::verb::get, replica_url(i) + "/api/v1/agents/challenge", ""));
    auto nonce = ee::api::parse_challenge(challenge.body()).value().nonce;
    ee::tdx::ReportData rd{};
    auto nonce_bytes = ee::hex_decode(nonce).value();
    std::copy(nonce_bytes.begin(), nonce_bytes.end(), rd.begin());
    auto digest = keys[idx].public_key().sha256();
    std::copy(digest.begin(), digest.end(), rd.begin() + 32);
    ee::api::RegisterRequest r;
    r.vm_name = "bench-" + std::to_string(i);
    r.owner = "github:org/octo-org";
    r.node_size = "tiny";
    r.datacenter = "gcp:us-central1-a";
    r.nonce = nonce;
    r.public_key = keys[idx].public_key().base64();
    r.quote_b64 = ee::base64_encode(simulator->quote(rd).value());
    auto response =
        send(*client, json_request(bhttp::verb::post, replica_url(i + 1) + "/api/v1/agents/register", ee::api::to_json(r)));
    if (response.result() != bhttp::status::ok) {
      std::fprintf(stderr, "register: %s\n", response.body().c_str());
      std::exit(1);
    }
    ids[idx] = ee::api::parse_register_response(response.body()).value().agent_id;
  });
  report(settings.postgres ? "registrations (DCAP + PostgreSQL + tunnel)" : "registrations (DCAP + SQLite + tunnel)",
         registrations, cp_cpu() - cpu_before_registrations, settings.agents, ecdsa / 2, "ECDSA/2");
  report_db(db_cpu() - db_before_registrations, settings.agents);

  // 2. heartbeats
  ee::api::HeartbeatRequest hb;
  hb.status = "idle";
  auto const hb_body = ee::api::to_json(hb);
  double const cpu_before_heartbeats = cp_cpu();
  double const db_before_heartbeats = db_cpu();
  double const heartbeats = run_concurrently(settings.heartbeats, settings.clients, [&](int i) {
    auto const idx = static_cast<std::size_t>(i % settings.agents);
    auto const target = "/api/v1/agents/" + ids[idx] + "/heartbeat";
    ee::http::Request origin{bhttp::verb::post, target, 11};
    origin.body() = hb_body;
    ee::api::sign_request(origin, keys[idx], std::chrono::system_clock::now()).value();
    auto request = json_request(bhttp::verb::post, replica_url(i) + target, hb_body);
    for (auto name : {ee::api::kTimestampHeader, ee::api::kSignatureHeader}) request.set(name, origin[name]);
    auto response = send(*client, std::move(request));
    if (response.result() != bhttp::status::ok) {
      std::fprintf(stderr, "heartbeat: %s\n", response.body().c_str());
      std::exit(1);
    }
  });
  report("heartbeats (signature + store update)", heartbeats, cp_cpu() - cpu_before_heartbeats, settings.heartbeats,
         ecdsa, "ECDSA");
  report_db(db_cpu() - db_before_heartbeats, settings.heartbeats);
  if (!settings.list) return 0;

  // 3. listing at 1k, 10k and 100k agents (seeded straight into the database while ee-cp is down).
  for (int total : {1'000, 10'000, 100'000}) {
    cp.reset();
    int have = 0;
    {
      auto stores = ee::registry::open_sqlite_stores(db).value();
      have = static_cast<int>(stores.agents->count().value());
    }
    seed_agents(db, have, total);
    cp = start_cp();
    auto const url = ee::bench::url_or_exit(*cp, "ee-cp");
    if (total == 1'000) {
      listing_throughput(url, total, cp->pid(), 64);
      continue;
    }
    long const idle_rss = ee::bench::resident_kib(cp->pid());
    // The whole list (the compatible default) and one page of 100 from the middle: the first
    // after the start reads the store, the next four answer from the snapshot.
    for (std::string const& query : {std::string(), "?limit=100&offset=" + std::to_string(total / 2)}) {
      std::vector<double> ms;
      std::size_t bytes_listed = 0;
      double cpu_before = 0;
      for (int i = 0; i < 5; ++i) {
        if (i == 1) cpu_before = cpu_seconds(cp->pid());
        auto const t0 = Clock::now();
        auto response = get_once(url, "/api/v1/agents" + query);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        bytes_listed = response.body().size();
        auto const expected = static_cast<std::size_t>(query.empty() ? total : 100);
        if (response.result() != bhttp::status::ok || agents_in(response.body()) != expected) {
          std::fprintf(stderr, "GET /api/v1/agents%s: a wrong answer\n", query.c_str());
          std::exit(1);
        }
      }
      double const cpu_ms = (cpu_seconds(cp->pid()) - cpu_before) * 1e3 / 4;
      double const first = ms.front();
      std::sort(ms.begin() + 1, ms.end());
      std::printf("  GET /api/v1/agents%-22s at %6d agents: first %8.1f ms, then median %8.1f ms, ee-cp CPU %6.1f ms"
                  "  (%zu bytes)\n",
                  query.c_str(), total, first, (ms[2] + ms[3]) / 2, cpu_ms, bytes_listed);
    }
    std::printf("  ee-cp resident memory at %6d agents: %ld MiB after start, %ld MiB after the listings, peak %ld MiB\n",
                total, idle_rss / 1024, ee::bench::resident_kib(cp->pid()) / 1024, peak_resident_kib(cp->pid()) / 1024);
  }
  return 0;
}
