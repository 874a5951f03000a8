#include "shared.hpp"

#include <easyenclave/http/https_client.hpp>

#include <map>
#include <mutex>
#include <utility>

namespace ee::python {

result<std::shared_ptr<http::Client>> shared_http_client() {
  static std::mutex mutex;
  static auto* client = new std::shared_ptr<http::Client>();
  std::lock_guard lock(mutex);
  if (!*client) {
    auto made = http::make_https_client();
    if (!made) return made.error();
    *client = std::move(*made);
  }
  return *client;
}

result<tdx::CollateralFetcher> shared_collateral_fetcher(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto client = shared_http_client();
  if (!client) return client.error();
  static std::mutex mutex;
  static auto* fetchers = new std::map<std::string, tdx::CollateralFetcher>();
  std::lock_guard lock(mutex);
  if (auto it = fetchers->find(base); it != fetchers->end()) return it->second;
  tdx::FetcherOptions options;
  if (!base.empty()) {
    options.api_base = base;
    options.root_ca_crl_from_api = true;  // a PCCS serves the root CA CRL too
  }
  return fetchers->emplace(base, tdx::CollateralFetcher(std::move(*client), options)).first->second;
}

}  // namespace ee::python
