// Quote verification throughput on one core: parse, offline verify, and full DCAP verify with
// the collateral already loaded (the caching tdx::Verifier, as a control plane runs it), printed
// beside OpenSSL's own ECDSA P-256 verifications per second measured in the same run. A fully
// cached verification must do two ECDSA verifications (quote signature with the attestation key,
// QE report signature with the PCK key), so ECDSA/s / 2 is the physical limit.
//
// Usage: bench_quote_verify [testdata_dir]   (default: the EE_TESTDATA_DIR compile definition)
#include "support.hpp"

#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/quote.hpp>
#include <easyenclave/tdx/verify.hpp>

#include "detail/time.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
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

namespace tdx = ee::tdx;
using Clock = std::chrono::steady_clock;

#ifndef EE_TESTDATA_DIR
#define EE_TESTDATA_DIR "tests/data"
#endif

constexpr std::int64_t kNow = 1752919234;  // inside the collateral window (testdata README)

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};

}  // namespace

int main(int argc, char** argv) {
  std::string const dir = std::string(argc > 1 ? argv[1] : EE_TESTDATA_DIR) + "/attestation/";
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

  std::printf("quote tdx_v4_dcapqvl.dat (%zu bytes), collateral dcapqvl_tdx_b0c06f000000.json, "
              "clock %lld, one thread\n",
              quote_bytes.size(), static_cast<long long>(kNow));

  // The baseline: OpenSSL ECDSA P-256 / SHA-256 verification of a quote-sized message (the 632
  // signed bytes of a v4 quote), a fresh EVP_MD_CTX each time as the verifier uses.
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  std::vector<unsigned char> const message(quote.signed_bytes().begin(),
                                           quote.signed_bytes().end());
  std::vector<unsigned char> signature(80);
  std::size_t signature_len = signature.size();
  {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!key || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx, signature.data(), &signature_len, message.data(), message.size()) !=
            1) {
      std::fprintf(stderr, "OpenSSL signing failed\n");
      return 1;
    }
    EVP_MD_CTX_free(ctx);
  }
  double const ecdsa = rate("OpenSSL EVP_DigestVerify P-256 (limit x2)", [&] {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool const ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
                    EVP_DigestVerify(ctx, signature.data(), signature_len, message.data(),
                                     message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  });

  double const parse =
      rate("parse_quote", [&] { return tdx::parse_quote(quote_bytes).has_value(); });
  double const offline = rate("verify offline, uncached (tdx::verify)", [&] {
    auto v = tdx::verify(quote, nullptr, options);
    return v && v->accepted();
  });
  double const offline_cached = rate("verify offline, cached chain (Verifier)", [&] {
    auto v = verifier.verify(quote, nullptr, now);
    return v && v->accepted();
  });
  double const full = rate("verify full, uncached (tdx::verify)", [&] {
    auto v = tdx::verify(quote, collateral.get(), options);
    return v && v->accepted() && v->tcb_status == tdx::TcbStatus::up_to_date;
  });
  double const full_cached = rate("verify full, cached (Verifier)", [&] {
    auto v = verifier.verify(quote, collateral, now);
    return v && v->accepted() && v->tcb_status == tdx::TcbStatus::up_to_date;
  });
  double const parse_and_full = rate("parse + verify full, cached (Verifier)", [&] {
    auto q = tdx::parse_quote(quote_bytes);
    if (!q) return false;
    auto v = verifier.verify(*q, collateral, now);
    return v && v->accepted();
  });

  double const limit = ecdsa / 2;
  std::printf("\nlimit (2 ECDSA verifications per quote): %.0f quotes/s\n", limit);
  std::printf("full cached / limit:          %.2f\n", full_cached / limit);
  std::printf("parse + full cached / limit:  %.2f\n", parse_and_full / limit);
  std::printf("offline cached / limit:       %.2f\n", offline_cached / limit);
  std::printf("(parse %.0f/s, offline uncached %.0f/s, full uncached %.0f/s)\n", parse, offline,
              full);
  return 0;
}
