// tdx::CollateralFetcher against a scripted PCS (ee::test::FakeHttpClient) that serves the real
// gtg collateral in tests/data/attestation/collateral the way Intel PCS API v4 does:
// bodies as captured, issuer chains URL-encoded in response headers. Covers the exact requests,
// the API key, assembly into collateral that verifies the gtg SPR quote to the README's row 3,
// the nextUpdate-driven cache, single flight across coroutines and threads, and the failures.
#include <easyenclave/tdx/fetcher.hpp>

#include <easyenclave/block_on.hpp>
#include <easyenclave/http/error.hpp>
#include <easyenclave/log.hpp>
#include <easyenclave/tdx/error.hpp>
#include <easyenclave/tdx/verify.hpp>

#include "detail/encoding.hpp"
#include "detail/time.hpp"
#include "support/fake_http_client.hpp"
#include "support/attestation_data.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace tdx = ee::tdx;
using ee::test::FakeHttpClient;
using Verb = FakeHttpClient::Verb;

constexpr std::int64_t kGtgClock = 1688173200;         // 2023-07-01T01:00:00Z (README row 3)
constexpr std::int64_t kGtgExpiry = 1688801099;        // 2023-07-08T07:24:59Z, QE nextUpdate
constexpr std::int64_t kAfterNextUpdate = 1689724800;  // 2023-07-19 (README row 4)
constexpr std::array<std::uint8_t, 6> kGtgFmspc = {0x50, 0x80, 0x6f, 0x00, 0x00, 0x00};

constexpr char kBase[] = "https://pcs.test";
constexpr char kRootCrlUrl[] = "https://certs.test/IntelSGXRootCA.der";
constexpr char kTcbPath[] = "/tdx/certification/v4/tcb";
constexpr char kQePath[] = "/tdx/certification/v4/qe/identity";
constexpr char kPckCrlPath[] = "/sgx/certification/v4/pckcrl";
constexpr char kRootCrlPath[] = "/IntelSGXRootCA.der";

using ee::test::collateral_text;

// Percent-encodes every byte outside RFC 3986's unreserved set, as PCS does for its chain headers
// ("-----BEGIN%20CERTIFICATE-----%0AMIIC...").
std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto const b = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xf]);
    }
  }
  return out;
}

tdx::Quote gtg_quote() {
  auto const text =
      ee::test::read_file(ee::test::testdata("attestation/quotes/tdx_v4_gtg_spr_e4.dat"));
  auto q = tdx::parse_quote(std::vector<std::uint8_t>(text.begin(), text.end()));
  EXPECT_TRUE(q) << (q ? "" : q.error().message());
  return q ? std::move(*q) : tdx::Quote{};
}

// A thread-safe injectable clock in Unix seconds.
struct Clock {
  std::atomic<std::int64_t> seconds{kGtgClock};
  std::function<tdx::TimePoint()> fn() {
    return [this] { return ee::detail::from_unix_seconds(seconds.load()); };
  }
};

// The scripted PCS. Each on() call appends a step for its path; the last step repeats.
struct FakePcs {
  std::shared_ptr<FakeHttpClient> http = std::make_shared<FakeHttpClient>();
  std::string tcb_chain = collateral_text("gtg_tcb_signing_chain.pem");
  std::string pck_chain = collateral_text("gtg_pck_crl_issuer_chain.pem");

  void serve_tcb_info(std::string const& file = "gtg_tcbinfo_tdx_50806f000000.json",
                      std::string const& header = "TCB-Info-Issuer-Chain") {
    http->on(Verb::get, kTcbPath, 200, collateral_text(file), {{header, url_encode(tcb_chain)}});
  }
  void serve_qe_identity() {
    http->on(Verb::get, kQePath, 200, collateral_text("gtg_qe_identity_td_qe.json"),
             {{"SGX-Enclave-Identity-Issuer-Chain", url_encode(tcb_chain)}});
  }
  void serve_pck_crl() {
    http->on(Verb::get, kPckCrlPath, 200, collateral_text("gtg_pck_crl_platform.der"),
             {{"SGX-PCK-CRL-Issuer-Chain", url_encode(pck_chain)}});
  }
  void serve_root_crl() {
    http->on(Verb::get, kRootCrlPath, 200, collateral_text("gtg_root_ca_crl.der"));
  }
  void serve_all() {
    serve_tcb_info();
    serve_qe_identity();
    serve_pck_crl();
    serve_root_crl();
  }
  std::vector<std::string> targets() const {
    std::vector<std::string> out;
    for (auto const& r : http->requests()) out.emplace_back(r.target());
    return out;
  }
};

tdx::FetcherOptions options(Clock& clock) {
  tdx::FetcherOptions o;
  o.api_base = kBase;
  o.root_ca_crl_url = kRootCrlUrl;
  o.now = clock.fn();
  return o;
}

ee::result<std::shared_ptr<tdx::Collateral const>> fetch_gtg(tdx::CollateralFetcher const& f) {
  return ee::block_on(f.fetch(kGtgFmspc, tdx::PckCaType::platform));
}

// Collects log lines while alive; restores silence afterwards.
class LogCapture {
 public:
  LogCapture() {
    ee::log::set_sink([this](ee::log::Level, std::string_view component, std::string_view msg) {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::string(component) + " " + std::string(msg));
    });
  }
  ~LogCapture() { ee::log::set_sink({}); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Delays every request on a timer of the caller's executor, so concurrent callers really overlap
// with one in-flight refresh.
class SlowClient : public ee::http::Client {
 public:
  explicit SlowClient(std::shared_ptr<FakeHttpClient> inner, int initial_delay_ms = 50)
      : delay_ms(initial_delay_ms), inner_(std::move(inner)) {}
  asio::awaitable<ee::result<ee::http::Response>> send(ee::http::Request request,
                                                      ee::http::RequestOptions options) override {
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             std::chrono::milliseconds(delay_ms.load()));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return co_await inner_->send(std::move(request), options);
  }

  std::atomic<int> delay_ms;

 private:
  std::shared_ptr<FakeHttpClient> inner_;
};

// --- assembly and requests ------------------------------------------------------------------

TEST(CollateralFetcher, AssemblesCollateralThatVerifiesTheGtgQuote) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_NE(*c, nullptr);
  EXPECT_EQ(ee::detail::hex_encode((*c)->tcb_info.fmspc), "50806f000000");
  EXPECT_EQ((*c)->tcb_info.tcb_evaluation_data_number, 15);
  auto const root_crl = collateral_text("gtg_root_ca_crl.der");
  EXPECT_EQ((*c)->root_ca_crl_der, std::vector<std::uint8_t>(root_crl.begin(), root_crl.end()));
  EXPECT_EQ((*c)->pck_crl_issuer_chain_pem, pcs.pck_chain);

  // README verification matrix row 3: the collateral checks pass, no TCB level matches.
  auto v = tdx::verify(gtg_quote(), c->get(),
                       {.now = ee::detail::from_unix_seconds(kGtgClock)});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(v->accepted());
  ASSERT_NE(v->first_failure(), nullptr);
  EXPECT_EQ(v->first_failure()->name, "tcb_level");
  EXPECT_EQ(v->error, tdx::errc::tcb_level_not_supported) << v->error.message();
  for (auto const* step : {"root_ca_crl", "tcb_info", "qe_identity", "pck_crl", "fmspc"}) {
    auto const it = std::find_if(v->steps.begin(), v->steps.end(),
                                 [&](tdx::VerificationStep const& s) { return s.name == step; });
    ASSERT_NE(it, v->steps.end()) << step;
    EXPECT_TRUE(it->passed) << step << ": " << it->detail;
  }
  EXPECT_EQ(ee::detail::to_unix_seconds(v->collateral_expires_at), kGtgExpiry);
}

TEST(CollateralFetcher, RequestsExactlyThePcsV4PathsAndQueries) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  auto o = options(clock);
  o.api_base = std::string(kBase) + "/";  // a trailing slash is not doubled
  tdx::CollateralFetcher fetcher(pcs.http, o);
  // Upper-case input bytes: the query is lower-case hex regardless.
  auto c = ee::block_on(fetcher.fetch({0x50, 0x80, 0x6F, 0, 0, 0}, tdx::PckCaType::platform));
  ASSERT_TRUE(c) << c.error().message();
  std::vector<std::string> const expected = {
      "https://pcs.test/tdx/certification/v4/tcb?fmspc=50806f000000",
      "https://pcs.test/tdx/certification/v4/qe/identity",
      "https://pcs.test/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
      "https://certs.test/IntelSGXRootCA.der",
  };
  EXPECT_EQ(pcs.targets(), expected);
  for (auto const& r : pcs.http->requests()) {
    EXPECT_EQ(r.method(), Verb::get);
    EXPECT_EQ(r.find("Ocp-Apim-Subscription-Key"), r.end()) << "no key configured";
  }
}

TEST(CollateralFetcher, ProcessorCaSelectsTheProcessorCrl) {
  FakePcs pcs;
  pcs.serve_all();  // the Platform CA CRL is served regardless: only the query is checked
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = ee::block_on(fetcher.fetch(kGtgFmspc, tdx::PckCaType::processor));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(pcs.targets().at(2),
            "https://pcs.test/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
  EXPECT_EQ(tdx::to_string(tdx::PckCaType::processor), "processor");
  EXPECT_EQ(tdx::to_string(tdx::PckCaType::platform), "platform");
}

TEST(CollateralFetcher, SendsTheApiKeyToTheApiOnlyAndNeverLogsIt) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  auto o = options(clock);
  o.api_key = "0123secret-subscription-key";
  tdx::CollateralFetcher fetcher(pcs.http, o);
  LogCapture log;
  ASSERT_TRUE(fetch_gtg(fetcher));
  auto const requests = pcs.http->requests();
  ASSERT_EQ(requests.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(requests[i]["Ocp-Apim-Subscription-Key"], "0123secret-subscription-key") << i;
  // Intel's certificate host is not the API: it never sees the key.
  EXPECT_EQ(requests[3].find("Ocp-Apim-Subscription-Key"), requests[3].end());

  auto const lines = log.lines();
  bool announced = false;
  for (auto const& line : lines) {
    EXPECT_EQ(line.find("secret"), std::string::npos) << line;
    if (line.find("fetching collateral fmspc=50806f000000 ca=platform") != std::string::npos)
      announced = true;
  }
  EXPECT_TRUE(announced);
}

TEST(CollateralFetcher, PccsRootCaCrlAsHexFromTheApi) {
  FakePcs pcs;
  pcs.serve_tcb_info();
  pcs.serve_qe_identity();
  pcs.serve_pck_crl();
  auto const der = collateral_text("gtg_root_ca_crl.der");
  pcs.http->on(Verb::get, "/sgx/certification/v4/rootcacrl", 200,
               ee::detail::hex_encode(ee::detail::as_bytes(der)) + "\n");
  Clock clock;
  auto o = options(clock);
  o.api_base = "https://pccs.test:8081";
  o.root_ca_crl_from_api = true;
  o.api_key = "k";
  tdx::CollateralFetcher fetcher(pcs.http, o);
  auto c = fetch_gtg(fetcher);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)->root_ca_crl_der, std::vector<std::uint8_t>(der.begin(), der.end()));
  auto const requests = pcs.http->requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[3].target(), "https://pccs.test:8081/sgx/certification/v4/rootcacrl");
  EXPECT_EQ(requests[3]["Ocp-Apim-Subscription-Key"], "k");
}

TEST(CollateralFetcher, AcceptsTheV3HeaderNameAndUnescapedBase64) {
  FakePcs pcs;
  // Only spaces and newlines escaped: '+', '/' and '=' of the base64 arrive literally.
  std::string loose;
  for (char ch : pcs.tcb_chain) {
    if (ch == ' ') {
      loose += "%20";
    } else if (ch == '\n') {
      loose += "%0A";
    } else {
      loose += ch;
    }
  }
  pcs.http->on(Verb::get, kTcbPath, 200, collateral_text("gtg_tcbinfo_tdx_50806f000000.json"),
               {{"SGX-TCB-Info-Issuer-Chain", loose}});
  pcs.serve_qe_identity();
  pcs.serve_pck_crl();
  pcs.serve_root_crl();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)->tcb_info_issuer_chain_pem, pcs.tcb_chain);
}

// --- cache ----------------------------------------------------------------------------------

TEST(CollateralFetcher, ServesTheCacheWithinValidity) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto first = fetch_gtg(fetcher);
  ASSERT_TRUE(first) << first.error().message();
  clock.seconds += 3 * 24 * 3600;  // 2023-07-04: still more than a day before 07-08
  auto second = fetch_gtg(fetcher);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*first, *second) << "the same shared collateral";
  EXPECT_EQ(pcs.http->request_count(), 4u);
  // Copies share the cache.
  tdx::CollateralFetcher const copy = fetcher;
  auto third = fetch_gtg(copy);
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, *first);
  EXPECT_EQ(pcs.http->request_count(), 4u);
}

TEST(CollateralFetcher, RefetchesWithinTheMarginAndAfterNextUpdate) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto first = fetch_gtg(fetcher);
  ASSERT_TRUE(first);
  clock.seconds = kGtgExpiry - 3600;  // inside the default 24 h margin
  auto second = fetch_gtg(fetcher);
  ASSERT_TRUE(second);
  EXPECT_EQ(pcs.http->request_count(), 8u);
  EXPECT_NE(*second, *first) << "a refetch replaces the cached object";

  clock.seconds = kAfterNextUpdate;
  auto third = fetch_gtg(fetcher);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(pcs.http->request_count(), 12u);
  // What PCS served is returned even though it has expired: the verifier says so precisely.
  auto v = tdx::verify(gtg_quote(), third->get(),
                       {.now = ee::detail::from_unix_seconds(kAfterNextUpdate)});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->error, tdx::errc::collateral_expired) << v->error.message();
}

TEST(CollateralFetcher, ZeroMarginRefreshesOnlyAtExpiry) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  auto o = options(clock);
  o.refresh_margin = std::chrono::seconds{0};
  tdx::CollateralFetcher fetcher(pcs.http, o);
  ASSERT_TRUE(fetch_gtg(fetcher));
  clock.seconds = kGtgExpiry - 1;
  ASSERT_TRUE(fetch_gtg(fetcher));
  EXPECT_EQ(pcs.http->request_count(), 4u);
  clock.seconds = kGtgExpiry;
  ASSERT_TRUE(fetch_gtg(fetcher));
  EXPECT_EQ(pcs.http->request_count(), 8u);
}

TEST(CollateralFetcher, FailedRefreshServesTheCachedCopyWhileValid) {
  FakePcs pcs;
  pcs.serve_all();
  pcs.http->on(Verb::get, kTcbPath, 503, "busy");  // every later TCB info request fails
  Clock clock;
  LogCapture log;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto first = fetch_gtg(fetcher);
  ASSERT_TRUE(first) << first.error().message();

  clock.seconds = kGtgExpiry - 3600;  // due for refresh, still valid
  auto second = fetch_gtg(fetcher);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(pcs.http->request_count(), 5u);
  bool warned = false;
  for (auto const& line : log.lines())
    warned = warned || line.find("serving the cached copy") != std::string::npos;
  EXPECT_TRUE(warned);

  // Within the retry interval the copy is served without asking again; after it, PCS is asked.
  clock.seconds += 60;
  ASSERT_TRUE(fetch_gtg(fetcher));
  EXPECT_EQ(pcs.http->request_count(), 5u);
  clock.seconds += 300;
  ASSERT_TRUE(fetch_gtg(fetcher));
  EXPECT_EQ(pcs.http->request_count(), 6u);

  // Once the cached copy has expired, the failure is the answer.
  clock.seconds = kGtgExpiry;
  auto expired = fetch_gtg(fetcher);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), ee::condition::upstream_failure);
  EXPECT_EQ(expired.error(), tdx::errc::collateral_fetch_failed);
  EXPECT_EQ(pcs.http->request_count(), 7u);
}

// --- single flight --------------------------------------------------------------------------

TEST(CollateralFetcher, ConcurrentCoroutinesShareOneFetch) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(std::make_shared<SlowClient>(pcs.http), options(clock));
  asio::io_context context;
  constexpr int kCallers = 8;
  std::vector<ee::result<std::shared_ptr<tdx::Collateral const>>> results(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        context,
        [&fetcher, &results, i]() -> asio::awaitable<void> {
          results[static_cast<std::size_t>(i)] =
              co_await fetcher.fetch(kGtgFmspc, tdx::PckCaType::platform);
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&context] { context.run(); });
  for (auto& t : threads) t.join();

  EXPECT_EQ(pcs.http->request_count(), 4u) << "one set of requests";
  ASSERT_TRUE(results[0]) << results[0].error().message();
  for (auto const& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, *results[0]);
  }
}

TEST(CollateralFetcher, ConcurrentThreadsShareOneFetch) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(std::make_shared<SlowClient>(pcs.http), options(clock));
  constexpr std::size_t kThreads = 6;
  std::vector<ee::result<std::shared_ptr<tdx::Collateral const>>> results(kThreads);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] { results[i] = fetch_gtg(fetcher); });
  for (auto& t : threads) t.join();

  EXPECT_EQ(pcs.http->request_count(), 4u) << "one set of requests";
  for (auto const& r : results) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, *results[0]);
  }
}

TEST(CollateralFetcher, WaitersReceiveTheLeadersFailure) {
  FakePcs pcs;
  pcs.http->on(Verb::get, kTcbPath, 500, "");
  Clock clock;
  // Long enough for every thread to join before the only request fails (failures are not
  // cached, so a latecomer would start a second flight).
  tdx::CollateralFetcher fetcher(
      std::make_shared<SlowClient>(pcs.http, 500), options(clock));
  std::vector<ee::result<std::shared_ptr<tdx::Collateral const>>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] { results[i] = fetch_gtg(fetcher); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(pcs.http->request_count(), 1u);
  for (auto const& r : results) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), tdx::errc::collateral_fetch_failed);
  }
}

TEST(CollateralFetcher, WaitersOfAnAbandonedFetchAreCancelledNotStranded) {
  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  auto slow = std::make_shared<SlowClient>(pcs.http, 60'000);
  tdx::CollateralFetcher fetcher(slow, options(clock));
  // The leader runs on a context that is destroyed while its first request is pending.
  auto leader_context = std::make_unique<asio::io_context>();
  asio::co_spawn(
      *leader_context,
      [&fetcher]() -> asio::awaitable<void> {
        (void)co_await fetcher.fetch(kGtgFmspc, tdx::PckCaType::platform);
      },
      asio::detached);
  leader_context->run_for(std::chrono::milliseconds(20));
  ee::result<std::shared_ptr<tdx::Collateral const>> waited;
  std::thread waiter([&] { waited = fetch_gtg(fetcher); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it park on the flight
  leader_context.reset();
  waiter.join();
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error(), ee::errc::cancelled) << waited.error().message();
  EXPECT_EQ(pcs.http->request_count(), 0u);

  // The abandoned flight is gone: the next caller leads a new one.
  slow->delay_ms = 0;
  auto c = fetch_gtg(fetcher);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(pcs.http->request_count(), 4u);
}

// --- failures -------------------------------------------------------------------------------

TEST(CollateralFetcher, UnknownFmspcIsNotFound) {
  FakePcs pcs;
  pcs.http->on(Verb::get, kTcbPath, 404, "", {{"Error-Code", "FmspcNotFound"}});
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = ee::block_on(fetcher.fetch({1, 2, 3, 4, 5, 6}, tdx::PckCaType::platform));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), tdx::errc::collateral_not_found);
  EXPECT_EQ(c.error(), ee::condition::not_found);
  EXPECT_EQ(c.error().id(), "tdx.collateral_not_found");
  auto const message = c.error().message();
  EXPECT_NE(message.find("https://pcs.test/tdx/certification/v4/tcb"), std::string::npos)
      << message;
  EXPECT_NE(message.find("404"), std::string::npos) << message;
  EXPECT_NE(message.find("FmspcNotFound"), std::string::npos) << message;
  EXPECT_EQ(pcs.http->request_count(), 1u) << "stops at the first failure";
  // Not cached: the next call asks again.
  ASSERT_FALSE(ee::block_on(fetcher.fetch({1, 2, 3, 4, 5, 6}, tdx::PckCaType::platform)));
  EXPECT_EQ(pcs.http->request_count(), 2u);
}

TEST(CollateralFetcher, ServerErrorIsUpstreamFailureNamingUrlAndStatus) {
  FakePcs pcs;
  pcs.serve_tcb_info();
  pcs.http->on(Verb::get, kQePath, 500, "oops");
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), tdx::errc::collateral_fetch_failed);
  EXPECT_EQ(c.error(), ee::condition::upstream_failure);
  auto const message = c.error().message();
  EXPECT_NE(message.find("GET https://pcs.test/tdx/certification/v4/qe/identity answered 500"),
            std::string::npos)
      << message;
}

TEST(CollateralFetcher, NotFoundOutsideTcbInfoIsAnUpstreamFailure) {
  FakePcs pcs;
  pcs.serve_tcb_info();
  pcs.serve_qe_identity();
  pcs.serve_pck_crl();
  pcs.http->on(Verb::get, kRootCrlPath, 404, "");
  Clock clock;
  auto o = options(clock);
  o.root_ca_crl_url = "https://certs.test/IntelSGXRootCA.der?sig=credential";
  tdx::CollateralFetcher fetcher(pcs.http, o);
  auto c = fetch_gtg(fetcher);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ee::condition::upstream_failure);
  EXPECT_EQ(c.error().message().find("credential"), std::string::npos) << c.error().message();
}

TEST(CollateralFetcher, TransportErrorsKeepTheirCodeAndNameTheUrl) {
  FakePcs pcs;
  pcs.http->fail(Verb::get, kTcbPath, ee::Error(ee::http::errc::timeout, "deadline passed"));
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), ee::http::errc::timeout);
  EXPECT_NE(c.error().message().find("GET https://pcs.test/tdx/certification/v4/tcb"),
            std::string::npos)
      << c.error().message();
}

TEST(CollateralFetcher, MissingIssuerChainHeaderIsAClearError) {
  FakePcs pcs;
  pcs.serve_tcb_info();
  pcs.http->on(Verb::get, kQePath, 200, collateral_text("gtg_qe_identity_td_qe.json"));
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), tdx::errc::collateral_fetch_failed);
  EXPECT_NE(c.error().message().find("no SGX-Enclave-Identity-Issuer-Chain header"),
            std::string::npos)
      << c.error().message();
}

TEST(CollateralFetcher, BadPercentEncodingIsAClearError) {
  for (std::string const suffix : {"%", "%4", "%G1", "%%20"}) {
    FakePcs pcs;
    pcs.serve_tcb_info();
    pcs.serve_qe_identity();
    pcs.http->on(Verb::get, kPckCrlPath, 200, collateral_text("gtg_pck_crl_platform.der"),
                 {{"SGX-PCK-CRL-Issuer-Chain", url_encode(pcs.pck_chain) + suffix}});
    pcs.serve_root_crl();
    Clock clock;
    tdx::CollateralFetcher fetcher(pcs.http, options(clock));
    auto c = fetch_gtg(fetcher);
    ASSERT_FALSE(c) << suffix;
    EXPECT_EQ(c.error(), tdx::errc::collateral_fetch_failed) << suffix;
    auto const message = c.error().message();
    EXPECT_NE(message.find("SGX-PCK-CRL-Issuer-Chain"), std::string::npos) << message;
    EXPECT_NE(message.find("percent-encoding"), std::string::npos) << message;
  }
}

TEST(CollateralFetcher, MalformedBodiesAndChainsFailAssembly) {
  {
    FakePcs pcs;
    pcs.http->on(Verb::get, kTcbPath, 200, R"({"signature":"00"})",
                 {{"TCB-Info-Issuer-Chain", url_encode(pcs.tcb_chain)}});
    pcs.serve_qe_identity();
    pcs.serve_pck_crl();
    pcs.serve_root_crl();
    Clock clock;
    tdx::CollateralFetcher fetcher(pcs.http, options(clock));
    auto c = fetch_gtg(fetcher);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), tdx::errc::malformed_collateral) << c.error().message();
    EXPECT_NE(c.error().message().find("TCB info response"), std::string::npos);
  }
  {
    FakePcs pcs;
    pcs.tcb_chain = "not a certificate";
    pcs.serve_all();
    Clock clock;
    tdx::CollateralFetcher fetcher(pcs.http, options(clock));
    auto c = fetch_gtg(fetcher);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), tdx::errc::bad_certificate) << c.error().message();
  }
}

TEST(CollateralFetcher, TcbInfoForAnotherFmspcIsRefused) {
  FakePcs pcs;
  pcs.serve_tcb_info("gtg_tcbinfo_tdx_90c06f000000.json");
  pcs.serve_qe_identity();
  pcs.serve_pck_crl();
  pcs.serve_root_crl();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = fetch_gtg(fetcher);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), tdx::errc::collateral_fetch_failed);
  EXPECT_NE(c.error().message().find("90c06f000000"), std::string::npos) << c.error().message();
}

// --- the quote's key ------------------------------------------------------------------------

TEST(CollateralFetcher, FetchForQuoteUsesTheQuotesFmspcAndPlatformCa) {
  auto const q = gtg_quote();
  auto key = tdx::collateral_key_of(q);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->fmspc, kGtgFmspc);
  EXPECT_EQ(key->ca, tdx::PckCaType::platform);

  FakePcs pcs;
  pcs.serve_all();
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = ee::block_on(fetcher.fetch_for_quote(q));
  ASSERT_TRUE(c) << c.error().message();
  auto const targets = pcs.targets();
  ASSERT_EQ(targets.size(), 4u);
  EXPECT_EQ(targets[0], "https://pcs.test/tdx/certification/v4/tcb?fmspc=50806f000000");
  EXPECT_EQ(targets[2], "https://pcs.test/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
  // The same cache entry as an explicit fetch.
  auto again = fetch_gtg(fetcher);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *c);
  EXPECT_EQ(pcs.http->request_count(), 4u);
}

TEST(CollateralFetcher, FetchForQuoteWithoutPckChainFailsBeforeAnyRequest) {
  FakePcs pcs;
  Clock clock;
  tdx::CollateralFetcher fetcher(pcs.http, options(clock));
  auto c = ee::block_on(fetcher.fetch_for_quote(tdx::Quote{}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), tdx::errc::bad_certificate) << c.error().message();
  EXPECT_EQ(pcs.http->request_count(), 0u);
}

}  // namespace
