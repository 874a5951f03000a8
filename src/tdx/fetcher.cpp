// Collateral fetching from Intel PCS API v4 ("Intel SGX and Intel TDX Provisioning Certification
// Service for ECDSA Attestation", API version 4: Get TDX TCB Info, Get TDX QE Identity, Get PCK
// Cert CRL) or a PCCS, through the http::Client seam only: no sockets here, so tests script every
// answer with a fake client.
//
// The cache holds one entry per (FMSPC, PCK CA type). A refresh is single-flight: the first
// caller that finds an entry stale becomes the leader and makes the requests; later callers of
// the same key park a completion handler in the entry's Flight and are resumed, each on its own
// executor, with the leader's outcome. The mutex guards only the map and the flights and is never
// held across a suspension point.
#include <easyenclave/tdx/fetcher.hpp>

#include <easyenclave/tdx/error.hpp>

#include "detail/encoding.hpp"
#include "detail/log.hpp"
#include "detail/time.hpp"
#include "http/redact.hpp"
#include "tdx/pck_extension.hpp"
#include "tdx/x509.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <openssl/x509.h>

#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace ee::tdx {

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace core = ::ee::detail;

using CollateralPtr = std::shared_ptr<Collateral const>;
using Outcome = result<CollateralPtr>;
using Waiter = asio::any_completion_handler<void(Outcome)>;
using Key = std::pair<std::array<std::uint8_t, 6>, PckCaType>;

constexpr char kComponent[] = "tdx";
// PCS API v4: the subscription key header (optional for the TDX collateral endpoints).
constexpr char kApiKeyHeader[] = "Ocp-Apim-Subscription-Key";
// PCS API v4 response headers carrying the URL-encoded PEM issuer chains. v4 renamed the TCB info
// header; PCCS releases that still speak the v3 spelling send "SGX-TCB-Info-Issuer-Chain".
constexpr std::string_view kTcbInfoChainHeaders[] = {"TCB-Info-Issuer-Chain",
                                                      "SGX-TCB-Info-Issuer-Chain"};
constexpr std::string_view kQeIdentityChainHeaders[] = {"SGX-Enclave-Identity-Issuer-Chain"};
constexpr std::string_view kPckCrlChainHeaders[] = {"SGX-PCK-CRL-Issuer-Chain"};
// Longest piece of PCS's Error-Code header quoted in a message.
constexpr std::size_t kMaxQuotedHeader = 100;

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 2.1, strictly: every '%' starts a two-hex-digit escape. '+' stays '+': it is a
// base64 character of the PEM, not a form-encoded space (PCS encodes spaces as %20).
std::optional<std::string> percent_decode(std::string_view text, std::size_t& bad_offset) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (text.size() - i < 3) {
      bad_offset = i;
      return std::nullopt;
    }
    int const high = hex_digit(text[i + 1]);
    int const low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) {
      bad_offset = i;
      return std::nullopt;
    }
    out.push_back(static_cast<char>((high << 4) | low));
    i += 2;
  }
  return out;
}

// Printable, bounded copy of a header value for an error message.
std::string quoted(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, kMaxQuotedHeader)) out.push_back((c < 0x20 || c == 0x7f) ? '?' : c);
  if (value.size() > kMaxQuotedHeader) out.append("...");
  return out;
}

// The issuer chain of a response: the first of `names` present, percent-decoded.
result<std::string> issuer_chain(http::Response const& response,
                                 std::span<std::string_view const> names,
                                 std::string const& shown) {
  for (auto name : names) {
    auto const it = response.find(name);
    if (it == response.end()) continue;
    std::size_t bad = 0;
    auto pem = percent_decode(it->value(), bad);
    if (!pem)
      return Error(errc::collateral_fetch_failed,
                   "GET " + shown + ": header " + std::string(name) +
                       " is not valid percent-encoding (bad escape at offset " +
                       std::to_string(bad) + ")");
    return std::move(*pem);
  }
  return Error(errc::collateral_fetch_failed,
               "GET " + shown + ": response has no " + std::string(names.front()) + " header");
}

// A CRL body: DER (starts with a SEQUENCE tag), hex text of the DER (a PCCS's rootcacrl), or PEM.
// PEM and anything unrecognised are passed on unchanged for collateral_from_pcs to parse or refuse.
std::vector<std::uint8_t> crl_body(std::string const& body) {
  std::vector<std::uint8_t> raw(body.begin(), body.end());
  if (!raw.empty() && raw.front() == 0x30) return raw;
  auto const first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return raw;
  auto const last = body.find_last_not_of(" \t\r\n");
  auto decoded = core::hex_decode(std::string_view(body).substr(first, last - first + 1));
  if (decoded) return std::move(*decoded);
  return raw;
}

std::string issuer_common_name(X509* cert) {
  X509_NAME* name = X509_get_issuer_name(cert);
  int const at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return {};
  ASN1_STRING const* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int const n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string cn(reinterpret_cast<char const*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

std::string describe(Key const& key) {
  return "fmspc=" + core::hex_encode(key.first) + " ca=" + std::string(to_string(key.second));
}

// A caller parked on a flight, with its coroutine's executor held with outstanding work tracked:
// a parked handler is not work its io_context knows about, so without this a caller's context
// (block_on's private one, say) would run out of work and return while the caller still waits.
struct Parked {
  asio::any_io_executor executor;
  Waiter handler;
};

// Resumes a parked caller on its own executor (never inline on the leader's thread).
void deliver(Parked parked, Outcome outcome) {
  asio::post(parked.executor,
             [handler = std::move(parked.handler), outcome = std::move(outcome)]() mutable {
               std::move(handler)(std::move(outcome));
             });
}

asio::awaitable<Outcome> ready(Outcome outcome) { co_return outcome; }

}  // namespace

std::string_view to_string(PckCaType ca) noexcept {
  return ca == PckCaType::processor ? "processor" : "platform";
}

result<CollateralKey> collateral_key_of(Quote const& quote) {
  auto chain = detail::parse_pem_chain(core::as_chars(quote.pck_chain_pem()),
                                       "quote PCK certificate chain");
  if (!chain) return chain.error();
  X509* leaf = chain->front().get();
  auto extension = detail::pck_extension_of(leaf);
  if (!extension) return extension.error();
  CollateralKey key{.fmspc = extension->fmspc};
  // The PCK CRL to fetch is that of the leaf's issuer, "Intel SGX PCK Platform CA" or "Intel SGX
  // PCK Processor CA" (Intel SGX PCK Certificate and CRL Profile Specification); the simulator's
  // CA names end the same way.
  std::string const issuer = issuer_common_name(leaf);
  std::string_view const cn = issuer;
  if (cn.ends_with("PCK Platform CA")) {
    key.ca = PckCaType::platform;
  } else if (cn.ends_with("PCK Processor CA")) {
    key.ca = PckCaType::processor;
  } else {
    return Error(errc::bad_certificate,
                 "PCK certificate issuer '" + issuer +
                     "' is neither a PCK Platform CA nor a PCK Processor CA");
  }
  return key;
}

struct CollateralFetcher::Impl {
  // One refresh in progress. Guarded by Impl::mutex.
  struct Flight {
    std::vector<Parked> waiters{};
    std::optional<Outcome> outcome{};  // set once the leader finished
  };
  struct Entry {
    CollateralPtr collateral{};
    TimePoint expires_at{};
    TimePoint attempted_at{};          // start of the last refresh, successful or not
    std::shared_ptr<Flight> flight{};  // non-null while a refresh runs
  };
  struct Fresh {
    CollateralPtr collateral{};
    TimePoint expires_at{};
  };

  Impl(std::shared_ptr<http::Client> c, FetcherOptions o)
      : client(std::move(c)), options(std::move(o)) {
    base = options.api_base;
    while (!base.empty() && base.back() == '/') base.pop_back();
  }

  TimePoint now() const {
    return options.now ? options.now() : std::chrono::system_clock::now();
  }

  std::shared_ptr<http::Client> const client;
  FetcherOptions const options;
  std::string base{};  // api_base without trailing '/'

  std::mutex mutex;
  std::map<Key, Entry> entries;  // guarded by mutex
};

namespace {

using Impl = CollateralFetcher::Impl;

// One GET. Only 200 is an answer (PCS API v4 documents 200 for success, 404 for an FMSPC it has
// no collateral for, 4xx for bad parameters and 500/503 for its own failures).
asio::awaitable<result<http::Response>> get(Impl const& impl, std::string url, bool with_key,
                                            bool not_found_is_unknown_platform) {
  std::string const shown = http::redact_url(url);
  http::Request request{bhttp::verb::get, url, 11};
  if (with_key && !impl.options.api_key.empty())
    request.set(kApiKeyHeader, impl.options.api_key);
  auto response = co_await impl.client->send(std::move(request), impl.options.request);
  if (!response) co_return response.error().with_context("GET " + shown);
  unsigned const status = response->result_int();
  if (status == 200) co_return std::move(*response);
  std::string message = "GET " + shown + " answered " + std::to_string(status);
  if (auto const code = response->find("Error-Code"); code != response->end())
    message += " (Error-Code: " + quoted(code->value()) + ")";
  if (status == 404 && not_found_is_unknown_platform)
    co_return Error(errc::collateral_not_found, message);
  co_return Error(errc::collateral_fetch_failed, message);
}

// The four requests of one refresh, in order; an unknown FMSPC fails on the first.
asio::awaitable<result<Impl::Fresh>> download(Impl const& impl, Key const& key) {
  std::string const fmspc = core::hex_encode(key.first);  // PCS accepts either case
  PcsResponses pcs;

  std::string const tcb_url = impl.base + "/tdx/certification/v4/tcb?fmspc=" + fmspc;
  auto tcb = co_await get(impl, tcb_url, true, true);
  if (!tcb) co_return tcb.error();
  auto tcb_chain = issuer_chain(*tcb, kTcbInfoChainHeaders, http::redact_url(tcb_url));
  if (!tcb_chain) co_return tcb_chain.error();
  pcs.tcb_info_body = std::move(tcb->body());
  pcs.tcb_info_issuer_chain_pem = std::move(*tcb_chain);

  std::string const qe_url = impl.base + "/tdx/certification/v4/qe/identity";
  auto qe = co_await get(impl, qe_url, true, false);
  if (!qe) co_return qe.error();
  auto qe_chain = issuer_chain(*qe, kQeIdentityChainHeaders, http::redact_url(qe_url));
  if (!qe_chain) co_return qe_chain.error();
  pcs.qe_identity_body = std::move(qe->body());
  pcs.qe_identity_issuer_chain_pem = std::move(*qe_chain);

  std::string const crl_url = impl.base + "/sgx/certification/v4/pckcrl?ca=" +
                              std::string(to_string(key.second)) + "&encoding=der";
  auto crl = co_await get(impl, crl_url, true, false);
  if (!crl) co_return crl.error();
  auto crl_chain = issuer_chain(*crl, kPckCrlChainHeaders, http::redact_url(crl_url));
  if (!crl_chain) co_return crl_chain.error();
  pcs.pck_crl = crl_body(crl->body());
  pcs.pck_crl_issuer_chain_pem = std::move(*crl_chain);

  // The root CA CRL comes from Intel's certificate host, which must never see the API key, unless
  // the PCCS serves it.
  bool const root_from_api = impl.options.root_ca_crl_from_api;
  std::string const root_url = root_from_api ? impl.base + "/sgx/certification/v4/rootcacrl"
                                             : impl.options.root_ca_crl_url;
  auto root = co_await get(impl, root_url, root_from_api, false);
  if (!root) co_return root.error();
  pcs.root_ca_crl = crl_body(root->body());

  std::string const source = http::redact_url(impl.base);
  auto collateral = collateral_from_pcs(pcs);
  if (!collateral) co_return collateral.error().with_context("collateral from " + source);
  if (collateral->tcb_info.id != "TDX")
    co_return Error(errc::collateral_mismatch, "collateral from " + source + ": TCB info id is '" +
                                                   collateral->tcb_info.id + "', not 'TDX'");
  // Caching a document for another platform under this key would poison the entry until expiry.
  if (collateral->tcb_info.fmspc != key.first)
    co_return Error(errc::collateral_fetch_failed,
                    "collateral from " + source + ": TCB info is for FMSPC " +
                        core::hex_encode(collateral->tcb_info.fmspc) + ", requested " + fmspc);
  auto window = collateral_window(*collateral);
  if (!window) co_return window.error().with_context("collateral from " + source);
  co_return Impl::Fresh{std::make_shared<Collateral const>(std::move(*collateral)),
                        window->expires_at};
}

// Ends a flight exactly once: with the leader's outcome, or, when the leader's coroutine is
// destroyed first (its io_context shut down, an exception), with errc::cancelled, so that no
// waiter is left parked forever.
class FlightCompletion {
 public:
  FlightCompletion(std::shared_ptr<Impl> impl, Key key, std::shared_ptr<Impl::Flight> flight)
      : impl_(std::move(impl)), key_(std::move(key)), flight_(std::move(flight)) {}
  FlightCompletion(FlightCompletion const&) = delete;
  FlightCompletion& operator=(FlightCompletion const&) = delete;
  ~FlightCompletion() {
    if (!flight_) return;
    std::unique_lock lock(impl_->mutex);
    end(lock, Error(ee::errc::cancelled, "collateral fetch for " + describe(key_) +
                                             " was abandoned before it finished"));
  }

  // Records the refresh in the entry and resumes the waiters. A failed refresh falls back to the
  // cached copy while that has not expired (the entry keeps its old expiry).
  Outcome finish(result<Impl::Fresh> fetched, TimePoint started) {
    TimePoint const now = impl_->now();
    Outcome outcome;
    std::string note;  // logged after unlocking: the sink is application code
    {
      std::unique_lock lock(impl_->mutex);
      Impl::Entry& entry = impl_->entries[key_];
      entry.attempted_at = started;
      if (fetched) {
        entry.collateral = fetched->collateral;
        entry.expires_at = fetched->expires_at;
        outcome = entry.collateral;
        note = "fetched collateral " + describe(key_) + " tcb_evaluation_data_number=" +
               std::to_string(entry.collateral->tcb_info.tcb_evaluation_data_number) +
               " expires=" + core::format_rfc3339(entry.expires_at);
      } else if (entry.collateral && now < entry.expires_at) {
        outcome = entry.collateral;
        note = "collateral refresh failed: " + fetched.error().message() +
               "; serving the cached copy valid until " + core::format_rfc3339(entry.expires_at);
      } else {
        outcome = fetched.error();
        note = "collateral fetch failed: " + fetched.error().message();
      }
      end(lock, outcome);
    }
    if (fetched) {
      core::log::info(kComponent, note);
    } else {
      core::log::warn(kComponent, note);
    }
    return outcome;
  }

 private:
  void end(std::unique_lock<std::mutex>& lock, Outcome const& outcome) {
    auto const it = impl_->entries.find(key_);
    if (it != impl_->entries.end() && it->second.flight == flight_) {
      it->second.flight.reset();
      // Nothing to serve (an unknown FMSPC): keep the map bounded by the platforms that exist.
      if (!it->second.collateral) impl_->entries.erase(it);
    }
    flight_->outcome = outcome;
    std::vector<Parked> waiters = std::move(flight_->waiters);
    flight_->waiters.clear();
    flight_.reset();
    lock.unlock();
    for (auto& waiter : waiters) deliver(std::move(waiter), outcome);
  }

  std::shared_ptr<Impl> impl_;
  Key key_;
  std::shared_ptr<Impl::Flight> flight_;
};

// Parks the caller until `flight` ends. The check and the parking happen in the initiation,
// which runs after the coroutine suspended, under the mutex: a flight that ended in between is
// seen through its stored outcome, so no completion is missed.
template <class Token>
auto async_join(std::shared_ptr<Impl> impl, std::shared_ptr<Impl::Flight> flight,
                asio::any_io_executor executor, Token&& token) {
  return asio::async_initiate<Token, void(Outcome)>(
      [](auto handler, std::shared_ptr<Impl> state, std::shared_ptr<Impl::Flight> joined,
         asio::any_io_executor caller) {
        std::unique_lock lock(state->mutex);
        Parked parked{asio::prefer(caller, asio::execution::outstanding_work.tracked),
                      Waiter(std::move(handler))};
        if (!joined->outcome) {
          joined->waiters.push_back(std::move(parked));
          return;
        }
        Outcome outcome = *joined->outcome;
        lock.unlock();
        deliver(std::move(parked), std::move(outcome));
      },
      token, std::move(impl), std::move(flight), std::move(executor));
}

asio::awaitable<Outcome> lead(std::shared_ptr<Impl> impl, Key key,
                              std::shared_ptr<Impl::Flight> flight) {
  FlightCompletion completion(impl, key, std::move(flight));
  TimePoint const started = impl->now();
  core::log::info(kComponent, "fetching collateral ", describe(key), " from ",
                  http::redact_url(impl->base));
  auto fetched = co_await download(*impl, key);
  if (!fetched) fetched = result<Impl::Fresh>(fetched.error().with_context(describe(key)));
  co_return completion.finish(std::move(fetched), started);
}

asio::awaitable<Outcome> fetch_key(std::shared_ptr<Impl> impl, Key key) {
  TimePoint const now = impl->now();
  std::shared_ptr<Impl::Flight> flight;
  bool leader = false;
  CollateralPtr cached;
  {
    std::lock_guard lock(impl->mutex);
    Impl::Entry& entry = impl->entries[key];
    bool const valid = entry.collateral && now < entry.expires_at;
    bool const fresh = valid && now + impl->options.refresh_margin < entry.expires_at;
    // Inside the margin, a recent attempt (that failed or brought nothing newer) means the copy is
    // served a while longer instead of asking upstream on every call.
    bool const backing_off = valid && now < entry.attempted_at + impl->options.retry_interval;
    if (fresh || backing_off) {
      cached = entry.collateral;
    } else if (entry.flight) {
      flight = entry.flight;
    } else {
      flight = entry.flight = std::make_shared<Impl::Flight>();
      leader = true;
    }
  }
  if (cached) co_return cached;
  if (!leader) {
    auto executor = co_await asio::this_coro::executor;
    co_return co_await async_join(std::move(impl), std::move(flight), std::move(executor),
                                  asio::use_awaitable);
  }
  co_return co_await lead(std::move(impl), std::move(key), std::move(flight));
}

}  // namespace

CollateralFetcher::CollateralFetcher(std::shared_ptr<http::Client> client, FetcherOptions options)
    : impl_(std::make_shared<Impl>(std::move(client), std::move(options))) {}

asio::awaitable<result<std::shared_ptr<Collateral const>>> CollateralFetcher::fetch(
    std::array<std::uint8_t, 6> fmspc, PckCaType ca) const {
  // Not a coroutine itself: the frame of fetch_key owns a reference to the shared state, so the
  // awaitable stays valid even if this fetcher is destroyed before it is awaited.
  return fetch_key(impl_, Key{fmspc, ca});
}

asio::awaitable<result<std::shared_ptr<Collateral const>>> CollateralFetcher::fetch_for_quote(
    Quote const& quote) const {
  auto key = collateral_key_of(quote);
  if (!key) return ready(key.error());
  return fetch_key(impl_, Key{key->fmspc, key->ca});
}

}  // namespace ee::tdx
