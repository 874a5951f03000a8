// Quote verification throughput on one core: parse, offline verify, and full DCAP verify with
// the collateral already loaded (the caching tdx::Verifier, as a control plane runs it), printed
// beside OpenSSL's own ECDSA P-256 verifications per second measured in the same run. With the
// chain and the collateral cached, a quote of a platform not seen before needs two ECDSA
// verifications (quote signature with the attestation key, QE report signature with the PCK
// key), so ECDSA/s / 2 is its physical limit; a platform seen before needs one (its QE report is
// remembered by its exact bytes), so ECDSA/s is. An uncached full verification (tdx::verify, what
// a client checking one quote does; dcap-qvl's one-shot verify does the same) needs nine: the
// quote, the QE report, three certificates (PCK, its CA, the TCB signing certificate), the TCB
// info and QE identity, the root CA CRL and the PCK CRL; ECDSA/s / 9 is its limit, and
// bench/dcap_qvl.sh runs dcap-qvl beside it.
//
// Usage: bench_quote_verify [testdata_dir] [--uncached]
//   testdata_dir: default the EE_TESTDATA_DIR compile definition
//   --uncached:   only the ECDSA limit and the uncached full verification (bench/dcap_qvl.sh)
#include "support.hpp"

#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include "detail/time.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr double kSecondsPerCase = 0.8;
constexpr long kMaxIterations = 2'000'000;

std::vector<std::uint8_t> bytes_of(std::string const& path) {
  auto const text = ee::bench::read_file_or_exit(path);
  return {text.begin(), text.end()};
}

double rate(char const* name, std::function<bool()> const& op) {
  return ee::bench::rate(name, op, {.seconds = kSecondsPerCase, .max_iterations = kMaxIterations, .batch = 64});
}

// `rate` by the process's CPU time instead of the wall clock: on a loaded machine a program
// gets a varying share of a core, so two programs run one after the other (this one and
// bench/dcap_qvl's) compare fairly only by the CPU time they used. Single-threaded, so the
// process's CPU time is this thread's.
double cpu_rate(char const* name, std::function<bool()> const& op) {
  auto const cpu_seconds = [] { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; };
  long done = 0;
  double const start = cpu_seconds();
  double used = 0;
  while (used < kSecondsPerCase) {
    for (int i = 0; i < 16; ++i) {
      if (!op()) {
        std::fprintf(stderr, "%s: unexpected result\n", name);
        std::exit(1);
      }
    }
    done += 16;
    used = cpu_seconds() - start;
  }
  double const per_second = static_cast<double>(done) / used;
  std::printf("  %-46s %10.0f /s  %8.1f us\n", name, per_second, 1e6 / per_second);
  return per_second;
}

namespace tdx = ee::tdx;
using Clock = std::chrono::steady_clock;

#ifndef EE_TESTDATA_DIR
#define EE_TESTDATA_DIR "tests/data"
#endif

constexpr std::int64_t kNow = 1752919234;  // inside the collateral window (testdata README)

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = EE_TESTDATA_DIR;
  bool uncached_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--uncached")
      uncached_only = true;
    else
      data_dir = argv[i];
  }
  std::string const dir = data_dir + "/attestation/";
  auto const quote_bytes = bytes_of(dir + "quotes/tdx_v4_dcapqvl.dat");
  auto collateral_result =
      tdx::load_collateral_file(dir + "collateral/dcapqvl_tdx_b0c06f000000.json");
  if (!collateral_result) {
    std::fprintf(stderr, "collateral: %s\n", collateral_result.error().message().c_str());
    return 2;
  }
  auto const collateral = std::make_shared<tdx::Collateral const>(std::move(*collateral_result));
  auto parsed = tdx::parse_quote(quote_bytes);
  if (!parsed) {
    std::fprintf(stderr, "quote: %s\n", parsed.error().message().c_str());
    return 2;
  }
  tdx::Quote const quote = std::move(*parsed);
  auto const now = ee::detail::from_unix_seconds(kNow);
  tdx::VerifyOptions const options{.now = now};
  tdx::Verifier const verifier;
  // Chains and collateral cached, QE reports verified every time: two ECDSA verifications a
  // quote, what a verifier pays for a platform it has not seen before.
  tdx::Verifier const two_signatures(tdx::TrustedRoot::intel_sgx_root_ca(), {.cache_qe_reports = false});

  std::printf("quote tdx_v4_dcapqvl.dat (%zu bytes), collateral dcapqvl_tdx_b0c06f000000.json, "
              "clock %lld, one thread\n",
              quote_bytes.size(), static_cast<long long>(kNow));

  // The limit: OpenSSL's fastest path for one ECDSA P-256 verification, as `openssl speed`
  // measures it: an EVP_PKEY_CTX set up for verification once and the digest computed once, so
  // only the signature check itself is timed. Every verification the verifier does also hashes
  // its message and sets up its context, which this limit does not pay.
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::vector<unsigned char> const message(quote.signed_bytes().begin(),
                                           quote.signed_bytes().end());
  std::array<unsigned char, 32> digest{};
  SHA256(message.data(), message.size(), digest.data());
  std::vector<unsigned char> signature(80);
  std::size_t signature_len = signature.size();
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> verify_ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  {
    std::unique_ptr<EVP_PKEY_CTX, CtxFree> sign_ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
    if (!key || !sign_ctx || EVP_PKEY_sign_init(sign_ctx.get()) != 1 ||
        EVP_PKEY_sign(sign_ctx.get(), signature.data(), &signature_len, digest.data(), digest.size()) != 1 ||
        !verify_ctx || EVP_PKEY_verify_init(verify_ctx.get()) != 1) {
      std::fprintf(stderr, "OpenSSL set-up failed\n");
      return 1;
    }
  }
  double const ecdsa = rate("OpenSSL ECDSA P-256 verify (openssl speed's way)", [&] {
    return EVP_PKEY_verify(verify_ctx.get(), signature.data(), signature_len, digest.data(), digest.size()) == 1;
  });

  auto const full_uncached = [&] {
    auto v = tdx::verify(quote, collateral.get(), options);
    return v && v->accepted() && v->tcb_status == tdx::TcbStatus::up_to_date;
  };
  if (uncached_only) {
    double const full = rate("verify full, uncached (tdx::verify)", full_uncached);
    std::printf("\nby CPU time:\n");
    double const ecdsa_cpu = cpu_rate("OpenSSL ECDSA P-256 verify, CPU time", [&] {
      return EVP_PKEY_verify(verify_ctx.get(), signature.data(), signature_len, digest.data(),
                             digest.size()) == 1;
    });
    double const full_cpu = cpu_rate("verify full, uncached, CPU time", full_uncached);
    std::printf("\nlimit for uncached (9 ECDSA verifications per quote): %.0f quotes/s\n",
                ecdsa / 9);
    std::printf("full, uncached / limit:                  %.2f\n", full / (ecdsa / 9));
    std::printf("by CPU time: limit %.0f quotes/s, full, uncached / limit: %.2f\n", ecdsa_cpu / 9,
                full_cpu / (ecdsa_cpu / 9));
    return 0;
  }
  double const parse =
      rate("parse_quote", [&] { return tdx::parse_quote(quote_bytes).has_value(); });
  double const offline = rate("verify offline, uncached (tdx::verify)", [&] {
    auto v = tdx::verify(quote, nullptr, options);
    return v && v->accepted();
  });
  double const offline_cached = rate("verify offline, cached chain", [&] {
    auto v = two_signatures.verify(quote, nullptr, now);
    return v && v->accepted();
  });
  double const full = rate("verify full, uncached (tdx::verify)", full_uncached);
  double const full_cached = rate("verify full, chain + collateral cached", [&] {
    auto v = two_signatures.verify(quote, collateral, now);
    return v && v->accepted() && v->tcb_status == tdx::TcbStatus::up_to_date;
  });
  double const full_seen = rate("verify full, platform seen before (Verifier)", [&] {
    auto v = verifier.verify(quote, collateral, now);
    return v && v->accepted() && v->tcb_status == tdx::TcbStatus::up_to_date;
  });
  double const parse_and_full = rate("parse + verify full, chain + collateral cached", [&] {
    auto q = tdx::parse_quote(quote_bytes);
    if (!q) return false;
    auto v = two_signatures.verify(*q, collateral, now);
    return v && v->accepted();
  });

  double const limit = ecdsa / 2;
  std::printf("\nlimit (2 ECDSA verifications per quote): %.0f quotes/s\n", limit);
  std::printf("full, chain + collateral cached / limit:  %.2f\n", full_cached / limit);
  std::printf("parse + full, same / limit:               %.2f\n", parse_and_full / limit);
  std::printf("offline, chain cached / limit:            %.2f\n", offline_cached / limit);
  std::printf("full, platform seen before / ECDSA:       %.2f  (one ECDSA verification per quote)\n",
              full_seen / ecdsa);
  std::printf("full, uncached / (ECDSA / 9):              %.2f  (limit %.0f quotes/s, also "
              "dcap-qvl's: bench/dcap_qvl.sh)\n",
              full / (ecdsa / 9), ecdsa / 9);
  std::printf("(parse %.0f/s, offline uncached %.0f/s, full uncached %.0f/s)\n", parse, offline,
              full);
  return 0;
}
