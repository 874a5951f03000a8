// The real ee-agent against a real ee-cp on loopback (simulator quotes, local DCAP at the CP):
//   1. time from starting the program to registered (its /api/health says so), median of runs;
//   2. resident memory of an idle registered agent (its workload a `sleep`).
// Each beside its limit measured in the same run:
//   1. the registration protocol itself, done in-process by this program (challenge, simulator
//      quote binding nonce and key, register), which the agent cannot beat;
//   2. the resident memory of ee-fake-github, an idle program on the same library and HTTP server
//      with no agent logic.
//
// usage: bench_agent [--runs N]
#include "bench/programs.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <easyenclave/api/agents.hpp>
#include <easyenclave/api/signing.hpp>
#include <easyenclave/block_on.hpp>
#include <easyenclave/encoding.hpp>
#include <easyenclave/http/https_client.hpp>
#include <easyenclave/tdx/simulator.hpp>

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

std::optional<ee::http::Response> get(ee::http::Client& client, std::string url) {
  auto r = ee::block_on(client.send(ee::http::Request{bhttp::verb::get, std::move(url), 11}));
  if (!r) return std::nullopt;
  return std::move(*r);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One registration as the agent performs it, done here: the protocol's own cost.
double register_in_process(ee::http::Client& client, std::string const& cp_url,
                           ee::tdx::Simulator const& sim, int i) {
  auto const start = Clock::now();
  auto key = ee::api::SigningKey::generate().value();
  auto challenge = get(client, cp_url + "/api/v1/agents/challenge").value();
  auto nonce = ee::api::parse_challenge(challenge.body()).value().nonce;
  ee::tdx::ReportData rd{};
  auto bytes = ee::hex_decode(nonce).value();
  std::copy(bytes.begin(), bytes.end(), rd.begin());
  auto digest = key.public_key().sha256();
  std::copy(digest.begin(), digest.end(), rd.begin() + 32);
  ee::api::RegisterRequest r;
  r.vm_name = "in-process-" + std::to_string(i);
  r.owner = "github:org/octo-org";
  r.node_size = "tiny";
  r.datacenter = "gcp:us-central1-a";
  r.nonce = nonce;
  r.public_key = key.public_key().base64();
  r.quote_b64 = ee::base64_encode(sim.quote(rd).value());
  ee::http::Request post{bhttp::verb::post, cp_url + "/api/v1/agents/register", 11};
  post.set(bhttp::field::content_type, "application/json");
  post.body() = ee::api::to_json(r);
  post.prepare_payload();
  auto answer = ee::block_on(client.send(std::move(post)));
  if (!answer || answer->result() != bhttp::status::ok) {
    std::fprintf(stderr, "in-process registration failed\n");
    std::exit(1);
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    std::string const flag = argv[i];
    if (flag == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_agent [--runs N]\n");
      return 2;
    }
  }
  ee::test::TempDir dir;
  auto const sim_dir = dir.path() / "simulator";
  auto simulator = ee::tdx::Simulator::load_or_create(sim_dir).value();
  ee::test::Process cp({ee::test::program("ee-cp").string(), "--listen", "127.0.0.1:0", "--dev",
                        "--db", (dir.path() / "cp.db").string(), "--simulator-dir",
                        sim_dir.string(), "--appraisal", "local", "--log-level", "warn",
                        "--health-scrape-interval", "0"});
  auto const cp_url = ee::bench::url_or_exit(cp, "ee-cp");
  auto client = ee::http::make_https_client().value();

  std::vector<double> protocol;
  for (int i = 0; i < runs; ++i)
    protocol.push_back(register_in_process(*client, cp_url, *simulator, i));

  std::vector<double> startup;
  std::unique_ptr<ee::test::Process> agent;
  for (int i = 0; i < runs; ++i) {
    agent.reset();
    auto const start = Clock::now();
    agent = std::make_unique<ee::test::Process>(
        std::vector<std::string>{ee::test::program("ee-agent").string(),
                                 "--config",
                                 (dir.path() / "none.json").string(),
                                 "--cmdline",
                                 (dir.path() / "none").string(),
                                 "--cp-url",
                                 cp_url,
                                 "--owner",
                                 "github:org/octo-org",
                                 "--datacenter",
                                 "gcp:us-central1-a",
                                 "--vm-name",
                                 "bench-agent-" + std::to_string(i),
                                 "--listen",
                                 "127.0.0.1:0",
                                 "--state-dir",
                                 (dir.path() / ("state-" + std::to_string(i))).string(),
                                 "--key-file",
                                 "",
                                 "--provider",
                                 "simulator",
                                 "--simulator-dir",
                                 sim_dir.string(),
                                 "--workload",
                                 "process",
                                 "--process-command",
                                 "sleep 600",
                                 "--log-level",
                                 "warn"});
    auto const url = ee::bench::url_or_exit(*agent, "ee-agent");
    for (;;) {
      auto health = get(*client, url + "/api/health");
      if (health && health->body().find("\"registered\":true") != std::string::npos) break;
      if (Clock::now() - start > std::chrono::seconds(30)) {
        std::fprintf(stderr, "ee-agent did not register: %s\n", agent->err().c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    startup.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));  // idle: a heartbeat or two
  long const agent_rss = ee::bench::resident_kib(agent->pid());

  ee::test::Process floor(
      {ee::test::program("ee-fake-github").string(), "--listen", "127.0.0.1:0"});
  (void)ee::bench::url_or_exit(floor, "ee-fake-github");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long const floor_rss = ee::bench::resident_kib(floor.pid());

  double const protocol_ms = median(protocol);
  double const startup_ms = median(startup);
  std::printf("ee-agent against ee-cp on loopback, %d runs (medians)\n", runs);
  std::printf("  %-52s %8.1f ms   limit %6.1f ms (the protocol in-process), ratio %.2f\n",
              "start to registered", startup_ms, protocol_ms, protocol_ms / startup_ms);
  std::printf("  %-52s %8ld KiB  floor %6ld KiB (ee-fake-github idle), ratio %.2f\n",
              "resident memory, idle and registered", agent_rss, floor_rss,
              static_cast<double>(floor_rss) / static_cast<double>(agent_rss));
  return 0;
}
