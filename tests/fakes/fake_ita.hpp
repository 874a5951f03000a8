#pragma once
// A stand-in for Intel Trust Authority on a real ee::http::Server. It appraises TDX quotes with
// tdx::verify against a configured root and collateral (the simulator's, typically: so simulator
// quotes are accepted and nothing else is), and answers with a PS384 token of the real claim
// shape (flat "tdx_*" claims for v1, nested under "tdx" for v2) signed by a test RSA-3072 key
// whose JWKS it serves. In-process for tests, and as the `ee-fake-ita` program.
//
// Routes (ITA REST API shapes):
//   POST /appraisal/v1/attest  {"quote": b64[, "user_data": b64]}              -> {"token"}
//   GET  /appraisal/v2/nonce                                                   -> {"val","iat","signature"}
//   POST /appraisal/v2/attest  {"quote","verifier_nonce","runtime_data"} (flat, or under "tdx") -> {"token"}
//   GET  /certs                                                                -> JWKS (PS384 and RS256 entries, one kid)
// Every /appraisal route requires the `x-api-key` header (401 otherwise). A quote that does not
// verify gets 400 naming the failed step; a v2 quote whose report data does not bind the nonce
// and runtime data gets 400.
#include "fakes/jws_signer.hpp"

#include <easyenclave/error.hpp>
#include <easyenclave/http/server.hpp>
#include <easyenclave/tdx/appraisal.hpp>
#include <easyenclave/tdx/collateral.hpp>
#include <easyenclave/tdx/verify.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ee::test {

struct FakeItaOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string api_key = "ee-fake-ita-key";
  /// The PCK root quotes must chain to (e.g. `simulator->root()`).
  ee::tdx::TrustedRoot root = ee::tdx::TrustedRoot::intel_sgx_root_ca();
  /// Collateral to appraise against; required (an ITA token always carries a TCB status).
  std::shared_ptr<ee::tdx::Collateral const> collateral{};
  std::string issuer = "Intel Trust Authority";
  std::string kid = "ee-fake-ita-1";
  /// PKCS #8 PEM; empty: a fresh RSA-3072 key.
  std::string private_key_pem{};
  std::chrono::seconds lifetime{300};
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
};

class FakeIta {
 public:
  /// errc::invalid_value without collateral; http errors when the server cannot start.
  static ee::result<std::unique_ptr<FakeIta>> start(FakeItaOptions options);
  ~FakeIta();

  std::string url() const;
  std::string jwks_url() const { return url() + "/certs"; }
  std::string jwks_json() const;
  std::string const& api_key() const;
  /// Quotes appraised so far (successful or not).
  std::size_t attest_count() const;
  /// Signs a token for `appraisal` directly (for tests of claim shapes): v2 nests the TDX claims.
  std::string mint(ee::tdx::Appraisal const& appraisal, bool v2 = false) const;
  SigningKey const& key() const;
  ee::http::Server& server();

  struct State;

 private:
  explicit FakeIta(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ee::test
